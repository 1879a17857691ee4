// Signed commands (docs/security.md): with a `commandKey`, what arrives on the command topic is an
// envelope — one signature line, then the command —
//
//   torpor-cmd-1 <counter> <64 hex digits: HMAC-SHA-256>\n<command JSON>
//
// and the HMAC is over "torpor-cmd-1\n<node>\n<counter>\n" followed by the command's bytes, under
// the key's UTF-8 bytes. The node name binds a command to one node; the counter, a decimal integer
// that must exceed every counter the node accepted before, makes each envelope good once. The
// node keeps the highest it accepted (`CommandGuard`); the operator's tool numbers commands with
// the milliseconds of its clock, so it keeps no state of its own.

import type { Crypto } from "../host";
import { fromHex, sameBytes, toHex } from "../encoding/hex";
import { utf8Encode } from "../encoding/utf8";

const ENVELOPE_TAG = "torpor-cmd-1";

/** Bytes of the signature line, newline included: the tag, a counter of up to 15 digits (below
 *  2^53, exact in a double), 64 hex digits and the separators. */
const MAX_LINE_BYTES = ENVELOPE_TAG.length + 1 + 15 + 1 + 64 + 1;

const MAC_BYTES = 32;

/** What the HMAC covers. */
function macInput(node: string, counter: number, command: Uint8Array): Uint8Array {
  const head = utf8Encode(`${ENVELOPE_TAG}\n${node}\n${counter}\n`);
  const out = new Uint8Array(head.length + command.length);
  out.set(head);
  out.set(command, head.length);
  return out;
}

/** The envelope for `command`: what the operator's tool publishes. */
export function sealCommand(crypto: Crypto, key: string, node: string, counter: number, command: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(counter) || counter < 1) throw new RangeError(`command counter ${counter} is not a whole number from 1 to 2^53 - 1`);
  const mac = crypto.hmacSha256(utf8Encode(key), macInput(node, counter, command));
  const head = utf8Encode(`${ENVELOPE_TAG} ${counter} ${toHex(mac)}\n`);
  const out = new Uint8Array(head.length + command.length);
  out.set(head);
  out.set(command, head.length);
  return out;
}

export type Opened = { command: Uint8Array; counter: number } | { refused: string };

/**
 * The command inside an envelope signed under one of `keys` for `node`, or why it is refused. The
 * counter is judged only after the signature, so "replayed" is said only of a genuine envelope.
 */
export function openCommand(crypto: Crypto, keys: readonly string[], node: string, envelope: Uint8Array, highest: number): Opened {
  const newline = envelope.subarray(0, MAX_LINE_BYTES).indexOf(0x0a);
  const line = newline < 0 ? "" : ascii(envelope.subarray(0, newline));
  if (!line.startsWith(`${ENVELOPE_TAG} `)) return { refused: newline < 0 && startsWith(envelope, ENVELOPE_TAG) ? "truncated signature line" : "unsigned" };
  const m = /^[a-z0-9-]+ ([1-9][0-9]{0,14}) ([0-9a-f]{64})$/.exec(line);
  const mac = m ? fromHex(m[2]!) : undefined;
  if (!m || mac?.length !== MAC_BYTES) return { refused: "malformed signature line" };
  const counter = Number(m[1]);
  const command = envelope.subarray(newline + 1);
  const input = macInput(node, counter, command);
  if (!keys.some((key) => sameBytes(crypto.hmacSha256(utf8Encode(key), input), mac))) return { refused: "wrong signature" };
  if (counter <= highest) return { refused: `replayed (counter ${counter}, accepted up to ${highest})` };
  return { command, counter };
}

/** The line as text if it is printable ASCII, as every well-formed one is; else "". (Decoding it
 *  as UTF-8 would throw on the bytes of a forger.) */
function ascii(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    if (b < 0x20 || b > 0x7e) return "";
    s += String.fromCharCode(b);
  }
  return s;
}

function startsWith(bytes: Uint8Array, ascii: string): boolean {
  const n = Math.min(bytes.length, ascii.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== ascii.charCodeAt(i)) return false;
  return n > 0;
}
