// Encrypted telemetry (docs/security.md): with a `payloadKey`, every telemetry message is sealed
// with AES-128-GCM, whatever its format:
//
//   0xe1 ‖ epoch (u32) ‖ counter (u32) ‖ ciphertext ‖ tag (16)
//
// The 9-byte header is the nonce's variable part (nonce = header ‖ three zero bytes), so a reader
// needs no state to open a message; the nonce comes from a NonceCounter, which never hands out
// the same one twice under a key. The additional data binds the message to its topic, so a
// message cannot be moved to another node's topic. The plaintext is the message as it would go
// out without a payloadKey: tagged too when the node has a telemetryKey (its counter then still
// tells copies from replays). 0xe1 is a first byte none of the three formats starts with.
// The AES key is the first 16 bytes of HMAC-SHA-256 under the key's text over "torpor-enc-1".

import type { AesGcm, Crypto } from "../host";
import { utf8Encode } from "../encoding/utf8";

/** The sealed message's first byte. */
export const SEALED_MARK = 0xe1;
const HEADER_BYTES = 9;
const TAG_BYTES = 16;
const NONCE_BYTES = 12;

/** Bytes sealing adds to a message. */
export const SEAL_BYTES = HEADER_BYTES + TAG_BYTES;

export interface Nonce {
  epoch: number;
  counter: number;
}

/** The AES key of a `payloadKey`: cached, as a wake seals several messages under one key. */
let derived: { text: string; key: Uint8Array } | undefined;

function aesKey(crypto: Crypto, text: string): Uint8Array {
  if (derived?.text !== text) derived = { text, key: crypto.hmacSha256(utf8Encode(text), utf8Encode("torpor-enc-1")).slice(0, 16) };
  return derived.key;
}

function additionalData(topic: string): Uint8Array {
  return utf8Encode(`torpor-enc-1\n${topic}`);
}

function nonceOf(header: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce.set(header);
  return nonce;
}

function gcmOf(crypto: Crypto): AesGcm {
  if (!crypto.aesGcm) throw new Error("this host has no AES-GCM (Host.crypto.aesGcm)");
  return crypto.aesGcm;
}

export function isSealed(message: Uint8Array): boolean {
  return message[0] === SEALED_MARK;
}

/** The message as it goes out: `payload` encrypted under `key` with `nonce`, which must never
 *  have sealed anything before under this key. */
export function sealPayload(crypto: Crypto, key: string, topic: string, nonce: Nonce, payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint8(0, SEALED_MARK);
  view.setUint32(1, nonce.epoch >>> 0);
  view.setUint32(5, nonce.counter >>> 0);
  const sealed = gcmOf(crypto).seal(aesKey(crypto, key), nonceOf(header), additionalData(topic), payload);
  const out = new Uint8Array(HEADER_BYTES + sealed.length);
  out.set(header);
  out.set(sealed, HEADER_BYTES);
  return out;
}

export type OpenedPayload = { payload: Uint8Array; nonce: Nonce } | { error: string };

/** The payload inside a sealed message, if it opens under `key` for `topic`; else what is wrong. */
export function openPayload(crypto: Crypto, key: string, topic: string, message: Uint8Array): OpenedPayload {
  if (!isSealed(message)) return { error: "not encrypted" };
  if (message.length < SEAL_BYTES) return { error: `shorter than the ${SEAL_BYTES} bytes sealing adds` };
  const header = message.subarray(0, HEADER_BYTES);
  const payload = gcmOf(crypto).open(aesKey(crypto, key), nonceOf(header), additionalData(topic), message.subarray(HEADER_BYTES));
  if (!payload) return { error: "does not open: forged, altered, for another topic or under another key" };
  const view = new DataView(header.buffer, header.byteOffset, HEADER_BYTES);
  return { payload, nonce: { epoch: view.getUint32(1), counter: view.getUint32(5) } };
}

