// The readings a node has taken and not yet had acknowledged, oldest first. Each reading has a
// sequence number that never repeats, so an in-flight MQTT message can name the readings it carries
// as a range [first, first + count) and re-encode them byte for byte if it must be sent again.
// When full, the oldest readings are dropped and counted: nothing is ever lost silently.

import type { ByteReader, ByteWriter } from "../encoding/bytes";

/** A sensor that failed at a reading: its index in the config and the fault's index in sensorFaults. */
export interface ReadingFault {
  sensor: number;
  fault: number;
}

/** One wake's sample: a time and, per channel, an integer in units of the channel's resolution. */
export interface Reading {
  seq: number;
  /** Unix time, seconds. */
  time: number;
  /** null where the sensor failed: a missing value is never invented. */
  values: (number | null)[];
  /** Why values are missing: published with the reading, so a monitor can show it. */
  faults: ReadingFault[];
}

export class ReadingBuffer {
  #readings: Reading[] = [];
  #next = 0;
  /** Readings dropped because the buffer was full, since the node started clean. */
  dropped = 0;

  constructor(readonly channels: number, readonly capacity: number) {}

  get length(): number { return this.#readings.length; }
  /** Sequence number of the oldest reading kept (== next when empty). */
  get first(): number { return this.#readings.length ? this.#readings[0]!.seq : this.#next; }
  /** Sequence number the next reading will get. */
  get next(): number { return this.#next; }
  get oldest(): Reading | undefined { return this.#readings[0]; }

  append(time: number, values: (number | null)[], faults: ReadingFault[] = []): Reading {
    if (values.length !== this.channels) throw new RangeError(`reading has ${values.length} values for ${this.channels} channels`);
    if (this.#readings.length >= this.capacity) {
      this.#readings.shift();
      this.dropped++;
    }
    const reading = { seq: this.#next, time, values, faults };
    this.#next = (this.#next + 1) >>> 0;
    this.#readings.push(reading);
    return reading;
  }

  /** Readings with first <= seq < first + count that are still kept. */
  range(first: number, count: number): Reading[] {
    return this.#readings.filter((r) => ((r.seq - first) >>> 0) < count);
  }

  /** Forgets every reading older than seq: they have been acknowledged. */
  release(seq: number): void {
    while (this.#readings.length && ((this.#readings[0]!.seq - seq) | 0) < 0) this.#readings.shift();
  }

  write(w: ByteWriter): void {
    w.u32(this.#next);
    w.u32(this.dropped);
    w.u16(this.#readings.length);
    for (const r of this.#readings) {
      w.u32(r.seq);
      w.u32(r.time);
      let mask = 0;
      r.values.forEach((v, i) => { if (v !== null) mask |= 1 << i; });
      w.u32(mask >>> 0);
      for (const v of r.values) if (v !== null) w.i32(v);
      w.u8(r.faults.length);
      for (const f of r.faults) {
        w.u8(f.sensor);
        w.u8(f.fault);
      }
    }
  }

  /** Bytes write() needs for n readings with every value present: to size the buffer to the slot.
   *  A failed sensor's fault (2 bytes) always takes less room than the values it did not give. */
  static bytesFor(channels: number, readings: number): number {
    return 10 + readings * (13 + 4 * channels);
  }

  static read(r: ByteReader, channels: number, capacity: number): ReadingBuffer {
    const buffer = new ReadingBuffer(channels, capacity);
    buffer.#next = r.u32();
    buffer.dropped = r.u32();
    const count = r.u16();
    if (count > capacity) throw new RangeError(`retained buffer holds ${count} readings, more than ${capacity}`);
    for (let i = 0; i < count; i++) {
      const seq = r.u32();
      const time = r.u32();
      const mask = r.u32();
      const values: (number | null)[] = [];
      for (let c = 0; c < channels; c++) values.push(mask & (1 << c) ? r.i32() : null);
      const faults: ReadingFault[] = [];
      for (let n = r.u8(); n > 0; n--) faults.push({ sensor: r.u8(), fault: r.u8() });
      buffer.#readings.push({ seq, time, values, faults });
    }
    return buffer;
  }
}
