// torpor's compact payload (docs/compact-format.md is the byte-level specification): a batch of
// readings as the reading buffer forecasts them — each channel from its previous value, the time
// from the previous step (delta of delta) — with the residuals coded by an adaptive binary range
// coder (range-coder.ts) instead of the buffer's bit-packed blocks. Each message stands alone: the
// header carries the first reading's time and every channel's value as absolute anchors, the step,
// the channel layout with each channel's resolution, and the count of readings the node dropped.
// Deterministic, so a batch re-sent after a lost PUBACK is byte for byte the same message.

import { readLayout, writeLayout, type LayoutSensor } from "./compact-layout";
import { HeaderReader, HeaderWriter } from "./leb128";
import { Models, RangeDecoder, RangeEncoder } from "./range-coder";
import type { Reading, ReadingFault } from "./reading";

export const contentType = "application/vnd.torpor.compact";

/** First byte: 0xF_ is a compact payload, the low nibble its version (JSON starts with "[", a
 *  CBOR array with 0x80..0x9f). */
export const COMPACT_V1 = 0xf1;

const DROPPED = 1;
const IRREGULAR = 2;
/** Some reading has a missing value or a fault: each reading says whether it does. */
const EXCEPTIONS = 4;
/** The flags byte's upper five bits count the sensors, this value meaning "the count follows". */
const MANY_SENSORS = 31;
/** A decoder refuses more readings than this in one message: no batch is that large, and a corrupt
 *  count must not make it work for long. */
export const MAX_READINGS = 65535;

// Per column (the time, then each channel): is the residual zero (by the previous residual's size:
// zero, below 4, larger), its sign (by the previous residual's sign), its bit length in unary, and
// the bit below the leading one; lower bits go uncoded.
const ZERO = 0;
const SIGN = 3;
const UNARY = 6;
const MANTISSA = UNARY + 33;
const SECOND = MANTISSA + 33;
const COLUMN = SECOND + 66;

/** The context class of a previous residual, for the zero model and for the sign model. */
const sizeClass = (d: number): number => (d === 0 ? 0 : d > -4 && d < 4 ? 1 : 2);
const signClass = (d: number): number => (d < 0 ? 0 : d === 0 ? 1 : 2);

class Body {
  readonly models: Models;
  /** Each column's previous residual. */
  readonly previous: Int32Array;
  readonly exception: number;
  readonly missing: number;

  constructor(readonly channels: number) {
    this.exception = COLUMN * (channels + 1);
    this.missing = this.exception + 1;
    this.models = new Models(this.missing + channels);
    this.previous = new Int32Array(channels + 1);
  }
}

class BodyWriter extends Body {
  readonly coder = new RangeEncoder();

  /** Elias gamma of n ≥ 0, at 1/2 a bit: counts and indices, rare enough not to model. */
  count(n: number): void {
    const v = n + 1;
    const length = 32 - Math.clz32(v);
    this.coder.direct(0, length - 1);
    this.coder.direct(v, length);
  }
}

class BodyReader extends Body {
  constructor(channels: number, readonly coder: RangeDecoder) {
    super(channels);
  }

  residual(column: number): number {
    const { coder, models } = this;
    const base = column * COLUMN;
    const previous = this.previous[column]!;
    let d = 0;
    if (coder.bit(models, base + ZERO + sizeClass(previous))) {
      const negative = coder.bit(models, base + SIGN + signClass(previous));
      let length = 1;
      while (length < 32 && coder.bit(models, base + UNARY + length)) length++;
      let v = 1;
      if (length >= 2) v = 2 + coder.bit(models, base + MANTISSA + length);
      if (length >= 3) v = v * 2 + coder.bit(models, base + SECOND + 2 * length + (v & 1));
      if (length >= 4) v = v * 2 ** (length - 3) + coder.direct(length - 3);
      if (v > 0x80000000 || (v === 0x80000000 && !negative)) throw new RangeError("compact payload: a residual is out of range");
      d = negative ? -v : v;
    }
    this.previous[column] = d;
    return d;
  }

  count(): number {
    let zeros = 0;
    while (this.coder.direct(1) === 0) if (++zeros > 31) throw new RangeError("compact payload: a count is out of range");
    return 2 ** zeros + this.coder.direct(zeros) - 1;
  }
}

/**
 * Encodes `readings` (oldest first) of the sensors in `layout`, whose channels are the readings'
 * values in order; `dropped` is the node's count of readings lost to a full buffer.
 */
