// The readings a node has taken and not yet had acknowledged, oldest first, compressed (sprintz.ts)
// so that a day and more of one-minute readings fit in RTC memory. Each reading has a sequence
// number that never repeats, so an in-flight MQTT message can name the readings it carries as a
// range [first, first + count) and re-encode them byte for byte if it must be sent again.
//
// Storage is a stream of sealed blocks of 8 readings and one open block (the tail, re-encoded at
// every append). The stream starts from an anchor — the decoder's state before its first block — so
// the oldest block can be cut off by decoding it once. A reading leaves when it is released
// (acknowledged); its bytes go when the whole block it sits in is released. Sizing is in bytes: when
// the next encoding does not fit, the oldest block goes, and every unacknowledged reading in it is
// counted in `dropped`. Nothing is ever lost silently.
//
// The buffer also keeps the CRC-32 of its sealed blocks as they grow and shrink, so that a commit of
// the retained state need not hash them again (crc32Combine, RetainedSlots): unknown after read() until
// adoptCrc() takes it from the load's own pass, and then computed in full once if asked before.

import type { ByteReader, ByteWriter } from "../encoding/bytes";
import { crc32, crcMultiply, crcPower, CRC_ONE, type KnownCrc } from "../encoding/crc32";
import { MAX_CHANNELS } from "../sensors/channel";
import { seqBefore, seqDistance, type Reading, type ReadingFault } from "./reading";
import { BLOCK, blockEnd, BlockDecoder, BlockEncoder, BlockReadings, headerBytes, isZeroBlock, maxBlockBytes, Predictor } from "./sprintz";

/** Below this many sealed bytes, a buffer just read leaves their CRC to the commits' own hashing:
 *  cheaper than taking it from the load (a power of x by squaring, a dozen GF(2) products). */
const CRC_KEPT_FROM = 512;

export class ReadingBuffer {
  /** Bytes the encoded readings may take (never less than one worst-case block). */
  readonly capacity: number;
  /** Readings dropped because the buffer was full, since the node started clean. */
  dropped = 0;
  #next = 0;
  #first = 0;
  /** Sealed blocks, zero runs counted block by block. */
  #blocks = 0;
  /** Bytes of the sealed blocks; the tail's encoding follows them. */
  #sealed = 0;
  #tailBytes = 0;
  /** Where the last sealed entry starts: a run of zero blocks grows in place. */
  #lastEntry = -1;
  readonly #bytes: Uint8Array;
  readonly #tail: BlockReadings;
  /** Decoder state before the first sealed block, and after the last one. */
  readonly #anchor: Predictor;
  readonly #head: Predictor;
  readonly #encoder: BlockEncoder;
  readonly #decoder: BlockDecoder;
  readonly #scratch: Uint8Array;
  readonly #block: BlockReadings;
  readonly #walkState: Predictor;
  /** Where the last range() left off (a block boundary, its byte offset and the decoder state
   *  there), so the publisher's batches, asked for in order, decode each block once per wake rather
   *  than once per batch. */
  #cursorValid = false;
  #cursorBlock = 0;
  #cursorOffset = 0;
  readonly #cursorState: Predictor;
  /** Byte offsets of the sealed entries (a block, or a run of zero blocks), oldest first, for
   *  walking back from the head; #entryCount -1 when not known (built again when needed). */
  #entries: Uint16Array | undefined;
  #entryCount = 0;
  /** CRC-32 of the sealed bytes and of those before the last entry, and crcPower(#sealed); valid
   *  while #crcKnown. */
  #crcKnown = true;
  #sealedCrc = 0;
  #lastCrc = 0;
  #sealedPower = CRC_ONE;
  /** Where write() last put the sealed bytes in its output, and where read() found them. */
  #writtenAt = -1;
  #readAt = -1;

