// Retained memory as two slots, A and B, each a header and a payload. A commit writes the slot that
// does not hold the current state, header last, so a power cut mid-write leaves the other slot — the
// last good state — intact. Loading picks the valid slot with the higher sequence number.
//
// Slot header, 16 bytes, little-endian:
//   0  u32 magic "TRP1"     4  u16 layout version   6  u16 payload length
//   8  u32 sequence        12  u32 CRC-32 of bytes 0..11 and the payload

import { crc32 } from "./crc32";
import type { RetainedMemory } from "../host";

const MAGIC = 0x31505254; // "TRP1" read little-endian
export const HEADER_SIZE = 16;

export type LoadResult =
  | { status: "ok"; payload: Uint8Array }
  | { status: "empty" | "corrupt" | "foreign"; payload?: undefined };

export class RetainedSlots {
  #memory: RetainedMemory;
  #slotSize: number;
  #version: number;
  #sequence = 0;
  #current = -1;

  constructor(memory: RetainedMemory, version: number) {
    this.#memory = memory;
    this.#version = version;
    this.#slotSize = Math.floor(memory.bytes.length / 2);
  }

  /** The most payload one commit can hold. */
  get capacity(): number {
    return Math.min(this.#slotSize - HEADER_SIZE, 0xffff);
  }

  load(): LoadResult {
    let best: { slot: number; sequence: number; length: number } | undefined;
    let sawForeign = false;
    let sawCorrupt = false;
    for (let slot = 0; slot < 2; slot++) {
      const header = this.#header(slot);
      if (header.magic === 0 && header.sequence === 0 && header.crc === 0) continue;
      if (header.magic !== MAGIC || header.version !== this.#version) {
        sawForeign = true;
        continue;
      }
      if (header.length > this.capacity || header.crc !== this.#crc(slot, header.length)) {
        sawCorrupt = true;
        continue;
      }
      // Sequence numbers wrap; compare them as serial numbers.
      if (!best || ((header.sequence - best.sequence) | 0) > 0) best = { slot, sequence: header.sequence, length: header.length };
    }
    if (!best) return { status: sawCorrupt ? "corrupt" : sawForeign ? "foreign" : "empty" };
    this.#current = best.slot;
    this.#sequence = best.sequence;
    const start = best.slot * this.#slotSize + HEADER_SIZE;
    return { status: "ok", payload: this.#memory.bytes.slice(start, start + best.length) };
  }

  /** Where the next commit's payload goes: fill it, then call commit(length). */
  get next(): Uint8Array {
    const start = this.#nextSlot() * this.#slotSize + HEADER_SIZE;
    return this.#memory.bytes.subarray(start, start + this.capacity);
  }

  commit(length: number): void {
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
    view.setUint32(12, this.#crc(slot, length), true);
    this.#memory.commit(base, HEADER_SIZE);
    this.#sequence = sequence;
    this.#current = slot;
  }

  #nextSlot(): number {
    return this.#current === 0 ? 1 : 0;
  }

  #header(slot: number) {
    const bytes = this.#memory.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset + slot * this.#slotSize, HEADER_SIZE);
    return {
      magic: view.getUint32(0, true),
      version: view.getUint16(4, true),
      length: view.getUint16(6, true),
      sequence: view.getUint32(8, true),
      crc: view.getUint32(12, true),
    };
  }

  #crc(slot: number, length: number): number {
    const bytes = this.#memory.bytes;
    const base = slot * this.#slotSize;
    // Header bytes 0..11, then the payload, as one CRC without copying them together.
    return crc32(bytes, base + HEADER_SIZE, base + HEADER_SIZE + length, crc32(bytes, base, base + 12));
  }
}
