// The CRC-32 of a block store's sealed bytes, kept up to date as they change — an entry added at the
// end, the last one growing in place (a zero run), the first one shrinking or going — so that a
// commit of the retained state need not hash them again (crc32Combine, RetainedSlots). Unknown
// after a read until adopt() takes it from the load's own pass, and then computed in full once if
// asked for before.
//
// Every method takes the store's bytes, where its last entry starts and how many bytes are sealed.

import { crc32, crcMultiply, crcPower, CRC_ONE, type KnownCrc } from "../encoding/crc32";

/** Below this many sealed bytes, a buffer just read leaves their CRC to the commits' own hashing:
 *  cheaper than taking it from the load (a power of x by squaring, a dozen GF(2) products). */
const CRC_KEPT_FROM = 512;

export class SealedCrc {
  /** CRC-32 of the sealed bytes and of those before the last entry, and crcPower(sealed bytes);
   *  valid while `known`. */
  known = true;
  #sealed = 0;
  #last = 0;
  #power = CRC_ONE;

  /** Bytes [from, to) were sealed as a new last entry. */
  added(bytes: Uint8Array, from: number, to: number): void {
    if (!this.known) return;
    this.#last = this.#sealed;
    this.#sealed = crc32(bytes, from, to, this.#sealed);
    this.#power = crcMultiply(this.#power, crcPower(to - from));
  }

  /** The last entry, [lastEntry, sealed), changed in place. */
  grew(bytes: Uint8Array, lastEntry: number, sealed: number): void {
    if (this.known) this.#sealed = crc32(bytes, lastEntry, sealed, this.#last);
  }

  /**
   * Follows the CRCs through a change to the first entry, `entry` bytes long: `change` is the XOR
   * of its CRCs before and after; `gone` when it is removed (its bytes not yet moved).
   * crc(E ‖ M) = crc(E) × x^(8|M|) ⊕ crc(M), so the CRC of what precedes the last entry changes by
   * `change` × x^(8|M|), M being the entries between the first and the last.
   */
  changedFirst(bytes: Uint8Array, lastEntry: number, sealed: number, entry: number, change: number, gone: boolean): void {
    if (!this.known) return;
    if (lastEntry === 0) {
      // The first entry is also the last.
      this.#last = 0;
      if (gone) this.empty();
      else this.#sealed = crc32(bytes, 0, sealed);
      return;
    }
    const middle = lastEntry - entry;
    const power = crcPower(middle);
    this.#last = (this.#last ^ crcMultiply(power, change)) >>> 0;
    this.#sealed = crc32(bytes, lastEntry, sealed, this.#last);
    if (gone) this.#power = crcMultiply(power, crcPower(sealed - lastEntry));
  }

  /** Nothing is sealed. */
  empty(): void {
    this.known = true;
    this.#sealed = 0;
    this.#last = 0;
    this.#power = CRC_ONE;
  }

  /**
   * The CRC-32 of the sealed bytes, written at offset `at` of the output (negative: not written):
   * for RetainedSlots.commit, so that it need not hash them. Computed in full if no adopt() gave it
   * since they were read.
   */
  written(bytes: Uint8Array, lastEntry: number, sealed: number, at: number): KnownCrc | undefined {
    if (at < 0 || (!this.known && sealed < CRC_KEPT_FROM)) return undefined;
    if (!this.known) {
      const last = Math.max(0, lastEntry);
      this.#last = crc32(bytes, 0, last);
      this.#sealed = crc32(bytes, last, sealed, this.#last);
      this.#power = crcPower(sealed);
      this.known = true;
    }
    return { start: at, end: at + sealed, crc: this.#sealed, power: this.#power };
  }

  /**
   * For sealed bytes read at offset `at` of the input (negative: none read): takes the CRCs from
   * `loadedCrc`, which gives the CRC of bytes [start, end) of what was read (and
   * crcPower(end - start) as `power`) from the pass that checked them.
   */
  adopt(bytes: Uint8Array, lastEntry: number, sealed: number, at: number, loadedCrc: (start: number, end: number, power: number) => number | undefined): void {
    if (this.known || at < 0 || sealed < CRC_KEPT_FROM) return;
    const last = Math.max(0, lastEntry);
    const power = crcPower(last);
    const crc = loadedCrc(at, at + last, power);
    if (crc === undefined) return;
    this.#last = crc;
    this.#sealed = crc32(bytes, last, sealed, crc);
    this.#power = crcMultiply(power, crcPower(sealed - last));
    this.known = true;
  }
}
