// Watches torpor telemetry on any broker, as events (TelemetryMonitor): in a terminal it keeps a
// live table of the nodes (renderTable); otherwise, or with --json / --csv, it prints what arrives;
// --web serves a live dashboard (serveDashboard); --db starts it with the history `npm run collect`
// stored (loadHistory).
//
//   npm run monitor -- --broker mqtt://host:1883 [--prefix torpor] [--telemetry-key FILE] [--payload-key FILE] | [--fleet-secret FILE] [--db postgres://…] [--json | --csv | --web [--port 8080]]

import { flags, runCommand, UsageError } from "../command";
import { keyOptions, keyUsage, telemetryKeys, type TelemetryKeys } from "../keys";
import { TelemetryVerifier } from "../telemetry-verifier";
import { formatEvent, TelemetryMonitor, type MonitorEvent } from "./events";
import { FleetState } from "./state";
import { csvHeader, csvLine, renderTable } from "./table";

const usage = `usage: npm run monitor -- [--broker mqtt://127.0.0.1:1883] [--prefix torpor] ${keyUsage} [--db postgres://…] [--json | --csv | --web [--port 8080]]\n`;

interface MonitorOptions {
  broker: string;
  prefix: string;
  output: "table" | "lines" | "json" | "csv" | "web";
  port: number;
  db: string | undefined;
  /** Where the nodes' telemetry keys come from: tagged telemetry is checked (undefined: not). */
  keys: TelemetryKeys | undefined;
}

function parse(argv: string[]): MonitorOptions | "help" {
  const { values } = flags({
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
      ...keyOptions,
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  if (!/^mqtts?:\/\//.test(values.broker!)) throw new UsageError(`--broker: "${values.broker}" is not an mqtt:// or mqtts:// URL`);
  if ([values.json, values.csv, values.web].filter(Boolean).length > 1) throw new UsageError("--json, --csv and --web: choose one");
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number 0..65535, got "${values.port}"`);
  if (values.port !== undefined && !values.web) throw new UsageError("--port goes with --web");
  if (values.db !== undefined && !/^postgres(ql)?:\/\//.test(values.db)) throw new UsageError(`--db must be a postgres:// URL, got "${values.db}"`);
  const output = values.json ? "json" : values.csv ? "csv" : values.web ? "web" : process.stdout.isTTY ? "table" : "lines";
  return { broker: values.broker!, prefix: values.prefix!, output, port, db: values.db, keys: telemetryKeys(values) };
}

async function watch(options: MonitorOptions): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const monitor = new TelemetryMonitor(options.prefix, options.keys && new TelemetryVerifier(options.keys.tag, options.keys.payload));
  const fleet = new FleetState();
  const now = () => Date.now() / 1000;
  if (options.db) {
    try {
      const { loadHistory } = await import("./history");
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
    const { serveDashboard } = await import("./dashboard");
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

if (require.main === module) void runCommand({ name: "monitor", usage, parse, run: watch });
