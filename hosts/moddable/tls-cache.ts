// The TLS session a Moddable node keeps across deep sleep. The SDK's TLS resumes a session by ID
// through the module "ssl/cache" (getByHost, getByID, saveSession, deleteSessionID: modules/crypt/
// ssl/session_419), whose own one entry lives in RAM: a board loses it in deep sleep, and the
// simulator, whose deep sleep is emulated in one process, kept it for ever and so measured
// resumed handshakes where a board pays full ones. hosts/moddable/manifest.json maps "ssl/cache" to
// this module instead (through ssl-cache.ts), which keeps nothing in RAM: the one session lives in
// the host's own retained bytes (RTC memory on ESP32, a file beside the retained one in the
// simulator) and is used only for the connection the host opened with `expect` — for that broker,
// with those CA and credentials, younger than TLS_SESSION_MAX_AGE_MS, checked by a CRC.
//
//    0 u32 magic "TTS1"          4 u32 FNV-1a of "host:port"   8 u32 CRC-32 of the CA, certificate, key
//   12 u32 saved at, Unix seconds                              16 u8 session ID length (1..32)
//   17 32 × u8 session ID       49 48 × u8 master secret       97..123 spare
//  124 u32 CRC-32 of bytes 0..123
//
// The master secret is the session: whoever reads it from the chip can decrypt what was sent in
// that session's connections (this wake's and, until it is replaced, the next one's) and resume it
// as the node. It is never written to flash, where it would outlive the session by years, nor
// logged; RTC memory loses it with power, and a new full handshake replaces it.

import { crc32 } from "../../src/encoding/crc32";
import { fnv1a } from "../../src/encoding/fnv";
import { TLS_SESSION_MAX_AGE_MS, type Handshake, type RetainedMemory } from "../../src/host";

const MAGIC = 0x31535454; // "TTS1" read little-endian
export const TLS_CACHE_SIZE = 128;
const ID = 17;
const SECRET = 49;
const SECRET_BYTES = 48;

/** The connection about to be opened: what a kept session must match. */
export interface Expected {
  memory: RetainedMemory;
  broker: string;
  identity: number;
  /** Unix seconds now, from the host's clock. */
  now: number;
}

interface Session {
  id: ArrayBuffer;
  secret: ArrayBuffer;
}

let expected: Expected | undefined;
let offered: ArrayBuffer | undefined;
let saved: ArrayBuffer | undefined;

/** Before a TLS connection opens: the session the cache may offer it, and where it keeps the next. */
export function expect(connection: Expected): void {
  if (connection.memory.bytes.length < TLS_CACHE_SIZE) throw new RangeError(`TLS session cache needs ${TLS_CACHE_SIZE} bytes, got ${connection.memory.bytes.length}`);
  expected = connection;
  offered = undefined;
  saved = undefined;
}

/** After the handshake: how it went (see Handshake). */
export function handshake(): Handshake {
  if (offered === undefined) return "full";
  return saved !== undefined && same(saved, offered) ? "resumed" : "refused";
}

/** After a TLS error, or when the connection's broker, CA or credentials changed: no session kept. */
export function forget(): void {
  if (!expected) return;
  expected.memory.bytes.fill(0, 0, TLS_CACHE_SIZE);
  expected.memory.commit(0, TLS_CACHE_SIZE);
}

/** A digest of the CA, certificate and key a session is made with. */
export function identityOf(parts: readonly (ArrayBuffer | undefined)[]): number {
  let crc = 0;
  for (const part of parts) {
    // A present part and an absent one differ even when the part is empty.
    crc = crc32(Uint8Array.of(part ? 1 : 0), 0, 1, crc);
    if (part) crc = crc32(new Uint8Array(part), 0, part.byteLength, crc);
  }
  return crc;
}

function kept(): Session | undefined {
  if (!expected) return undefined;
  const bytes = expected.memory.bytes;
  const v = new DataView(bytes.buffer, bytes.byteOffset, TLS_CACHE_SIZE);
  if (v.getUint32(0, true) !== MAGIC || v.getUint32(124, true) !== crc32(bytes, 0, 124)) return undefined;
  const age = (expected.now - v.getUint32(12, true)) * 1000;
  const idLength = v.getUint8(16);
  if (v.getUint32(4, true) !== fnv1a(expected.broker) || v.getUint32(8, true) !== expected.identity || !(age >= 0 && age <= TLS_SESSION_MAX_AGE_MS) || idLength < 1 || idLength > 32) {
    forget();
    return undefined;
  }
  return { id: bytes.slice(ID, ID + idLength).buffer, secret: bytes.slice(SECRET, SECRET + SECRET_BYTES).buffer };
}

function same(a: ArrayBuffer, b: ArrayBuffer): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** The SDK's ssl/cache interface. The server name is the expected connection's, so it is not read. */
const cache = {
  getByHost(_host: string): Session | undefined {
    const session = kept();
    offered = session?.id;
    return session;
  },
  getByID(id: ArrayBuffer): Session | undefined {
    const session = kept();
    return session && same(session.id, id) ? session : undefined;
  },
  saveSession(_host: string, id: ArrayBuffer, secret: ArrayBuffer): void {
    if (!expected || id.byteLength < 1 || id.byteLength > 32 || secret.byteLength !== SECRET_BYTES) return;
    saved = id;
    const bytes = expected.memory.bytes;
    bytes.fill(0, 0, TLS_CACHE_SIZE);
    const v = new DataView(bytes.buffer, bytes.byteOffset, TLS_CACHE_SIZE);
    v.setUint32(0, MAGIC, true);
    v.setUint32(4, fnv1a(expected.broker), true);
    v.setUint32(8, expected.identity, true);
    v.setUint32(12, Math.max(0, Math.floor(expected.now)) >>> 0, true);
    v.setUint8(16, id.byteLength);
    bytes.set(new Uint8Array(id), ID);
    bytes.set(new Uint8Array(secret), SECRET);
    v.setUint32(124, crc32(bytes, 0, 124), true);
    expected.memory.commit(0, TLS_CACHE_SIZE);
  },
  /** The broker refused this ID: it goes, unless it was already replaced by the new session's. */
  deleteSessionID(id: ArrayBuffer): void {
    const session = kept();
    if (session && same(session.id, id)) forget();
  },
};

export default cache;
