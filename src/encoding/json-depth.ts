// How deep a JSON text nests, found without parsing it. JSON.parse recurses once per level, and on
// XS a text nested a few thousand levels deep (far fewer on a device's small stack) overflows the
// native stack: that is no exception a catch can take, but the end of the machine, and the device
// would meet it again at every boot. So untrusted JSON text is measured before it is parsed.

/** True if `text`, read as JSON, opens more than `limit` arrays or objects inside one another. */
export function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next character is escaped, whatever it is
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
