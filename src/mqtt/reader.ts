// Framing: bytes in, whole packets out, whatever the chunking. The reader keeps the chunks it is
// given as they are and copies only a packet that straddles chunks (into one array of exactly its
// size), so the common case — a TCP read holding whole packets — decodes with no copy at all.
// The fixed header is checked as soon as it arrives, and a packet announced larger than the limit
// is refused before any of its body is waited for, so buffering is bounded by the limit. A reader
// told to discard oversized PUBLISHes instead reads past one as its bytes arrive, keeping only its
// QoS and packet id, so the receiver can acknowledge it and stay connected: a 3.1.1 broker cannot be
// told the node's limit, and one oversized command must not cost every later wake its connection.

import { decodePacket, packetTypeOf } from "./decode";
import type { Packet, QoS, Version } from "./packets";
import { ProtocolError } from "./protocol-error";
import { MAX_VARINT, packetName, readVarint, varintSize } from "./wire";

/** The largest packet MQTT can express: a one-byte header, a four-byte length and its maximum. */
const PROTOCOL_MAXIMUM = 1 + 4 + MAX_VARINT;

/** A PUBLISH over the limit that the reader read past: only what acknowledging it needs. */
export interface DiscardedPublish {
  type: "discarded";
  qos: QoS;
  /** Present when qos > 0. */
  packetId?: number;
  /** The whole packet's size, bytes. */
  size: number;
}

/** Where the reader is in an oversized PUBLISH it discards: the bytes still to drop before the next
 *  field it needs, and what it has learnt so far. */
interface Discarding {
  result: DiscardedPublish;
  /** Bytes of the packet not yet consumed. */
  left: number;
  /** The next field wanted: the topic's length, the packet id, or nothing (drop the rest). */
  want: "topic length" | "skip topic" | "packet id" | "rest";
  /** Bytes to drop before `want` (the topic itself). */
  skip: number;
}

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
 * - With `discardOversized`, a PUBLISH over the limit is not an error: `next()` returns a
 *   DiscardedPublish for it once its packet id has arrived, and drops the rest of its bytes as they
 *   come, never holding more than a chunk of them.
 */
export class PacketReader<Discard extends boolean = false> {
  readonly version: Version;
  readonly maximumPacketSize: number;
  #chunks: Uint8Array[] = [];
  /** Read position in #chunks[0]. */
  #offset = 0;
  #available = 0;
  #header = new Uint8Array(5);
  #failure: ProtocolError | undefined;
  readonly #discardOversized: boolean;
  #discarding: Discarding | undefined;

  constructor(version: Version, options?: { maximumPacketSize?: number; discardOversized?: Discard }) {
    if (version !== 4 && version !== 5) throw new RangeError(`MQTT version must be 4 (3.1.1) or 5, got ${String(version)}`);
    const max = options?.maximumPacketSize ?? PROTOCOL_MAXIMUM;
    if (!Number.isInteger(max) || max < 2) throw new RangeError(`maximumPacketSize must be an integer of at least 2, got ${max}`);
    this.version = version;
    this.maximumPacketSize = Math.min(max, PROTOCOL_MAXIMUM);
    this.#discardOversized = options?.discardOversized ?? false;
  }

  push(bytes: Uint8Array): void {
    // ECMA-419 read() returns an ArrayBuffer; letting one in would silently corrupt the byte count.
    if (!(bytes instanceof Uint8Array)) throw new TypeError("PacketReader.push: bytes must be a Uint8Array (wrap an ArrayBuffer in one)");
    if (this.#failure || bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#available += bytes.length;
  }

  next(): (Discard extends true ? Packet | DiscardedPublish : Packet) | undefined {
    if (this.#failure) throw this.#failure;
    try {
      // #next returns a DiscardedPublish only when constructed with discardOversized: true.
      return this.#next() as (Discard extends true ? Packet | DiscardedPublish : Packet) | undefined;
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.#failure = e;
        this.#chunks = [];
        this.#available = 0;
      }
      throw e;
    }
  }

  #next(): Packet | DiscardedPublish | undefined {
    if (this.#discarding) return this.#discard(this.#discarding);
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
      if (this.#discardOversized && type === "publish") {
        this.#consume(headerSize);
        const qos = ((first >> 1) & 0x03) as QoS;
        this.#discarding = { result: { type: "discarded", qos, size: total }, left: remaining, want: "topic length", skip: 0 };
        return this.#discard(this.#discarding);
      }
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

  /** Moves through an oversized PUBLISH as far as the pending bytes allow; returns it once its packet
   *  id is known (or at once for QoS 0), and leaves discard mode when its last byte is gone. */
  #discard(d: Discarding): Packet | DiscardedPublish | undefined {
    const two = this.#header.subarray(0, 2);
    let found: DiscardedPublish | undefined;
    for (;;) {
      if (d.want === "topic length" || d.want === "packet id") {
        if (d.left < 2) throw new ProtocolError(0x81, `PUBLISH: ${d.want} overruns the packet`);
        if (this.#available < 2) return found;
        this.#peek(two);
        this.#consume(2);
        d.left -= 2;
        const value = (two[0]! << 8) | two[1]!;
        if (d.want === "topic length") {
          if (value > d.left) throw new ProtocolError(0x81, "PUBLISH: topic name overruns the packet");
          d.skip = value;
          d.want = "skip topic";
        } else {
          if (value === 0) throw new ProtocolError(0x82, "PUBLISH: packet identifier 0");
          d.result.packetId = value;
          d.want = "rest";
          found = d.result;
        }
      } else {
        const n = Math.min(this.#available, d.want === "skip topic" ? d.skip : d.left);
        this.#consume(n);
        d.left -= n;
        if (d.want === "skip topic") {
          d.skip -= n;
          if (d.skip > 0) return found;
          d.want = d.result.qos > 0 ? "packet id" : "rest";
          if (d.want === "rest") found = d.result;
          continue;
        }
        if (d.left > 0) return found;
        this.#discarding = undefined;
        // Handed out once: now, or already by an earlier call; then on to the packets behind it.
        return found ?? this.#next();
      }
    }
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
