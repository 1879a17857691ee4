// A Moddable app that checks and measures the update's proof as both Moddable hosts run it
// (updateCrypto: the SDK's crypt modules), for check:moddable and bench/update-crypto-mcsim.ts.
// A real offer's key, text and signature and a chunk with its digest come through mc/config. It
// prints one line, "update-crypto: {…}": whether the offer verifies and each malformed variant is
// refused (false, never an exception), then the milliseconds per call of the SDK's check and hash
// and, as the baseline measured in the same run, the harness's script SHA-256 and P-256
// (tools/xs), which the xsnap figures were measured with.

import config from "mc/config";
import Time from "time";
import { updateCrypto } from "hosts/moddable/update-crypto";
import { p256Verify } from "tools/xs/p256";
import { sha256 as scriptSha256 } from "tools/xs/sha256";

/** Each operation runs for at least this long, so that a call shorter than a tick is measured too. */
const RUN_MS = 1000;

function bytes(key: string): Uint8Array {
  const hex: unknown = config[key];
  if (typeof hex !== "string" || !/^([0-9a-f]{2})+$/.test(hex)) throw new Error(`mc/config ${key}: not hex`);
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Milliseconds per call of `op`, and whether every call answered true. */
function measure(op: () => boolean): { ms: number; calls: number; right: boolean } {
  let right = op();
  const start = Time.ticks;
  let calls = 0;
  while (Time.ticks - start < RUN_MS) {
    right = op() && right;
    calls++;
  }
  return { ms: (Time.ticks - start) / calls, calls, right };
}

const key = bytes("pub");
const message = bytes("message");
const signature = bytes("signature");
const chunk = bytes("chunk");
const digest = bytes("digest");

const changed = (from: Uint8Array, at: number, value?: number) => {
  const copy = from.slice();
  copy[at] = value ?? copy[at]! ^ 1;
  return copy;
};
/** The order of P-256's base point, big-endian: no valid r or s is as large. */
const order = Uint8Array.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551".match(/../g)!, (h) => parseInt(h, 16));
const joined = (r: Uint8Array, s: Uint8Array) => Uint8Array.of(...r, ...s);

const malformed: Record<string, [Uint8Array, Uint8Array, Uint8Array]> = {
  "signature changed": [key, message, changed(signature, 40)],
  "message changed": [key, changed(message, 0), signature],
  "key off the curve": [key, message, changed(key, 64)],
  "key compressed": [changed(key, 0, 2), message, signature],
  "key short": [key.subarray(0, 64), message, signature],
  "key coordinates past the prime": [new Uint8Array(65).fill(0xff, 1).fill(4, 0, 1), message, signature],
  "r zero": [key, message, joined(new Uint8Array(32), signature.subarray(32))],
  "s the order": [key, message, joined(signature.subarray(0, 32), order)],
  "signature short": [key, message, signature.subarray(0, 63)],
};
const refused: Record<string, boolean | string> = {};
for (const [name, [k, m, s]] of Object.entries(malformed)) {
  try {
    refused[name] = updateCrypto.verify(k, m, s) === false;
  } catch (e) {
    refused[name] = `threw ${String(e)}`;
  }
}

const report = {
  verifies: updateCrypto.verify(key, message, signature),
  hashes: same(updateCrypto.sha256(chunk), digest),
  refused,
  sdkVerify: measure(() => updateCrypto.verify(key, message, signature)),
  scriptVerify: measure(() => p256Verify(key, message, signature)),
  sdkSha256: measure(() => same(updateCrypto.sha256(chunk), digest)),
  scriptSha256: measure(() => same(scriptSha256(chunk), digest)),
};
trace(`update-crypto: ${JSON.stringify(report)}\n`);
