// ECDSA P-256 verification (FIPS 186-5, SEC 1 §4.1.4) over SHA-256 in plain script with BigInt, for
// the XS harness only: xsnap has none of the SDK's crypt modules, and the update agent's transcript
// and the bench need `UpdateHost.verify` there. It is checked against node:crypto
// (test/p256-xs.test.ts). Not constant-time, which verification of a public signature needs not be;
// a device uses the SDK's native ECDSA, far cheaper than this, so what it costs on XS is an upper bound.

import { sha256 } from "./sha256";

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const G: Point = [0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n, 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n, 1n];

/** Jacobian (X, Y, Z): the affine point (X/Z², Y/Z³); Z = 0 is the point at infinity. */
type Point = [bigint, bigint, bigint];

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

/** a⁻¹ mod m (m prime, a not 0 mod m), by the extended Euclidean algorithm. */
function invert(a: bigint, m: bigint): bigint {
  let [r0, r1, t0, t1] = [m, mod(a, m), 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0, m);
}

function double([x, y, z]: Point): Point {
  if (z === 0n || y === 0n) return [1n, 1n, 0n];
  // a = -3: 3X² + aZ⁴ = 3(X - Z²)(X + Z²).
  const zz = (z * z) % P;
  const yy = (y * y) % P;
  const beta = (x * yy) % P;
  const alpha = mod(3n * (x - zz) * (x + zz), P);
  const x3 = mod(alpha * alpha - 8n * beta, P);
  return [x3, mod(alpha * (4n * beta - x3) - 8n * yy * yy, P), mod(2n * y * z, P)];
}

function add(p: Point, q: Point): Point {
  if (p[2] === 0n) return q;
  if (q[2] === 0n) return p;
  const [x1, y1, z1] = p;
  const [x2, y2, z2] = q;
  const z1z1 = (z1 * z1) % P;
  const z2z2 = (z2 * z2) % P;
  const u1 = (x1 * z2z2) % P;
  const u2 = (x2 * z1z1) % P;
  const s1 = (y1 * z2 * z2z2) % P;
  const s2 = (y2 * z1 * z1z1) % P;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  if (h === 0n) return r === 0n ? double(p) : [1n, 1n, 0n];
  const hh = (h * h) % P;
  const hhh = (h * hh) % P;
  const v = (u1 * hh) % P;
  const x3 = mod(r * r - hhh - 2n * v, P);
  return [x3, mod(r * (v - x3) - s1 * hhh, P), (h * z1 * z2) % P];
}

/** u1·G + u2·Q, both scalars at once (Shamir's trick). */
function twoMultiples(u1: bigint, u2: bigint, q: Point): Point {
  const both = add(G, q);
  let acc: Point = [1n, 1n, 0n];
  for (let bit = 255n; bit >= 0n; bit--) {
    acc = double(acc);
    const a = (u1 >> bit) & 1n;
    const b = (u2 >> bit) & 1n;
    if (a && b) acc = add(acc, both);
    else if (a) acc = add(acc, G);
    else if (b) acc = add(acc, q);
  }
  return acc;
}

function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** ECDSA P-256 over SHA-256: `publicKey` an uncompressed point (65 bytes), `signature` r‖s (64). */
export function p256Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 65 || publicKey[0] !== 4 || signature.length !== 64) return false;
  const qx = toBigInt(publicKey.subarray(1, 33));
  const qy = toBigInt(publicKey.subarray(33));
  // A point off the curve could make the arithmetic answer for another curve.
  if (qx >= P || qy >= P || mod(qy * qy - (qx * qx * qx - 3n * qx + B), P) !== 0n) return false;
  const r = toBigInt(signature.subarray(0, 32));
  const s = toBigInt(signature.subarray(32));
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const e = toBigInt(sha256(message));
  const w = invert(s, N);
  const [x, , z] = twoMultiples(mod(e * w, N), mod(r * w, N), [qx, qy, 1n]);
  if (z === 0n) return false;
  const zi = invert(z, P);
  return mod(x * zi * zi, P) % N === r;
}
