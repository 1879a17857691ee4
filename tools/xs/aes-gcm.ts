// AES-128 (FIPS 197) and GCM (NIST SP 800-38D, 12-byte nonce, 16-byte tag) in plain script, for
// the XS harness only: xsnap has none of the SDK's crypt modules, and the tests and benchmarks that
// seal telemetry on XS need a Host.crypto.aesGcm there. It is checked against node:crypto
// (test/aes-gcm-xs.test.ts); a device uses the SDK's native AES and GHASH (hosts/moddable/runtime),
// far cheaper than this byte-at-a-time version.

import type { AesGcm } from "../../src/host";

const BLOCK = 16;
const ROUNDS = 10;

/** The S-box, computed (multiplicative inverse in GF(2^8), then the affine map) rather than listed. */
const SBOX = (() => {
  const box = new Uint8Array(256);
  let p = 1;
  let q = 1;
  do {
    // p runs over the field by multiplying by 3, q by dividing by 3: q is p's inverse.
    p = p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const rot = (x: number, s: number) => ((x << s) | (x >> (8 - s))) & 0xff;
    box[p] = q ^ rot(q, 1) ^ rot(q, 2) ^ rot(q, 3) ^ rot(q, 4) ^ 0x63;
  } while (p !== 1);
  box[0] = 0x63;
  return box;
})();

const xtime = (x: number) => ((x << 1) ^ (x & 0x80 ? 0x1b : 0)) & 0xff;

/** The 11 round keys of an AES-128 key, 176 bytes. */
function expandKey(key: Uint8Array): Uint8Array {
  if (key.length !== BLOCK) throw new Error(`AES-128 takes a 16-byte key, not ${key.length}`);
  const w = new Uint8Array(BLOCK * (ROUNDS + 1));
  w.set(key);
  let rcon = 1;
  for (let i = BLOCK; i < w.length; i += 4) {
    let t0 = w[i - 4]!, t1 = w[i - 3]!, t2 = w[i - 2]!, t3 = w[i - 1]!;
    if (i % BLOCK === 0) {
      [t0, t1, t2, t3] = [SBOX[t1]! ^ rcon, SBOX[t2]!, SBOX[t3]!, SBOX[t0]!];
      rcon = xtime(rcon);
    }
    w[i] = w[i - BLOCK]! ^ t0;
    w[i + 1] = w[i - BLOCK + 1]! ^ t1;
    w[i + 2] = w[i - BLOCK + 2]! ^ t2;
    w[i + 3] = w[i - BLOCK + 3]! ^ t3;
  }
  return w;
}

/** One block encrypted under the round keys `w`, into `out`. */
function encryptBlock(w: Uint8Array, input: Uint8Array, out: Uint8Array): void {
  const s = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) s[i] = input[i]! ^ w[i]!;
  const t = new Uint8Array(BLOCK);
  for (let round = 1; round <= ROUNDS; round++) {
    // SubBytes and ShiftRows: row r of column c comes from column c + r.
    for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) t[4 * c + r] = SBOX[s[4 * ((c + r) % 4) + r]!]!;
    if (round < ROUNDS) {
      for (let c = 0; c < 4; c++) {
        const a0 = t[4 * c]!, a1 = t[4 * c + 1]!, a2 = t[4 * c + 2]!, a3 = t[4 * c + 3]!;
        const all = a0 ^ a1 ^ a2 ^ a3;
        t[4 * c] = a0 ^ all ^ xtime(a0 ^ a1);
        t[4 * c + 1] = a1 ^ all ^ xtime(a1 ^ a2);
        t[4 * c + 2] = a2 ^ all ^ xtime(a2 ^ a3);
        t[4 * c + 3] = a3 ^ all ^ xtime(a3 ^ a0);
      }
    }
    for (let i = 0; i < BLOCK; i++) s[i] = t[i]! ^ w[BLOCK * round + i]!;
  }
  out.set(s);
}

/** x·h in GF(2^128) with GCM's bit order, in place in x (both as four big-endian u32). */
function multiply(x: Uint32Array, h: Uint32Array): void {
  const z = new Uint32Array(4);
  const v = Uint32Array.from(h);
  for (let i = 0; i < 128; i++) {
    if ((x[i >>> 5]! >>> (31 - (i & 31))) & 1) for (let j = 0; j < 4; j++) z[j]! ^= v[j]!;
    const lsb = v[3]! & 1;
    v[3] = (v[3]! >>> 1) | (v[2]! << 31);
    v[2] = (v[2]! >>> 1) | (v[1]! << 31);
    v[1] = (v[1]! >>> 1) | (v[0]! << 31);
    v[0] = v[0]! >>> 1;
    if (lsb) v[0]! ^= 0xe1000000;
  }
  x.set(z);
}

