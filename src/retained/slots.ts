// Retained memory as two slots, A and B, each a header and a payload. A commit writes the slot that
// does not hold the current state, header last, so a power cut mid-write leaves the other slot — the
// last good state — intact. Loading picks the valid slot with the higher sequence number. The image
// of the current slot (header and payload) is also what the flash tier stores: it checks the same way.
//
// A commit hashes the slot's header and payload, but may be told the CRC of a range of the payload
// that it need not hash again (the reading buffer's sealed blocks: crc32Combine says how); a load
// hashes everything, and keeps checkpoints of the running CRC so that the same range's CRC can be
// had again without a second pass.
//
// Slot header, 16 bytes, little-endian:
//   0  u32 magic "TRP1"     4  u16 layout version   6  u16 payload length
//   8  u32 sequence        12  u32 CRC-32 of bytes 0..11 and the payload

import { crc32, crc32Combine, crcMultiply, crcPower, type KnownCrc } from "../encoding/crc32";
import type { RetainedMemory } from "../host";
import { seqDistance } from "../telemetry/reading";

const MAGIC = 0x31505254; // "TRP1" read little-endian
export const HEADER_SIZE = 16;

/** The running CRC is kept every this many payload bytes of the slot a load found good. */
const CHECKPOINT = 64;

export type LoadResult =
  | { status: "ok"; payload: Uint8Array; version: number }
  | { status: "empty" | "corrupt" | "foreign"; payload?: undefined };

export class RetainedSlots {
  #memory: RetainedMemory;
  #slotSize: number;
  #version: number;
  /** The oldest layout version a slot may hold and still load (its reader converts it). */
  #oldest: number;
  #sequence = 0;
  #current = -1;
  /** The running CRC of the loaded slot (header bytes 0..11, then the payload) every CHECKPOINT
   *  payload bytes, and that payload's length (-1: no loaded slot is current). */
  readonly #checkpoints: Uint32Array;
  #loaded = -1;

  /** Commits are written as `version`; slots of `oldest`..`version` load. */
  constructor(memory: RetainedMemory, version: number, oldest = version) {
    this.#memory = memory;
    this.#version = version;
    this.#oldest = oldest;
    this.#slotSize = Math.floor(memory.bytes.length / 2);
    this.#checkpoints = new Uint32Array(Math.floor(this.capacity / CHECKPOINT) + 1);
  }

