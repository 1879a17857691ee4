// Strict UTF-8 (RFC 3629, Unicode §3.9 Table 3-7) between JavaScript strings and bytes. XS has no
// TextEncoder/TextDecoder, and theirs would be the wrong contract anyway: they replace what they
// cannot convert with U+FFFD, which silently changes an MQTT topic or a SenML name. Here anything
// that is not well-formed — a lone surrogate on the way in; an overlong form, an encoded surrogate,
// a code point above U+10FFFF, a stray or missing continuation byte on the way out — is a RangeError
// that says where it is. Protocol-specific rules (MQTT's ban on U+0000) belong to the protocol.

/** Bytes that `utf8Encode(s)` would produce. Throws a RangeError on a lone surrogate. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c < 0xd800 || c > 0xdfff) n += 3;
    else {
      pairAt(s, i);
      n += 4;
      i++;
    }
  }
  return n;
}

/** The UTF-8 bytes of `s`. Throws a RangeError on a lone surrogate. */
export function utf8Encode(s: string): Uint8Array {
  const bytes = new Uint8Array(utf8Length(s));
  utf8EncodeInto(s, bytes, 0);
  return bytes;
}

/**
 * Writes the UTF-8 bytes of `s` into `target` at `offset` and returns how many were written, so a
 * caller that measured with `utf8Length` can serialize without an intermediate array. Throws a
 * RangeError on a lone surrogate or if `target` is too short.
 */
export function utf8EncodeInto(s: string, target: Uint8Array, offset: number): number {
  let p = offset;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0xd800 || c > 0xdfff ? 3 : 4;
    if (p + size > target.length) throw new RangeError(`utf8: target too short for the string (${target.length - offset} bytes from offset ${offset})`);
    switch (size) {
      case 1:
        target[p++] = c;
        break;
      case 2:
        target[p++] = 0xc0 | (c >> 6);
        target[p++] = 0x80 | (c & 0x3f);
        break;
      case 3:
        target[p++] = 0xe0 | (c >> 12);
        target[p++] = 0x80 | ((c >> 6) & 0x3f);
        target[p++] = 0x80 | (c & 0x3f);
        break;
      default:
        c = pairAt(s, i);
        i++;
        target[p++] = 0xf0 | (c >> 18);
        target[p++] = 0x80 | ((c >> 12) & 0x3f);
        target[p++] = 0x80 | ((c >> 6) & 0x3f);
        target[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p - offset;
}

/**
 * The string that `bytes[start..end)` encodes. Throws a RangeError naming the offending byte offset
 * if the bytes are not well-formed UTF-8 or the range is not inside `bytes`.
 */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= bytes.length)) {
    throw new RangeError(`utf8: range ${start}..${end} is not inside ${bytes.length} bytes`);
  }
  // Code units are gathered in a small array and flushed through String.fromCharCode in batches:
  // one concatenation per batch instead of one per character, and a bounded argument count.
  let out = "";
  const units: number[] = [];
  let i = start;
  while (i < end) {
    const b = bytes[i]!;
    if (b < 0x80) {
      units.push(b);
      i++;
    } else {
      let size: number;
      let cp: number;
      let min: number;
      if (b >= 0xc2 && b <= 0xdf) {
        size = 2;
        cp = b & 0x1f;
        min = 0x80;
      } else if (b >= 0xe0 && b <= 0xef) {
        size = 3;
        cp = b & 0x0f;
        min = 0x800;
      } else if (b >= 0xf0 && b <= 0xf4) {
        size = 4;
        cp = b & 0x07;
        min = 0x10000;
      } else if (b === 0xc0 || b === 0xc1) {
        throw new RangeError(`utf8: overlong encoding at byte ${i}`);
      } else if (b < 0xc0) {
        throw new RangeError(`utf8: unexpected continuation byte 0x${hex(b)} at byte ${i}`);
      } else {
        throw new RangeError(`utf8: invalid byte 0x${hex(b)} at byte ${i}`);
      }
      if (i + size > end) throw new RangeError(`utf8: truncated sequence at byte ${i}`);
      for (let k = 1; k < size; k++) {
        const c = bytes[i + k]!;
        if ((c & 0xc0) !== 0x80) throw new RangeError(`utf8: missing continuation byte at byte ${i + k} (sequence starts at byte ${i})`);
        cp = (cp << 6) | (c & 0x3f);
      }
      if (cp < min) throw new RangeError(`utf8: overlong encoding at byte ${i}`);
      if (cp >= 0xd800 && cp <= 0xdfff) throw new RangeError(`utf8: encoded surrogate U+${hex(cp)} at byte ${i}`);
      if (cp > 0x10ffff) throw new RangeError(`utf8: code point above U+10FFFF at byte ${i}`);
      if (cp < 0x10000) units.push(cp);
      else units.push(0xd800 | ((cp - 0x10000) >> 10), 0xdc00 | (cp & 0x3ff));
      i += size;
    }
    if (units.length >= 1024) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode(...units);
}

function pairAt(s: string, i: number): number {
  const hi = s.charCodeAt(i);
  const lo = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
  if (hi > 0xdbff || lo < 0xdc00 || lo > 0xdfff) throw new RangeError(`utf8: lone surrogate U+${hex(hi)} at index ${i}`);
  return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
}

function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}
