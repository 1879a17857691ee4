// Benchmark: what an update's proof costs on the Moddable hosts, in mcsim (docs/updates.md): one
// offer's ECDSA P-256 check and one 2,048-byte chunk's SHA-256 with the SDK's crypt modules
// (updateCrypto), per call, in a release build of tools/update-crypto-app. Baseline, measured in
// the same run and process: the harness's script SHA-256 and P-256 (tools/xs), the crypto the
// xsnap figures of bench/update.ts were measured with. The offer is a real one (`update keygen`,
// `update offer`) and every answer is checked. Times are this desktop's, not a device's: the ratio
// to the baseline is what carries over.
//
//   MODDABLE=/path/to/moddable npm run --silent build && node dist/bench/update-crypto-mcsim.js

import { findSdk, removeOutput, runUpdateCryptoApp } from "../tools/check-moddable";
import { DEFAULT_CHUNK_BYTES } from "../tools/update/offer";

const round = (x: number) => Math.round(x * 1000) / 1000;

export async function updateCryptoMcsimBench() {
  const sdk = findSdk();
  if (!sdk) return { skipped: "MODDABLE is not set" };
  try {
    const r = await runUpdateCryptoApp(sdk);
    if ("skipped" in r) return r;
    if (!r.verifies || !r.sdkVerify.right || !r.scriptVerify.right || !r.sdkSha256.right || !r.scriptSha256.right) throw new Error(`a wrong answer: ${JSON.stringify(r)}`);
    return {
      benchmark: "update proof on the Moddable hosts: the SDK's crypt (updateCrypto) against the harness's script crypto, both in mcsim, ms per call on this desktop",
      verifyOffer: { sdkMs: round(r.sdkVerify.ms), baselineScriptMs: round(r.scriptVerify.ms), speedup: round(r.scriptVerify.ms / r.sdkVerify.ms) },
      hashChunk: { bytes: DEFAULT_CHUNK_BYTES, sdkMs: round(r.sdkSha256.ms), baselineScriptMs: round(r.scriptSha256.ms), speedup: round(r.scriptSha256.ms / r.sdkSha256.ms) },
    };
  } finally {
    removeOutput(sdk);
  }
}

if (require.main === module) void updateCryptoMcsimBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
