// Bytes as lowercase hexadecimal, the way signatures travel inside text.

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

/** The bytes of an even-length run of lowercase hex digits (of exactly `length` bytes, when
 *  given); undefined for anything else. */
export function fromHex(s: string, length?: number): Uint8Array | undefined {
  if (s.length % 2 !== 0 || (length !== undefined && s.length !== 2 * length) || !/^[0-9a-f]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Equal bytes, compared in a time that does not depend on where they first differ. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
