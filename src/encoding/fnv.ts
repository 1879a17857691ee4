// FNV-1a, 32 bits: a fingerprint of a short text (a channel layout, what a status says), to tell
// "the same" from "changed" in a few bytes of retained memory. Not a checksum against corruption:
// that is CRC-32's job (crc32).

export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
