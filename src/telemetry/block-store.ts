// The reading buffer's storage, in positions (0: the oldest reading stored, released or not):
// ReadingBuffer keeps the sequence numbers and decides what goes.
//
// Storage is a stream of sealed blocks of 8 readings (sprintz.ts) and one open block (the tail,
// re-encoded at every append). The stream starts from an anchor — the decoder's state before its
// first block — so the oldest block can be cut off by decoding it once, and an index of where each
// sealed entry starts lets a walk begin from the head, backwards, when that is shorter.
//
// The store also keeps the CRC-32 of its sealed blocks as they grow and shrink (SealedCrc).

import type { ByteReader, ByteWriter } from "../encoding/bytes";
import { crc32, type KnownCrc } from "../encoding/crc32";
import { seqBefore, type ReadingFault } from "./reading";
import { SealedCrc } from "./sealed-crc";
import { BLOCK, blockEnd, BlockDecoder, BlockEncoder, BlockReadings, headerBytes, isZeroBlock, maxBlockBytes, Predictor } from "./sprintz";

/** Receives one decoded reading: its sequence number, time, values (at `at` in `values`), missing-
 *  channel mask and faults. */
export type Emit = (seq: number, time: number, values: Int32Array, at: number, missing: number, faults: ReadingFault[] | undefined) => void;

export class BlockStore {
  /** Sealed blocks, zero runs counted block by block. */
  #blocks = 0;
  /** Bytes of the sealed blocks; the tail's encoding follows them. */
  #sealed = 0;
  #tailBytes = 0;
  /** Where the last sealed entry starts: a run of zero blocks grows in place. */
  #lastEntry = -1;
  #bytes: Uint8Array;
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
  readonly #crc = new SealedCrc();
  /** Where write() last put the sealed bytes in its output, and where read() found them. */
  #writtenAt = -1;
  #readAt = -1;

  /** Called when the next encoding does not fit: must drop the oldest block (dropOldest). */
  readonly #makeRoom: () => void;

