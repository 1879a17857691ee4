// The MQTT data representations (3.1.1 §1.5, 5.0 §1.5) — big-endian integers, Variable Byte
// Integers, length-prefixed UTF-8 strings and binary data — written through a Sink and read through
// a Cursor. Both carry the packet's name so that every error says where it happened.

import { utf8Decode, utf8EncodeInto, utf8Length } from "../encoding/utf8";
import type { PacketType } from "./packets";
import { ProtocolError } from "./protocol-error";

const Malformed = 0x81;

/** Largest Variable Byte Integer, and so largest Remaining Length (§1.5.5 / §2.2.3). */
export const MAX_VARINT = 268_435_455;

/** Packet type codes (§2.2.1) by position; 0 is reserved. */
export const packetTypes = [
  undefined,
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
] as const;

export function packetName(type: PacketType): string {
  return type.toUpperCase();
}

export function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}

export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : 4;
}

/**
 * Decodes the Variable Byte Integer at `bytes[pos..end)`, or returns -1 if it runs past `end`. Its
 * size is `varintSize` of the result, because only the minimal form is accepted (5.0 §1.5.5
 * [MQTT-1.5.5-1]; 3.1.1 only implies it, and no peer sends anything else).
 */
export function readVarint(bytes: Uint8Array, pos: number, end: number, packet: string, field: string): number {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    if (pos + i >= end) return -1;
    const b = bytes[pos + i]!;
    value += (b & 0x7f) * 128 ** i;
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new ProtocolError(Malformed, `${packet}: ${field} is not minimally encoded`);
      return value;
    }
  }
  throw new ProtocolError(Malformed, `${packet}: ${field} is longer than 4 bytes`);
}

/**
 * Where an encoder writes: with no buffer it only counts (and validates — every check runs in the
 * counting pass, so that nothing is written unless the whole packet is valid); with a buffer it
 * writes from `pos`, trusting that a counting pass has already accepted the same packet.
 */
export class Sink {
  pos: number;

  constructor(
    readonly packet: string,
    readonly buf?: Uint8Array,
    start = 0,
  ) {
    this.pos = start;
  }

  fail(reasonCode: number, message: string): never {
    throw new ProtocolError(reasonCode, `${this.packet}: ${message}`);
  }

  /** Checks that `value` is an integer in `min..max` and returns it. */
  int(value: number, min: number, max: number, field: string): number {
    if (!Number.isInteger(value) || value < min || value > max) this.fail(Malformed, `${field} must be an integer in ${min}..${max}, got ${value}`);
    return value;
  }

  u8(v: number): void {
    if (this.buf) this.buf[this.pos] = v;
    this.pos += 1;
  }

  u16(v: number): void {
    if (this.buf) {
      this.buf[this.pos] = v >> 8;
      this.buf[this.pos + 1] = v;
    }
    this.pos += 2;
  }

  u32(v: number): void {
    if (this.buf) {
      this.buf[this.pos] = v >>> 24;
      this.buf[this.pos + 1] = v >>> 16;
      this.buf[this.pos + 2] = v >>> 8;
      this.buf[this.pos + 3] = v;
    }
    this.pos += 4;
  }

  varint(v: number): void {
    if (this.buf) {
      do {
        const digit = v % 128;
        v = Math.floor(v / 128);
        this.buf[this.pos++] = v > 0 ? digit | 0x80 : digit;
      } while (v > 0);
    } else this.pos += varintSize(v);
  }

  bytes(b: Uint8Array): void {
    if (this.buf) this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Two-byte length, then the bytes; at most 65,535 of them. */
  binary(b: Uint8Array, field: string): void {
    if (!this.buf) {
      if (!(b instanceof Uint8Array)) this.fail(Malformed, `${field} must be a Uint8Array`);
      if (b.length > 0xffff) this.fail(Malformed, `${field} is ${b.length} bytes, more than 65535`);
    }
    this.u16(b.length);
    this.bytes(b);
  }

  /** A UTF-8 Encoded String: well-formed, no U+0000 (§1.5.3 [MQTT-1.5.3-2]), at most 65,535 bytes. */
  string(s: string, field: string): void {
    if (this.buf) {
      const n = utf8EncodeInto(s, this.buf, this.pos + 2);
      this.u16(n);
      this.pos += n;
      return;
    }
    if (typeof s !== "string") this.fail(Malformed, `${field} must be a string`);
    let n: number;
    try {
      n = utf8Length(s);
    } catch (e) {
      this.fail(Malformed, `${field} is not well-formed UTF-16 (${e instanceof Error ? e.message : String(e)})`);
    }
    if (s.includes("\u0000")) this.fail(Malformed, `${field} contains U+0000`);
    if (n > 0xffff) this.fail(Malformed, `${field} is ${n} bytes of UTF-8, more than 65535`);
    this.pos += 2 + n;
  }
}

/**
 * Bounds-checked reading of `bytes[pos, end)` — a packet, or a part of one named by `extent` —
 * where any overrun is a Malformed Packet.
 */
export class Cursor {
  constructor(
    readonly packet: string,
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
    readonly extent = "packet",
  ) {}

  get left(): number {
    return this.end - this.pos;
  }

  fail(reasonCode: number, message: string): never {
    throw new ProtocolError(reasonCode, `${this.packet}: ${message}`);
  }

  need(n: number, field: string): void {
    if (this.end - this.pos < n) this.fail(Malformed, `${field} overruns the ${this.extent} (needs ${n} bytes, ${this.left} left)`);
  }

  /** Refuses bytes left over after the last field. */
  done(): void {
    if (this.pos !== this.end) this.fail(Malformed, `${this.left} unexpected bytes after the last field`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = (this.bytes[this.pos]! << 8) | this.bytes[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const b = this.bytes;
    const v = b[this.pos]! * 0x100_0000 + ((b[this.pos + 1]! << 16) | (b[this.pos + 2]! << 8) | b[this.pos + 3]!);
    this.pos += 4;
    return v;
  }

  varint(field: string): number {
    const v = readVarint(this.bytes, this.pos, this.end, this.packet, field);
    if (v < 0) this.fail(Malformed, `${field} overruns the ${this.extent}`);
    this.pos += varintSize(v);
    return v;
  }

  binary(field: string): Uint8Array {
    const n = this.u16(`${field} length`);
    this.need(n, field);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  string(field: string): string {
    const n = this.u16(`${field} length`);
    this.need(n, field);
    const start = this.pos;
    const end = start + n;
    // A zero byte in well-formed UTF-8 can only be U+0000, so look for it before decoding.
    for (let i = start; i < end; i++) if (this.bytes[i] === 0) this.fail(Malformed, `${field} contains U+0000`);
    let s: string;
    try {
      s = utf8Decode(this.bytes, start, end);
    } catch {
      this.fail(Malformed, `${field} is not valid UTF-8 (${utf8Problem(this.bytes.subarray(start, end))})`);
    }
    this.pos = end;
    return s;
  }

  /** All bytes left, as a view. */
  rest(): Uint8Array {
    const v = this.bytes.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
}

/** utf8Decode's complaint about `bytes`, with the offset counted from the start of the field. */
function utf8Problem(bytes: Uint8Array): string {
  try {
    utf8Decode(bytes);
    return "";
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
