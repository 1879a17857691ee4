// `npm run bridge` republishes every reading as plain JSON exactly as the issue names it: a batch
// in each of the three formats gives the same messages, each reading once; a payload nothing reads
// is logged with its reason and republished as nothing, and the bridge goes on. Killed with SIGKILL
// twice in the middle of a fleet's traffic and started again, it leaves a consumer with exactly the
// readings the nodes sampled — none lost, and none doubled: a consumer keyed by (node, channel,
// time) sees each reading once, and any message a kill made the bridge send again is the same bytes.

import assert from "node:assert/strict";
import { spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { connectAsync, type MqttClient } from "mqtt";
import { parseConfig } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { encodePayload } from "../src/telemetry/payload";
import { decodePayload } from "../tools/payload-decoder";
import { start } from "../tools/start";
import { mosquittoMissing, startMosquitto } from "./support/mosquitto";
import { connectionsOf, frameOf, PacketType, startProxy } from "./support/proxy";
import { sampledFromLog } from "./support/simulated-node";
import { killed, runTool } from "./support/tool-process";
import { until } from "./support/until";

const bridgeProgram = path.join(__dirname, "..", "tools", "bridge", "main.js");

function twoReadingBatch(node: string) {
  const config = parseConfig({ sensors: [{ type: "bme280", address: 0x76 }, { type: "sht3x", address: 0x44 }] });
  return {
    baseName: `urn:dev:torpor:${node}:`,
    channels: channelsOf(config.sensors),
    sensorIds: config.sensors.map((s) => s.id),
    readings: [
      { seq: 0, time: 1_764_000_000, values: [2150, 4010, 101325, 2149, 4012], faults: [] },
      { seq: 1, time: 1_764_000_060, values: [null, null, null, 2151, 4013], faults: [{ sensor: 0, fault: 2 }] },
    ],
    dropped: 0,
  };
}

/** A consumer of the bridge's outputs, as Telegraf or ThingsBoard would be: every message, by topic. */
class Consumer {
  /** (node channel t) → the per-reading payload, and how many times it came. */
  readonly perReading = new Map<string, { payload: string; times: number }>();
  /** Every per-reading message whose key came before with other bytes. */
  readonly conflicts: string[] = [];
  /** (node channel t) → value, from the per-time messages. */
  readonly perTime = new Map<string, number>();
  constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload) => {
      const [, node, , ...channel] = topic.split("/");
      const text = payload.toString();
      if (channel.length === 0) {
        const { ts, values } = JSON.parse(text) as { ts: number; values: Record<string, number> };
        for (const [name, value] of Object.entries(values)) this.perTime.set(`${node} ${name} ${ts / 1000}`, value);
        return;
      }
      const key = `${node} ${channel.join("/")} ${(JSON.parse(text) as { t: number }).t}`;
      const before = this.perReading.get(key);
      if (before && before.payload !== text) this.conflicts.push(`${key}: ${before.payload} then ${text}`);
      this.perReading.set(key, { payload: text, times: (before?.times ?? 0) + 1 });
    });
  }
  static async on(url: string): Promise<Consumer> {
    const client = await connectAsync(url, { clean: true });
    const consumer = new Consumer(client);
    await client.subscribeAsync(["torpor/+/json", "torpor/+/json/#"], { qos: 1 });
    return consumer;
  }
}

