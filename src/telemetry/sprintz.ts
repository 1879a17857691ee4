// Sprintz-style coding of readings in blocks of 8 (Blalock, Madden, Guttag, IMWUT 2018). Each column
// — the time, then each channel — is predicted from the reading before: the time by delta of delta
// (readings sit on the sampling grid, so the residual is almost always 0), the values by delta. The
// residuals are zigzag-coded and each column of a block is bit-packed at the width its largest
// residual needs. Delta rather than Sprintz's FIRE forecaster: on the recordings in shared/data FIRE
// saved nothing (bench/buffer.ts measures both). Missing values and sensor faults, which Sprintz
// has no notion of, ride in an exception section that costs one header bit when absent. All
// arithmetic wraps at 32 bits, so any int32 value and any u32 time round-trips exactly.
//
// A block of n readings (docs/retained-state.md has the byte-level table):
//   header   ceil((1 + 5 K) / 8) bytes, K = channels + 1, bits LSB first: bit 0 "exceptions follow",
//            then a 5-bit width code per column (0..30: that many bits, 31: 32 bits)
//   [exc]    1 byte: which readings have exceptions; for each, the missing-channel mask
//            (ceil(channels / 8) bytes), a fault count f and f × (sensor, fault) bytes
//   data     per column, n residuals at the column's width, LSB first; zero bits to a byte boundary

import type { ReadingFault } from "./reading";

export const BLOCK = 8;

/** Everything decoding the next reading needs: the previous reading's time and step, and the last
 *  value each channel had (a missing value leaves its channel's prediction alone). */
export class Predictor {
  time = 0;
  delta = 0;
  readonly values: Int32Array;

  constructor(channels: number) {
    this.values = new Int32Array(channels);
  }

  copyFrom(other: Predictor): void {
    this.time = other.time;
    this.delta = other.delta;
    this.values.set(other.values);
  }

  /** Moves past one reading, as decoding it would. */
  advance(time: number, values: Int32Array, valueAt: number, missing: number): void {
    this.delta = (time - this.time) | 0;
    this.time = time;
    for (let c = 0; c < this.values.length; c++) if (!(missing & (1 << c))) this.values[c] = values[valueAt + c]!;
  }

  /** Moves past a block whose residuals are all zero: same step, same values. */
  skipZeroBlocks(blocks: number): void {
    this.time = (this.time + blocks * BLOCK * this.delta) >>> 0;
  }
}

/** Up to one block of readings in flat, preallocated arrays: the encoder's input, the decoder's output. */
export class BlockReadings {
  count = 0;
  readonly times = new Uint32Array(BLOCK);
  /** BLOCK × channels, reading-major; a missing value's slot means nothing. */
  readonly values: Int32Array;
  /** Bit c: channel c has no value. */
  readonly missing = new Uint32Array(BLOCK);
  readonly faults: (ReadingFault[] | undefined)[] = new Array<ReadingFault[] | undefined>(BLOCK).fill(undefined);

  constructor(readonly channels: number) {
    this.values = new Int32Array(BLOCK * channels);
  }
}

