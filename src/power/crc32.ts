// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), the checksum of the retained-state slots.
// Table-less: 8 shifts a byte is fast enough for a few KB per wake and saves 1 KB of RAM.

/** `previous` continues a CRC over a second range, as if the two ranges were one. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, previous = 0): number {
  let crc = ~previous >>> 0;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
