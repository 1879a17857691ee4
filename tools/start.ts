// `npm start`: simulated torpor nodes on the Node host, an embedded MQTT broker, and the decoded
// telemetry as any subscriber sees it. Each wake is one process (hosts/node/wake); this runner plays
// the part of the RTC, starting the next wake when the sleep is over, in scaled time, and restarting
// a node whose process died as a reset.

import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { parseArgs } from "node:util";
import { ConfigError } from "../src/config";
import { layeredConfig, manifestConfig, readConfigFile, type RawConfig } from "../hosts/node/config-file";
import type { WakeReport } from "../hosts/node/wake";
import { parseSim } from "../hosts/sim/devices/faults";
import { startEmbeddedBroker, type EmbeddedBroker } from "./broker";
import { formatEvent, TelemetryMonitor } from "./monitor";
import { UsageError } from "./usage-error";

const usage = `usage: npm start -- [options]

Runs simulated torpor nodes (Node host, virtual SHT3x) against an MQTT broker and prints what they do
and the telemetry a subscriber receives, decoded.

  --broker URL       use this broker (mqtt://host:port) instead of an embedded one
  --nodes N          number of nodes (default 1)
  --cycles N         stop each node after its N-th acknowledged publish, then exit 0
  --time-scale X     simulated seconds per real second (default 60: a 60 s interval wakes about
                     once a second)
  --state DIR        keep each node's retained memory and clock in DIR/<node> (default: a new
                     temporary directory, so every run starts clean)
  --config FILE      JSON file of config keys (as in manifest.json "config") overriding the manifest
  --replay CSV       drive the virtual sensors from a recording (e.g. ../shared/data/*.csv)
  --help             show this help
`;

export interface StartOptions {
  broker?: string;
  nodes: number;
  cycles?: number;
  timeScale: number;
  state?: string;
  config?: string;
  replay?: string;
}

function parseStartArgs(argv: string[]): StartOptions | "help" {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        broker: { type: "string" },
        nodes: { type: "string" },
        cycles: { type: "string" },
        "time-scale": { type: "string" },
        state: { type: "string" },
        config: { type: "string" },
        replay: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
  if (values.help) return "help";
  const count = (flag: string, value: string | undefined, min: number, max: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
    return n;
  };
  const options: StartOptions = { nodes: count("nodes", values.nodes, 1, 100) ?? 1, timeScale: 60 };
  const cycles = count("cycles", values.cycles, 1, 1_000_000);
  if (cycles !== undefined) options.cycles = cycles;
  if (values["time-scale"] !== undefined) {
    const x = Number(values["time-scale"]);
    if (!(x > 0 && x <= 1_000_000)) throw new UsageError(`--time-scale must be a number above 0 and at most 1000000, got "${values["time-scale"]}"`);
    options.timeScale = x;
  }
  if (values.broker !== undefined) {
    if (!/^mqtts?:\/\/[^/\s]+$/.test(values.broker)) throw new UsageError(`--broker must be an mqtt://host:port URL, got "${values.broker}"`);
    options.broker = values.broker;
  }
  if (values.state !== undefined) options.state = values.state;
  if (values.config !== undefined) options.config = values.config;
  if (values.replay !== undefined) {
    if (!fs.existsSync(values.replay)) throw new UsageError(`--replay ${values.replay}: no such file`);
    options.replay = values.replay;
  }
  return options;
}

