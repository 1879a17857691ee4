// Byte-aligned fields of the compact payload's header (docs/compact-format.md): unsigned LEB128
// integers up to 32 bits, zigzag for signed ones, a fixed u32, short ASCII strings. Reads past the
// end, or an integer longer than 32 bits, are a RangeError naming the field.

import { unzigzag, zigzag } from "./sprintz";

export class HeaderWriter {
  #bytes = new Uint8Array(32);
  length = 0;

  byte(v: number): void {
    if (this.length === this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    this.#bytes[this.length++] = v & 0xff;
  }

  /** Unsigned LEB128 of a value in 0 .. 2^32 - 1. */
  uint(v: number): void {
    let rest = v >>> 0;
    while (rest >= 0x80) {
      this.byte((rest & 0x7f) | 0x80);
      rest >>>= 7;
    }
    this.byte(rest);
  }

  /** A 32-bit signed value, zigzag then LEB128. */
  int(v: number): void {
    this.uint(zigzag(v | 0));
  }

  u32(v: number): void {
    for (let i = 0; i < 4; i++) this.byte(v >>> (8 * i));
  }

  /** A length byte and the characters, which must be ASCII (names and units are). */
  text(s: string): void {
    if (s.length > 255 || !/^[\x20-\x7e]*$/.test(s)) throw new RangeError(`"${s}" is not up to 255 printable ASCII characters`);
    this.byte(s.length);
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
  }

  /** The header followed by `body`, as one array. */
  concat(body: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.length + body.length);
    out.set(this.#bytes.subarray(0, this.length));
    out.set(body, this.length);
    return out;
  }
}

export class HeaderReader {
  at = 0;

  constructor(readonly bytes: Uint8Array) {}

  byte(field: string): number {
    const b = this.bytes[this.at];
    if (b === undefined) throw new RangeError(`compact payload ends in its ${field}`);
    this.at++;
    return b;
  }

  uint(field: string): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte(field);
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) {
        if (v > 0xffffffff) break;
        return v;
      }
    }
    throw new RangeError(`compact payload: its ${field} is longer than 32 bits`);
  }

  int(field: string): number {
    return unzigzag(this.uint(field));
  }

  u32(field: string): number {
    let v = 0;
    for (let i = 0; i < 4; i++) v += this.byte(field) * 2 ** (8 * i);
    return v;
  }

  text(field: string): string {
    const length = this.byte(field);
    let s = "";
    for (let i = 0; i < length; i++) {
      const c = this.byte(field);
      if (c < 0x20 || c > 0x7e) throw new RangeError(`compact payload: its ${field} is not printable ASCII`);
      s += String.fromCharCode(c);
    }
    return s;
  }
}