function words(block: Uint8Array): Uint32Array {
  const view = new DataView(block.buffer, block.byteOffset, BLOCK);
  return Uint32Array.of(view.getUint32(0), view.getUint32(4), view.getUint32(8), view.getUint32(12));
}

/** GHASH over `aad` and `ciphertext`, each zero-padded to blocks, then their lengths in bits. */
function ghash(h: Uint32Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const y = new Uint32Array(4);
  const absorb = (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length; at += BLOCK) {
      const block = new Uint8Array(BLOCK);
      block.set(bytes.subarray(at, at + BLOCK));
      const x = words(block);
      for (let j = 0; j < 4; j++) y[j]! ^= x[j]!;
      multiply(y, h);
    }
  };
  absorb(aad);
  absorb(ciphertext);
  const lengths = new Uint8Array(BLOCK);
  const view = new DataView(lengths.buffer);
  view.setUint32(0, Math.floor(aad.length / 0x20000000));
  view.setUint32(4, (aad.length * 8) >>> 0);
  view.setUint32(8, Math.floor(ciphertext.length / 0x20000000));
  view.setUint32(12, (ciphertext.length * 8) >>> 0);
  absorb(lengths);
  const out = new Uint8Array(BLOCK);
  const o = new DataView(out.buffer);
  for (let j = 0; j < 4; j++) o.setUint32(4 * j, y[j]!);
  return out;
}

/** The key schedule, H, and the tag's mask E(K, J0) for one (key, nonce). */
function setUp(key: Uint8Array, nonce: Uint8Array): { w: Uint8Array; h: Uint32Array; j0: Uint8Array } {
  if (nonce.length !== 12) throw new Error(`GCM here takes a 12-byte nonce, not ${nonce.length}`);
  const w = expandKey(key);
  const hBlock = new Uint8Array(BLOCK);
  encryptBlock(w, hBlock, hBlock);
  const j0 = new Uint8Array(BLOCK);
  j0.set(nonce);
  j0[15] = 1;
  return { w, h: words(hBlock), j0 };
}

/** CTR from inc32(J0): encrypting and decrypting alike. */
function ctr(w: Uint8Array, j0: Uint8Array, input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input.length);
  const counter = j0.slice();
  const view = new DataView(counter.buffer);
  const stream = new Uint8Array(BLOCK);
  for (let at = 0; at < input.length; at += BLOCK) {
    view.setUint32(12, (view.getUint32(12) + 1) >>> 0);
    encryptBlock(w, counter, stream);
    for (let i = at; i < Math.min(at + BLOCK, input.length); i++) out[i] = input[i]! ^ stream[i - at]!;
  }
  return out;
}

function tagOf(w: Uint8Array, h: Uint32Array, j0: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const s = ghash(h, aad, ciphertext);
  const mask = new Uint8Array(BLOCK);
  encryptBlock(w, j0, mask);
  for (let i = 0; i < BLOCK; i++) s[i]! ^= mask[i]!;
  return s;
}

export const scriptAesGcm: AesGcm = {
  seal(key, nonce, aad, plaintext) {
    const { w, h, j0 } = setUp(key, nonce);
    const ciphertext = ctr(w, j0, plaintext);
    const out = new Uint8Array(ciphertext.length + BLOCK);
    out.set(ciphertext);
    out.set(tagOf(w, h, j0, aad, ciphertext), ciphertext.length);
    return out;
  },
  open(key, nonce, aad, sealed) {
    if (sealed.length < BLOCK) return undefined;
    const { w, h, j0 } = setUp(key, nonce);
    const ciphertext = sealed.subarray(0, sealed.length - BLOCK);
    const tag = tagOf(w, h, j0, aad, ciphertext);
    let diff = 0;
    for (let i = 0; i < BLOCK; i++) diff |= tag[i]! ^ sealed[ciphertext.length + i]!;
    return diff === 0 ? ctr(w, j0, ciphertext) : undefined;
  },
};
