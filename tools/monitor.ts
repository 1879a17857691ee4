// Watches torpor telemetry on any broker: decodes each batch (all three formats), drops duplicates
// (QoS 1 is at least once, and a batch re-sent after a lost PUBACK arrives twice), and flags gaps
// that mean missed wakes. In a terminal it keeps a live table of the nodes (tools/monitor-table.ts);
// otherwise, or with --json / --csv, it prints what arrives; --web serves a live dashboard
// (tools/dashboard/); --db starts it with the history `npm run collect` stored
// (tools/monitor-history.ts).
//
//   npm run monitor -- --broker mqtt://host:1883 [--prefix torpor] [--db postgres://…] [--json | --csv | --web [--port 8080]]

import { parseArgs } from "node:util";
import { FleetState } from "./monitor-state";
import { csvHeader, csvLine, renderTable } from "./monitor-table";
import { decodePayload, decodeStatus } from "./payload-decoder";
import type { ResolvedRecord } from "./senml";
import { UsageError } from "./usage-error";

export interface Reading extends ResolvedRecord {
  node: string;
}

export type MonitorEvent =
  | { kind: "reading"; reading: Reading }
  | { kind: "duplicate"; node: string; count: number }
  | { kind: "gap"; node: string; from: number; to: number; missed: number }
  | { kind: "status"; node: string; status: Record<string, unknown> }
  | { kind: "error"; topic: string; message: string };

/** Decodes messages into events; holds what dedupe and gap detection need, per node. */
export class TelemetryMonitor {
  #seen = new Map<string, Set<string>>();
  #lastTime = new Map<string, number>();
  #steps = new Map<string, Map<number, number>>();

  constructor(readonly prefix = "torpor") {}

  get subscriptions(): string[] {
    return [`${this.prefix}/+/telemetry`, `${this.prefix}/+/status`];
  }

  /** `contentType`: the message's MQTT 5 Content Type, if it had one (else the first byte tells). */
  handle(topic: string, payload: Uint8Array, contentType?: string): MonitorEvent[] {
    const parts = topic.split("/");
    const kind = parts.pop();
    const node = parts.pop();
    if (!node || parts.join("/") !== this.prefix) return [];
    if (kind === "status") {
      try {
        return [{ kind: "status", node, status: decodeStatus(payload) }];
      } catch (e) {
        return [{ kind: "error", topic, message: (e as Error).message }];
      }
    }
    if (kind !== "telemetry") return [];
    let records: ResolvedRecord[];
    try {
      records = decodePayload(payload, { baseName: `urn:dev:torpor:${node}:`, ...(contentType === undefined ? {} : { contentType }) }).records;
    } catch (e) {
      return [{ kind: "error", topic, message: (e as Error).message }];
    }
    return this.#readings(node, records);
  }

  /** Takes a reading as seen already (history from the collector's database): a batch that brings
   *  it again is a duplicate. */
  remember(node: string, name: string, time: number): void {
    this.#seenBy(node).add(`${name}@${time}`);
  }

  #seenBy(node: string): Set<string> {
    const seen = this.#seen.get(node) ?? new Set<string>();
    this.#seen.set(node, seen);
    return seen;
  }

  #readings(node: string, records: ResolvedRecord[]): MonitorEvent[] {
    const seen = this.#seenBy(node);
    const fresh: MonitorEvent[] = [];
    let duplicates = 0;
    for (const record of records) {
      const key = `${record.name}@${record.time}`;
      if (seen.has(key)) {
        duplicates++;
        continue;
      }
      seen.add(key);
      // Bound the memory of a long-running monitor: forget the oldest keys.
      if (seen.size > 100_000) seen.delete(seen.values().next().value!);
      fresh.push({ kind: "reading", reading: { node, ...record } });
    }
    // A pack lists records channel by channel (fault records first): the wakes it stands for are
    // its distinct times, in order.
    const times = [...new Set(fresh.map((e) => (e.kind === "reading" ? e.reading.time : 0)))].sort((a, b) => a - b);
    const events = times.flatMap((time) => this.#gap(node, time));
    if (duplicates) events.unshift({ kind: "duplicate", node, count: duplicates });
    return [...events, ...fresh];
  }

  /**
   * The sampling interval is learnt as the smallest step between readings seen at least twice (a
   * power-on wake is off the grid, so its single odd step teaches nothing); a step of two or more
   * intervals is a gap.
   */
  #gap(node: string, time: number): MonitorEvent[] {
    const last = this.#lastTime.get(node);
    if (last === undefined || time <= last) {
      if (last === undefined) this.#lastTime.set(node, time);
      return [];
    }
    this.#lastTime.set(node, time);
    const step = time - last;
    const steps = this.#steps.get(node) ?? new Map<number, number>();
    this.#steps.set(node, steps);
    steps.set(step, (steps.get(step) ?? 0) + 1);
    let interval = Infinity;
    for (const [s, n] of steps) if (n >= 2 && s < interval) interval = s;
    const missed = Number.isFinite(interval) ? Math.round(step / interval) - 1 : 0;
    return missed >= 1 ? [{ kind: "gap", node, from: last, to: time, missed }] : [];
  }
}

