// `npm start`: simulated torpor nodes on the Node host, an MQTT broker (an embedded one unless the
// flags or the config name one), and the decoded telemetry as any subscriber sees it. Each wake is
// one process (hosts/node/wake); this runner plays the part of the RTC, starting the next wake when
// the sleep is over, in scaled time, and restarting a node whose process died as a reset.
//
// Everything a wake would fail on for good (config, TLS files, the recording) is checked here first:
// one line, exit code 2, before any node starts. A broker that cannot be reached is not such a
// thing: the nodes back off from it as they would in the field, and the runner's own subscriber
// keeps trying, saying so once.

import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { parseArgs } from "node:util";
import { ConfigError, type BrokerAddress } from "../src/config";
import { layeredConfig, manifestConfig, readConfigFile, tlsPem, type RawConfig } from "../hosts/node/config-file";
import { writeFileAtomic } from "../hosts/node/host-file";
import { readRecording, RecordingError } from "../hosts/node/recording";
import type { WakeReport } from "../hosts/node/wake";
import { parseSim } from "../hosts/sim/devices/faults";
import { startEmbeddedBroker, type EmbeddedBroker } from "./broker";
import { formatEvent, TelemetryMonitor } from "./monitor";
import { UsageError } from "./usage-error";

const usage = `usage: npm start -- [options]

Runs simulated torpor nodes (Node host, virtual SHT3x) against an MQTT broker and prints what they do
and the telemetry a subscriber receives, decoded.

  --broker URL       use this broker (mqtt://host:port or mqtts://) instead of the config's
                     "broker" (without either, an embedded one)
  --nodes N          number of nodes (default 1), named after the config's "node": node-1 …
                     node-N by default
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
  if (values.replay !== undefined) options.replay = values.replay;
  return options;
}

function brokerUrl(address: BrokerAddress): string {
  return `${address.secure ? "mqtts" : "mqtt"}://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`;
}

/** The nodes' names: the config's `node` (default "node"), numbered when there are several or when
 *  the config names none (so the default single node is "node-1"). */
function nodeNames(configured: string, count: number): string[] {
  if (configured && count === 1) return [configured];
  return Array.from({ length: count }, (_, i) => `${configured || "node"}-${i + 1}`);
}

/** Runs the simulation; resolves when every node has done its cycles (or never, without --cycles). */
export async function start(options: StartOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  // Validate the config before starting anything, so a bad key is one clear line and exit code 2.
  const userConfig: RawConfig = options.config ? readConfigFile(options.config) : {};
  const base = layeredConfig(manifestConfig(), userConfig, options.broker ? { broker: options.broker } : {});
  // The simulation settings, the TLS files and the recording too: a bad one would otherwise fail
  // every wake, forever.
  parseSim(base.raw.sim, base.config.sensors);
  const pem = tlsPem(base.config);
  if (options.replay) readRecording(options.replay);
  const nodes = nodeNames(base.config.node, options.nodes);
  for (const node of nodes) layeredConfig(manifestConfig(), userConfig, { node });

  let broker: EmbeddedBroker | undefined;
  const url = options.broker ?? (userConfig.broker !== undefined ? brokerUrl(base.config.broker) : (broker = await startEmbeddedBroker()).url);
  out(broker ? `embedded MQTT broker (aedes, MQTT 3.1.1) on ${url}` : `broker ${url}`);

  const stateRoot = options.state ?? fs.mkdtempSync(path.join(os.tmpdir(), "torpor-"));
  out(`node state in ${stateRoot}; ${options.timeScale} simulated s per real s`);

  const mqtt = await import("mqtt");
  const monitor = new TelemetryMonitor(base.config.prefix);
  // The subscriber logs in as the nodes do. It waits for the broker a moment, so that the first
  // batch is seen, but not for a broker that is not there: the nodes' own lines then say what their
  // publishes met, and it joins them when the broker does.
  const subscriber = mqtt.connect(url, {
    clean: true,
    reconnectPeriod: 500,
    resubscribe: false,
    clientId: `torpor-start-${process.pid}`,
    ...(base.config.brokerUser ? { username: base.config.brokerUser } : {}),
    ...(base.config.brokerPassword ? { password: base.config.brokerPassword } : {}),
    ...pem,
  });
  let trouble: string | undefined;
  let ready = () => {};
  const settled = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, SUBSCRIBER_WAIT_MS);
    ready = () => (clearTimeout(timer), resolve());
  });
  subscriber.on("connect", () => {
    if (trouble !== undefined) out(`subscriber connected to ${url}`);
    trouble = undefined;
    subscriber.subscribe(monitor.subscriptions, { qos: 1 }, () => ready());
  });
  subscriber.on("error", (e) => {
    ready();
    // Once per distinct trouble, not at every retry.
    if (e.message === trouble) return;
    trouble = e.message;
    out(`subscriber: ${url}: ${e.message}; retrying`);
  });
  subscriber.on("message", (topic, payload) => {
    for (const event of monitor.handle(topic, payload)) if (event.kind !== "status") out(`  ${formatEvent(event)}`);
  });
  await settled;

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
        writeFileAtomic(configFile, JSON.stringify({ ...userConfig, node, broker: url }, null, 2));
        return runNode(node, dir, configFile, options, out, stopping.signal).catch((e: unknown) => {
          stop();
          throw e;
        });
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

