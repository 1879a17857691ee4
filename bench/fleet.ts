// A fleet in one process against a real mosquitto: nodes, simulated hours, wakes per second,
// CPU-seconds per wake, resident memory per node, readings sampled / acknowledged / at an
// independent subscriber / lost / duplicated, and mosquitto's own CPU; baseline: the
// process-per-wake host (hosts/node/wake, one process per wake), measured in the same run.
//
// - Sizes: 1,000 nodes for a simulated hour (1-minute sampling: 60 wakes each; a simulated day of
//   that fleet is projected as 24 such hours unless --day runs it whole), 10,000 nodes for three
//   acknowledged batches each (as `npm start -- --nodes 10000 --time-scale max --cycles 3`), and
//   100,000 nodes for one batch each (their memory is the point).
// - Time scale "max": as fast as this process, mosquitto and the subscriber go. Each node's wakes
//   run at their simulated times; simulated time is held while a wake talks to the broker.
// - The subscriber is MQTT.js with a persistent session (clean: false, QoS 1), in this process (its
//   CPU is in the fleet's CPU-seconds). Lost = sampled - still buffered in the nodes - distinct
//   readings at the subscriber. mosquitto runs with max_queued_messages 0: its default (1,000)
//   drops QoS 1 messages for a subscriber that falls that far behind, which a fleet's burst does.
// - Resident memory per node: the process's peak RSS during the run, above what it was before, per
//   node (every wake's garbage included: an upper bound of what a node costs).
//
//   npm run bench:fleet [-- --sizes 1000,10000,100000] [--day]

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { connectAsync } from "mqtt";
import { layeredConfig, manifestConfig } from "../hosts/node/config-file";
import { runFleet, type FleetResult } from "../hosts/node/fleet";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "../tools/mosquitto";
import { ReadingCounter } from "../tools/start";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

interface Run {
  nodes: number;
  simulatedHours: number;
  wakes: number;
  wallSeconds: number;
  wakesPerSecond: number;
  cpuSecondsPerWake: number;
  peakRssMB: number;
  residentBytesPerNode: number;
  readings: { sampled: number; acknowledged: number; atSubscriber: number; lost: number; duplicatedValues: number; stillBuffered: number };
  failedPublishes: number;
  brokerCpuSeconds: number;
  brokerCpuSecondsPerWake: number;
}

/** CPU seconds a process has used (user + system), from /proc. */
function cpuOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function fleetRun(broker: Mosquitto, nodes: number, span: { cycles?: number; hours?: number }): Promise<Run> {
  const prefix = `bench${nodes}x${span.cycles ?? "h"}`;
  const { config } = layeredConfig(manifestConfig(), { broker: broker.url, prefix, sampleInterval: 60, batchSize: 5 });
  const counter = new ReadingCounter(config);
  const subscriber = await connectAsync(broker.url, { clean: false, clientId: `${prefix}-watcher`, reconnectPeriod: 500 });
  // Ended on every path: a failed run leaves no client retrying the broker that main then stops.
  try {
    subscriber.on("message", (topic, payload) => counter.handle(topic, payload));
    await subscriber.subscribeAsync(`${prefix}/+/telemetry`, { qos: 1 });
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
    const names = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
    const brokerBefore = cpuOf(broker.pid);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let result: FleetResult;
    try {
      result = await runFleet({ names, config, scale: "max", startMs: T0, ...(span.cycles ? { cycles: span.cycles } : {}), ...(span.hours ? { untilMs: T0 + span.hours * HOUR - 1 } : {}) });
    } finally {
      clearInterval(sampler);
    }
    const wall = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    peak = Math.max(peak, process.memoryUsage().rss);
    const expected = result.sampled - result.buffered;
    for (let i = 0; i < 600 && counter.readings < expected; i++) await new Promise((r) => setTimeout(r, 50));
    const brokerCpu = cpuOf(broker.pid) - brokerBefore;
    return {
      nodes,
      simulatedHours: Number(((result.simulatedMs + 60_000) / HOUR).toFixed(3)),
      wakes: result.wakes,
      wallSeconds: Number(wall.toFixed(2)),
      wakesPerSecond: Math.round(result.wakes / wall),
      cpuSecondsPerWake: Number(((cpu.user + cpu.system) / 1e6 / result.wakes).toPrecision(3)),
      peakRssMB: Math.round(peak / 2 ** 20),
      residentBytesPerNode: Math.round((peak - rssBefore) / nodes),
      readings: {
        sampled: result.sampled,
        acknowledged: result.delivered,
        atSubscriber: counter.readings,
        lost: expected - counter.readings,
        duplicatedValues: counter.duplicates,
        stillBuffered: result.buffered,
      },
      failedPublishes: result.failures,
      brokerCpuSeconds: Number(brokerCpu.toFixed(2)),
      brokerCpuSecondsPerWake: Number((brokerCpu / result.wakes).toPrecision(3)),
    };
  } finally {
    await subscriber.endAsync(true);
  }
}

