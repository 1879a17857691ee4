// Republishes every node's telemetry as plain JSON, for the tools that read JSON and not torpor's
// formats (Telegraf, ThingsBoard, Node-RED, anything):
//
//   npm run bridge -- --broker mqtt://host:1883 [--prefix torpor] [--client-id torpor-bridge] [--telemetry-key FILE] [--payload-key FILE] | [--fleet-secret FILE]
//
// The bridge subscribes to `<prefix>/+/telemetry` with a persistent session (clean session off, a
// fixed client id, QoS 1), decodes each message (all three formats), drops the readings it has
// republished already (QoS 1 and 2 deliver again, and a node re-sends a batch whose PUBACK it
// lost), and publishes the rest at QoS 1 (outputsOf). It acknowledges an input message only once
// the broker has acknowledged every output it made: killed at any moment, the bridge leaves the
// unacknowledged message to the broker, which hands it over again to the next run. So nothing is
// lost; what a kill can cost is a repeat of outputs already published, and those are the same
// messages byte for byte (an output is made from the reading alone), so a consumer that stores by
// (node, channel, time), as InfluxDB and ThingsBoard do, stores each reading once.
//
// The outputs go out on a second connection: MQTT.js handles one incoming packet at a time and
// holds the next ones while handleMessage runs, so on the subscribing connection the PUBACKs of the
// outputs would wait behind the message that waits for them.

import type { IClientOptions, MqttClient } from "mqtt";
import { brokerFlag, flags, runCommand, UsageError } from "../command";
import { keyOptions, keyUsage, telemetryKeys, type TelemetryKeys } from "../keys";
import { TelemetryVerifier } from "../telemetry-verifier";
import { TelemetryMonitor, type Reading } from "../monitor/events";
import { valueOf } from "../readings";
import { outputsOf } from "./outputs";

const usage = `usage: npm run bridge -- --broker mqtt://host:1883 [--prefix torpor] [--client-id torpor-bridge] ${keyUsage}\n`;

interface BridgeOptions {
  broker: string;
  prefix: string;
  clientId: string;
  /** Where the nodes' telemetry keys come from: tagged telemetry is checked, and what fails is not
   *  republished (undefined: not checked). */
  keys: TelemetryKeys | undefined;
}

function parse(argv: string[]): BridgeOptions | "help" {
  const { values } = flags({
    args: argv,
    options: {
      broker: { type: "string" },
      prefix: { type: "string", default: "torpor" },
      "client-id": { type: "string", default: "torpor-bridge" },
      ...keyOptions,
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const broker = brokerFlag(values.broker);
  if (!/^[^#+\s]+$/.test(values.prefix!)) throw new UsageError(`--prefix must be a topic prefix without wildcards or spaces, got "${values.prefix}"`);
  return { broker, prefix: values.prefix!, clientId: values["client-id"]!, keys: telemetryKeys(values) };
}

/** Publishes at QoS 1; resolves once the broker acknowledged it. */
function accepted(client: MqttClient, topic: string, payload: string): Promise<void> {
  return new Promise((resolve, reject) => client.publish(topic, payload, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
}

async function bridge(options: BridgeOptions, log: (line: string) => void): Promise<void> {
  const mqtt = await import("mqtt");
  const fail = (why: string) => {
    process.stderr.write(`bridge: ${why}; exiting with the unacknowledged messages left to the broker\n`);
    process.exit(1);
  };
  const out = await mqtt.connectAsync(options.broker, { clientId: `${options.clientId}-out`, clean: true, reconnectPeriod: 1000 });
  out.on("error", (e) => log(`broker (outputs): ${e.message}`));
  const monitor = new TelemetryMonitor(options.prefix, options.keys && new TelemetryVerifier(options.keys.tag, options.keys.payload));
  const counts = { readings: 0, duplicates: 0, rejected: 0 };
  const take = async (topic: string, payload: Buffer, contentType: string | undefined): Promise<void> => {
    const readings: Reading[] = [];
    for (const event of monitor.handle(topic, payload, contentType)) {
      if (event.kind === "reading") readings.push(event.reading);
      else if (event.kind === "duplicate") counts.duplicates += event.count;
      else if (event.kind === "error") {
        counts.rejected++;
        log(`${topic}: not republished: ${event.message}`);
      }
    }
    const node = topic.split("/").at(-2)!;
    const outputs = outputsOf(options.prefix, node, readings);
    counts.readings += readings.filter((r) => valueOf(r) !== undefined).length;
    await Promise.all(outputs.map((o) => accepted(out, o.topic, o.payload)));
  };
  const clientOptions: IClientOptions = { clientId: options.clientId, clean: false, reconnectPeriod: 1000 };
  const client = mqtt.connect(options.broker, clientOptions);
  // MQTT.js sends the PUBACK (for QoS 2, the PUBCOMP) when handleMessage calls back: after the outputs' PUBACKs.
  client.handleMessage = (packet, done) => {
    take(packet.topic, packet.payload as Buffer, packet.properties?.contentType).then(
      () => done(),
      (e: unknown) => fail(`republishing ${packet.topic}: ${e instanceof Error ? e.message : String(e)}`),
    );
  };
  client.on("connect", (connack) => {
    client.subscribe(`${options.prefix}/+/telemetry`, { qos: 1 }, (e) => {
      if (e) return fail(`subscribing: ${e.message}`);
      log(`bridging ${options.prefix}/+/telemetry to ${options.prefix}/<node>/json on ${options.broker} as ${options.clientId} (session ${connack.sessionPresent ? "resumed" : "new"})`);
    });
  });
  client.on("error", (e) => log(`broker: ${e.message}`));
  const stop = () => {
    log(`stopping: ${counts.readings} readings republished, ${counts.duplicates} repeats dropped, ${counts.rejected} payloads rejected`);
    client.end(false, {}, () => out.end(false, {}, () => process.exit(0)));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (require.main === module) void runCommand({ name: "bridge", usage, parse, run: (options) => bridge(options, (line) => process.stdout.write(`${line}\n`)) });
