// torpor's MQTT client against the Moddable SDK's ECMA-419 mqttclient (examples/io/tcp/mqttclient),
// both in mcsim, through a loopback proxy that adds 50 ms each way, with one app driving either
// (bench/mqtt-client-apps: the same code, its manifest picks the client). A node wakes, writes three
// QoS 1 messages as soon as the client offers room and sleeps; that connection is cut right after
// its CONNACK (a radio lost mid-publish). The next wake writes a fourth and stays until the broker
// has acknowledged what the client sent. Per client: the messages a subscriber got (and lost), and
// the second wake's round trips (TCP connected to the last PUBACK, over the proxy's round trip) and
// bytes each way. MQTT 3.1.1, the SDK client's only version; mosquitto is the broker.
//
//   MODDABLE=/path/to/moddable npm run --silent build && node dist/bench/mqtt-client-sdk.js

import { spawn } from "node:child_process";
import * as path from "node:path";
import { connectAsync } from "mqtt";
import { buildSimulator, findSdk, removeOutput, repoRoot, sdkEnv, simulatorBinary, stopGroup, type Sdk } from "../tools/check-moddable";
import { mosquittoMissing, startMosquitto } from "../tools/mosquitto";
import { PacketType, startProxy, type ConnectionTrace, type Proxy } from "../test/support/proxy";

const DELAY_MS = 50;
const RTT_MS = 2 * DELAY_MS;
const WRITTEN = ["m1", "m2", "m3", "m4"];

const round = (x: number) => Math.round(x * 100) / 100;

function wake(trace: ConnectionTrace | undefined) {
  if (!trace) return undefined;
  const acks = trace.down.frames.filter((f) => f.type === PacketType.PUBACK);
  const lastAck = acks.length ? Math.max(...acks.map((f) => f.at)) - trace.openedAt : NaN;
  return { roundTripsToLastPuback: round(lastAck / RTT_MS), pubacks: acks.length, bytesUp: trace.up.bytes, bytesDown: trace.down.bytes };
}

async function runClient(sdk: Sdk, proxy: Proxy, kind: "sdk" | "torpor", received: string[]) {
  const dir = path.join(repoRoot, "bench", "mqtt-client-apps", kind);
  const built = await buildSimulator(sdk, "release", [`broker=mqtt://127.0.0.1:${proxy.port}`], dir);
  if (!built.ok) throw new Error(`${kind}: ${built.detail}`);
  const first = proxy.connections.length;
  received.length = 0;
  proxy.next({ delayMs: DELAY_MS, cutAfterDown: PacketType.CONNACK });
  const simulator = spawn("xvfb-run", ["-a", "stdbuf", "-o0", "-e0", path.join(sdk.bin, "mcsim"), simulatorBinary(sdk, "release", kind)], {
    cwd: repoRoot,
    env: sdkEnv(sdk),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      const collect = (d: Buffer) => {
        output += d.toString();
        if (/life 2: done|XS abort/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      simulator.stdout!.on("data", collect);
      simulator.stderr!.on("data", collect);
    });
  } finally {
    await stopGroup(simulator);
  }
  const distinct = new Set(received);
  return {
    log: output.split("\n").filter((l) => l && !l.startsWith("instruments")),
    delivered: WRITTEN.filter((m) => distinct.has(m)).length,
    lost: WRITTEN.filter((m) => !distinct.has(m)),
    duplicates: received.length - distinct.size,
    firstWake: wake(proxy.connections[first]),
    secondWake: wake(proxy.connections[first + 1]),
  };
}

async function main(): Promise<void> {
  const sdk = findSdk();
  const missing = !sdk ? "MODDABLE is not set" : mosquittoMissing();
  if (!sdk || missing) {
    process.stdout.write(`${JSON.stringify({ bench: "mqtt-client-sdk", skipped: missing })}\n`);
    return;
  }
  const mosquitto = await startMosquitto();
  const proxy = await startProxy({ port: mosquitto.port }, { delayMs: DELAY_MS });
  const subscriber = await connectAsync(mosquitto.url, { clean: true });
  const received: string[] = [];
  subscriber.on("message", (_topic, payload) => received.push(payload.toString()));
  try {
    await subscriber.subscribeAsync("bench/mqtt-client/out", { qos: 1 });
    const sdkRun = await runClient(sdk, proxy, "sdk", received);
    const torporRun = await runClient(sdk, proxy, "torpor", received);
    const result = {
      bench: "mqtt-client-sdk",
      baseline: "the SDK's examples/io/tcp/mqttclient",
      setup: { delayMsEachWay: DELAY_MS, roundTripMs: RTT_MS, mqtt: "3.1.1", broker: "mosquitto", written: WRITTEN, firstWake: "cut after CONNACK" },
      sdk: sdkRun,
      torpor: torporRun,
      target: `messages lost across the restart: torpor ${torporRun.lost.length}, SDK ${sdkRun.lost.length}; torpor loses none: ${torporRun.lost.length === 0 ? "met" : "missed"}`,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await subscriber.endAsync();
    await proxy.close();
    await mosquitto.stop();
    removeOutput(sdk);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
