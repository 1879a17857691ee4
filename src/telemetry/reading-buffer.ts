// The readings a node has taken and not yet had acknowledged, oldest first, compressed (BlockStore)
// so that a day and more of one-minute readings fit in RTC memory. Each reading has a sequence
// number that never repeats, so an in-flight MQTT message can name the readings it carries as a
// range [first, first + count) and re-encode them byte for byte if it must be sent again.
//
// A reading leaves when it is released (acknowledged); its bytes go when the whole block it sits in
// is released. Sizing is in bytes: when the next encoding does not fit, the oldest block goes, and
// every unacknowledged reading in it is counted in `dropped`. Nothing is ever lost silently.

import type { ByteReader, ByteWriter } from "../encoding/bytes";
import type { KnownCrc } from "../encoding/crc32";
import { MAX_CHANNELS } from "../sensors/channel";
import { BlockStore } from "./block-store";
import { seqBefore, seqDistance, type Reading, type ReadingFault } from "./reading";
import { BLOCK, maxBlockBytes } from "./sprintz";

export class ReadingBuffer {
  /** Bytes the encoded readings may take (never less than one worst-case block). */
  readonly capacity: number;
  /** Readings dropped because the buffer was full, since the node started clean. */
  dropped = 0;
  #next = 0;
  #first = 0;
  readonly #store: BlockStore;

  constructor(readonly channels: number, capacity: number) {
    if (!Number.isInteger(channels) || channels < 0 || channels > MAX_CHANNELS) throw new RangeError(`a reading has 0..${MAX_CHANNELS} channels, not ${channels}`);
    this.capacity = Math.max(Math.floor(capacity), maxBlockBytes(channels) + 1);
    this.#store = new BlockStore(channels, this.capacity, () => this.#dropOldest());
  }

