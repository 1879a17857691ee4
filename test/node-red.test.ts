// The torpor Node-RED node, as a Node-RED user installs it (the package's esbuild bundle), in a real
// Node-RED runtime (node-red-node-test-helper): a flow `mqtt in` on a real mosquitto → torpor gives
// exactly the readings simulated nodes logged as sampled, in each of the three formats, once each
// and with their units and sample times; the same in batches with the node's batch option; the
// faults and statuses on their own outputs; a batch delivered again adds nothing; and a payload
// that is not torpor's is an error a catch node gets, with nothing sent.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { connectAsync, type MqttClient } from "mqtt";
import { buildPackage } from "../packages/node-red-torpor/build-package";
import { decodePayload, payloadFormatOf } from "../tools/payload-decoder";
import { start } from "../tools/start";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { until } from "./support/until";

interface FlowMessage {
  topic?: string;
  payload?: unknown;
  [key: string]: unknown;
}
interface FlowNode {
  on(event: "input", listener: (msg: FlowMessage) => void): void;
}
/** The parts of node-red-node-test-helper used here (it ships no types). */
interface Helper {
  init(nodeRedPath: string): void;
  startServer(done: () => void): void;
  stopServer(done: () => void): void;
  load(nodes: unknown[], flow: Record<string, unknown>[]): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): FlowNode;
}

const helper: Helper = require("node-red-node-test-helper");
const mqttNodes: unknown = require("@node-red/nodes/core/network/10-mqtt.js");
const catchNode: unknown = require("@node-red/nodes/core/common/25-catch.js");

interface OutReading {
  topic: string;
  payload: number;
  unit: string;
  time: number;
  node: string;
  channel: string;
}

