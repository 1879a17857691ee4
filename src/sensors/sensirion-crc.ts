// CRC-8 that Sensirion sensors (SHT3x, SHT4x) append to every 16-bit word: polynomial 0x31
// (x^8 + x^5 + x^4 + 1), initial value 0xFF, no reflection, no final XOR. Datasheet check value:
// CRC(0xBE, 0xEF) = 0x92.

import { SensorError } from "./sensor";

export function sensirionCrc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** The 16-bit words of a Sensirion answer (each word MSB first, then its CRC), every CRC checked. */
export function sensirionWords(what: string, bytes: Uint8Array, count: number): number[] {
  if (bytes.length !== 3 * count) throw new SensorError("io", `${what}: expected ${3 * count} bytes, got ${bytes.length}`);
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 3) {
    if (sensirionCrc(bytes, i, i + 2) !== bytes[i + 2]) throw new SensorError("crc", `${what}: CRC mismatch in word ${i / 3}`);
    words.push((bytes[i]! << 8) | bytes[i + 1]!);
  }
  return words;
}
