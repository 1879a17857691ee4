// Stores every reading of a fleet in PostgreSQL exactly once:
//
//   npm run collect -- --broker mqtt://host:1883 --db postgres://user@host/db [--prefix torpor] [--client-id torpor-collector] [--telemetry-key FILE] [--payload-key FILE] | [--fleet-secret FILE]
//
// An MQTT subscriber with a persistent session (clean session off, a fixed client id, QoS 1): while
// it is away the broker queues the messages for it, and a message it received but did not
// acknowledge is delivered again when it comes back. It acknowledges a message only once the
// message's rows are committed (MQTT.js's handleMessage holds the PUBACK until then), and every
// row is keyed by what it is (node, channel, sample time), so the redelivered message stores
// nothing twice. Killed at any moment and started again, it loses nothing and duplicates nothing.
// A database error is fatal: the message stays unacknowledged, the collector exits 1, and the
// broker hands the message over again to the next run (run it under a supervisor that restarts it).

import type { IClientOptions, IPublishPacket } from "mqtt";
import { rowsOf, schema, store } from "./collect-store";
import { brokerFlag, flags, runCommand, UsageError } from "./command";
import { keyOptions, keyUsage, telemetryKeys, type TelemetryKeys } from "./keys";
import { TelemetryVerifier } from "./telemetry-verifier";

const usage = `usage: npm run collect -- --broker mqtt://host:1883 --db postgres://user@host/db [--prefix torpor] [--client-id torpor-collector] ${keyUsage}\n`;

interface CollectOptions {
  broker: string;
  db: string;
  prefix: string;
  clientId: string;
  /** Where the nodes' telemetry keys come from: tagged telemetry is checked (undefined: not). */
  keys: TelemetryKeys | undefined;
}

function parse(argv: string[]): CollectOptions | "help" {
  const { values } = flags({
    args: argv,
    options: {
      broker: { type: "string" },
      db: { type: "string" },
      prefix: { type: "string", default: "torpor" },
      "client-id": { type: "string", default: "torpor-collector" },
      ...keyOptions,
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const broker = brokerFlag(values.broker);
  if (!values.db || !/^postgres(ql)?:\/\//.test(values.db)) throw new UsageError(`--db must be a postgres:// URL${values.db ? `, got "${values.db}"` : ""}`);
  return { broker, db: values.db, prefix: values.prefix!, clientId: values["client-id"]!, keys: telemetryKeys(values) };
}

async function collect(options: CollectOptions, log: (line: string) => void): Promise<void> {
  const { Client } = await import("pg");
  const db = new Client({ connectionString: options.db });
  await db.connect();
  await db.query(schema);
  // The database gone is fatal: nothing unacknowledged is lost, the broker keeps it for the next run.
  db.on("error", (e) => fail(`database: ${e.message}`));
  const fail = (why: string) => {
    process.stderr.write(`collect: ${why}; exiting with the unacknowledged messages left to the broker\n`);
    process.exit(1);
  };
  let stored = 0;
  const verifier = options.keys && new TelemetryVerifier(options.keys.tag, options.keys.payload);
  const take = async (topic: string, payload: Buffer, packet: IPublishPacket): Promise<void> => {
    const rows = rowsOf(options.prefix, topic, payload, packet.properties?.contentType, verifier);
    if (!rows) return;
    if (rows.rejected !== undefined) log(`${topic}: ${rows.rejected} (kept in table rejected)`);
    stored += await store(db, topic, payload, rows);
  };
  const mqtt = await import("mqtt");
  const clientOptions: IClientOptions = { clientId: options.clientId, clean: false, reconnectPeriod: 1000 };
  const client = mqtt.connect(options.broker, clientOptions);
  // MQTT.js hands each PUBLISH to handleMessage, one at a time, and sends the PUBACK (for QoS 2,
  // the PUBCOMP) only when it calls back: that is after the commit. (customHandleAcks would do the
  // same, but MQTT.js honours it over MQTT 5 only.)
  client.handleMessage = (packet, done) => {
    take(packet.topic, packet.payload as Buffer, packet).then(
      () => done(),
      (e: unknown) => fail(`storing ${packet.topic}: ${e instanceof Error ? e.message : String(e)}`),
    );
  };
  client.on("connect", (connack) => {
    client.subscribe([`${options.prefix}/+/telemetry`, `${options.prefix}/+/status`], { qos: 1 }, (e) => {
      if (e) return fail(`subscribing: ${e.message}`);
      log(`collecting ${options.prefix}/+/telemetry and status from ${options.broker} as ${options.clientId} (session ${connack.sessionPresent ? "resumed" : "new"})`);
    });
  });
  client.on("error", (e) => log(`broker: ${e.message}`));
  const stop = () => {
    log(`stopping: ${stored} new readings stored`);
    client.end(false, {}, () => void db.end().then(() => process.exit(0)));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (require.main === module) void runCommand({ name: "collect", usage, parse, run: (options) => collect(options, (line) => process.stdout.write(`${line}\n`)) });
