// The one error a bad config value gets, naming the key: its own module so that the config parser
// and the sensor registry (which checks sensor entries) can both throw it without importing each other.

/** Longest error line: an echoed value or key is a hint, not a dump of a 64 KB string. */
const MAX_LINE = 400;

export class ConfigError extends Error {
  // A field, not `this.name = …`: Moddable freezes Error.prototype in ROM, where assigning throws.
  override readonly name = "ConfigError";

  /** `key` and `message` may carry text from the config itself: the line is made safe here, once. */
  constructor(readonly key: string, message: string) {
    super(oneLine(`config ${key}: ${message}`));
  }
}

/**
 * The error is one log line on a node nobody watches: control characters (C0, C1, the Unicode line
 * and paragraph separators) and lone surrogates from a config value are written as \uXXXX, so a
 * value can neither break the line nor make it unencodable, and the line is cut at MAX_LINE (and
 * marked so).
 */
function oneLine(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let piece = s[i]!;
    if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      piece = s.slice(i, i + 2);
      i++;
    } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 || (c >= 0xd800 && c <= 0xdfff)) piece = `\\u${c.toString(16).padStart(4, "0")}`;
    if (out.length + piece.length > MAX_LINE) return `${out}…`;
    out += piece;
  }
  return out;
}
