// The retained slots' CRC-32 as it was before the byte table and incremental commits (src/encoding/
// crc32.ts), kept only as the baseline the XS benchmark measures in the same run: four bits
// at a time from a 16-entry table, over the whole slot at the load and at each commit.

const NIBBLE = Uint32Array.of(
  0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
  0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
);

export function crc32Nibble(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  let crc = ~previous;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    crc = (crc >>> 4) ^ NIBBLE[crc & 15]!;
    crc = (crc >>> 4) ^ NIBBLE[crc & 15]!;
  }
  return ~crc >>> 0;
}
