// The crypto an update's proof needs (UpdateHost's verify and sha256) from the SDK's crypt modules,
// for both Moddable hosts: SHA-256 is the native Digest; ECDSA P-256 is the SDK's ECDSA over the
// curve the TLS code checks server signatures with (Curve "secp256r1": script around the native
// `ec` and `mont` arithmetic). The SDK's ECDSA validates none of its inputs, so what the standards
// ask is checked here first: the key a point on the curve (SEC 1 §3.2.2), r and s in [1, n-1] and
// the hash reduced modulo n (FIPS 186-4 §6.4). In mcsim the SDK alone already answers false to every
// malformed input check:moddable tries; these checks are for those it cannot construct (an r, s or
// coordinate one modulus too large). A malformed key or signature verifies nothing, never throws.

import Curve from "curve";
import { Digest } from "crypt";
import ECDSA from "ecdsa";
import ECPoint from "ecp";
import type { UpdateHost } from "../../src/update/capability";

const SIZE = 32;
/** Built at the first offer a wake checks, not at load: its numbers would otherwise take heap in
 *  every wake of a node that is taking no update (the ESP32-C3's slots are nearly all spoken for). */
let curve: Curve | undefined;
const p256 = (): Curve => (curve ??= new Curve("secp256r1"));

function toBigInt(bytes: Uint8Array): bigint {
  let hex = "0x0";
  for (const b of bytes) hex += (b < 16 ? "0" : "") + b.toString(16);
  return BigInt(hex);
}

function toBytes(value: bigint): ArrayBuffer {
  const bytes = new Uint8Array(SIZE);
  for (let i = SIZE - 1; i >= 0; i--, value >>= 8n) bytes[i] = Number(value & 0xffn);
  return bytes.buffer;
}

/** A SHA-256 fed a piece at a time: a staged image is hashed a block at a time, never held whole. */
export function sha256Digest(): { write(bytes: Uint8Array): void; close(): Uint8Array } {
  const digest = new Digest("SHA256");
  return { write: (bytes) => digest.write(bytes.slice().buffer), close: () => new Uint8Array(digest.close()) };
}

function sha256(bytes: Uint8Array): Uint8Array {
  const digest = sha256Digest();
  digest.write(bytes);
  return digest.close();
}

/** y² = x³ + ax + b over the prime field of m. */
function onCurve(x: bigint, y: bigint): boolean {
  const { a, b, m } = p256().ec;
  return x < m && y < m && (y * y - (x * x * x + a * x + b)) % m === 0n;
}

function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 2 * SIZE + 1 || publicKey[0] !== 4 || signature.length !== 2 * SIZE) return false;
  const x = toBigInt(publicKey.subarray(1, 1 + SIZE));
  const y = toBigInt(publicKey.subarray(1 + SIZE));
  const r = toBigInt(signature.subarray(0, SIZE));
  const s = toBigInt(signature.subarray(SIZE));
  const n = p256().n;
  if (!onCurve(x, y) || r < 1n || r >= n || s < 1n || s >= n) return false;
  try {
    return new ECDSA(new ECPoint(x, y), p256()).verify(toBytes(toBigInt(sha256(message)) % n), signature.slice().buffer, false);
  } catch {
    return false;
  }
}

export const updateCrypto: Pick<UpdateHost, "verify" | "sha256"> = { verify, sha256 };
