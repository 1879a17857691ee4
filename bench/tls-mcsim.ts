// bench:tls in mcsim: the Moddable TLS stack's connecting wakes, plain, full and resumed, through the
// same 50 ms proxy against mosquitto. The simulator app is built for the proxy's port (with the test
// CA as a resource, as a device build carries it) and runs wake after wake, 2 s apart; for the full
// handshakes the session file its host keeps beside the retained one is removed after each wake,
// as if the RTC memory had lost it, and then left alone for the resumed ones.

import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Pki } from "../test/support/pki";
import { startProxy } from "../test/support/proxy";
import { buildSimulator, findSdk, has, removeOutput, sdkEnv, simulatorBinary, stopGroup, writeWrapperManifest, type Sdk } from "../tools/check-moddable";
import { startMosquitto } from "../tools/mosquitto";
import { DELAY_MS, flights, summary, type Figures } from "./tls-flights";

/** A bound on one run of the simulator: its wakes are 2 s apart. */
const RUN_MS = 120_000;

/** `count` connecting wakes of the simulator app against a broker with `listener`; after each of the
 *  first `forget` wakes the kept session is removed. Returns each connection's figures. */
async function run(sdk: Sdk, appDir: string, listener: string[], secure: boolean, count: number, forget: number) {
  const broker = await startMosquitto({ listener });
  const proxy = await startProxy({ host: "127.0.0.1", port: broker.port }, { delayMs: DELAY_MS });
  const node = `tls-bench-${process.pid}`;
  const stateFiles = ["retained", "flash-state", "tls"].map((f) => path.join(os.tmpdir(), `torpor-${node}.${f}`));
  stateFiles.forEach((f) => fs.rmSync(f, { force: true }));
  let simulator: ReturnType<typeof spawn> | undefined;
  try {
    const settings = [`broker=${secure ? "mqtts" : "mqtt"}://127.0.0.1:${proxy.port}`, `node=${node}`, "batchSize=1", "sampleInterval=2", "mqttVersion=4", ...(secure ? ["tlsCa=bench-ca.der"] : [])];
    const built = await buildSimulator(sdk, "release", settings, appDir);
    if (!built.ok) throw new Error(`mcsim build failed:\n${built.detail}`);
    simulator = spawn("xvfb-run", ["-a", "stdbuf", "-o0", path.join(sdk.bin, "mcsim"), simulatorBinary(sdk, "release", path.basename(appDir))], { env: sdkEnv(sdk), detached: true, stdio: ["ignore", "pipe", "ignore"] });
    // The host's line for each TLS connection: its kind and the client's handshake work.
    const work: number[] = [];
    let output = "";
    simulator.stdout!.on("data", (d: Buffer) => {
      output += d.toString();
      for (let end = output.indexOf("\n"); end >= 0; end = output.indexOf("\n")) {
        const m = /TLS: \w+ handshake, (\d+) ms of client work/.exec(output.slice(0, end));
        if (m) work.push(Number(m[1]));
        output = output.slice(end + 1);
      }
    });
    const deadline = Date.now() + RUN_MS;
    let forgotten = 0;
    while (Date.now() < deadline) {
      const done = proxy.connections.filter((c) => c.closedAt !== undefined).length;
      if (done >= count) break;
      // Only after the wake's connection closed: the next wake is two seconds away.
      for (; forgotten < Math.min(done, forget); forgotten++) fs.rmSync(stateFiles[2]!, { force: true });
      await new Promise((r) => setTimeout(r, 50));
    }
    const traces = proxy.connections.filter((c) => c.closedAt !== undefined).slice(0, count);
    if (traces.length < count) throw new Error(`mcsim made ${traces.length} of ${count} connections within ${RUN_MS / 1000} s`);
    return traces.map((trace, i) => ({ ...flights(trace), bytesUp: trace.up.bytes, bytesDown: trace.down.bytes, ...(secure && work[i] !== undefined ? { workMs: work[i] } : {}) }));
  } finally {
    if (simulator) await stopGroup(simulator);
    await proxy.close();
    await broker.stop();
    stateFiles.forEach((f) => fs.rmSync(f, { force: true }));
  }
}

/** Plain, full (ECDHE: the only suites the hosts offer) and resumed wakes in mcsim, `repeat` each
 *  after a first one left out; or why they could not be measured here. */
export async function mcsimWakes(pki: Pki, secureListener: string[], repeat: number): Promise<Record<string, Figures> | { skipped: string }> {
  const sdk = findSdk();
  if (!sdk) return { skipped: "$MODDABLE is not set" };
  if (sdk.desktop !== "lin" || !has("xvfb-run")) return { skipped: "a headless simulator run needs Linux and xvfb-run" };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-bench-tls-"));
  try {
    // mcconfig names the app after its directory.
    const appDir = path.join(dir, "torpor-tls");
    fs.mkdirSync(appDir);
    execFileSync("openssl", ["x509", "-in", pki.ca, "-outform", "DER", "-out", path.join(appDir, "bench-ca.der")]);
    writeWrapperManifest(appDir, { resources: { "*": ["./bench-ca"] } });
    const plain = await run(sdk, appDir, [], false, repeat + 1, 0);
    // Full handshakes at wakes 1..repeat+1 (the session removed after each), then resumed ones.
    const secure = await run(sdk, appDir, secureListener, true, 2 * repeat + 2, repeat + 1);
    return {
      plain: summary(plain.slice(1)),
      "full, ECDHE": summary(secure.slice(1, repeat + 1)),
      resumed: summary(secure.slice(repeat + 2)),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    removeOutput(sdk);
  }
}
