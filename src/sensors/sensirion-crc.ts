// CRC-8 that Sensirion sensors (SHT3x, SHT4x) append to every 16-bit word: polynomial 0x31
// (x^8 + x^5 + x^4 + 1), initial value 0xFF, no reflection, no final XOR. Datasheet check value:
// CRC(0xBE, 0xEF) = 0x92.

export function sensirionCrc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}
