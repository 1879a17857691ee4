// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), the checksum of the retained-state slots.
// Four bits at a time from a 16-entry table: a quarter of the bitwise loop's steps for 64 bytes of
// constants, where a byte table would take 1 KB of RAM. Every commit runs it over the whole slot.

const NIBBLE = Uint32Array.of(
  0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
  0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
);

/** `previous` continues a CRC over a second range, as if the two ranges were one. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  let crc = ~previous;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    crc = (crc >>> 4) ^ NIBBLE[crc & 15]!;
    crc = (crc >>> 4) ^ NIBBLE[crc & 15]!;
  }
  return ~crc >>> 0;
}