  /** `capacity`: bytes the encoded readings may take, at least one worst-case block. */
  constructor(readonly channels: number, readonly capacity: number, makeRoom: () => void) {
    this.#makeRoom = makeRoom;
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

  /** Readings stored, released ones still sharing a block with kept ones included. */
  get count(): number {
    return this.#tail.count + BLOCK * this.#blocks;
  }
  /** Sealed blocks, zero runs counted block by block. */
  get blocks(): number { return this.#blocks; }
  /** Bytes the stored readings take. */
  get bytesUsed(): number { return this.#sealed + this.#tailBytes; }

  /** Time of the newest reading appended: the open block's newest, or else the head's, if any
   *  reading was ever `appended`. */
  newestTime(appended: boolean): number | undefined {
    const tail = this.#tail;
    if (tail.count > 0) return tail.times[tail.count - 1];
    return appended ? this.#head.time : undefined;
  }

  /** Encodes a reading after the others; calls makeRoom while it does not fit. */
  append(time: number, values: readonly (number | null)[], faults: readonly ReadingFault[]): void {
    const { channels } = this;
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
      while (this.#sealed + length > this.capacity) this.#makeRoom();
      this.#bytes.set(scratch.subarray(0, length), this.#sealed);
    }
    if (sealing) {
      if (length) {
        this.#crc.added(this.#bytes, this.#sealed, this.#sealed + length);
        this.#lastEntry = this.#sealed;
        this.#indexEntry(this.#sealed);
      } else {
        this.#crc.grew(this.#bytes, this.#lastEntry, this.#sealed);
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
  }

  /** Lets the open block's readings go once every one of them is released (no sealed block left):
   *  the predictor moves past them, and the anchor with it. */
  dropTail(): void {
    const tail = this.#tail;
    for (let k = 0; k < tail.count; k++) this.#head.advance(tail.times[k]!, tail.values, k * this.channels, tail.missing[k]!);
    this.#anchor.copyFrom(this.#head);
    tail.count = 0;
    tail.faults.fill(undefined);
    this.#tailBytes = 0;
    this.#cursorValid = false;
  }

  /** Forgets every reading, keeping the anchor: appends then encode from the same predictor state. */
  clear(): void {
    this.#head.copyFrom(this.#anchor);
    this.#blocks = 0;
    this.#sealed = 0;
    this.#tailBytes = 0;
    this.#tail.count = 0;
    this.#tail.faults.fill(undefined);
    this.#lastEntry = -1;
    this.#cursorValid = false;
    this.#entryCount = 0;
    this.#crc.empty();
  }

  /** Cuts off the oldest sealed block (ReadingBuffer counts what it held). */
  dropOldest(): void {
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
    const crcChange = this.#crc.known ? crc32(bytes, 0, entry) : 0;
    if (!size) {
      bytes[header]!--;
      this.#crc.changedFirst(bytes, this.#lastEntry, this.#sealed, entry, crcChange ^ crc32(bytes, 0, entry), false);
    } else {
      this.#crc.changedFirst(bytes, this.#lastEntry, this.#sealed, entry, crcChange, true);
    }
    if (size && this.#entryCount > 0) {
      const entries = this.#entries!;
      for (let k = 1; k < this.#entryCount; k++) entries[k - 1] = entries[k]! - size;
      this.#entryCount--;
    }
    if (size) {
      // The bytes move: where read() found them no longer says where they are.
      this.#readAt = -1;
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

  /** The CRC-32 of the sealed bytes where the last write() put them (SealedCrc.written). */
  writtenCrc(): KnownCrc | undefined {
    return this.#crc.written(this.#bytes, this.#lastEntry, this.#sealed, this.#writtenAt);
  }

  /** After read(): SealedCrc.adopt. */
  adoptCrc(loadedCrc: (start: number, end: number, power: number) => number | undefined): void {
    this.#crc.adopt(this.#bytes, this.#lastEntry, this.#sealed, this.#readAt, loadedCrc);
  }

  /**
   * Decodes the stored readings at positions [from, to) (0: the first stored, whose sequence number
   * is `start`) in order, calling `emit` with each one's sequence number, time, values (at `at` in `values`), missing-channel
   * mask and faults. The arrays are reused: copy what must outlive the call.
   */
  walk(start: number, from: number, to: number, emit: Emit): void {
    const { channels } = this;
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

  /** Bytes write() adds besides the encoded readings. */
  static overhead(channels: number): number {
    return 2 + 1 + 2 * (8 + 4 * channels) + 2;
  }

  write(w: ByteWriter): void {
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

  /** Reads what write() wrote, for the readings from `first` to `next`; a stream whose shape does
   *  not add up is a RangeError (corrupt). */
  read(r: ByteReader, first: number, next: number): void {
    const { channels } = this;
    this.#blocks = r.u16();
    const tailCount = r.u8();
    for (const p of [this.#anchor, this.#head]) {
      p.time = r.u32();
      p.delta = r.i32();
      for (let c = 0; c < channels; c++) p.values[c] = r.i32();
    }
    const sealed = r.u16();
    if (tailCount >= BLOCK) throw new RangeError("retained reading buffer is malformed");
    // A layout with less room than the one that wrote these (a firmware update) still reads them
    // whole; the buffer then drops the oldest blocks until they fit (ReadingBuffer.read).
    if (sealed + maxBlockBytes(channels) > this.#bytes.length) this.#bytes = new Uint8Array(sealed + maxBlockBytes(channels));
    this.#readAt = r.offset;
    this.#crc.known = sealed === 0;
    this.#bytes.set(r.raw(sealed));
    this.#sealed = sealed;
    this.#tail.count = tailCount;
    const start = (next - this.count) >>> 0;
    if (seqBefore(first, start) || seqBefore(next, first)) throw new RangeError("retained reading buffer is malformed");
    const header = headerBytes(channels);
    let blocks = 0;
    let offset = 0;
    const entries = new Uint16Array(this.#blocks + 8);
    this.#entries = entries;
    while (offset < sealed) {
      this.#lastEntry = offset;
      if (this.#entryCount >= 0 && this.#entryCount < entries.length) entries[this.#entryCount++] = offset;
      else this.#entryCount = -1;
      if (isZeroBlock(this.#bytes, offset, channels)) {
        if (offset + header >= sealed) throw new RangeError("retained reading buffer is malformed");
        blocks += this.#bytes[offset + header]! + 1;
        offset += header + 1;
      } else {
        offset = blockEnd(this.#bytes, offset, sealed, BLOCK, channels);
        blocks++;
      }
    }
    if (blocks !== this.#blocks) throw new RangeError("retained reading buffer is malformed");
    if (tailCount) {
      const at = r.offset;
      const state = this.#walkState;
      state.copyFrom(this.#head);
      const end = this.#decoder.decode(r.bytes, at, r.bytes.length, tailCount, state, this.#tail);
      const tail = r.raw(end - at);
      if (sealed + tail.length > this.#bytes.length) throw new RangeError("retained reading buffer is malformed");
      this.#bytes.set(tail, sealed);
      this.#tailBytes = tail.length;
    }
  }
}