export function encodeCompact(layout: readonly LayoutSensor[], readings: readonly Reading[], dropped: number): Uint8Array {
  let channels = 0;
  for (const s of layout) channels += s.channels.length;
  const n = readings.length;
  const t0 = n ? readings[0]!.time : 0;
  const step = n > 1 ? (readings[1]!.time - t0) | 0 : 0;
  // Anchors: each channel's first value in the batch (0 for a channel with none), so that a
  // channel's first value costs nothing in the body.
  const anchors = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) {
      const v = readings[i]!.values[c];
      if (v !== null && v !== undefined) {
        anchors[c] = v;
        break;
      }
    }
  }
  // Most batches are on the time grid with every value there: coded in one pass that gives up at
  // the first reading that is not, and then again with the flags found by a look at them all.
  let regular = true;
  let exceptions = false;
  let body = writeBody(readings, channels, anchors, step, true, false, true);
  if (!body) {
    for (let i = 0; i < n; i++) {
      const r = readings[i]!;
      if (regular && i > 1 && r.time !== (t0 + i * step) >>> 0) regular = false;
      if (!exceptions && (r.faults.length > 0 || r.values.includes(null))) exceptions = true;
    }
    body = writeBody(readings, channels, anchors, step, regular, exceptions, false)!;
  }

  const head = new HeaderWriter();
  head.byte(COMPACT_V1);
  head.byte((Math.min(layout.length, MANY_SENSORS) << 3) | (exceptions ? EXCEPTIONS : 0) | (regular ? 0 : IRREGULAR) | (dropped ? DROPPED : 0));
  if (layout.length >= MANY_SENSORS) head.uint(layout.length);
  head.uint(n);
  head.u32(t0);
  head.int(step);
  if (dropped) head.uint(dropped);
  writeLayout(head, layout);
  for (let c = 0; c < channels; c++) head.int(anchors[c]!);
  return head.concat(body.coder.finish());
}

/**
 * Codes the body (docs/compact-format.md, "Body"). With `check`, for `regular` and no
 * `exceptions` only: returns undefined at the first reading off the time grid, with a missing value
 * or with a fault. The hot path of encoding on a node, so the residuals are coded inline: column 0
 * (the time, when irregular) and each channel's in the one loop, context classes written out, and
 * the exception bits before the first channel's.
 */
function writeBody(readings: readonly Reading[], channels: number, anchors: Int32Array, step: number, regular: boolean, exceptions: boolean, check: boolean): BodyWriter | undefined {
  const body = new BodyWriter(channels);
  const { coder, models, previous: last } = body;
  const predicted = anchors.slice();
  const n = readings.length;
  const t0 = n ? readings[0]!.time : 0;
  let time = t0;
  let delta = step;
  let r: Reading;
  let values: readonly (number | null)[];
  let v: number | null | undefined;
  let d = 0, base = 0, previous = 0, magnitude = 0, length = 0, first = 0, column = 0;
  for (let i = 0; i < n; i++) {
    r = readings[i]!;
    values = r.values;
    if (values.length !== channels) throw new RangeError(`compact payload: a reading has ${values.length} values for ${channels} channels`);
    if (check && ((i > 1 && r.time !== (t0 + i * step) >>> 0) || r.faults.length > 0)) return undefined;
    for (column = regular || i === 0 ? 1 : 0; column <= channels; column++) {
      if (column === 0) {
        first = (r.time - time) | 0;
        d = (first - delta) | 0;
        delta = first;
      } else {
        if (column === 1 && exceptions) exceptionBits(body, r, channels);
        v = values[column - 1];
        if (v === null || v === undefined) {
          if (check && v === null) return undefined;
          continue;
        }
        d = (v - predicted[column - 1]!) | 0;
        predicted[column - 1] = v;
        if (i === 0) continue;
      }
      // The residual d in column `column` (docs/compact-format.md, "Residuals").
      base = column * COLUMN;
      previous = last[column]!;
      last[column] = d;
      if (d === 0) {
        coder.bit(models, base + ZERO + (previous === 0 ? 0 : previous > -4 && previous < 4 ? 1 : 2), 0);
        continue;
      }
      coder.bit(models, base + ZERO + (previous === 0 ? 0 : previous > -4 && previous < 4 ? 1 : 2), 1);
      coder.bit(models, base + SIGN + (previous < 0 ? 0 : previous === 0 ? 1 : 2), d < 0 ? 1 : 0);
      magnitude = d < 0 ? -d : d;
      length = 32 - Math.clz32(magnitude);
      if (length > 1) coder.ones(models, base + UNARY + 1, length - 1);
      if (length < 32) coder.bit(models, base + UNARY + length, 0);
      if (length < 2) continue;
      first = (magnitude >>> (length - 2)) & 1;
      coder.bit(models, base + MANTISSA + length, first);
      if (length < 3) continue;
      coder.bit(models, base + SECOND + 2 * length + first, (magnitude >>> (length - 3)) & 1);
      if (length >= 4) coder.direct(magnitude & ((1 << (length - 3)) - 1), length - 3);
    }
    if (exceptions && channels === 0) exceptionBits(body, r, channels);
    time = r.time;
  }
  return body;
}

