// Benchmark: what an update's proof costs on the Moddable hosts, in mcsim (docs/updates.md): one
// offer's ECDSA P-256 check and one 2,048-byte chunk's SHA-256 with the SDK's crypt modules
// (updateCrypto), per call, in a release build. Baseline, measured in the same run and process: the
// harness's script SHA-256 and P-256 (tools/xs), the crypto the xsnap figures of bench/update.ts
// were measured with. The offer is a real one (`update keygen`, `update offer`); the app
// (bench/update-crypto-app) checks every answer. Times are this desktop's, not a device's: the
// ratio to the baseline is what carries over.
//
//   MODDABLE=/path/to/moddable npm run --silent build && node dist/bench/update-crypto-mcsim.js

import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { imageText } from "../hosts/node/firmware";
import { toHex } from "../src/encoding/hex";
import { parseUpdateKey } from "../src/update/key";
import { buildSimulator, findSdk, has, removeOutput, repoRoot, sdkEnv, simulatorBinary, stopGroup, type Sdk } from "../tools/check-moddable";
import { keygen, readSigningKey } from "../tools/update/keys";
import { DEFAULT_CHUNK_BYTES, offerMessages } from "../tools/update/offer";

/** A bound on the app's run: it measures each of four operations for a second. */
const RUN_MS = 60_000;

interface Measured {
  ms: number;
  calls: number;
  right: boolean;
}

interface AppReport {
  sdkVerify: Measured;
  sdkRefuses: boolean;
  scriptVerify: Measured;
  sdkSha256: Measured;
  scriptSha256: Measured;
}

/** The app's settings (mc/config): a real offer's key, text and signature, and a chunk and its digest. */
function vectors(dir: string): string[] {
  const keys = keygen(dir);
  const image = Buffer.from(imageText({ version: "9.0.0", board: "sim" }, crypto.randomBytes(2 * DEFAULT_CHUNK_BYTES).toString("base64")));
  const { messages } = offerMessages(image, readSigningKey(keys.key), { prefix: "torpor", nodes: [], chunk: DEFAULT_CHUNK_BYTES, battery: 0, downgrade: false });
  const envelope = JSON.parse(messages.at(-1)!.payload.toString("utf8")) as { offer: string; sig: string };
  const chunk = image.subarray(0, DEFAULT_CHUNK_BYTES);
  return [
    `pub=${toHex(parseUpdateKey(fs.readFileSync(keys.pub, "utf8"))!)}`,
    `message=${toHex(Buffer.from(envelope.offer))}`,
    `signature=${envelope.sig}`,
    `chunk=${toHex(chunk)}`,
    `digest=${crypto.createHash("sha256").update(chunk).digest("hex")}`,
  ];
}

async function run(sdk: Sdk, settings: string[]): Promise<AppReport> {
  const app = path.join(repoRoot, "bench", "update-crypto-app");
  const built = await buildSimulator(sdk, "release", settings, app);
  if (!built.ok) throw new Error(`mcsim build failed:\n${built.detail}`);
  const simulator = spawn("xvfb-run", ["-a", "stdbuf", "-o0", "-e0", path.join(sdk.bin, "mcsim"), simulatorBinary(sdk, "release", path.basename(app))], {
    env: sdkEnv(sdk),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  try {
    const line = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), RUN_MS);
      const collect = (d: Buffer) => {
        output += d.toString();
        const done = /^bench: .*$/m.exec(output) ?? /XS abort[^\n]*/.exec(output);
        if (done) {
          clearTimeout(timer);
          resolve(done[0]);
        }
      };
      simulator.stdout!.on("data", collect);
      simulator.stderr!.on("data", collect);
      simulator.on("exit", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    if (!line?.startsWith("bench: ")) throw new Error(`the app reported nothing (${line ?? "no line"}):\n${output.slice(-2000)}`);
    return JSON.parse(line.slice("bench: ".length)) as AppReport;
  } finally {
    await stopGroup(simulator);
  }
}

export async function updateCryptoMcsimBench() {
  const sdk = findSdk();
  if (!sdk) return { skipped: "MODDABLE is not set" };
  if (sdk.desktop !== "lin" || !has("xvfb-run")) return { skipped: "a headless simulator run needs Linux and xvfb-run" };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-bench-update-crypto-"));
  try {
    const r = await run(sdk, vectors(dir));
    if (!r.sdkVerify.right || !r.sdkRefuses || !r.scriptVerify.right || !r.sdkSha256.right || !r.scriptSha256.right) throw new Error(`a wrong answer: ${JSON.stringify(r)}`);
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      benchmark: "update proof on the Moddable hosts: the SDK's crypt (updateCrypto) against the harness's script crypto, both in mcsim, ms per call on this desktop",
      verifyOffer: { sdkMs: round(r.sdkVerify.ms), baselineScriptMs: round(r.scriptVerify.ms), speedup: round(r.scriptVerify.ms / r.sdkVerify.ms) },
      hashChunk: { bytes: DEFAULT_CHUNK_BYTES, sdkMs: round(r.sdkSha256.ms), baselineScriptMs: round(r.scriptSha256.ms), speedup: round(r.scriptSha256.ms / r.sdkSha256.ms) },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    removeOutput(sdk);
  }
}

if (require.main === module) void updateCryptoMcsimBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