describe("the torpor Node-RED node", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-node-red-"));
    await buildPackage(path.join(dir, "node-red-torpor"));
    broker = await startMosquitto();
    helper.init(require.resolve("node-red"));
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("turns simulated nodes' telemetry in each format into exactly the readings they sampled", { timeout: 90_000 }, async () => {
    const bundle = require(path.join(dir, "node-red-torpor", "torpor.js")) as { default: unknown };
    const mqttIn = (id: string, topic: string) => ({ id, type: "mqtt in", z: "f", name: "", topic, qos: "1", datatype: "auto-detect", broker: "b", nl: false, rap: true, rh: 0, inputs: 0, wires: [["t", "tb"]] });
    const flow = [
      { id: "f", type: "tab", label: "torpor" },
      { id: "b", type: "mqtt-broker", name: "", broker: "127.0.0.1", port: String(broker.port), clientid: "", autoConnect: true, usetls: false, protocolVersion: "5", keepalive: "60", cleansession: true },
      mqttIn("in-telemetry", "torpor/+/telemetry"),
      mqttIn("in-status", "torpor/+/status"),
      { id: "t", type: "torpor", z: "f", name: "", prefix: "torpor", output: "reading", wires: [["readings"], ["faults"], ["statuses"]] },
      { id: "tb", type: "torpor", z: "f", name: "", prefix: "torpor", output: "batch", wires: [["batches"], [], []] },
      { id: "c", type: "catch", z: "f", name: "", scope: ["t"], uncaught: false, wires: [["errors"]] },
      ...["readings", "faults", "statuses", "batches", "errors"].map((id) => ({ id, type: "helper", z: "f" })),
    ];
    await helper.load([mqttNodes, catchNode, bundle.default], flow);
    const got: Record<string, FlowMessage[]> = { readings: [], faults: [], statuses: [], batches: [], errors: [] };
    for (const id of Object.keys(got)) helper.getNode(id).on("input", (msg) => got[id]!.push(msg));
    // The nodes' own telemetry, as an independent subscriber gets it: for the faults and a repeat.
    const witness: MqttClient = await connectAsync(broker.url, { clean: true });
    const telemetry: { topic: string; payload: Buffer }[] = [];
    witness.on("message", (topic, payload) => telemetry.push({ topic, payload }));
    const publisher = await connectAsync(broker.url, { clean: true });
    try {
      await witness.subscribeAsync("torpor/+/telemetry", { qos: 1 });
      // The flow's subscriptions are made once its broker connection is up: a probe status tells.
      await until("the flow to subscribe", () => {
        if (got.statuses!.some((m) => m.node === "probe")) return true;
        void publisher.publishAsync("torpor/probe/status", '{"state":"asleep"}', { qos: 1 });
        return false;
      });
      const sampled = new Map<string, number[]>();
      const lines: string[] = [];
      for (const format of ["compact", "senml-cbor", "senml-json"] as const) {
        const config = path.join(dir, `${format}.json`);
        fs.writeFileSync(config, JSON.stringify({ format, batchSize: 3 }));
        await start({ broker: broker.url, nodes: 1, node: `nr-${format}`, cycles: 3, timeScale: "max", config }, (l) => lines.push(l));
      }
      for (const l of lines) {
        const m = /^\[(nr-[\w-]+)\] \S+ woke \([\w-]+\); sht3x\/temperature=(-?[\d.]+) Cel sht3x\/humidity=([\d.]+) %RH/.exec(l);
        if (!m) continue;
        for (const [channel, value] of [["sht3x/temperature", m[2]], ["sht3x/humidity", m[3]]] as const) sampled.set(`${m[1]}/${channel}`, [...(sampled.get(`${m[1]}/${channel}`) ?? []), Number(value)]);
      }
      const expected = [...sampled.values()].reduce((n, v) => n + v.length, 0);
      assert.equal(sampled.size, 6, "each node sampled both channels");
      for (const { topic, payload } of telemetry) assert.equal(`nr-${payloadFormatOf(payload)}`, topic.split("/")[1], "each node published in its own format");
      assert.ok(expected >= 3 * 2 * 5, `${expected} readings sampled`);
      await until("the readings", () => got.readings!.length >= expected && got.batches!.flatMap((b) => b.payload as unknown[]).length >= expected, 20_000, () => `(${got.readings!.length} of ${expected})`);
      // A batch delivered again (QoS 1 redelivery, a re-sent batch), then junk; a status after them tells they were handled.
      await publisher.publishAsync(telemetry[0]!.topic, telemetry[0]!.payload, { qos: 1 });
      await publisher.publishAsync("torpor/nr-junk/telemetry", "[not senml", { qos: 1 });
      await publisher.publishAsync("torpor/probe/status", '{"state":"offline"}', { qos: 1 });
      await until("the last status", () => got.statuses!.some((m) => m.node === "probe" && (m.payload as { state: string }).state === "offline"));

      const readings = got.readings! as unknown as OutReading[];
      const keys = readings.map((r) => `${r.topic} ${r.time}`);
      assert.equal(new Set(keys).size, keys.length, "each reading once");
      const byChannel = new Map<string, number[]>();
      for (const r of [...readings].sort((a, b) => a.time - b.time)) byChannel.set(r.topic, [...(byChannel.get(r.topic) ?? []), r.payload]);
      assert.deepEqual(byChannel, sampled, "the values each node sampled, in order, in each format");
      for (const r of readings) {
        assert.equal(r.unit, r.channel === "sht3x/temperature" ? "Cel" : "%RH");
        assert.equal(r.topic, `${r.node}/${r.channel}`);
        assert.ok(Number.isInteger(r.time) && r.time > 1_700_000_000, `a sample time in Unix seconds: ${r.time}`);
      }
      const batched = got.batches!.flatMap((b) => (b.payload as { channel: string; time: number; value: number; unit: string }[]).map((x) => ({ topic: `${b.node}/${x.channel}`, payload: x.value, unit: x.unit, time: x.time, node: b.node, channel: x.channel })));
      assert.deepEqual(new Set(batched.map((r) => JSON.stringify(r))), new Set(readings.map((r) => JSON.stringify({ topic: r.topic, payload: r.payload, unit: r.unit, time: r.time, node: r.node, channel: r.channel }))), "the batches hold the same readings");
      assert.equal(batched.length, readings.length);
      // Faults: those the nodes' batches carried (the virtual sensors fail now and then), once each.
      const faults = new Set<string>();
      for (const { topic, payload } of telemetry) {
        const node = topic.split("/")[1]!;
        if (node === "nr-junk") continue;
        for (const r of decodePayload(payload, { baseName: `urn:dev:torpor:${node}:` }).records) if (r.stringValue !== undefined) faults.add(`${node}/${r.name.slice(`urn:dev:torpor:${node}:`.length)} ${r.time} ${r.stringValue}`);
      }
      assert.deepEqual(new Set(got.faults!.map((m) => `${m.topic} ${m.time} ${m.payload}`)), faults);
      for (const format of ["compact", "senml-cbor", "senml-json"]) assert.ok(got.statuses!.some((m) => m.node === `nr-${format}` && typeof (m.payload as { state?: unknown }).state === "string"), `a decoded status of nr-${format}`);
      assert.equal(got.errors!.length, 1, JSON.stringify(got.errors));
      assert.match(String((got.errors![0]!.error as { message: string }).message), /torpor\/nr-junk\/telemetry: senml-json: /);
      assert.ok(!readings.some((r) => r.node === "nr-junk"));
    } finally {
      await publisher.endAsync();
      await witness.endAsync();
      await helper.unload();
    }
  });
});
