// `npm start`: simulated torpor nodes on the Node host, an MQTT broker (an embedded one unless the
// flags or the config name one), and the decoded telemetry as any subscriber sees it. By default
// the nodes are a fleet in this one process (hosts/node/fleet: a discrete-event scheduler, a fresh
// firmware instance per wake, up to 100,000 nodes). With --process-per-wake (or --state, or an
// always-connected config) each wake is one process (hosts/node/wake) instead, as the kill -9
// torture tests need; this runner then plays the part of the RTC, starting the next wake when the
// sleep is over, in scaled time, and restarting a node whose process died as a reset.
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
import { ConfigError, type BrokerAddress, type Config } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { runFleet, type FleetResult } from "../hosts/node/fleet";
import { FleetMemory } from "../hosts/node/fleet-memory";
import type { TimeScale } from "../hosts/node/fleet-scheduler";
import { layeredConfig, manifestConfig, readConfigFile, tlsPem, type RawConfig } from "../hosts/node/config-file";
import { writeFileAtomic } from "../hosts/node/host-file";
import { readRecording, RecordingError } from "../hosts/node/recording";
import type { WakeReport } from "../hosts/node/wake";
import { parseSim } from "../hosts/virtual/faults";
import { startEmbeddedBroker, type EmbeddedBroker } from "./broker";
import { formatEvent, TelemetryMonitor, type MonitorEvent } from "./monitor/events";
import { flags, runCommand, UsageError } from "./command";

/** Up to this many nodes print every line; more print summaries. */
const FEW_NODES = 10;
/** The most nodes one fleet process takes (bounded further by memory). */
const MAX_FLEET = 100_000;
/** The most nodes run as one process per wake (each wake costs ~0.25 CPU-s and ~50 MB). */
const MAX_PROCESSES = 100;
/** The embedded broker's port when it is free: the one `mosquitto_sub` tries by default. */
export const DEFAULT_PORT = 1883;

const usage = `usage: npm start -- [options]

Runs simulated torpor nodes (Node host, virtual SHT3x) against an MQTT broker and prints what they do
and the telemetry a subscriber receives, decoded (more than ${FEW_NODES} nodes: a summary every few seconds).

  --broker URL[,URL…] use this broker (mqtt://host:port or mqtts://), or these members of one
                     cluster in failover order, instead of the config's "broker" (without either,
                     an embedded one)
  --port N           the embedded broker's port (default 1883, or a free one if 1883 is taken)
  --nodes N          number of nodes (default 1; up to ${MAX_FLEET.toLocaleString("en-US")} in one process, as memory allows),
                     named after the config's "node" (or --node): node-1 … node-N by default
  --node NAME        the node's name (with --nodes N: NAME-1 … NAME-N), instead of the config's
  --cycles N         stop each node after its N-th acknowledged publish, then exit 0
  --time-scale X     simulated seconds per real second (default 60: a 60 s interval wakes once a
                     second); "max": as fast as the CPU and the broker allow
  --process-per-wake one process per wake (at most ${MAX_PROCESSES} nodes), as the kill -9 torture tests run
  --state DIR        keep each node's retained memory and clock in DIR/<node> (one process per
                     wake; default: in memory, so every run starts clean)
  --config FILE      JSON file of config keys (as in manifest.json "config") overriding the manifest
  --replay CSV       drive the virtual sensors from a recording (e.g. ../shared/data/*.csv)
  --help             show this help
`;

export interface StartOptions {
  broker?: string;
  /** The embedded broker's port. */
  port?: number;
  nodes: number;
  /** The node name (numbered when there are several). */
  node?: string;
  cycles?: number;
  timeScale: TimeScale;
  processPerWake?: boolean;
  state?: string;
  config?: string;
  replay?: string;
  /** Simulated ms of the fleet's first wake (default: now). */
  startMs?: number;
}