/** The longest the runner waits for its subscriber before starting the nodes. */
const SUBSCRIBER_WAIT_MS = 3000;

const wakeScript = path.join(__dirname, "..", "hosts", "node", "wake.js");

/** Wakes one node again and again: each wake a process, each sleep a scaled timer. */
async function runNode(node: string, dir: string, configFile: string, options: StartOptions, out: (line: string) => void, signal: AbortSignal): Promise<void> {
  let acknowledged = 0;
  while (!signal.aborted) {
    const args = ["--state", dir, "--config", configFile, "--time-scale", String(options.timeScale)];
    if (options.replay) args.push("--replay", options.replay);
    let acknowledgedHere = 0;
    const { report, code, stderr } = await runWake(node, args, out, signal, (cycle) => {
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
    // Exit code 2 is input the wake refused (hosts/node/wake): the next wake would refuse it too.
    if (!report && code === 2) throw new WakeInputError(`${node}: ${(stderr ?? "wake refused its input").replace(/^wake: /, "")}`);
    if (!report || report.sleepMs === undefined) {
      out(`[${node}] wake process died without sleeping; restarting it (a reset)`);
      await delay(1000, signal);
      continue;
    }
    await delay(report.sleepMs / options.timeScale, signal);
  }
}

/** A wake process exited refusing its input (exit code 2): the runner stops with its line. */
class WakeInputError extends Error {}

interface WakeEnd {
  report: WakeReport | undefined;
  code: number | null;
  /** The last line the process wrote to stderr. */
  stderr: string | undefined;
}

/** Runs one wake process; `onReport` sees every report and returns true to end the process. */
function runWake(node: string, args: string[], out: (line: string) => void, signal: AbortSignal, onReport: (report: WakeReport) => boolean): Promise<WakeEnd> {
  return new Promise((resolve) => {
    let report: WakeReport | undefined;
    let stderr: string | undefined;
    const child: ChildProcess = fork(wakeScript, args, { stdio: ["ignore", "pipe", "pipe", "ipc"] });
    const kill = () => child.kill("SIGKILL");
    signal.addEventListener("abort", kill, { once: true });
    readline.createInterface({ input: child.stdout! }).on("line", (line) => out(`[${node}] ${line}`));
    readline.createInterface({ input: child.stderr! }).on("line", (line) => {
      stderr = line;
      out(`[${node}] ${line}`);
    });
    child.on("message", (message: WakeReport) => {
      report = message;
      if (onReport(message)) child.kill("SIGTERM");
    });
    // "close", not "exit": by then every line the process wrote has been read.
    child.on("close", (code) => {
      signal.removeEventListener("abort", kill);
      resolve({ report, code, stderr });
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
    const bad = e instanceof ConfigError || e instanceof RecordingError || e instanceof WakeInputError || (e as Error).message.startsWith("--config");
    process.stderr.write(`torpor: ${(e as Error).message}\n`);
    process.exit(bad ? 2 : 1);
  }
}

if (require.main === module) void main();