/** The process-per-wake host: `wakes` wakes of one node, each a process, one after the other;
 *  the children's CPU from the shell's `times`. */
function processPerWake(broker: Mosquitto, wakes: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-bench-fleet-"));
  const config = path.join(dir, "config.json");
  fs.writeFileSync(config, JSON.stringify({ node: "baseline", broker: broker.url, prefix: "benchbaseline", sampleInterval: 60, batchSize: 5 }));
  const wake = path.join(__dirname, "..", "hosts", "node", "wake.js");
  const script = `for i in $(seq ${wakes}); do "${process.execPath}" "${wake}" --state "${dir}/state" --config "${config}" --time-scale 1000000 >/dev/null || exit 1; done; times`;
  const started = performance.now();
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
  const wall = (performance.now() - started) / 1000;
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`process-per-wake baseline failed: ${r.stderr}`);
  const seconds = (t: string) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t)!;
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const [user, system] = r.stdout.trim().split("\n").at(-1)!.split(/\s+/);
  const cpuPerWake = (seconds(user!) + seconds(system!)) / wakes;
  return {
    wakes,
    wallSecondsPerWake: Number((wall / wakes).toFixed(3)),
    cpuSecondsPerWake: Number(cpuPerWake.toFixed(3)),
    wakesPerSecondOnTwoCores: Number((2 / cpuPerWake).toFixed(1)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: "string", default: "1000,10000,100000" }, day: { type: "boolean", default: false } } });
  const sizes = values.sizes.split(",").map(Number);
  const missing = mosquittoMissing();
  if (missing) throw new Error(missing);
  const broker = await startMosquitto({ config: ["max_queued_messages 0"], listener: ["max_connections -1"] });
  try {
    const baseline = processPerWake(broker, 6);
    const runs: Record<string, Run> = {};
    for (const nodes of sizes) {
      const span = nodes <= 1000 ? { hours: values.day ? 24 : 1 } : { cycles: nodes >= 100_000 ? 1 : 3 };
      runs[String(nodes)] = await fleetRun(broker, nodes, span);
    }
    const small = runs["1000"];
    const mid = runs["10000"];
    const big = runs["100000"];
    const daySeconds = small ? (small.wallSeconds * 24) / small.simulatedHours : undefined;
    const targets = [
      mid && { target: "≥ 1,000 simulated wakes/s on 2 cores with 0 readings lost (10,000 nodes)", value: `${mid.wakesPerSecond} wakes/s, ${mid.readings.lost} lost`, met: mid.wakesPerSecond >= 1000 && mid.readings.lost === 0 },
      big && { target: "100,000 nodes held in ≤ 2 GB", value: `${big.peakRssMB} MB peak RSS`, met: big.peakRssMB <= 2048 },
      daySeconds !== undefined && { target: "a simulated day of 1,000 nodes at 1-minute sampling in < 10 min", value: `${(daySeconds / 60).toFixed(1)} min${values.day ? "" : " (projected from a simulated hour; --day runs it)"}`, met: daySeconds < 600 },
    ].filter(Boolean);
    const result = {
      bench: "fleet",
      machine: { cores: os.cpus().length, node: process.version },
      broker: "mosquitto (max_queued_messages 0), loopback",
      baseline: { name: "process-per-wake (hosts/node/wake, one process per wake)", ...baseline },
      fleet: runs,
      targets: targets.map((t) => t && { ...t, met: t.met ? "met" : "missed" }),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await broker.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:fleet: ${(e as Error).message}\n`);
  process.exit(1);
});