/** Runs the simulation; resolves when every node has done its cycles (or never, without --cycles). */
export async function start(options: StartOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  // Validate the config before starting anything, so a bad key is one clear line and exit code 2.
  const userConfig: RawConfig = options.config ? readConfigFile(options.config) : {};
  const base = layeredConfig(manifestConfig(), userConfig, options.broker ? { broker: options.broker } : {});
  // The simulation settings too: a bad one would otherwise fail every wake, forever.
  parseSim(base.raw.sim, base.config.sensors);

  let broker: EmbeddedBroker | undefined;
  const url = options.broker ?? (broker = await startEmbeddedBroker()).url;
  if (broker) out(`embedded MQTT broker (aedes, MQTT 3.1.1) on ${url}`);

  const stateRoot = options.state ?? fs.mkdtempSync(path.join(os.tmpdir(), "torpor-"));
  out(`node state in ${stateRoot}; ${options.timeScale} simulated s per real s`);

  const mqtt = await import("mqtt");
  const monitor = new TelemetryMonitor(base.config.prefix);
  const subscriber = mqtt.connect(url, { clean: true, reconnectPeriod: 500 });
  subscriber.on("message", (topic, payload) => {
    for (const event of monitor.handle(topic, payload)) if (event.kind !== "status") out(`  ${formatEvent(event)}`);
  });
  await new Promise<void>((resolve, reject) => {
    subscriber.once("connect", () => subscriber.subscribe(monitor.subscriptions, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    subscriber.once("error", reject);
  });

  const nodes = Array.from({ length: options.nodes }, (_, i) => `node-${i + 1}`);
  const stopping = new AbortController();
  const stop = () => stopping.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await Promise.all(
      nodes.map((node) => {
        const dir = path.join(stateRoot, node);
        fs.mkdirSync(dir, { recursive: true });
        const configFile = path.join(dir, "config.json");
        fs.writeFileSync(configFile, JSON.stringify({ ...userConfig, node, broker: url }, null, 2));
        return runNode(node, dir, configFile, options, out, stopping.signal);
      }),
    );
    // Let the last batches reach the subscriber before closing.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await subscriber.endAsync(true);
    await broker?.close();
  }
}

const wakeScript = path.join(__dirname, "..", "hosts", "node", "wake.js");

/** Wakes one node again and again: each wake a process, each sleep a scaled timer. */
async function runNode(node: string, dir: string, configFile: string, options: StartOptions, out: (line: string) => void, signal: AbortSignal): Promise<void> {
  let acknowledged = 0;
  while (!signal.aborted) {
    const args = ["--state", dir, "--config", configFile, "--time-scale", String(options.timeScale)];
    if (options.replay) args.push("--replay", options.replay);
    let acknowledgedHere = 0;
    const report = await runWake(node, args, out, signal, (cycle) => {
      // Always-connected mode: the process stays up and reports each cycle; stop it when done.
      if (cycle.delivered > 0 && cycle.error === undefined) acknowledgedHere++;
      return options.cycles !== undefined && acknowledged + acknowledgedHere >= options.cycles;
    });
    if (signal.aborted) return;
    acknowledged += acknowledgedHere;
    if (options.cycles !== undefined && acknowledged >= options.cycles) {
      out(`[${node}] ${acknowledged} acknowledged publish(es): done`);
      return;
    }
    if (!report || report.sleepMs === undefined) {
      out(`[${node}] wake process died without sleeping; restarting it (a reset)`);
      await delay(1000, signal);
      continue;
    }
    await delay(report.sleepMs / options.timeScale, signal);
  }
}

/** Runs one wake process; `onReport` sees every report and returns true to end the process. */
function runWake(node: string, args: string[], out: (line: string) => void, signal: AbortSignal, onReport: (report: WakeReport) => boolean): Promise<WakeReport | undefined> {
  return new Promise((resolve) => {
    let report: WakeReport | undefined;
    const child: ChildProcess = fork(wakeScript, args, { stdio: ["ignore", "pipe", "pipe", "ipc"] });
    const kill = () => child.kill("SIGKILL");
    signal.addEventListener("abort", kill, { once: true });
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on("line", (line) => out(`[${node}] ${line}`));
    }
    child.on("message", (message: WakeReport) => {
      report = message;
      if (onReport(message)) child.kill("SIGTERM");
    });
    child.on("exit", () => {
      signal.removeEventListener("abort", kill);
      resolve(report);
    });
  });
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

async function main(): Promise<void> {
  let options: StartOptions | "help";
  try {
    options = parseStartArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`torpor: ${(e as Error).message}\n${usage.split("\n")[0]}\n`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(usage);
    return;
  }
  try {
    await start(options);
  } catch (e) {
    const bad = e instanceof ConfigError || (e as Error).message.startsWith("--config");
    process.stderr.write(`torpor: ${(e as Error).message}\n`);
    process.exit(bad ? 2 : 1);
  }
}

if (require.main === module) void main();