describe("npm run bridge", { skip: mosquittoMissing() }, () => {
  it("says which flag is wrong, and exits 2", () => {
    for (const [args, message] of [
      [[], /bridge: --broker must be an mqtt:\/\/host:port URL\n/],
      [["--broker", "http://x"], /--broker must be an mqtt:\/\/host:port URL, got "http:\/\/x"/],
      [["--broker", "mqtt://x:1883", "--prefix", "a/#"], /--prefix must be a topic prefix without wildcards or spaces, got "a\/#"/],
      [["--broker", "mqtt://x:1883", "--qos", "2"], /Unknown option '--qos'/],
    ] as const) {
      const run = spawnSync(process.execPath, [bridgeProgram, ...args], { encoding: "utf8" });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /usage: npm run bridge/);
    }
  });

  it("republishes a batch in each format as the same JSON, each reading once, and rejects what it cannot read", async () => {
    const broker = await startMosquitto();
    const log: string[] = [];
    let child: ChildProcess | undefined;
    const consumer = await Consumer.on(broker.url);
    const node = await connectAsync(broker.url, { clean: true });
    try {
      child = await runTool(bridgeProgram, ["--broker", broker.url, "--client-id", "bridge-under-test"], log, "bridging");
      const batch = twoReadingBatch("n1");
      for (const format of ["compact", "senml-cbor", "senml-json"] as const) {
        await node.publishAsync("torpor/n1/telemetry", Buffer.from(encodePayload(format, batch).payload), { qos: 1 });
      }
      await node.publishAsync("torpor/n1/telemetry", "[not senml", { qos: 1 });
      // A message after the bad one: the bridge goes on.
      const later = { ...batch, readings: [{ seq: 2, time: 1_764_000_120, values: [2152, 4011, 101300, 2150, 4014], faults: [] }] };
      await node.publishAsync("torpor/n1/telemetry", Buffer.from(encodePayload("senml-json", later).payload), { qos: 1 });
      await until("the outputs", () => consumer.perReading.size >= 12 && consumer.perTime.size >= 12, 10_000, () => JSON.stringify([...consumer.perReading]));
      assert.deepEqual(Object.fromEntries([...consumer.perReading].map(([k, v]) => [k, v.payload])), {
        "n1 bme280/temperature 1764000000": '{"t":1764000000,"v":21.5,"u":"Cel"}',
        "n1 bme280/humidity 1764000000": '{"t":1764000000,"v":40.1,"u":"%RH"}',
        "n1 bme280/pressure 1764000000": '{"t":1764000000,"v":101325,"u":"Pa"}',
        "n1 sht3x/temperature 1764000000": '{"t":1764000000,"v":21.49,"u":"Cel"}',
        "n1 sht3x/temperature 1764000060": '{"t":1764000060,"v":21.51,"u":"Cel"}',
        "n1 sht3x/humidity 1764000000": '{"t":1764000000,"v":40.12,"u":"%RH"}',
        "n1 sht3x/humidity 1764000060": '{"t":1764000060,"v":40.13,"u":"%RH"}',
        "n1 bme280/temperature 1764000120": '{"t":1764000120,"v":21.52,"u":"Cel"}',
        "n1 bme280/humidity 1764000120": '{"t":1764000120,"v":40.11,"u":"%RH"}',
        "n1 bme280/pressure 1764000120": '{"t":1764000120,"v":101300,"u":"Pa"}',
        "n1 sht3x/temperature 1764000120": '{"t":1764000120,"v":21.5,"u":"Cel"}',
        "n1 sht3x/humidity 1764000120": '{"t":1764000120,"v":40.14,"u":"%RH"}',
      });
      assert.deepEqual([...consumer.perReading.values()].map((v) => v.times), Array(12).fill(1), "the same batch in another format republishes nothing");
      assert.deepEqual(consumer.perTime, new Map([...consumer.perReading].map(([k, v]) => [k, (JSON.parse(v.payload) as { v: number }).v])), "the per-time messages carry the same readings");
      assert.match(log.join(""), /torpor\/n1\/telemetry: not republished: senml-json: /);
      assert.equal(child.exitCode, null);
      await killed(child, "SIGTERM");
      assert.match(log.join(""), /12 readings republished, 16 repeats dropped, 1 payloads rejected/);
    } finally {
      if (child) await killed(child, "SIGTERM");
      await node.endAsync();
      await consumer.client.endAsync();
      await broker.stop();
    }
  });

  it("acknowledges a message only after the broker acknowledged every output it made", async () => {
    const broker = await startMosquitto();
    const proxy = await startProxy({ port: broker.port });
    const log: string[] = [];
    let child: ChildProcess | undefined;
    const node = await connectAsync(broker.url, { clean: true });
    try {
      child = await runTool(bridgeProgram, ["--broker", proxy.url, "--client-id", "bridge-under-test"], log, "bridging");
      await node.publishAsync("torpor/n1/telemetry", Buffer.from(encodePayload("compact", twoReadingBatch("n1")).payload), { qos: 1 });
      const [input] = connectionsOf(proxy, "bridge-under-test");
      const [output] = connectionsOf(proxy, "bridge-under-test-out");
      const acknowledged = await frameOf(input!, "up", PacketType.PUBACK);
      // 7 readings, and 2 sample times.
      const outputAcks = output!.down.frames.filter((f) => f.type === PacketType.PUBACK);
      assert.equal(outputAcks.length, 9, "every output was acknowledged before the input was");
      assert.ok(outputAcks.every((f) => f.at <= acknowledged.at));
    } finally {
      if (child) await killed(child, "SIGTERM");
      await node.endAsync();
      await proxy.close();
      await broker.stop();
    }
  });

  it("loses nothing and doubles nothing when killed with SIGKILL mid-stream (20 nodes)", { timeout: 90_000 }, async () => {
    const nodes = 20;
    const cycles = 6;
    const broker = await startMosquitto(["max_queued_messages 100000", "max_inflight_messages 20"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-bridge-"));
    const log: string[] = [];
    let child: ChildProcess | undefined;
    const consumer = await Consumer.on(broker.url);
    // The independent subscriber: the nodes' own telemetry, decoded here.
    const seen = new Map<string, number>();
    const witness = await connectAsync(broker.url, { clean: true });
    witness.on("message", (topic, payload) => {
      const node = topic.split("/")[1]!;
      for (const r of decodePayload(payload, { baseName: `urn:dev:torpor:${node}:` }).records) if (r.value !== undefined) seen.set(`${node} ${r.name.replace(`urn:dev:torpor:${node}:`, "")} ${r.time}`, r.value!);
    });
    try {
      await witness.subscribeAsync("torpor/+/telemetry", { qos: 1 });
      child = await runTool(bridgeProgram, ["--broker", broker.url, "--client-id", "bridge-under-test"], log, "bridging");
      const configFile = path.join(dir, "config.json");
      fs.writeFileSync(configFile, JSON.stringify({ batchSize: 1 }));
      const lines: string[] = [];
      const fleet = start({ broker: broker.url, nodes, cycles, timeScale: 600, state: path.join(dir, "state"), config: configFile }, (l) => lines.push(l));
      let fleetDone = false;
      let killedMidStream = 0;
      void fleet.finally(() => (fleetDone = true));
      for (const after of [nodes * 2, nodes * 5]) {
        await until(`${after} republished readings`, () => consumer.perReading.size >= after || fleetDone, 60_000);
        if (!fleetDone) killedMidStream++;
        await killed(child, "SIGKILL");
        await new Promise((r) => setTimeout(r, 300));
        child = await runTool(bridgeProgram, ["--broker", broker.url, "--client-id", "bridge-under-test"], log, "bridging");
      }
      await fleet;
      assert.ok(killedMidStream > 0, "the bridge was killed while the nodes were publishing");
      assert.ok(lines.filter((l) => l.endsWith("done")).length === nodes, lines.filter((l) => /error|fail/.test(l)).join("\n"));
      const sampled = sampledFromLog(lines);
      const expected = [...sampled.values()].reduce((n, v) => n + v.length, 0);
      assert.equal(sampled.size, nodes * 2, "every node sampled both channels");
      assert.ok(expected >= nodes * cycles * 2 - nodes * 2, `${expected} readings sampled`);
      await until("the bridge to catch up", () => consumer.perReading.size >= expected && consumer.perTime.size >= expected && seen.size >= expected, 30_000, () => `(republished ${consumer.perReading.size}, per time ${consumer.perTime.size}, seen ${seen.size}, sampled ${expected}; bridge:\n${log.join("")})`);
      assert.deepEqual(consumer.conflicts, [], "a reading sent again is the same message");
      const got = new Map([...consumer.perReading].map(([k, v]) => [k, (JSON.parse(v.payload) as { v: number }).v]));
      assert.equal(got.size, expected, "no reading lost, none doubled (by node, channel and time)");
      assert.deepEqual(got, seen, "the readings an independent subscriber decoded from the nodes' own messages");
      assert.deepEqual(consumer.perTime, got, "the per-time messages carry the same readings");
      const byChannel = new Map<string, number[]>();
      for (const [key, value] of [...got].sort(([a], [b]) => Number(a.split(" ")[2]) - Number(b.split(" ")[2]))) {
        const [node, channel] = key.split(" ");
        byChannel.set(`${node} ${channel}`, [...(byChannel.get(`${node} ${channel}`) ?? []), value]);
      }
      assert.deepEqual(byChannel, sampled, "the values each node sampled, in order");
      assert.ok(log.join("").split("(session resumed)").length - 1 >= 2, `the restarted bridge resumed its session:\n${log.join("")}`);
      const repeats = [...consumer.perReading.values()].filter((v) => v.times > 1).length;
      process.stdout.write(`# ${expected} readings; ${repeats} republished again after a kill (the same bytes)\n`);
    } finally {
      if (child) await killed(child, "SIGTERM");
      await witness.endAsync();
      await consumer.client.endAsync();
      await broker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