export function formatEvent(event: MonitorEvent): string {
  const when = (s: number) => new Date(s * 1000).toISOString().replace("T", " ").replace(/\.000Z$/, "Z");
  switch (event.kind) {
    case "reading": {
      const r = event.reading;
      const name = r.name.replace(/^urn:dev:torpor:[^:]+:/, "");
      const value = r.value ?? r.stringValue ?? r.boolValue;
      return `${event.reading.node.padEnd(8)} ${when(r.time)}  ${name.padEnd(22)} ${String(value).padStart(8)} ${r.unit ?? ""}`.trimEnd();
    }
    case "duplicate":
      return `${event.node.padEnd(8)} ${event.count} duplicate reading(s) ignored (a re-sent batch)`;
    case "gap":
      return `${event.node.padEnd(8)} ! ${event.missed} missed wake(s) between ${when(event.from)} and ${when(event.to)}`;
    case "status":
      return `${event.node.padEnd(8)} status ${JSON.stringify(event.status)}`;
    case "error":
      return `! ${event.topic}: ${event.message}`;
  }
}

const usage = "usage: npm run monitor -- [--broker mqtt://127.0.0.1:1883] [--prefix torpor] [--db postgres://…] [--json | --csv | --web [--port 8080]]\n";

interface MonitorOptions {
  broker: string;
  prefix: string;
  output: "table" | "lines" | "json" | "csv" | "web";
  port: number;
  db: string | undefined;
}

function parse(argv: string[]): MonitorOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        // The config's default broker: where a local mosquitto (or `npm start -- --broker …`) is.
        broker: { type: "string", default: "mqtt://127.0.0.1:1883" },
        prefix: { type: "string", default: "torpor" },
        json: { type: "boolean", default: false },
        csv: { type: "boolean", default: false },
        web: { type: "boolean", default: false },
        port: { type: "string" },
        db: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
  if (values.help) return "help";
  if (!/^mqtts?:\/\//.test(values.broker!)) throw new UsageError(`--broker: "${values.broker}" is not an mqtt:// or mqtts:// URL`);
  if ([values.json, values.csv, values.web].filter(Boolean).length > 1) throw new UsageError("--json, --csv and --web: choose one");
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number 0..65535, got "${values.port}"`);
  if (values.port !== undefined && !values.web) throw new UsageError("--port goes with --web");
  if (values.db !== undefined && !/^postgres(ql)?:\/\//.test(values.db)) throw new UsageError(`--db must be a postgres:// URL, got "${values.db}"`);
  const output = values.json ? "json" : values.csv ? "csv" : values.web ? "web" : process.stdout.isTTY ? "table" : "lines";
  return { broker: values.broker!, prefix: values.prefix!, output, port, db: values.db };
}

async function main(): Promise<void> {
  let options;
  try {
    options = parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`monitor: ${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (options === "help") return void process.stdout.write(usage);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const monitor = new TelemetryMonitor(options.prefix);
  const fleet = new FleetState();
  const now = () => Date.now() / 1000;
  if (options.db) {
    try {
      const { loadHistory } = await import("./monitor-history");
      process.stderr.write(`monitor: ${await loadHistory(options.db, fleet, monitor)} readings of history from the database\n`);
    } catch (e) {
      process.stderr.write(`monitor: --db: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
  }
  let show: (event: MonitorEvent) => void = () => undefined;
  if (options.output === "json") show = (event) => out(JSON.stringify(event));
  else if (options.output === "lines") show = (event) => out(formatEvent(event));
  else if (options.output === "csv") {
    out(csvHeader);
    show = (event) => event.kind === "reading" && out(csvLine(event.reading));
  } else if (options.output === "table") {
    // Redrawn in place once a second: the ages move even when nothing arrives.
    setInterval(() => process.stdout.write(`\x1b[H\x1b[2J${renderTable(fleet, now())}\n`), 1000);
  } else {
    const { serveDashboard } = await import("./dashboard/server");
    let url: string;
    try {
      // The page polls the fleet's state: nothing to print per event.
      ({ url } = await serveDashboard(fleet, options.port));
    } catch (e) {
      const taken = (e as NodeJS.ErrnoException).code === "EADDRINUSE";
      process.stderr.write(`monitor: --port ${options.port}: ${taken ? "taken (another dashboard?): choose another, or --port 0 for a free one" : (e as Error).message}\n`);
      process.exit(1);
    }
    out(`dashboard on ${url} (MQTT: ${options.broker})`);
  }
  const mqtt = await import("mqtt");
  const client = mqtt.connect(options.broker, { clean: true });
  client.on("connect", () =>
    client.subscribe(monitor.subscriptions, { qos: 1 }, (e) => process.stderr.write(e ? `monitor: subscribing: ${e.message}\n` : `monitor: watching ${monitor.subscriptions.join(" ")} on ${options.broker}\n`)),
  );
  client.on("error", (e) => process.stderr.write(`monitor: ${e.message}\n`));
  client.on("message", (topic, payload, packet) => {
    const at = now();
    for (const event of monitor.handle(topic, payload, packet.properties?.contentType)) {
      fleet.apply(event, at);
      show(event);
    }
  });
}

if (require.main === module) void main();
