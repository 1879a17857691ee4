// Authenticated telemetry (docs/security.md): with a `telemetryKey`, every telemetry message
// carries a message counter and a tag, the first TAG_BYTES of an HMAC-SHA-256 under the key over
//
//   "torpor-tlm-1\n<topic>\n" ‖ counter (7 bytes) ‖ body
//
// The counter names the message — the node's flash epoch (u16), the sequence number of its first
// reading (u32) and its part (`kind`, u8), big-endian — so a message sent again after a lost
// acknowledgement is the same bytes, and a message is never numbered like an earlier, different one:
// the epoch moves on whenever the node's state starts over or comes back from flash, the times its
// sequence numbers can repeat. How it travels:
//   compact, SenML CBOR: body ‖ counter ‖ tag, a 15-byte trailer;
//   SenML JSON: one more record, {"bn":"","n":"torpor:auth","vs":"<counter and tag in hex>"}, the
//   body being the JSON before that record's comma.

import type { PayloadFormat } from "../config";
import type { Crypto } from "../host";
import { fromHex, sameBytes, toHex } from "../encoding/hex";
import { utf8Encode } from "../encoding/utf8";

const TAG_BYTES = 8;
const COUNTER_BYTES = 7;
const TRAILER_BYTES = COUNTER_BYTES + TAG_BYTES;

/** The SenML JSON record's text around its hex. */
const RECORD_HEAD = ',{"bn":"","n":"torpor:auth","vs":"';
const RECORD_TAIL = '"}]';

export interface TelemetryCounter {
  epoch: number;
  first: number;
  kind: number;
}

/** Bytes a tag adds to a message of `format`. */
export function tagBytes(format: PayloadFormat): number {
  return format === "senml-json" ? RECORD_HEAD.length + 2 * TRAILER_BYTES + RECORD_TAIL.length - 1 : TRAILER_BYTES;
}

function counterBytes(c: TelemetryCounter): Uint8Array {
  const out = new Uint8Array(COUNTER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint16(0, c.epoch);
  view.setUint32(2, c.first >>> 0);
  view.setUint8(6, c.kind);
  return out;
}

function tag(crypto: Crypto, key: string, topic: string, counter: Uint8Array, body: Uint8Array): Uint8Array {
  const head = utf8Encode(`torpor-tlm-1\n${topic}\n`);
  const input = new Uint8Array(head.length + counter.length + body.length);
  input.set(head);
  input.set(counter, head.length);
  input.set(body, head.length + counter.length);
  return crypto.hmacSha256(utf8Encode(key), input).subarray(0, TAG_BYTES);
}

/** The message as it goes out: `payload` with its counter and tag. */
export function sealTelemetry(crypto: Crypto, key: string, format: PayloadFormat, topic: string, counter: TelemetryCounter, payload: Uint8Array): Uint8Array {
  const c = counterBytes(counter);
  if (format === "senml-json") {
    // The body is the JSON array without its closing bracket; the record closes it.
    const body = payload.subarray(0, payload.length - 1);
    const record = utf8Encode(`${RECORD_HEAD}${toHex(c)}${toHex(tag(crypto, key, topic, c, body))}${RECORD_TAIL}`);
    const out = new Uint8Array(body.length + record.length);
    out.set(body);
    out.set(record, body.length);
    return out;
  }
  const out = new Uint8Array(payload.length + TRAILER_BYTES);
  out.set(payload);
  out.set(c, payload.length);
  out.set(tag(crypto, key, topic, c, payload), payload.length + COUNTER_BYTES);
  return out;
}

export type OpenedTelemetry = { payload: Uint8Array; counter: TelemetryCounter } | { error: string };

/** The payload inside a tagged message (as the node encoded it, before sealing) and its counter,
 *  if the tag is right under `key`; else what is wrong. */
export function openTelemetry(crypto: Crypto, key: string, format: PayloadFormat, topic: string, message: Uint8Array): OpenedTelemetry {
  let body: Uint8Array;
  let counter: Uint8Array;
  let mac: Uint8Array;
  if (format === "senml-json") {
    const head = utf8Encode(RECORD_HEAD);
    const at = message.length - tagBytes(format) - 1;
    const hex = at < 0 ? undefined : fromHex(asciiOf(message.subarray(at + head.length, message.length - RECORD_TAIL.length)));
    if (at < 0 || !sameBytes(message.subarray(at, at + head.length), head) || !hex || hex.length !== TRAILER_BYTES || asciiOf(message.subarray(message.length - RECORD_TAIL.length)) !== RECORD_TAIL) {
      return { error: "no torpor:auth record closing the pack" };
    }
    body = message.subarray(0, at);
    counter = hex.subarray(0, COUNTER_BYTES);
    mac = hex.subarray(COUNTER_BYTES);
  } else {
    if (message.length <= TRAILER_BYTES) return { error: `shorter than its ${TRAILER_BYTES}-byte trailer` };
    body = message.subarray(0, message.length - TRAILER_BYTES);
    counter = message.subarray(body.length, body.length + COUNTER_BYTES);
    mac = message.subarray(body.length + COUNTER_BYTES);
  }
  if (!sameBytes(tag(crypto, key, topic, counter, body), mac)) return { error: "wrong tag: forged, altered or sent under another key" };
  const view = new DataView(counter.buffer, counter.byteOffset, COUNTER_BYTES);
  const opened = { epoch: view.getUint16(0), first: view.getUint32(2), kind: view.getUint8(6) };
  if (format !== "senml-json") return { payload: body, counter: opened };
  const payload = new Uint8Array(body.length + 1);
  payload.set(body);
  payload[body.length] = 0x5d;
  return { payload, counter: opened };
}

function asciiOf(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}