/** A reading's exception bit, and if it has exceptions, its missing-value mask and faults. */
function exceptionBits(body: BodyWriter, r: Reading, channels: number): void {
  const { coder, models } = body;
  const values = r.values;
  const exception = r.faults.length > 0 || values.includes(null);
  coder.bit(models, body.exception, exception ? 1 : 0);
  if (!exception) return;
  for (let c = 0; c < channels; c++) coder.bit(models, body.missing + c, values[c] === null ? 1 : 0);
  body.count(r.faults.length);
  for (const f of r.faults) {
    body.count(f.sensor);
    body.count(f.fault);
  }
}

export interface CompactReading {
  /** Unix seconds. */
  time: number;
  /** Per channel, in units of its resolution; null where the sensor gave none. */
  values: (number | null)[];
  /** Sensor index in the layout, fault index in sensors/sensor.ts `sensorFaults`. */
  faults: ReadingFault[];
}

export interface CompactBatch {
  version: number;
  /** The node's count of readings lost to a full buffer, since it last started clean. */
  dropped: number;
  sensors: LayoutSensor[];
  readings: CompactReading[];
}

/** Decodes a compact payload; anything malformed is a RangeError saying what. */
export function decodeCompact(bytes: Uint8Array): CompactBatch {
  const r = new HeaderReader(bytes);
  const first = r.byte("version");
  if (first >> 4 !== 0xf) throw new RangeError(`not a compact payload (first byte 0x${first.toString(16)})`);
  if (first !== COMPACT_V1) throw new RangeError(`compact payload version ${first & 15} is not supported (only 1)`);
  const flags = r.byte("flags");
  const sensorCount = flags >> 3 === MANY_SENSORS ? r.uint("sensor count") : flags >> 3;
  if (sensorCount > 255) throw new RangeError(`compact payload: ${sensorCount} sensors`);
  const n = r.uint("reading count");
  if (n > MAX_READINGS) throw new RangeError(`compact payload: ${n} readings (at most ${MAX_READINGS})`);
  const t0 = r.u32("time");
  const step = r.int("step");
  const dropped = flags & DROPPED ? r.uint("dropped count") : 0;
  const sensors = readLayout(r, sensorCount);
  const channels = sensors.reduce((k, s) => k + s.channels.length, 0);
  const predicted = new Int32Array(channels);
  for (let c = 0; c < channels; c++) predicted[c] = r.int("anchor");

  const coder = new RangeDecoder(bytes, r.at);
  const body = new BodyReader(channels, coder);
  const { models } = body;
  const readings: CompactReading[] = [];
  let time = t0;
  let delta = step;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      if (flags & IRREGULAR) delta = (delta + body.residual(0)) | 0;
      time = (time + delta) >>> 0;
    }
    const values: (number | null)[] = [];
    const faults: ReadingFault[] = [];
    let missing = 0;
    if (flags & EXCEPTIONS && coder.bit(models, body.exception)) {
      for (let c = 0; c < channels; c++) if (coder.bit(models, body.missing + c)) missing |= 1 << c;
      const count = body.count();
      if (count > sensors.length) throw new RangeError(`compact payload: ${count} faults for ${sensors.length} sensors`);
      for (let f = 0; f < count; f++) {
        const sensor = body.count();
        if (sensor >= sensors.length) throw new RangeError(`compact payload: a fault names sensor ${sensor} of ${sensors.length}`);
        faults.push({ sensor, fault: body.count() });
      }
    }
    for (let c = 0; c < channels; c++) {
      if (missing & (1 << c)) {
        values.push(null);
        continue;
      }
      if (i > 0) predicted[c] = (predicted[c]! + body.residual(c + 1)) | 0;
      values.push(predicted[c]!);
    }
    readings.push({ time, values, faults });
  }
  if (coder.overrun > 4) throw new RangeError("compact payload ends early");
  return { version: 1, dropped, sensors, readings };
}