  /** Readings kept (not yet acknowledged). */
  get length(): number { return (this.#next - this.#first) >>> 0; }
  /** Sequence number of the oldest reading kept (== next when empty). */
  get first(): number { return this.#first; }
  /** Sequence number the next reading will get. */
  get next(): number { return this.#next; }
  get oldest(): Reading | undefined { return this.range(this.#first, 1)[0]; }
  /** Time of the newest reading ever appended, kept or already released (undefined before the
   *  first): a wake whose clock is not past it has nothing new to sample. */
  get newestTime(): number | undefined { return this.#store.newestTime(this.#next !== 0); }
  /** Bytes the stored readings take (released ones still sharing a block with kept ones included). */
  get bytesUsed(): number { return this.#store.bytesUsed; }

  /** Sequence number of the first reading stored, released or not. */
  get #start(): number {
    return (this.#next - this.#store.count) >>> 0;
  }

  /** Adds a reading; returns its sequence number. Drops (and counts) the oldest block if full. */
  append(time: number, values: readonly (number | null)[], faults: readonly ReadingFault[] = []): number {
    const { channels } = this;
    if (values.length !== channels) throw new RangeError(`reading has ${values.length} values for ${channels} channels`);
    if (!Number.isInteger(time) || time < 0 || time > 0xffffffff) throw new RangeError(`reading time ${time} is not a Unix time in seconds`);
    if (faults.length > channels) throw new RangeError(`reading has ${faults.length} faults for ${channels} channels`);
    for (const v of values) if (v !== null && (v | 0) !== v) throw new RangeError(`reading value ${v} is not a 32-bit integer`);
    for (const f of faults) if ((f.sensor & 0xff) !== f.sensor || (f.fault & 0xff) !== f.fault) throw new RangeError("fault indices are bytes");
    const seq = this.#next;
    this.#next = (this.#next + 1) >>> 0;
    this.#store.append(time, values, faults);
    return seq;
  }

  /** Readings with first <= seq < first + count that are still kept. */
  range(first: number, count: number): Reading[] {
    const start = this.#start;
    const from = Math.max(seqDistance(first, start), seqDistance(this.#first, start));
    const to = Math.min(seqDistance(first, start) + count, (this.#next - start) >>> 0);
    const out: Reading[] = [];
    if (from < to) this.#store.walk(start, from, to, (seq, time, values, at, missing, faults) => {
      const reading: (number | null)[] = [];
      for (let c = 0; c < this.channels; c++) reading.push(missing & (1 << c) ? null : values[at + c]!);
      out.push({ seq, time, values: reading, faults: faults ? faults.map((f) => ({ ...f })) : [] });
    });
    return out;
  }

  /** Forgets every reading older than seq: they have been acknowledged. */
  release(seq: number): void {
    if (seqDistance(seq, this.#first) <= 0) return;
    this.#first = seqDistance(seq, this.#next) > 0 ? this.#next : seq;
    while (this.#store.blocks > 0 && seqDistance(this.#first, this.#start) >= BLOCK) this.#dropOldest();
    if (this.#store.blocks === 0 && this.#store.count > 0 && this.#first === this.#next) this.#store.dropTail();
  }

  /**
   * Adds `seconds` to the time of every reading from seq `from` on: readings stamped before the
   * clock was set are put right once it is. Re-encodes what is stored (a rare event); should the
   * new encoding need more room, the oldest block is dropped and counted as at any append.
   */
  retime(from: number, seconds: number): void {
    const start = this.#start;
    const total = (this.#next - start) >>> 0;
    const readings: { time: number; values: (number | null)[]; faults: ReadingFault[] }[] = [];
    this.#store.walk(start, 0, total, (seq, time, values, at, missing, faults) => {
      const reading: (number | null)[] = [];
      for (let c = 0; c < this.channels; c++) reading.push(missing & (1 << c) ? null : values[at + c]!);
      const shifted = seqBefore(seq, from) ? time : (time + seconds) >>> 0;
      readings.push({ time: shifted, values: reading, faults: faults ?? [] });
    });
    this.#store.clear();
    // #first stays: appending back up to it, the released readings are not counted if dropped.
    this.#next = start;
    for (const r of readings) this.append(r.time, r.values, r.faults);
  }

  /** Cuts off the oldest sealed block, counting its unacknowledged readings as dropped. */
  #dropOldest(): void {
    const released = Math.max(0, Math.min(BLOCK, seqDistance(this.#first, this.#start)));
    this.dropped += BLOCK - released;
    this.#store.dropOldest();
    const start = this.#start;
    if (seqBefore(this.#first, start)) this.#first = start;
  }

  /**
   * The CRC-32 of the sealed bytes where the last write() put them: for RetainedSlots.commit, so
   * that it need not hash them. Computed in full if no adoptCrc() gave it since read().
   */
  writtenCrc(): KnownCrc | undefined {
    return this.#store.writtenCrc();
  }

  /**
   * After read(): takes the CRCs from `loadedCrc`, which gives the CRC of bytes [start, end) of
   * what was read (and crcPower(end - start) as `power`) from the pass that checked them.
   */
  adoptCrc(loadedCrc: (start: number, end: number, power: number) => number | undefined): void {
    this.#store.adoptCrc(loadedCrc);
  }

  /** Bytes write() adds besides the encoded readings: for sizing the buffer to the slot. */
  static overhead(channels: number): number {
    return 4 + 4 + 4 + BlockStore.overhead(channels);
  }

  write(w: ByteWriter): void {
    w.u32(this.#next);
    w.u32(this.dropped);
    w.u32(this.#first);
    this.#store.write(w);
  }

  /** Reads what write() wrote; a stream whose shape does not add up is a RangeError (corrupt). */
  static read(r: ByteReader, channels: number, capacity: number): ReadingBuffer {
    const buffer = new ReadingBuffer(channels, capacity);
    buffer.#next = r.u32();
    buffer.dropped = r.u32();
    buffer.#first = r.u32();
    buffer.#store.read(r, buffer.#first, buffer.#next);
    // Written with more room than this buffer has (a firmware update whose layout takes more of the
    // slot): the oldest blocks go, counted as dropped, as when the buffer fills.
    while (buffer.#store.bytesUsed > capacity && buffer.#store.blocks > 0) buffer.#dropOldest();
    if (buffer.#store.bytesUsed > capacity) throw new RangeError("retained reading buffer is malformed");
    return buffer;
  }
}