function parseStartArgs(argv: string[]): StartOptions | "help" {
  const values = flags({
    args: argv,
    options: {
      broker: { type: "string" },
      port: { type: "string" },
      nodes: { type: "string" },
      node: { type: "string" },
      "process-per-wake": { type: "boolean" },
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
  if (values.help) return "help";
  const count = (flag: string, value: string | undefined, min: number, max: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
    return n;
  };
  const processPerWake = values["process-per-wake"] === true || values.state !== undefined;
  const options: StartOptions = { nodes: count("nodes", values.nodes, 1, processPerWake ? MAX_PROCESSES : MAX_FLEET) ?? 1, timeScale: 60 };
  if (processPerWake) options.processPerWake = true;
  const cycles = count("cycles", values.cycles, 1, 1_000_000);
  if (cycles !== undefined) options.cycles = cycles;
  const port = count("port", values.port, 1, 65535);
  if (port !== undefined) options.port = port;
  if (values["time-scale"] === "max") {
    if (processPerWake) throw new UsageError(`--time-scale max needs the fleet: one process per wake cannot hold the clock while a wake runs`);
    options.timeScale = "max";
  } else if (values["time-scale"] !== undefined) {
    const x = Number(values["time-scale"]);
    if (!(x > 0 && x <= 1_000_000)) throw new UsageError(`--time-scale must be "max" or a number above 0 and at most 1000000, got "${values["time-scale"]}"`);
    options.timeScale = x;
  }
  if (values.broker !== undefined) {
    for (const url of values.broker.split(",")) {
      if (!/^mqtts?:\/\/[^/\s,]+$/.test(url)) throw new UsageError(`--broker must be an mqtt://host:port URL (or several, separated by commas), got "${values.broker}"`);
    }
    options.broker = values.broker;
  }
  if (values.node !== undefined) options.node = values.node;
  if (values.state !== undefined) options.state = values.state;
  if (values.config !== undefined) options.config = values.config;
  if (values.replay !== undefined) options.replay = values.replay;
  return options;
}

function brokerUrl(address: BrokerAddress): string {
  return `${address.secure ? "mqtts" : "mqtt"}://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`;
}

/**
 * What a subscriber of a fleet's telemetry counts: distinct readings (a reading is one sample of
 * every channel: counted by its first channel), duplicate values (a batch re-sent after a lost
 * PUBACK or a failover arrives twice: allowed, counted), gaps the monitor sees, and undecodable
 * messages. The runner's subscriber, the fleet benchmark's and the cluster test's are all one.
 */
export class ReadingCounter {
  readonly #monitor: TelemetryMonitor;
  readonly #first: string;
  readings = 0;
  duplicates = 0;
  gaps = 0;
  errors = 0;

  constructor(config: Pick<Config, "prefix" | "sensors">) {
    this.#monitor = new TelemetryMonitor(config.prefix);
    this.#first = `:${channelsOf(config.sensors)[0]?.name ?? ""}`;
  }

  get subscriptions(): string[] {
    return this.#monitor.subscriptions;
  }

  handle(topic: string, payload: Uint8Array): MonitorEvent[] {
    const events = this.#monitor.handle(topic, payload);
    for (const event of events) {
      if (event.kind === "reading" && event.reading.name.endsWith(this.#first)) this.readings++;
      else if (event.kind === "duplicate") this.duplicates += event.count;
      else if (event.kind === "gap") this.gaps++;
      else if (event.kind === "error") this.errors++;
    }
    return events;
  }
}

/** The nodes' names: the config's `node` (default "node"), numbered when there are several or when
 *  the config names none (so the default single node is "node-1"). */
function nodeNames(configured: string, count: number): string[] {
  if (configured && count === 1) return [configured];
  return Array.from({ length: count }, (_, i) => `${configured || "node"}-${i + 1}`);
}

/** What one fleet node holds in this process beyond its retained memory: its slot in the scheduler,
 *  its flash copy, and its share of the subscriber's de-duplication (measured: bench/fleet.ts). */
const FLEET_BYTES_PER_NODE = 4096;
/** The process itself: Node, the broker client, the wakes in flight. */
const FLEET_BASE_BYTES = 256 * 1024 * 1024;

/** Refuses a fleet that would not fit in this machine's free memory, saying how much it needs. */
function checkFleetFits(nodes: number): void {
  const need = FLEET_BASE_BYTES + FleetMemory.bytesFor(nodes) + nodes * FLEET_BYTES_PER_NODE;
  const free = os.freemem();
  if (need > free) {
    const mb = (n: number) => `${Math.round(n / 2 ** 20).toLocaleString("en-US")} MB`;
    throw new UsageError(`--nodes ${nodes} needs about ${mb(need)} in this process and the machine has ${mb(free)} free: run fewer nodes (about ${Math.max(1, Math.floor((free - FLEET_BASE_BYTES) / (need / nodes - FLEET_BASE_BYTES / nodes))).toLocaleString("en-US")} fit)`);
  }
}

/** Starts the embedded broker on `port`, or on 1883 when it is free (else on a free port). */
async function embeddedBroker(port: number | undefined, out: (line: string) => void): Promise<EmbeddedBroker> {
  try {
    return await startEmbeddedBroker(port ?? DEFAULT_PORT);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    if (port !== undefined) throw new Error(`--port ${port} is taken (another broker?): choose another, or leave --port out for ${DEFAULT_PORT} or a free one`);
    out(`port ${DEFAULT_PORT} is taken (another broker?): the embedded broker takes a free port; --port N picks one`);
    return startEmbeddedBroker(0);
  }
}

/** Runs the simulation; resolves when every node has done its cycles (or never, without --cycles). */
export async function start(options: StartOptions, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  // Validate the config before starting anything, so a bad key is one clear line and exit code 2.
  const userConfig: RawConfig = options.config ? readConfigFile(options.config) : {};
  const base = layeredConfig(manifestConfig(), userConfig, options.broker ? { broker: options.broker } : {}, options.node !== undefined ? { node: options.node } : {});
  // The simulation settings, the TLS files and the recording too: a bad one would otherwise fail
  // every wake, forever.
  parseSim(base.raw.sim, base.config.sensors);
  const pem = tlsPem(base.config);
  if (options.replay) readRecording(options.replay);
  const nodes = nodeNames(base.config.node, options.nodes);
  // The names differ only in their number: the first and the longest stand for all of them.
  for (const node of new Set([nodes[0]!, nodes[nodes.length - 1]!])) layeredConfig(base.raw, { node });
  const fleet = !options.processPerWake && !options.state && base.config.mode === "deep-sleep";
  if (fleet) checkFleetFits(nodes.length);
  else if (nodes.length > MAX_PROCESSES) throw new UsageError(`--nodes ${nodes.length}: one process per wake runs at most ${MAX_PROCESSES} nodes (mode "${base.config.mode}" needs it); a deep-sleep fleet runs up to ${MAX_FLEET.toLocaleString("en-US")} in one process`);
  if (!fleet && options.timeScale === "max") throw new UsageError(`--time-scale max needs the fleet: mode "${base.config.mode}" runs one process per node`);

  // Everything opened from here on is closed on every path, the last opened first: a broker or a
  // subscriber left open would keep the process alive after the nodes are done.
  const opened: (() => Promise<unknown>)[] = [];
  try {
    const named = options.broker !== undefined || userConfig.broker !== undefined;
    const broker = named ? undefined : await embeddedBroker(options.port, out);
    if (broker) opened.push(() => broker.close());
    // What the nodes are given: every member, in order; the runner's subscriber uses the first.
    const brokers = broker ? broker.url : base.config.brokers.map(brokerUrl).join(",");
    const url = broker ? broker.url : brokerUrl(base.config.broker);
    out(broker ? `embedded MQTT broker (aedes, MQTT 3.1.1) on ${url}` : `broker ${brokers}`);

    const stateRoot = fleet ? undefined : options.state ?? fs.mkdtempSync(path.join(os.tmpdir(), "torpor-"));
    // A state folder the runner made for itself goes with the run; one the user named stays.
    if (stateRoot !== undefined && options.state === undefined) opened.push(async () => fs.rmSync(stateRoot, { recursive: true, force: true }));
    const pace = options.timeScale === "max" ? "simulated time as fast as it goes" : `${options.timeScale} simulated s per real s`;
    out(fleet ? `${nodes.length.toLocaleString("en-US")} node${nodes.length === 1 ? "" : "s"} in this process, state in memory; ${pace}` : `node state in ${stateRoot}${options.state === undefined ? " (removed at the end; --state DIR keeps it)" : ""}; ${pace}`);
    const few = nodes.length <= FEW_NODES;
    if (!few) out(`more than ${FEW_NODES} nodes: a summary every ${SUMMARY_MS / 1000} s instead of every line`);

    const mqtt = await import("mqtt");
    const seen = new ReadingCounter(base.config);
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
    opened.push(() => subscriber.endAsync(true));
    let trouble: string | undefined;
    let ready = () => {};
    const settled = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, SUBSCRIBER_WAIT_MS);
      ready = () => (clearTimeout(timer), resolve());
    });
    subscriber.on("connect", () => {
      if (trouble !== undefined) out(`subscriber connected to ${url}`);
      trouble = undefined;
      subscriber.subscribe(seen.subscriptions, { qos: 1 }, () => ready());
    });
    subscriber.on("error", (e) => {
      ready();
      // Once per distinct trouble, not at every retry.
      if (e.message === trouble) return;
      trouble = e.message;
      out(`subscriber: ${url}: ${e.message}; retrying`);
    });
    subscriber.on("message", (topic, payload) => {
      for (const event of seen.handle(topic, payload)) if (few && event.kind !== "status") out(`  ${formatEvent(event)}`);
    });
    await settled;

    const stopping = new AbortController();
    const stop = () => stopping.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    opened.push(async () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    });
    if (fleet) {
      const result = await startFleet(nodes, base, brokers, options, few, seen, out, stopping.signal);
      // The last batches are on their way to the subscriber: wait for them, a bounded while.
      const expected = result.sampled - result.buffered;
      for (let waited = 0; seen.readings < expected && waited < SUBSCRIBER_WAIT_MS && !stopping.signal.aborted; waited += 50) await new Promise((r) => setTimeout(r, 50));
    } else {
      await Promise.all(
        nodes.map((node) => {
          const dir = path.join(stateRoot!, node);
          fs.mkdirSync(dir, { recursive: true });
          const configFile = path.join(dir, "config.json");
          writeFileAtomic(configFile, JSON.stringify({ ...userConfig, node, broker: brokers }, null, 2));
          return runNode(node, dir, configFile, options, out, stopping.signal).catch((e: unknown) => {
            stop();
            throw e;
          });
        }),
      );
    }
    // Let the last batches reach the subscriber before closing.
    await new Promise((r) => setTimeout(r, 300));
    if (!few) out(`subscriber: ${seen.readings.toLocaleString("en-US")} readings, ${seen.duplicates.toLocaleString("en-US")} duplicate values, ${seen.gaps} gaps`);
  } finally {
    for (const close of opened.reverse()) await close();
  }
}

/** How often a fleet of more than FEW_NODES says how it is doing. */
const SUMMARY_MS = 5000;

/** Runs the nodes as one in-process fleet: every line of a few nodes, or summaries of many. */
async function startFleet(nodes: string[], base: { config: Config; raw: RawConfig }, brokers: string, options: StartOptions, few: boolean, seen: ReadingCounter, out: (line: string) => void, signal: AbortSignal): Promise<FleetResult> {
  const config = layeredConfig(base.raw, { broker: brokers }).config;
  const recording = options.replay ? readRecording(options.replay) : undefined;
  const time = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  const count = (n: number) => n.toLocaleString("en-US");
  const totals = { wakes: 0, delivered: 0, failures: 0, done: 0 };
  const started = performance.now();
  let simNow = options.startMs ?? Date.now();
  const summary = setInterval(() => {
    const s = (performance.now() - started) / 1000;
    out(`${new Date(simNow).toISOString().slice(0, 19)}Z  ${count(totals.wakes)} wakes (${count(Math.round(totals.wakes / s))}/s), ${count(totals.delivered)} readings acknowledged, ${count(seen.readings)} at the subscriber, ${count(totals.failures)} failed publishes, ${count(totals.done)}/${count(nodes.length)} nodes done`);
  }, SUMMARY_MS);
  try {
    const result = await runFleet({
      names: nodes,
      config,
      sim: base.raw.sim,
      scale: options.timeScale,
      ...(options.startMs !== undefined ? { startMs: options.startMs } : {}),
      ...(options.cycles !== undefined ? { cycles: options.cycles } : {}),
      ...(recording ? { environment: () => recording } : {}),
      ...(few ? { log: (i: number, line: string, now: number) => out(`[${nodes[i]}] ${time(now)} ${line}`) } : {}),
      onWake: (i, report) => {
        totals.wakes++;
        totals.delivered += report.delivered;
        if (report.error !== undefined) totals.failures++;
        simNow = Math.max(simNow, report.startMs);
        if (report.done) {
          totals.done++;
          if (few) out(`[${nodes[i]}] ${options.cycles} acknowledged publish(es): done`);
        }
      },
      signal,
    });
    const s = (performance.now() - started) / 1000;
    out(`fleet: ${count(result.nodes)} node${result.nodes === 1 ? "" : "s"}, ${count(result.wakes)} wakes in ${s.toFixed(1)} s (${count(Math.round(result.wakes / s))}/s), ${(result.simulatedMs / 3_600_000).toFixed(2)} simulated hours; ${count(result.sampled)} readings sampled, ${count(result.delivered)} acknowledged, ${count(result.buffered)} still buffered, ${count(result.failures)} failed publishes`);
    return result;
  } finally {
    clearInterval(summary);
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
    await delay(report.sleepMs / (options.timeScale as number), signal);
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
    // "close", not "exit": by then every line the process wrote has been read. And the IPC
    // channel's "disconnect" too: a report sent just before exit can arrive after "close", and a
    // wake that did report is not a reset.
    let closed: number | null | undefined;
    let disconnected = false;
    let settled = false;
    const settle = () => {
      if (settled || closed === undefined || !disconnected) return;
      settled = true;
      signal.removeEventListener("abort", kill);
      resolve({ report, code: closed, stderr });
    };
    child.on("disconnect", () => ((disconnected = true), settle()));
    // A process that could not be started is a wake that died without a report, not a crash of
    // the runner: "close" may never follow, so it settles here.
    child.on("error", (e) => {
      stderr = e.message;
      closed ??= null;
      disconnected = true;
      settle();
    });
    child.on("close", (code) => {
      closed = code;
      // Bounded: a channel that never says it closed does not hold the node up.
      setTimeout(() => ((disconnected = true), settle()), 1000).unref();
      settle();
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

if (require.main === module) {
  void runCommand({
    name: "torpor",
    usage,
    afterUsageError: `${usage.split("\n")[0]}\n`,
    parse: parseStartArgs,
    run: start,
    // What the node was given (its config, a recording, a wake's input) is bad: as a bad flag is.
    exitCode: (e) => (e instanceof ConfigError || e instanceof RecordingError || e instanceof WakeInputError || (e as Error).message.startsWith("--config") ? 2 : 1),
  });
}