  /** The most payload one commit can hold. */
  get capacity(): number {
    return Math.min(this.#slotSize - HEADER_SIZE, 0xffff);
  }

  load(): LoadResult {
    const bytes = this.#memory.bytes;
    this.#loaded = -1;
    const headers = [0, 1].map((slot) => ({ slot, ...readHeader(bytes, slot * this.#slotSize, this.capacity, this.#oldest, this.#version) }));
    // Newest first (sequence numbers wrap: compare them as serial numbers); the CRC, the costly
    // part, is checked only until a slot passes.
    const candidates = headers.filter((h) => h.status === "candidate").sort((a, b) => seqDistance(b.sequence, a.sequence));
    for (const h of candidates) {
      if (slotCrc(bytes, h.slot * this.#slotSize, h.length, undefined, this.#checkpoints) !== h.crc) continue;
      this.#loaded = h.length;
      this.#current = h.slot;
      this.#sequence = h.sequence;
      const start = h.slot * this.#slotSize + HEADER_SIZE;
      return { status: "ok", payload: bytes.slice(start, start + h.length), version: h.version };
    }
    if (candidates.length || headers.some((h) => h.status === "corrupt")) return { status: "corrupt" };
    return { status: headers.some((h) => h.status === "foreign") ? "foreign" : "empty" };
  }

  /**
   * The CRC-32 of bytes [start, end) of the payload load() returned, from its checkpoints: at most
   * two short stretches hashed again (`power`: crcPower(end - start), if the caller has it).
   * Undefined once a commit has replaced that slot.
   */
  loadedCrc(start: number, end: number, power = crcPower(end - start)): number | undefined {
    if (start < 0 || end < start || end > this.#loaded) return undefined;
    const payload = this.#current * this.#slotSize + HEADER_SIZE;
    const upTo = (at: number): number => {
      const k = Math.floor(at / CHECKPOINT);
      return crc32(this.#memory.bytes, payload + k * CHECKPOINT, payload + at, this.#checkpoints[k]!);
    };
    return (upTo(end) ^ crcMultiply(power, upTo(start))) >>> 0;
  }

  /** Header and payload of the slot committed last (empty before any): a copy for the flash tier. */
  image(): Uint8Array<ArrayBuffer> {
    if (this.#current < 0) return new Uint8Array(0);
    const base = this.#current * this.#slotSize;
    const length = new DataView(this.#memory.bytes.buffer, this.#memory.bytes.byteOffset + base, HEADER_SIZE).getUint16(6, true);
    return this.#memory.bytes.slice(base, base + HEADER_SIZE + length);
  }

  /** Checks an image() as load() checks a slot. */
  static verify(image: Uint8Array, version: number, oldest = version): LoadResult {
    const header = readHeader(image, 0, Math.max(0, image.length - HEADER_SIZE), oldest, version);
    if (header.status !== "candidate") return { status: header.status };
    if (slotCrc(image, 0, header.length) !== header.crc) return { status: "corrupt" };
    return { status: "ok", payload: image.slice(HEADER_SIZE, HEADER_SIZE + header.length), version: header.version };
  }

  /** Where the next commit's payload goes: fill it, then call commit(length). */
  get next(): Uint8Array {
    const start = this.#nextSlot() * this.#slotSize + HEADER_SIZE;
    return this.#memory.bytes.subarray(start, start + this.capacity);
  }

  /** Commits the payload written to `next`; `known`, when given, spares hashing part of it. */
  commit(length: number, known?: KnownCrc): void {
    if (length > this.capacity) throw new RangeError(`retained payload of ${length} bytes exceeds ${this.capacity}`);
    const slot = this.#nextSlot();
    const base = slot * this.#slotSize;
    const bytes = this.#memory.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset + base, HEADER_SIZE);
    // Invalidate the header first: the payload is about to change under it.
    view.setUint32(12, 0, true);
    this.#memory.commit(base + 12, 4);
    this.#memory.commit(base + HEADER_SIZE, length);
    const sequence = (this.#sequence + 1) >>> 0;
    view.setUint32(0, MAGIC, true);
    view.setUint16(4, this.#version, true);
    view.setUint16(6, length, true);
    view.setUint32(8, sequence, true);
    view.setUint32(12, slotCrc(bytes, base, length, known), true);
    this.#memory.commit(base, HEADER_SIZE);
    this.#sequence = sequence;
    this.#current = slot;
    this.#loaded = -1;
  }

  #nextSlot(): number {
    return this.#current === 0 ? 1 : 0;
  }
}

/** A slot's header, and whether it can hold a state: a candidate still needs its CRC checked. */
function readHeader(bytes: Uint8Array, base: number, capacity: number, oldest: number, newest: number) {
  if (bytes.length - base < HEADER_SIZE) {
    return { status: bytes.length === base ? ("empty" as const) : ("corrupt" as const), length: 0, sequence: 0, crc: 0, version: 0 };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + base, HEADER_SIZE);
  const magic = view.getUint32(0, true);
  const length = view.getUint16(6, true);
  const sequence = view.getUint32(8, true);
  const crc = view.getUint32(12, true);
  const version = view.getUint16(4, true);
  let status: "candidate" | "empty" | "corrupt" | "foreign";
  if (magic === 0 && sequence === 0 && crc === 0) status = "empty";
  else if (magic !== MAGIC || version < oldest || version > newest) status = "foreign";
  else if (length > capacity) status = "corrupt";
  else status = "candidate";
  return { status, length, sequence, crc, version };
}

/**
 * Header bytes 0..11, then the payload, as one CRC without copying them together; the `known`
 * range's CRC is combined in rather than computed, and `checkpoints` receives the running CRC
 * every CHECKPOINT payload bytes.
 */
function slotCrc(bytes: Uint8Array, base: number, length: number, known?: KnownCrc, checkpoints?: Uint32Array): number {
  const payload = base + HEADER_SIZE;
  let crc = crc32(bytes, base, base + 12);
  if (checkpoints) {
    for (let at = 0, k = 0; at <= length; at += CHECKPOINT, k++) {
      checkpoints[k] = crc;
      crc = crc32(bytes, payload + at, payload + Math.min(at + CHECKPOINT, length), crc);
    }
    return crc;
  }
  if (!known || known.start < 0 || known.end < known.start || known.end > length) return crc32(bytes, payload, payload + length, crc);
  crc = crc32Combine(crc32(bytes, payload, payload + known.start, crc), known.crc, known.power);
  return crc32(bytes, payload + known.end, payload + length, crc);
}
