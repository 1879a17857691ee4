// SenML CBOR (RFC 8428 §6): the same records as SenML JSON (senml-json.ts), each a CBOR map with
// the integer labels of RFC 8428 Table 4. Numbers take the fewest bytes that keep them exactly: an
// integer where the value is one, else the smallest of half, single and double precision whose
// value is the same double (a reading at 0.01 is rarely exact in less than a double: 21.79 is not
// 21.790000915527344). Deterministic, like the JSON, so a re-sent batch is the same message.

import { utf8Encode } from "../encoding/utf8";
import type { Channel } from "../sensors/channel";
import type { Reading } from "./reading";
import { senmlRecords, type SenmlRecord } from "./senml-json";

export const contentType = "application/senml+cbor";

/** RFC 8428 Table 4, in the order a record's fields are written. */
const labels: readonly (readonly [keyof SenmlRecord, number])[] = [
  ["bn", -2],
  ["bt", -3],
  ["bu", -4],
  ["n", 0],
  ["vs", 3],
  ["v", 2],
  ["t", 6],
];

/** Just the CBOR (RFC 8949) a SenML pack needs: definite arrays and maps, integers, text, floats. */
export class CborWriter {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  length = 0;

  #room(n: number): number {
    if (this.length + n > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.length + n));
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  /** A major type and its argument (an unsigned integer below 2^53), in the shortest form. */
  head(major: number, n: number): void {
    const type = major << 5;
    if (n < 24) {
      const at = this.#room(1); // before reading #bytes: #room may replace it
      this.#bytes[at] = type | n;
    } else if (n < 0x100) {
      const at = this.#room(2);
      this.#bytes[at] = type | 24;
      this.#bytes[at + 1] = n;
    } else if (n < 0x10000) {
      const at = this.#room(3);
      this.#bytes[at] = type | 25;
      this.#view.setUint16(at + 1, n);
    } else if (n < 0x100000000) {
      const at = this.#room(5);
      this.#bytes[at] = type | 26;
      this.#view.setUint32(at + 1, n);
    } else {
      const at = this.#room(9);
      this.#bytes[at] = type | 27;
      this.#view.setUint32(at + 1, Math.floor(n / 0x100000000));
      this.#view.setUint32(at + 5, n % 0x100000000);
    }
  }

  number(v: number): void {
    if (Number.isSafeInteger(v)) {
      if (v >= 0) this.head(0, v);
      else this.head(1, -1 - v);
      return;
    }
    const half = halfOf(v);
    if (half !== undefined) {
      const at = this.#room(3);
      this.#bytes[at] = 0xf9;
      this.#view.setUint16(at + 1, half);
    } else if (Math.fround(v) === v) {
      const at = this.#room(5);
      this.#bytes[at] = 0xfa;
      this.#view.setFloat32(at + 1, v);
    } else {
      const at = this.#room(9);
      this.#bytes[at] = 0xfb;
      this.#view.setFloat64(at + 1, v);
    }
  }

  text(s: string): void {
    const bytes = utf8Encode(s);
    this.head(3, bytes.length);
    const at = this.#room(bytes.length);
    this.#bytes.set(bytes, at);
  }

  get bytes(): Uint8Array {
    return this.#bytes.slice(0, this.length);
  }
}

/** The IEEE 754 half-precision bits of `v` when it has them exactly, else undefined. */
function halfOf(v: number): number | undefined {
  if (Math.fround(v) !== v) return undefined;
  // Its own scratch view, not one at module level: the firmware's modules are preloaded, and
  // Moddable freezes what a preloaded module made, a buffer's bytes too ("read-only buffer").
  const f32 = new DataView(new ArrayBuffer(4));
  f32.setFloat32(0, v);
  const bits = f32.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127;
  const mantissa = bits & 0x7fffff;
  if (exponent === 128) return mantissa ? undefined : sign | 0x7c00; // infinities (no NaN in SenML)
  if (exponent === -127 && mantissa === 0) return sign; // ±0
  if (exponent >= -14 && exponent <= 15) return mantissa & 0x1fff ? undefined : sign | ((exponent + 15) << 10) | (mantissa >>> 13);
  if (exponent >= -24 && exponent < -14) {
    // A subnormal half: the whole significand, shifted, must lose no bits.
    const shift = 13 + (-14 - exponent);
    const significand = mantissa | 0x800000;
    return significand % 2 ** shift ? undefined : sign | (significand / 2 ** shift);
  }
  return undefined;
}

export function encodeSenmlCbor(baseName: string, channels: readonly Channel[], sensorIds: readonly string[], readings: readonly Reading[]): Uint8Array {
  const records = senmlRecords(baseName, channels, sensorIds, readings);
  const w = new CborWriter();
  w.head(4, records.length);
  for (const record of records) {
    let fields = 0;
    for (const [key] of labels) if (record[key] !== undefined) fields++;
    w.head(5, fields);
    for (const [key, label] of labels) {
      const value = record[key];
      if (value === undefined) continue;
      w.number(label);
      if (typeof value === "string") w.text(value);
      else w.number(value);
    }
  }
  return w.bytes;
}
