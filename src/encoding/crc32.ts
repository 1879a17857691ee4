// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), the checksum of the retained-state slots.
// A byte at a time from a 256-entry table (1 KB, built from its eight single-bit entries by
// linearity: a few hundred XORs at start-up): about 23 XS compute a byte, where the 16-entry
// nibble table took 46. Slicing by 4 would take 14, but four such tables (4 KB).
//
// A commit rewrites the whole slot, but most of it is the reading buffer's sealed blocks, which
// only grow at the end and lose blocks at the front. crc32Combine (zlib's crc32_combine: the CRC of
// A ‖ B from the CRCs of A and B and a power of x that depends only on B's length) lets a commit
// hash only the bytes around them and take their CRC from what the buffer keeps up to date.

const POLY = 0xedb88320;

/**
 * A host's own CRC-32 with crc32's contract: the same reflected polynomial, `previous` the result
 * of the last call (0 at first), the ones' complement taken on the way in and out. ESP-IDF's
 * esp_rom_crc32_le(crc, buf, len) is exactly that, from a table in the chip's ROM.
 */
export type Crc32 = (bytes: Uint8Array, start: number, end: number, previous: number) => number;

let hostCrc32: Crc32 | undefined;

/** Makes crc32 call `crc` (Host.crc32), or the JavaScript below again with undefined. */
export function useHostCrc32(crc: Crc32 | undefined): void {
  hostCrc32 = crc;
}
/** x^0 in the reflected representation: the power of x a zero-length range shifts by. */
export const CRC_ONE = 0x80000000;

const TABLE = new Uint32Array(256);
for (let bit = 128, c = POLY; bit > 0; bit >>= 1, c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1) {
  for (let j = 0; j < 256; j += 2 * bit) TABLE[bit + j] = TABLE[j]! ^ c;
}

/** x^(2^k) mod P for k = 3.. (a byte is x^8): powers for lengths by squaring, without computing them. */
const X2N = Uint32Array.of(
  0x00800000, 0x00008000, 0xedb88320, 0xb1e6b092, 0xa06a2517, 0xed627dae, 0x88d14467, 0xd7bbfe6a,
  0xec447f11, 0x8e7ea170, 0x6427800e, 0x4d47bae0, 0x09fe548f, 0x83852d0f, 0x30362f1a, 0x7b5a9cc3,
);

/** `previous` continues a CRC over a second range, as if the two ranges were one. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  if (hostCrc32) return hostCrc32(bytes, start, end, previous) >>> 0;
  return crc32JS(bytes, start, end, previous);
}

/** crc32 in JavaScript, whatever the host offers: the reference a host's own is tested against. */
export function crc32JS(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  const table = TABLE;
  let crc = ~previous;
  let i = start;
  // Four bytes a turn: XS spends a sixth of a byte's cost on the loop itself.
  for (const last = end - 3; i < last; i += 4) {
    crc = (crc >>> 8) ^ table[(crc ^ bytes[i]!) & 255]!;
    crc = (crc >>> 8) ^ table[(crc ^ bytes[i + 1]!) & 255]!;
    crc = (crc >>> 8) ^ table[(crc ^ bytes[i + 2]!) & 255]!;
    crc = (crc >>> 8) ^ table[(crc ^ bytes[i + 3]!) & 255]!;
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ table[(crc ^ bytes[i]!) & 255]!;
  return ~crc >>> 0;
}

/** a × b modulo the CRC polynomial: composes two powers, or applies one to a CRC. */
export function crcMultiply(a: number, b: number): number {
  let product = 0;
  for (let m = CRC_ONE; m; m >>>= 1) {
    if (a & m) {
      product ^= b;
      if (!(a & (m - 1))) break;
    }
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return product >>> 0;
}

/** x^(8 × length) modulo the polynomial: what crc32Combine needs to know of the second range. */
export function crcPower(length: number): number {
  let power = CRC_ONE;
  if (length < 24) {
    // Shifting x^0 through the table once per byte is cheaper than the squarings for a short range.
    for (let i = 0; i < length; i++) power = (power >>> 8) ^ TABLE[power & 255]!;
    return power >>> 0;
  }
  for (let k = 0; length; length >>>= 1, k++) {
    if (k >= X2N.length) throw new RangeError("crcPower: range too long");
    if (length & 1) power = crcMultiply(X2N[k]!, power);
  }
  return power;
}

/** Bytes [start, end) of a larger range have the CRC-32 `crc`, and `power` is crcPower(end - start):
 *  what lets the larger range's CRC be had without hashing them again (crc32Combine). */
export interface KnownCrc {
  start: number;
  end: number;
  crc: number;
  power: number;
}

/** The CRC of A ‖ B from A's CRC, B's CRC and crcPower(B's length). */
export function crc32Combine(first: number, second: number, power: number): number {
  return (crcMultiply(power, first) ^ second) >>> 0;
}