  constructor(readonly channels: number, capacity: number) {
    if (!Number.isInteger(channels) || channels < 0 || channels > MAX_CHANNELS) throw new RangeError(`a reading has 0..${MAX_CHANNELS} channels, not ${channels}`);
    this.capacity = Math.max(Math.floor(capacity), maxBlockBytes(channels) + 1);
    this.#bytes = new Uint8Array(this.capacity);
    this.#tail = new BlockReadings(channels);
    this.#anchor = new Predictor(channels);
    this.#head = new Predictor(channels);
    this.#walkState = new Predictor(channels);
    this.#cursorState = new Predictor(channels);
    this.#encoder = new BlockEncoder(channels);
    this.#decoder = new BlockDecoder(channels);
    this.#scratch = new Uint8Array(maxBlockBytes(channels) + 1);
    this.#block = new BlockReadings(channels);
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
  get newestTime(): number | undefined {
    const tail = this.#tail;
    if (tail.count > 0) return tail.times[tail.count - 1];
    return this.#next === 0 ? undefined : this.#head.time;
  }
  /** Bytes the stored readings take (released ones still sharing a block with kept ones included). */
  get bytesUsed(): number { return this.#sealed + this.#tailBytes; }

  /** Sequence number of the first reading stored, released or not. */
  get #start(): number {
    return (this.#next - this.#tail.count - BLOCK * this.#blocks) >>> 0;
  }

  /** Adds a reading; returns its sequence number. Drops (and counts) the oldest block if full. */
  append(time: number, values: readonly (number | null)[], faults: readonly ReadingFault[] = []): number {
    const { channels } = this;
    if (values.length !== channels) throw new RangeError(`reading has ${values.length} values for ${channels} channels`);
    if (!Number.isInteger(time) || time < 0 || time > 0xffffffff) throw new RangeError(`reading time ${time} is not a Unix time in seconds`);
    if (faults.length > channels) throw new RangeError(`reading has ${faults.length} faults for ${channels} channels`);
    for (const v of values) if (v !== null && (v | 0) !== v) throw new RangeError(`reading value ${v} is not a 32-bit integer`);
    for (const f of faults) if ((f.sensor & 0xff) !== f.sensor || (f.fault & 0xff) !== f.fault) throw new RangeError("fault indices are bytes");

    const tail = this.#tail;
    if (this.#blocks === 0 && tail.count === 0) {
      // Nothing stored depends on the predictor: start it at this reading, so it costs no bits.
      this.#head.time = (time - this.#head.delta) >>> 0;
      values.forEach((v, c) => { if (v !== null) this.#head.values[c] = v; });
      this.#anchor.copyFrom(this.#head);
      this.#cursorValid = false;
    }
    const i = tail.count++;
    tail.times[i] = time;
    let missing = 0;
    values.forEach((v, c) => {
      if (v === null) missing |= 1 << c;
      else tail.values[i * channels + c] = v;
    });
    tail.missing[i] = missing >>> 0;
    tail.faults[i] = faults.length ? faults.map((f) => ({ sensor: f.sensor, fault: f.fault })) : undefined;
    const seq = this.#next;
    this.#next = (this.#next + 1) >>> 0;

    const scratch = this.#scratch;
    let length = this.#encoder.encode(tail, this.#head, scratch, 0);
    const sealing = tail.count === BLOCK;
    const zero = sealing && isZeroBlock(scratch, 0, channels);
    const header = headerBytes(channels);
    if (zero && this.#lastEntry >= 0 && isZeroBlock(this.#bytes, this.#lastEntry, channels) && this.#bytes[this.#lastEntry + header]! < 255) {
      this.#bytes[this.#lastEntry + header]!++;
      length = 0;
    } else {
      if (zero) scratch[length++] = 0; // a run of one: no more zero blocks follow it yet
      while (this.#sealed + length > this.capacity) this.#dropOldest();
      this.#bytes.set(scratch.subarray(0, length), this.#sealed);
    }
    if (sealing) {
      if (length) {
        if (this.#crcKnown) {
          this.#lastCrc = this.#sealedCrc;
          this.#sealedCrc = crc32(this.#bytes, this.#sealed, this.#sealed + length, this.#sealedCrc);
          this.#sealedPower = crcMultiply(this.#sealedPower, crcPower(length));
        }
        this.#lastEntry = this.#sealed;
        this.#indexEntry(this.#sealed);
      } else if (this.#crcKnown) {
        this.#sealedCrc = crc32(this.#bytes, this.#lastEntry, this.#sealed, this.#lastCrc);
      }
      this.#sealed += length;
      this.#blocks++;
      for (let k = 0; k < BLOCK; k++) this.#head.advance(tail.times[k]!, tail.values, k * channels, tail.missing[k]!);
      tail.count = 0;
      tail.faults.fill(undefined);
      this.#tailBytes = 0;
    } else {
      this.#tailBytes = length;
    }
    return seq;
  }

  /** Readings with first <= seq < first + count that are still kept. */
  range(first: number, count: number): Reading[] {
    const start = this.#start;
    const from = Math.max(seqDistance(first, start), seqDistance(this.#first, start));
    const to = Math.min(seqDistance(first, start) + count, (this.#next - start) >>> 0);
    const out: Reading[] = [];
    if (from < to) this.#walk(from, to, (seq, time, values, at, missing, faults) => {
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
    while (this.#blocks > 0 && seqDistance(this.#first, this.#start) >= BLOCK) this.#dropOldest();
    const tail = this.#tail;
    if (this.#blocks === 0 && tail.count > 0 && this.#first === this.#next) {
      for (let k = 0; k < tail.count; k++) this.#head.advance(tail.times[k]!, tail.values, k * this.channels, tail.missing[k]!);
      this.#anchor.copyFrom(this.#head);
      tail.count = 0;
      tail.faults.fill(undefined);
      this.#tailBytes = 0;
      this.#cursorValid = false;
    }
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
    this.#walk(0, total, (seq, time, values, at, missing, faults) => {
      const reading: (number | null)[] = [];
      for (let c = 0; c < this.channels; c++) reading.push(missing & (1 << c) ? null : values[at + c]!);
      const shifted = seqBefore(seq, from) ? time : (time + seconds) >>> 0;
      readings.push({ time: shifted, values: reading, faults: faults ?? [] });
    });
    this.#head.copyFrom(this.#anchor);
    this.#blocks = 0;
    this.#sealed = 0;
    this.#tailBytes = 0;
    this.#tail.count = 0;
    this.#tail.faults.fill(undefined);
    this.#lastEntry = -1;
    this.#cursorValid = false;
    this.#entryCount = 0;
    this.#crcEmpty();
    // #first stays: appending back up to it, the released readings are not counted if dropped.
    this.#next = start;
    for (const r of readings) this.append(r.time, r.values, r.faults);
  }

  /** Cuts off the oldest sealed block, counting its unacknowledged readings as dropped. */
  #dropOldest(): void {
    const start = this.#start;
    const released = Math.max(0, Math.min(BLOCK, seqDistance(this.#first, start)));
    this.dropped += BLOCK - released;
    const bytes = this.#bytes;
    const header = headerBytes(this.channels);
    let size: number;
    let entry: number;
    if (isZeroBlock(bytes, 0, this.channels)) {
      this.#anchor.skipZeroBlocks(1);
      entry = header + 1;
      size = bytes[header]! > 0 ? 0 : entry;
    } else {
      size = entry = this.#decoder.decode(bytes, 0, this.#sealed, BLOCK, this.#anchor);
    }
    // The first entry changes (a zero run one block shorter) or goes: its CRC before and after.
    const crcChange = this.#crcKnown ? crc32(bytes, 0, entry) : 0;
    if (!size) {
      bytes[header]!--;
      this.#dropCrc(entry, crcChange ^ crc32(bytes, 0, entry), false);
    } else {
      this.#dropCrc(entry, crcChange, true);
    }
    if (size && this.#entryCount > 0) {
      const entries = this.#entries!;
      for (let k = 1; k < this.#entryCount; k++) entries[k - 1] = entries[k]! - size;
      this.#entryCount--;
    }
    if (size) {
      bytes.copyWithin(0, size, this.#sealed + this.#tailBytes);
      this.#sealed -= size;
      this.#lastEntry -= size;
    }
    this.#blocks--;
    if (this.#blocks === 0) this.#lastEntry = -1;
    if (this.#cursorValid && this.#cursorOffset > 0) {
      this.#cursorBlock--;
      this.#cursorOffset -= size;
    } else {
      this.#cursorValid = false;
    }
    const newStart = this.#start;
    if (seqBefore(this.#first, newStart)) this.#first = newStart;
  }

  /** Notes a new sealed entry at `offset` in the index, if the index is kept and has room. */
  #indexEntry(offset: number): void {
    if (this.#entryCount < 0) return;
    if (!this.#entries || this.#entryCount === this.#entries.length) {
      this.#entryCount = -1;
      return;
    }
    this.#entries[this.#entryCount++] = offset;
  }

  /** The entry index, built by walking the entries' shapes (no decoding) if it is not kept. */
  #entryIndex(): Uint16Array {
    if (this.#entryCount < 0 || !this.#entries) {
      const { channels } = this;
      const header = headerBytes(channels);
      const entries = new Uint16Array(this.#blocks + 8);
      let count = 0;
      for (let offset = 0; offset < this.#sealed; count++) {
        entries[count] = offset;
        offset = isZeroBlock(this.#bytes, offset, channels) ? offset + header + 1 : blockEnd(this.#bytes, offset, this.#sealed, BLOCK, channels);
      }
      this.#entries = entries;
      this.#entryCount = count;
    }
    return this.#entries;
  }

  /**
   * Where a walk to position `from` should start when walking back from the head is shorter than
   * walking on from `block`: rewinds `state` (from the head) entry by entry to the first entry that
   * starts at or before `from`, and returns its block and offset; undefined if it is not shorter.
   */
  #fromHead(from: number, block: number, state: Predictor): { block: number; offset: number } | undefined {
    const target = Math.floor(from / BLOCK);
    if (this.#blocks - target >= target - block) return undefined;
    const entries = this.#entryIndex();
    const { channels } = this;
    const header = headerBytes(channels);
    const bytes = this.#bytes;
    state.copyFrom(this.#head);
    let at = this.#blocks;
    let end = this.#sealed;
    if (at <= target) return { block: at, offset: end };
    for (let k = this.#entryCount - 1; k >= 0; k--) {
      const offset = entries[k]!;
      if (isZeroBlock(bytes, offset, channels)) {
        const run = bytes[offset + header]! + 1;
        state.time = (state.time - run * BLOCK * state.delta) >>> 0;
        at -= run;
      } else {
        this.#decoder.rewind(bytes, offset, end, BLOCK, state);
        at--;
      }
      end = offset;
      if (at <= target) return { block: at, offset };
    }
    return { block: 0, offset: 0 };
  }

  /**
   * Follows the CRCs through a change to the first entry, `entry` bytes long: `change` is the XOR
   * of its CRCs before and after; `gone` when it is removed (its bytes not yet moved).
   * crc(E ‖ M) = crc(E) × x^(8|M|) ⊕ crc(M), so the CRC of what precedes the last entry changes by
   * `change` × x^(8|M|), M being the entries between the first and the last.
   */
  #dropCrc(entry: number, change: number, gone: boolean): void {
    if (!this.#crcKnown) return;
    if (this.#lastEntry === 0) {
      // The first entry is also the last.
      this.#lastCrc = 0;
      if (gone) this.#crcEmpty();
      else this.#sealedCrc = crc32(this.#bytes, 0, this.#sealed);
      return;
    }
    const middle = this.#lastEntry - entry;
    const power = crcPower(middle);
    this.#lastCrc = (this.#lastCrc ^ crcMultiply(power, change)) >>> 0;
    this.#sealedCrc = crc32(this.#bytes, this.#lastEntry, this.#sealed, this.#lastCrc);
    if (gone) this.#sealedPower = crcMultiply(power, crcPower(this.#sealed - this.#lastEntry));
  }

  #crcEmpty(): void {
    this.#crcKnown = true;
    this.#sealedCrc = 0;
    this.#lastCrc = 0;
    this.#sealedPower = CRC_ONE;
  }

  /**
   * The CRC-32 of the sealed bytes where the last write() put them: for RetainedSlots.commit, so
   * that it need not hash them. Computed in full if no adoptCrc() gave it since read().
   */
  writtenCrc(): KnownCrc | undefined {
    if (this.#writtenAt < 0 || (!this.#crcKnown && this.#sealed < CRC_KEPT_FROM)) return undefined;
    if (!this.#crcKnown) {
      const last = Math.max(0, this.#lastEntry);
      this.#lastCrc = crc32(this.#bytes, 0, last);
      this.#sealedCrc = crc32(this.#bytes, last, this.#sealed, this.#lastCrc);
      this.#sealedPower = crcPower(this.#sealed);
      this.#crcKnown = true;
    }
    return { start: this.#writtenAt, end: this.#writtenAt + this.#sealed, crc: this.#sealedCrc, power: this.#sealedPower };
  }

  /**
   * After read(): takes the CRCs from `loadedCrc`, which gives the CRC of bytes [start, end) of
   * what was read (and crcPower(end - start) as `power`) from the pass that checked them.
   */
  adoptCrc(loadedCrc: (start: number, end: number, power: number) => number | undefined): void {
    if (this.#crcKnown || this.#readAt < 0 || this.#sealed < CRC_KEPT_FROM) return;
    const last = Math.max(0, this.#lastEntry);
    const power = crcPower(last);
    const crc = loadedCrc(this.#readAt, this.#readAt + last, power);
    if (crc === undefined) return;
    this.#lastCrc = crc;
    this.#sealedCrc = crc32(this.#bytes, last, this.#sealed, crc);
    this.#sealedPower = crcMultiply(power, crcPower(this.#sealed - last));
    this.#crcKnown = true;
  }

  /**
   * Decodes the stored readings at positions [from, to) (0: the first stored) in order, calling
   * `emit` with each one's sequence number, time, values (at `at` in `values`), missing-channel
   * mask and faults. The arrays are reused: copy what must outlive the call.
   */
  #walk(from: number, to: number, emit: (seq: number, time: number, values: Int32Array, at: number, missing: number, faults: ReadingFault[] | undefined) => void): void {
    const { channels } = this;
    const start = this.#start;
    const bytes = this.#bytes;
    const header = headerBytes(channels);
    const state = this.#walkState;
    let block = 0;
    let offset = 0;
    if (this.#cursorValid && this.#cursorBlock * BLOCK <= from) {
      block = this.#cursorBlock;
      offset = this.#cursorOffset;
      state.copyFrom(this.#cursorState);
    } else {
      state.copyFrom(this.#anchor);
    }
    // From the anchor, or from the head backwards when that is shorter: a batch near the newest
    // readings of a full buffer costs about one batch, not the whole buffer.
    const back = this.#fromHead(from, block, state);
    if (back) {
      block = back.block;
      offset = back.offset;
    }
    const decoded = this.#block;
    while (block < this.#blocks && block * BLOCK < to) {
      if (isZeroBlock(bytes, offset, channels)) {
        const run = bytes[offset + header]! + 1;
        for (let b = 0; b < run; b++, block++) {
          const first = block * BLOCK;
          if (first + BLOCK <= from || first >= to) {
            state.skipZeroBlocks(1);
            continue;
          }
          for (let i = 0; i < BLOCK; i++) {
            state.time = (state.time + state.delta) >>> 0;
            if (first + i >= from && first + i < to) emit((start + first + i) >>> 0, state.time, state.values, 0, 0, undefined);
          }
        }
        offset += header + 1;
      } else {
        const first = block * BLOCK;
        const wanted = first + BLOCK > from;
        offset = this.#decoder.decode(bytes, offset, this.#sealed, BLOCK, state, wanted ? decoded : undefined);
        if (wanted) {
          for (let i = Math.max(0, from - first); i < BLOCK && first + i < to; i++) {
            emit((start + first + i) >>> 0, decoded.times[i]!, decoded.values, i * channels, decoded.missing[i]!, decoded.faults[i]);
          }
        }
        block++;
      }
      if (block * BLOCK <= to) {
        this.#cursorValid = true;
        this.#cursorBlock = block;
        this.#cursorOffset = offset;
        this.#cursorState.copyFrom(state);
      }
    }
    const tail = this.#tail;
    const base = this.#blocks * BLOCK;
    for (let i = Math.max(0, from - base); i < tail.count && base + i < to; i++) {
      emit((start + base + i) >>> 0, tail.times[i]!, tail.values, i * channels, tail.missing[i]!, tail.faults[i]);
    }
  }

  /** Bytes write() adds besides the encoded readings: for sizing the buffer to the slot. */
  static overhead(channels: number): number {
    return 4 + 4 + 4 + 2 + 1 + 2 * (8 + 4 * channels) + 2;
  }

  write(w: ByteWriter): void {
    w.u32(this.#next);
    w.u32(this.dropped);
    w.u32(this.#first);
    w.u16(this.#blocks);
    w.u8(this.#tail.count);
    for (const p of [this.#anchor, this.#head]) {
      w.u32(p.time);
      w.i32(p.delta);
      for (const v of p.values) w.i32(v);
    }
    w.u16(this.#sealed);
    this.#writtenAt = w.offset;
    w.raw(this.#bytes.subarray(0, this.#sealed + this.#tailBytes));
  }

  /** Reads what write() wrote; a stream whose shape does not add up is a RangeError (corrupt). */
  static read(r: ByteReader, channels: number, capacity: number): ReadingBuffer {
    const buffer = new ReadingBuffer(channels, capacity);
    buffer.#next = r.u32();
    buffer.dropped = r.u32();
    buffer.#first = r.u32();
    buffer.#blocks = r.u16();
    const tailCount = r.u8();
    for (const p of [buffer.#anchor, buffer.#head]) {
      p.time = r.u32();
      p.delta = r.i32();
      for (let c = 0; c < channels; c++) p.values[c] = r.i32();
    }
    const sealed = r.u16();
    if (tailCount >= BLOCK || sealed > buffer.capacity) throw new RangeError("retained reading buffer is malformed");
    buffer.#readAt = r.offset;
    buffer.#crcKnown = sealed === 0;
    buffer.#bytes.set(r.raw(sealed));
    buffer.#sealed = sealed;
    buffer.#tail.count = tailCount;
    const start = buffer.#start;
    if (seqBefore(buffer.#first, start) || seqBefore(buffer.#next, buffer.#first)) throw new RangeError("retained reading buffer is malformed");
    const header = headerBytes(channels);
    let blocks = 0;
    let offset = 0;
    const entries = new Uint16Array(buffer.#blocks + 8);
    buffer.#entries = entries;
    while (offset < sealed) {
      buffer.#lastEntry = offset;
      if (buffer.#entryCount >= 0 && buffer.#entryCount < entries.length) entries[buffer.#entryCount++] = offset;
      else buffer.#entryCount = -1;
      if (isZeroBlock(buffer.#bytes, offset, channels)) {
        if (offset + header >= sealed) throw new RangeError("retained reading buffer is malformed");
        blocks += buffer.#bytes[offset + header]! + 1;
        offset += header + 1;
      } else {
        offset = blockEnd(buffer.#bytes, offset, sealed, BLOCK, channels);
        blocks++;
      }
    }
    if (blocks !== buffer.#blocks) throw new RangeError("retained reading buffer is malformed");
    if (tailCount) {
      const at = r.offset;
      const state = buffer.#walkState;
      state.copyFrom(buffer.#head);
      const end = buffer.#decoder.decode(r.bytes, at, r.bytes.length, tailCount, state, buffer.#tail);
      const tail = r.raw(end - at);
      if (sealed + tail.length > buffer.capacity) throw new RangeError("retained reading buffer is malformed");
      buffer.#bytes.set(tail, sealed);
      buffer.#tailBytes = tail.length;
    }
    return buffer;
  }
}
