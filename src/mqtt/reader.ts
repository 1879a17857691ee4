// Framing: bytes in, whole packets out, whatever the chunking. The reader keeps the chunks it is
// given as they are and copies only a packet that straddles chunks (into one array of exactly its
// size), so the common case — a TCP read holding whole packets — decodes with no copy at all.
// The fixed header is checked as soon as it arrives, and a packet announced larger than the limit
// is refused before any of its body is waited for, so buffering is bounded by the limit.

import { decodePacket, packetTypeOf } from "./decode";
import type { Packet, Version } from "./packets";
import { ProtocolError } from "./protocol-error";
import { MAX_VARINT, packetName, readVarint, varintSize } from "./wire";

/** The largest packet MQTT can express: a one-byte header, a four-byte length and its maximum. */
const PROTOCOL_MAXIMUM = 1 + 4 + MAX_VARINT;

/**
 * Streaming MQTT packet reader for one connection and one protocol version.
 *
 * - `push()` takes ownership of the bytes: the reader, and the packets it returns, may keep views
 *   into them (a PUBLISH payload is usually a view), so do not reuse the array afterwards — ECMA-419
 *   `read()` returns a fresh ArrayBuffer each time, which is exactly right.
 * - Call `next()` until it returns undefined after each `push()`; pending bytes are not examined
 *   until then.
 * - `next()` throws ProtocolError on anything malformed or beyond `maximumPacketSize` (the total
 *   packet size, as MQTT 5's property of that name counts it; pass the value announced in CONNECT).
 *   After that the reader stays failed: every later `next()` throws the same error and `push()`
 *   discards its bytes. The session is expected to close the connection, and a new connection gets
 *   a new reader.
 */
export class PacketReader {
  readonly version: Version;
  readonly maximumPacketSize: number;
  #chunks: Uint8Array[] = [];
  /** Read position in #chunks[0]. */
  #offset = 0;
  #available = 0;
  #header = new Uint8Array(5);
  #failure: ProtocolError | undefined;

  constructor(version: Version, options?: { maximumPacketSize?: number }) {
    if (version !== 4 && version !== 5) throw new RangeError(`MQTT version must be 4 (3.1.1) or 5, got ${String(version)}`);
    const max = options?.maximumPacketSize ?? PROTOCOL_MAXIMUM;
    if (!Number.isInteger(max) || max < 2) throw new RangeError(`maximumPacketSize must be an integer of at least 2, got ${max}`);
    this.version = version;
    this.maximumPacketSize = Math.min(max, PROTOCOL_MAXIMUM);
  }

  push(bytes: Uint8Array): void {
    // ECMA-419 read() returns an ArrayBuffer; letting one in would silently corrupt the byte count.
    if (!(bytes instanceof Uint8Array)) throw new TypeError("PacketReader.push: bytes must be a Uint8Array (wrap an ArrayBuffer in one)");
    if (this.#failure || bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#available += bytes.length;
  }

  next(): Packet | undefined {
    if (this.#failure) throw this.#failure;
    try {
      return this.#next();
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.#failure = e;
        this.#chunks = [];
        this.#available = 0;
      }
      throw e;
    }
  }

  #next(): Packet | undefined {
    if (this.#available === 0) return undefined;
    const header = this.#header;
    const headerBytes = this.#peek(header);
    const first = header[0]!;
    const type = packetTypeOf(first, this.version);
    const remaining = readVarint(header, 1, headerBytes, packetName(type), "remaining length");
    if (remaining < 0) return undefined;
    const headerSize = 1 + varintSize(remaining);
    const total = headerSize + remaining;
    if (total > this.maximumPacketSize) {
      throw new ProtocolError(0x95, `${packetName(type)}: packet of ${total} bytes exceeds the maximum packet size of ${this.maximumPacketSize}`);
    }
    if (this.#available < total) return undefined;
    const head = this.#chunks[0]!;
    let body: Uint8Array;
    let start: number;
    if (head.length - this.#offset >= total) {
      body = head;
      start = this.#offset + headerSize;
    } else {
      body = new Uint8Array(remaining);
      start = 0;
      this.#copy(headerSize, body);
    }
    this.#consume(total);
    return decodePacket(first, body, start, start + remaining, this.version);
  }

  /** Copies up to target.length pending bytes into target; returns how many. */
  #peek(target: Uint8Array): number {
    let n = 0;
    let offset = this.#offset;
    for (const chunk of this.#chunks) {
      for (let i = offset; i < chunk.length && n < target.length; i++) target[n++] = chunk[i]!;
      if (n === target.length) break;
      offset = 0;
    }
    return n;
  }

  /** Fills target with the pending bytes that follow the first `skip`. */
  #copy(skip: number, target: Uint8Array): void {
    let n = 0;
    let position = -this.#offset;
    for (const chunk of this.#chunks) {
      const from = Math.max(0, skip - position);
      const to = Math.min(chunk.length, skip + target.length - position);
      if (from < to) {
        target.set(chunk.subarray(from, to), n);
        n += to - from;
      }
      position += chunk.length;
      if (n === target.length) return;
    }
  }

  #consume(n: number): void {
    this.#available -= n;
    let drop = 0;
    let offset = this.#offset + n;
    while (drop < this.#chunks.length && offset >= this.#chunks[drop]!.length) {
      offset -= this.#chunks[drop]!.length;
      drop++;
    }
    this.#chunks.splice(0, drop);
    this.#offset = offset;
  }
}