export function zigzag(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

export function unzigzag(z: number): number {
  return (z >>> 1) ^ -(z & 1);
}

/** Bits needed for an unsigned residual, rounded to what a width code can say. */
function widthOf(z: number): number {
  const w = 32 - Math.clz32(z);
  return w === 31 ? 32 : w;
}

const codeOf = (width: number): number => (width === 32 ? 31 : width);

/** Column k's width from the block header at `at`. A 5-bit code spans at most two bytes: one read,
 *  not getBits' loop, as this runs for every block of the buffer at every wake. */
function widthAt(bytes: Uint8Array, at: number, k: number): number {
  const bit = at * 8 + 1 + 5 * k;
  const code = (((bytes[bit >>> 3] ?? 0) | ((bytes[(bit >>> 3) + 1] ?? 0) << 8)) >>> (bit & 7)) & 31;
  return code === 31 ? 32 : code;
}

export function headerBytes(channels: number): number {
  return (1 + 5 * (channels + 1) + 7) >> 3;
}

function maskBytes(channels: number): number {
  return (channels + 7) >> 3;
}

/** The most bytes one block can take: every column at 32 bits and every reading with exceptions
 *  (at most one fault per channel: each fault belongs to a sensor that has at least one channel). */
export function maxBlockBytes(channels: number): number {
  return headerBytes(channels) + 1 + BLOCK * (maskBytes(channels) + 1 + 2 * channels) + 4 * BLOCK * (channels + 1);
}

/** Writes `width` low bits of the unsigned `value` at bit `bit` of zeroed `bytes`; returns the next bit. */
function putBits(bytes: Uint8Array, bit: number, value: number, width: number): number {
  while (width > 0) {
    const shift = bit & 7;
    const take = Math.min(8 - shift, width);
    bytes[bit >>> 3]! |= (value & ((1 << take) - 1)) << shift;
    value >>>= take;
    bit += take;
    width -= take;
  }
  return bit;
}

function getBits(bytes: Uint8Array, bit: number, width: number): number {
  // Most residuals are narrow: three bytes at once, where the loop below takes a turn a byte (past
  // the end of `bytes` reads as 0, and what is beyond the field is masked off).
  const shift = bit & 7;
  if (shift + width <= 24) {
    const at = bit >>> 3;
    return ((bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) >>> shift) & ((1 << width) - 1);
  }
  let value = 0;
  for (let done = 0; done < width; ) {
    const shift = bit & 7;
    const take = Math.min(8 - shift, width - done);
    value |= ((bytes[bit >>> 3]! >>> shift) & ((1 << take) - 1)) << done;
    bit += take;
    done += take;
  }
  return value >>> 0;
}

/**
 * The encoder's scratch: residuals of one block, column-major, kept between calls so that encoding
 * allocates nothing.
 */
export class BlockEncoder {
  readonly #residuals: Uint32Array;
  readonly #widths: Uint8Array;
  readonly #state: Predictor;

  constructor(readonly channels: number) {
    this.#residuals = new Uint32Array(BLOCK * (channels + 1));
    this.#widths = new Uint8Array(channels + 1);
    this.#state = new Predictor(channels);
  }

  /** Encodes `block` as it follows `from` into `out` at `at` (which it zeroes first); returns the end. */
  encode(block: BlockReadings, from: Predictor, out: Uint8Array, at: number): number {
    const { channels } = this;
    const n = block.count;
    const state = this.#state;
    state.copyFrom(from);
    const residuals = this.#residuals;
    const widths = this.#widths.fill(0);
    let exceptions = 0;
    for (let i = 0; i < n; i++) {
      const time = block.times[i]!;
      const delta = (time - state.time) | 0;
      const r = zigzag((delta - state.delta) | 0);
      residuals[i] = r;
      widths[0] = Math.max(widths[0]!, widthOf(r));
      const missing = block.missing[i]!;
      for (let c = 0; c < channels; c++) {
        const v = missing & (1 << c) ? 0 : zigzag((block.values[i * channels + c]! - state.values[c]!) | 0);
        residuals[(c + 1) * BLOCK + i] = v;
        widths[c + 1] = Math.max(widths[c + 1]!, widthOf(v));
      }
      if (missing || block.faults[i]?.length) exceptions |= 1 << i;
      state.advance(time, block.values, i * channels, missing);
    }

    const header = headerBytes(channels);
    const end = Math.min(out.length, at + maxBlockBytes(channels));
    out.fill(0, at, end);
    let bit = at * 8;
    bit = putBits(out, bit, exceptions ? 1 : 0, 1);
    for (let k = 0; k <= channels; k++) bit = putBits(out, bit, codeOf(widths[k]!), 5);
    let p = at + header;
    if (exceptions) {
      out[p++] = exceptions;
      for (let i = 0; i < n; i++) {
        if (!(exceptions & (1 << i))) continue;
        const missing = block.missing[i]!;
        for (let b = 0; b < maskBytes(channels); b++) out[p++] = (missing >>> (8 * b)) & 0xff;
        const faults = block.faults[i] ?? [];
        out[p++] = faults.length;
        for (const f of faults) {
          out[p++] = f.sensor;
          out[p++] = f.fault;
        }
      }
    }
    bit = p * 8;
    for (let k = 0; k <= channels; k++) {
      const w = widths[k]!;
      if (w === 0) continue;
      for (let i = 0; i < n; i++) bit = putBits(out, bit, residuals[k * BLOCK + i]!, w);
    }
    return (bit + 7) >>> 3;
  }
}

/**
 * The end of the block of `n` readings at `at`, without decoding it: for checking a stored stream's
 * shape at every wake, so it is kept lean (locals only). Past `end` is a RangeError (corrupt).
 */
export function blockEnd(bytes: Uint8Array, at: number, end: number, n: number, channels: number): number {
  let p = at + headerBytes(channels);
  let bits = 0;
  for (let k = 0; k <= channels; k++) bits += widthAt(bytes, at, k);
  if (bytes[at]! & 1) {
    const exceptions = bytes[p++] ?? 0;
    for (let i = 0; i < BLOCK; i++) {
      if (!(exceptions & (1 << i))) continue;
      if (i >= n) throw new RangeError("bad exceptions in a reading block");
      p += maskBytes(channels);
      const count = bytes[p++] ?? 0;
      if (count > channels) throw new RangeError("bad faults in a reading block");
      p += 2 * count;
    }
  }
  p += (bits * n + 7) >>> 3;
  if (p > end) throw new RangeError("reading block ends early");
  return p;
}

/** True when the block at `at` has no exceptions and every column has width 0: all residuals zero. */
export function isZeroBlock(bytes: Uint8Array, at: number, channels: number): boolean {
  for (let i = 0; i < headerBytes(channels); i++) if (bytes[at + i] !== 0) return false;
  return true;
}

/**
 * Reads blocks. Its scratch (widths, masks, column positions) is preallocated, so walking a stream
 * allocates nothing but the fault lists a caller asks for.
 */
export class BlockDecoder {
  readonly #widths: Uint8Array;
  readonly #columns: Float64Array;
  readonly #missing = new Uint32Array(BLOCK);
  #dataEnd = 0;

  constructor(readonly channels: number) {
    this.#widths = new Uint8Array(channels + 1);
    this.#columns = new Float64Array(channels + 1);
  }

  /**
   * Decodes the block of `n` readings at `at` that follows `state`, advancing `state` past it and,
   * when `into` is given, filling it. Returns the block's end.
   */
  decode(bytes: Uint8Array, at: number, end: number, n: number, state: Predictor, into?: BlockReadings): number {
    const { channels } = this;
    this.#layout(bytes, at, end, n, into);
    const widths = this.#widths;
    const columns = this.#columns;
    const missing = this.#missing;
    const w0 = widths[0]!;
    const values = state.values;
    // The walk's inner loop: locals, and unzigzag written out (a call costs as much as the rest).
    let z = 0, w = 0, gone = 0;
    for (let i = 0; i < n; i++) {
      if (w0) {
        z = getBits(bytes, columns[0]! + i * w0, w0);
        state.delta = (state.delta + ((z >>> 1) ^ -(z & 1))) | 0;
      }
      state.time = (state.time + state.delta) >>> 0;
      gone = missing[i]!;
      for (let c = 0; c < channels; c++) {
        w = widths[c + 1]!;
        if (w && !(gone & (1 << c))) {
          z = getBits(bytes, columns[c + 1]! + i * w, w);
          values[c] = (values[c]! + ((z >>> 1) ^ -(z & 1))) | 0;
        }
      }
      if (into) {
        into.times[i] = state.time;
        into.values.set(values, i * channels);
      }
    }
    return this.#dataEnd;
  }

  /**
   * The inverse of decode() without the readings: moves `state` from just after the block of `n`
   * readings at `at` to just before it. Delta coding runs backwards too: the step before the block
   * is the step after it less the block's time residuals, the time before it the time after less
   * each reading's step, a value before it the value after less its residuals (a missing value has
   * none). So a reading near the newest can be had from the head without decoding from the anchor.
   */
  rewind(bytes: Uint8Array, at: number, end: number, n: number, state: Predictor): void {
    const { channels } = this;
    this.#layout(bytes, at, end, n);
    const widths = this.#widths;
    const columns = this.#columns;
    const missing = this.#missing;
    const w0 = widths[0]!;
    // Step i (1-based) is delta_before + the first i time residuals: the block's n steps add up to
    // n × delta_before + Σ (n - i + 1) × dod_i.
    let dods = 0;
    let weighted = 0;
    for (let i = 0; i < n; i++) {
      const dod = w0 ? unzigzag(getBits(bytes, columns[0]! + i * w0, w0)) : 0;
      dods = (dods + dod) | 0;
      weighted = (weighted + Math.imul(n - i, dod)) | 0;
      for (let c = 0; c < channels; c++) {
        const w = widths[c + 1]!;
        if (w && !(missing[i]! & (1 << c))) state.values[c] = (state.values[c]! - unzigzag(getBits(bytes, columns[c + 1]! + i * w, w))) | 0;
      }
    }
    state.delta = (state.delta - dods) | 0;
    state.time = (state.time - Math.imul(n, state.delta) - weighted) >>> 0;
  }

  /** Parses the header and the exceptions; a block that runs past `end` is a RangeError (corrupt). */
  #layout(bytes: Uint8Array, at: number, end: number, n: number, into?: BlockReadings): void {
    const { channels } = this;
    let p = at + headerBytes(channels);
    if (p > end) throw new RangeError("reading block ends early");
    for (let k = 0; k <= channels; k++) this.#widths[k] = widthAt(bytes, at, k);
    this.#missing.fill(0);
    if (into) {
      into.count = n;
      into.missing.fill(0);
      into.faults.fill(undefined);
    }
    if (bytes[at]! & 1) {
      if (p >= end) throw new RangeError("reading block ends early");
      const exceptions = bytes[p++]!;
      for (let i = 0; i < BLOCK; i++) {
        if (!(exceptions & (1 << i))) continue;
        if (i >= n || p + maskBytes(channels) + 1 > end) throw new RangeError("bad exceptions in a reading block");
        let mask = 0;
        for (let b = 0; b < maskBytes(channels); b++) mask |= bytes[p++]! << (8 * b);
        this.#missing[i] = mask >>> 0;
        const count = bytes[p++]!;
        if (count > channels || p + 2 * count > end) throw new RangeError("bad faults in a reading block");
        if (into) {
          into.missing[i] = mask >>> 0;
          if (count) {
            const faults: ReadingFault[] = [];
            for (let f = 0; f < count; f++) faults.push({ sensor: bytes[p + 2 * f]!, fault: bytes[p + 2 * f + 1]! });
            into.faults[i] = faults;
          }
        }
        p += 2 * count;
      }
    }
    let bit = p * 8;
    for (let k = 0; k <= channels; k++) {
      this.#columns[k] = bit;
      bit += this.#widths[k]! * n;
    }
    this.#dataEnd = (bit + 7) >>> 3;
    if (this.#dataEnd > end) throw new RangeError("reading block ends early");
  }
}
