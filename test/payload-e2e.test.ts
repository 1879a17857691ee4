// Every payload format end to end: a simulated node (the Node host, its virtual SHT3x driven by the
// Candanedo recording) publishes batches in the configured format to a real broker, and a
// subscriber outside torpor (MQTT.js) that decodes them with the shipped decoder gets exactly the
// readings the node sampled, at their resolution: over MQTT 3.1.1 (aedes) telling the format by
// its first byte, and over MQTT 5 (mosquitto) by the Content Type (SenML) or the first byte (compact).

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { wakeOnce } from "../hosts/node/wake";
import { readRecording } from "../hosts/node/recording";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { decodePayload, type PayloadFormatName } from "../tools/payload-decoder";
import { repoRoot } from "./support/bundle";
import { connectAsync } from "mqtt";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";

const recording = path.join(repoRoot, "..", "shared", "data", "candanedo-office-occupancy-1min.csv");
const noRecording = fs.existsSync(recording) ? false : `no recording at ${recording}`;
const formats: PayloadFormatName[] = ["compact", "senml-cbor", "senml-json"];
const WAKES = 25;

/** Runs a node for WAKES wakes with `payloadFormat`; returns what it logged it sampled and what the
 *  subscriber decoded, each as [time-less temperature, humidity] pairs in order, and the times. */
async function run(url: string, format: PayloadFormatName, mqttVersion: 4 | 5) {
  const node = `e2e-${format}-${mqttVersion}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `torpor-${node}-`));
  const topic = `torpor/${node}/telemetry`;
  const messages: { payload: Buffer; contentType: string | undefined }[] = [];
  const subscriber = await connectAsync(url, { clean: true, protocolVersion: mqttVersion });
  subscriber.on("message", (_topic, payload, packet) => messages.push({ payload, contentType: packet.properties?.contentType }));
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const lines: string[] = [];
  try {
    const config = path.join(dir, "config.json");
    fs.writeFileSync(config, JSON.stringify({ node, broker: url, mqttVersion, payloadFormat: format, batchSize: 12, sampleInterval: 60, awakeTimeout: 5 }));
    for (let i = 0; i < WAKES; i++) {
      const report = await wakeOnce({ state: path.join(dir, "state"), config, timeScale: 1000, replay: recording }, (l) => lines.push(l));
      assert.equal(report.error, undefined, lines.join("\n"));
    }
    // Every message the node had acknowledged reaches the subscriber soon after: wait for them, boundedly.
    const published = lines.reduce((n, l) => n + Number(/^published \d+ readings? in (\d+) messages?/.exec(l)?.[1] ?? 0), 0);
    for (let waited = 0; messages.length < published && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await subscriber.endAsync();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const sampled = lines
    .map((l) => /^woke \([\w-]+\); sht3x\/temperature=(-?[\d.]+) Cel sht3x\/humidity=([\d.]+) %RH/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [Number(m[1]), Number(m[2])]);
  return { sampled, messages, lines, baseName: `urn:dev:torpor:${node}:` };
}

describe("every payload format end to end, with the Candanedo recording", { skip: noRecording }, () => {
  const check = async (url: string, format: PayloadFormatName, mqttVersion: 4 | 5) => {
    const { sampled, messages, lines, baseName } = await run(url, format, mqttVersion);
    assert.ok(messages.length >= 3, `${messages.length} messages\n${lines.join("\n")}`);
    const records = messages.flatMap((m) => {
      // The SenML formats are named by their Content Type; compact goes without (its first byte names it).
      if (mqttVersion === 5) assert.equal(m.contentType !== undefined, format !== "compact", "MQTT 5 messages name a SenML format");
      const decoded = decodePayload(m.payload, { baseName, ...(m.contentType ? { contentType: m.contentType } : {}) });
      assert.equal(decoded.format, format);
      return decoded.records;
    });
    const temperatures = records.filter((r) => r.name === `${baseName}sht3x/temperature`);
    const humidities = records.filter((r) => r.name === `${baseName}sht3x/humidity`);
    assert.deepEqual(temperatures.map((r, i) => [r.value, humidities[i]?.value]), sampled, lines.join("\n"));
    // And those are the recording's values where the node sampled it, at the SHT3x's 0.01.
    const environment = readRecording(recording);
    for (const r of temperatures) assert.ok(Math.abs(r.value! - environment.at(r.time * 1000).temperature) < 0.015, `${r.value} at ${r.time}`);
    for (const r of humidities) assert.ok(Math.abs(r.value! - environment.at(r.time * 1000).humidity) < 0.015, `${r.value} at ${r.time}`);
  };

  describe("over MQTT 3.1.1 to aedes: the first byte tells the format", () => {
    let broker: EmbeddedBroker;
    before(async () => (broker = await startEmbeddedBroker()));
    after(() => broker.close());
    for (const format of formats) it(format, () => check(broker.url, format, 4));
  });

  describe("over MQTT 5 to mosquitto: the Content Type names it", { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    before(async () => (broker = await startMosquitto()));
    after(() => broker.stop());
    for (const format of formats) it(format, () => check(broker.url, format, 5));
  });
});
