// The fleet in one process (hosts/node/fleet) against the process-per-wake host it stands for: the
// same node on the same schedule publishes the same telemetry, byte for byte, whichever runs it;
// and many nodes in one process each read their own values and deliver every reading to a
// subscriber that is not part of torpor.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { connectAsync, type MqttClient } from "mqtt";
import { layeredConfig, manifestConfig } from "../hosts/node/config-file";
import { runFleet } from "../hosts/node/fleet";
import { writeRecord } from "../hosts/node/host-file";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { ReadingCounter, start } from "../tools/start";
import { tempDir } from "./support/e2e-node";

/** Off the sampling grid, as a power-on is: the first reading is stamped here, the rest on the grid. */
const T0 = Date.UTC(2026, 5, 1, 12, 0, 30);

interface Message {
  topic: string;
  payload: string;
}

/** Runs `body` against a fresh embedded broker, recording every telemetry message in order. */
async function recorded(body: (url: string) => Promise<void>): Promise<Message[]> {
  const broker = await startEmbeddedBroker();
  const subscriber = await connectAsync(broker.url, { clean: true });
  const messages: Message[] = [];
  subscriber.on("message", (topic, payload) => messages.push({ topic, payload: payload.toString("hex") }));
  await subscriber.subscribeAsync("torpor/+/telemetry", { qos: 1 });
  try {
    await body(broker.url);
    // The runner waits for the last batch itself; this is for the subscriber's own QoS 1 round trip.
    for (let i = 0; i < 50 && messages.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  } finally {
    await subscriber.endAsync();
    await broker.close();
  }
  return messages;
}

describe("a fleet in one process", () => {
  let dir: string;
  before(() => (dir = tempDir("fleet")));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("publishes the same telemetry, byte for byte, as one process per wake", async () => {
    const config = path.join(dir, "twin.json");
    fs.writeFileSync(config, JSON.stringify({ node: "twin", batchSize: 3 }));
    const quiet = () => {};
    const fleet = await recorded((url) => start({ broker: url, nodes: 1, cycles: 2, timeScale: "max", config, startMs: T0 }, quiet));
    // One process per wake, starting at the same moment: a clock anchor the host's clock has not
    // reached yet counts no time, so the first wake's clock reads exactly T0.
    const state = path.join(dir, "state");
    fs.mkdirSync(path.join(state, "twin"), { recursive: true });
    writeRecord(path.join(state, "twin", "clock.json"), { simMs: T0, realMs: Date.now() + 3_600_000 });
    const processes = await recorded((url) => start({ broker: url, nodes: 1, cycles: 2, timeScale: 600, config, state }, quiet));
    assert.equal(fleet.length, 2, "two acknowledged batches");
    assert.deepEqual(fleet, processes);
    // And what they carry: the power-on reading at T0, then readings on the one-minute grid.
    const times = fleet.flatMap((m) => (JSON.parse(Buffer.from(m.payload, "hex").toString("utf8")) as { bt?: number; t?: number }[]).filter((r) => r.bt !== undefined).map((r) => r.bt));
    assert.equal(times[0], T0 / 1000);
  });

  it("the runner summarises more than ten nodes instead of printing every line, and counts what its subscriber saw", async () => {
    const lines: string[] = [];
    await start({ port: 0, nodes: 12, node: "crowd", cycles: 1, timeScale: "max" }, (line) => lines.push(line));
    assert.ok(!lines.some((l) => /^\[crowd-\d+\]|^ {2}crowd-/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /^fleet: 12 nodes, 12 wakes in .*; 12 readings sampled, 12 acknowledged, 0 still buffered, 0 failed publishes$/.test(l)), lines.join("\n"));
    assert.ok(lines.includes("subscriber: 12 readings, 0 duplicate values, 0 gaps"), lines.join("\n"));
  });

  it("refuses more nodes than one process per wake can run, with exit code 2", () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, "..", "tools", "start.js"), "--process-per-wake", "--nodes", "101"], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^torpor: --nodes must be a whole number from 1 to 100, got "101"/);
  });

  describe("many nodes", () => {
    let broker: EmbeddedBroker;
    let subscriber: MqttClient;
    before(async () => {
      broker = await startEmbeddedBroker();
    });
    after(async () => {
      await subscriber?.endAsync();
      await broker.close();
    });

    it("each node reads its own values, and every reading reaches an outside subscriber", async () => {
      const { config } = layeredConfig(manifestConfig(), { broker: broker.url, batchSize: 4 });
      const counter = new ReadingCounter(config);
      subscriber = await connectAsync(broker.url, { clean: false, clientId: "fleet-test-watcher" });
      subscriber.on("message", (topic, payload) => counter.handle(topic, payload));
      await subscriber.subscribeAsync("torpor/+/telemetry", { qos: 1 });
      const names = Array.from({ length: 200 }, (_, i) => `crowd-${i + 1}`);
      const firstReadings = new Map<number, string>();
      const result = await runFleet({
        names,
        config,
        scale: "max",
        cycles: 2,
        startMs: T0,
        concurrency: 64,
        log: (i, line) => {
          if (line.startsWith("woke (power-on)")) firstReadings.set(i, line.replace(/^woke \(power-on\); /, ""));
        },
      });
      assert.equal(result.nodes, 200);
      assert.equal(result.failures, 0);
      assert.equal(result.sampled, result.delivered + result.buffered);
      for (let i = 0; i < 50 && counter.readings < result.delivered; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(counter.readings, result.delivered, "every acknowledged reading, once");
      assert.equal(counter.errors, 0);
      // Their own phase of the day each: 200 nodes, (nearly) 200 different first readings.
      assert.ok(new Set(firstReadings.values()).size >= 190, [...firstReadings.values()].slice(0, 5).join("\n"));
    });
  });
});
