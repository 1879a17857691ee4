// The checks every config key's value goes through, whatever the key: a value of the right type
// and size, JSON that is plain all the way down, and errors that name the key and never show a
// secret. What each key means is the node's configuration's business (parseConfig).

import { ConfigError } from "./config-error";
import { nestedDeeperThan } from "./encoding/json-depth";
import { utf8Length } from "./encoding/utf8";

export type Raw = Record<string, unknown>;

/** Keys whose values no error ever shows, whatever their type: a log line is not a safe place. */
const secrets = new Set<string>(["brokerPassword", "password", "tlsKey", "commandKey", "commandKeyNext", "telemetryKey", "payloadKey"]);

/** Deeper than any key's schema (sensors[i].options.calibration.points[j].raw is 6). */
const MAX_DEPTH = 16;

/** A key's value if the object itself has it: never one inherited from a prototype. */
export function own(record: Raw, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * Config is JSON: plain objects and arrays all the way down. A `"__proto__"` key that went through
 * Object.assign (the Node host layers --config over the manifest so) or a JavaScript object literal
 * is no key: it replaces the object's prototype, and every key on that prototype would be read as
 * if set. Refuse such an object rather than read through it; a `"__proto__"` that stayed
 * a key, as JSON.parse leaves it, is an unknown key like any other.
 */
export function plainTree(at: string, value: unknown, depth: number): void {
  if (typeof value !== "object" || value === null) return;
  if (!standardPrototype(value)) throw new ConfigError(at ? `${at}.__proto__` : "__proto__", "is not a config key: it replaced the object's prototype; remove it");
  if (depth === MAX_DEPTH) throw new ConfigError(at, `is nested more than ${MAX_DEPTH} levels deep`);
  for (const [key, v] of Object.entries(value)) plainTree(Array.isArray(value) ? `${at}[${key}]` : at ? `${at}.${key}` : key, v, depth + 1);
}

/** The prototype an object or array of JSON has — Object.prototype or Array.prototype, or none —
 *  of whichever realm made it (check:moddable evaluates a build's mc/config in a realm of its own):
 *  a prototype that carries keys of its own is one a `"__proto__"` key put there. */
export function standardPrototype(value: object): boolean {
  const proto: object | null = Object.getPrototypeOf(value);
  if (proto === null) return true;
  const base: object | null = Array.isArray(value) ? (Array.isArray(proto) ? Object.getPrototypeOf(proto) : null) : proto;
  return base !== null && Object.getPrototypeOf(base) === null && Object.keys(proto).length === 0;
}

/** A string key: every string, as long as it is well-formed UTF-16 (no lone surrogate), which every
 *  consumer (UTF-8 for MQTT, C strings on a device) needs. */
export function text(key: string, value: unknown): string {
  if (typeof value !== "string") throw new ConfigError(key, `expected a string, got ${secrets.has(key) ? kind(value) : describe(value)}`);
  try {
    utf8Length(value);
  } catch (e) {
    throw new ConfigError(key, `is not well-formed Unicode (${e instanceof Error ? e.message : String(e)})`);
  }
  return value;
}

/** At most `max` bytes of UTF-8. */
export function sized(key: string, s: string, max: number): string {
  const bytes = utf8Length(s);
  if (bytes > max) throw new ConfigError(key, `is ${bytes} bytes of UTF-8; at most ${max} fit`);
  return s;
}

/**
 * A string that goes into MQTT packets as a UTF-8 Encoded String: at most `max` bytes, and none of
 * the characters MQTT bans (U+0000: MQTT-1.5.3-2, MQTT-1.5.4-2) or lets a receiver treat as a
 * Malformed Packet (control characters U+0001-U+001F and U+007F-U+009F, non-characters: 3.1.1
 * §1.5.3, 5.0 §1.5.4). A broker that closes the connection on one would do so at every wake.
 */
export function mqttText(key: string, value: unknown, max: number): string {
  const s = sized(key, text(key, value), max);
  for (let i = 0; i < s.length; i++) {
    const c = s.codePointAt(i)!;
    const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
    const nonCharacter = (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) === 0xfffe;
    if (control || nonCharacter) {
      throw new ConfigError(key, `has U+${c.toString(16).toUpperCase().padStart(4, "0")} at index ${i}: MQTT strings may not carry control characters or non-characters`);
    }
    if (c > 0xffff) i++;
  }
  return s;
}

export function integer(key: string, value: unknown, min: number, max: number): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new ConfigError(key, `expected an integer, got ${describe(value)}`);
  if (n < min || n > max) throw new ConfigError(key, `${n} is out of range ${min}..${max}`);
  return n;
}

export function oneOf<T extends string | number>(key: string, value: string | number, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new ConfigError(key, `${describe(value)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
  return found;
}

/** A list or object given as JSON text, as mcconfig passes it: measured before it is parsed. */
export function structured(key: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (nestedDeeperThan(value, MAX_DEPTH)) throw new ConfigError(key, `is nested more than ${MAX_DEPTH} levels deep`);
  try {
    return JSON.parse(value);
  } catch {
    throw new ConfigError(key, `expected JSON, got ${describe(value)}`);
  }
}

/** An object's keys must be among `known`: a misspelt one would silently keep its default. */
export function knownKeysOf(at: string, record: Raw, known: readonly string[]): void {
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) throw new ConfigError(`${at}.${key}`, `unknown key (known: ${known.join(", ")})`);
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A value as an error may echo it: strings quoted and cut short (ConfigError escapes the rest). */
export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return typeof v === "number" || typeof v === "boolean" ? String(v) : kind(v);
}

/** What a value is, without what it says: for secrets. */
export function kind(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return typeof v === "string" ? "a string" : `a ${typeof v}`;
}
