// bench/update-crypto-mcsim.ts's app: what an update's proof costs in mcsim with the SDK's crypt
// modules (updateCrypto, as both Moddable hosts run it) and, as the baseline in the same run, with
// the harness's script SHA-256 and P-256 (tools/xs) that the xsnap figures were measured with. The
// key, message, signature and chunk come through mc/config; one line "bench: {…}" says what each
// took per call and whether every call gave the right answer.

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

/** Milliseconds per call of `op`, and whether every call said what `right` expects. */
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
const forged = signature.slice();
forged[40] ^= 1;

const report = {
  sdkVerify: measure(() => updateCrypto.verify(key, message, signature)),
  sdkRefuses: updateCrypto.verify(key, message, forged) === false,
  scriptVerify: measure(() => p256Verify(key, message, signature)),
  sdkSha256: measure(() => same(updateCrypto.sha256(chunk), digest)),
  scriptSha256: measure(() => same(scriptSha256(chunk), digest)),
};
trace(`bench: ${JSON.stringify(report)}\n`);
