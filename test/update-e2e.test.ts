// Two fleets updated from the built-in firmware to an image at 0.2.0 with the operator's commands
// (keygen, image, offer) while they sample. Twenty nodes of the process-per-wake host (each wake
// `wakeOnce` in-process, or a process of its own killed by SIGKILL at a random moment), the broker
// restarted (persistence on) in the middle: every node ends up running 0.2.0, kept (its first
// publishing wake proved it), its status says so, and every reading sampled meanwhile reaches a
// subscriber outside torpor. And 1,000 nodes in one process (hosts/node/fleet), the broker restarted
// mid-transfer: all on 0.2.0, every acknowledged reading counted once by an outside subscriber.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { layeredConfig, manifestConfig } from "../hosts/node/config-file";
import { runFleet } from "../hosts/node/fleet";
import { ReadingCounter } from "../tools/start";
import { buildImage } from "../tools/update/image";
import { keygen, readSigningKey } from "../tools/update/keys";
import { offerMessages } from "../tools/update/offer";
import { publish, statuses } from "../tools/update/broker";
import { asRoot, dedupe, Subscriber, tempDir, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { startProxy, type Proxy } from "./support/proxy";

const NODES = 20;
/** The fleet in one process (hosts/node/fleet): nodes, and publishing wakes each. */
const FLEET = 1000;
const FLEET_CYCLES = 10;
/** Rounds of wakes at most: the image at 64 KB a wake takes five publishing wakes. */
const MAX_ROUNDS = 16;

/** A wake as its own process, killed (SIGKILL) after a random 20 to 400 ms. */
async function killedWake(node: TestNode): Promise<void> {
  const child = node.spawnWake();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20 + Math.floor(Math.random() * 380));
  await exited;
  clearTimeout(timer);
}

describe("a sleeping fleet updated over its MQTT sessions", { skip: mosquittoMissing() }, () => {
  let store: string;
  let work: string;
  let broker: Mosquitto;
  let proxy: Proxy;
  const config = () => ["persistence true", `persistence_location ${store}/`, ...asRoot()];
  before(async () => {
    store = tempDir("mosquitto-store");
    work = tempDir("update");
    broker = await startMosquitto(config());
    proxy = await startProxy({ port: broker.port });
  });
  after(async () => {
    await proxy.close();
    await broker.stop();
    fs.rmSync(store, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("every node ends on 0.2.0 and every reading is delivered", async () => {
    const { key, pub } = keygen(path.join(work, "keys"));
    const image = Buffer.from(buildImage("0.2.0"));
    const updateKey = fs.readFileSync(pub, "utf8").trim();
    const nodes = Array.from({ length: NODES }, (_, i) => new TestNode(`up${i}`, { broker: proxy.url, updateKey, updateBytesPerWake: 65536, updateBytesPerDay: 16 * 1024 * 1024 }, work));
    const subscriber = await Subscriber.connect(proxy.url, ["torpor/+/telemetry"], { clean: false, clientId: "update-watcher" });
    try {
      // A first wake each on the built-in firmware: the nodes subscribe to offers.
      for (const node of nodes) assert.equal((await node.wake()).error, undefined, node.log());
      const { messages } = offerMessages(image, readSigningKey(key), { prefix: "torpor", nodes: [], chunk: 2048, battery: 0, downgrade: false });
      await publish(proxy.url, messages);
      for (let round = 0; round < MAX_ROUNDS; round++) {
        if (round === 2) {
          await broker.stop();
          broker = await startMosquitto(config());
          proxy.target = { host: "127.0.0.1", port: broker.port };
        }
        for (const [i, node] of nodes.entries()) {
          // Every third node's wake this round is a process killed at a random moment: a power cut.
          if ((i + round) % 3 === 0) await killedWake(node);
          await node.wake();
        }
        const rows = await statuses(proxy.url, "torpor");
        if (rows.length === NODES && rows.every((r) => r.version === "0.2.0" && r.update.startsWith("idle"))) break;
      }
      const rows = await statuses(proxy.url, "torpor");
      for (const node of nodes) {
        const row = rows.find((r) => r.node === node.name);
        assert.equal(row?.version, "0.2.0", `${node.name}: ${JSON.stringify(row)}\n${node.log()}`);
        assert.equal(row.refused, 0, node.log());
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(node.dir, "state", "firmware", "boot.json"), "utf8")), {}, `${node.name} kept 0.2.0`);
        assert.match(node.log(), /firmware 0\.2\.0 completed a publishing wake: kept/);
      }
      // Every reading sampled, across the update and the restart, reached the subscriber.
      for (const node of nodes) {
        const sampled = node.sampled();
        const ok = await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= sampled.length, 10_000);
        assert.ok(ok, `${node.name}: ${dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length} of ${sampled.length} readings\n${node.log()}`);
        // In order, and none missing; a wake killed between committing its reading and logging it
        // delivers one more than its log shows.
        const delivered = dedupe(subscriber.records(node.telemetryTopic), node.name).samples;
        let at = 0;
        for (const sample of sampled) {
          while (at < delivered.length && (delivered[at]!.temperature !== sample.temperature || delivered[at]!.humidity !== sample.humidity)) at++;
          assert.ok(at < delivered.length, `${node.name}: ${JSON.stringify(sample)} sampled, never delivered`);
          at++;
        }
      }
    } finally {
      await subscriber.end();
    }
  });

  it("a fleet in one process ends on 0.2.0 across a broker restart, and every reading is delivered", async () => {
    const { key, pub } = keygen(path.join(work, "fleet-keys"));
    const { messages } = offerMessages(Buffer.from(buildImage("0.2.0")), readSigningKey(key), { prefix: "fleet", nodes: [], chunk: 2048, battery: 0, downgrade: false });
    await publish(proxy.url, messages);
    const updateKey = fs.readFileSync(pub, "utf8").trim();
    const { config: nodeConfig } = layeredConfig(manifestConfig(), { broker: proxy.url, prefix: "fleet", batchSize: 1, updateKey, updateBytesPerWake: 65536, updateBytesPerDay: 16 * 1024 * 1024 });
    const counter = new ReadingCounter(nodeConfig);
    const subscriber = await Subscriber.connect(proxy.url, counter.subscriptions, { clean: false, clientId: "fleet-update-watcher" });
    subscriber.client.on("message", (topic, payload) => counter.handle(topic, payload));
    try {
      const names = Array.from({ length: FLEET }, (_, i) => `f${i}`);
      // The broker restarts (from its persistence file) three simulated minutes in, mid-transfer.
      const t0 = Date.UTC(2026, 5, 1, 12, 0, 30);
      let restarted: Promise<void> | undefined;
      const restart = async () => {
        await broker.stop();
        broker = await startMosquitto(config());
        proxy.target = { host: "127.0.0.1", port: broker.port };
      };
      const result = await runFleet({
        names,
        config: nodeConfig,
        scale: "max",
        startMs: t0,
        cycles: FLEET_CYCLES,
        concurrency: 64,
        beforeWake: (_i, due) => (due < t0 + 180_000 ? undefined : (restarted ??= restart())),
      });
      assert.ok(restarted, "the broker restarted mid-run");
      assert.equal(result.sampled, result.delivered + result.buffered);
      const rows = await statuses(proxy.url, "fleet");
      const behind = names.filter((n) => rows.find((r) => r.node === n)?.version !== "0.2.0");
      assert.deepEqual(behind, [], JSON.stringify(rows.filter((r) => behind.includes(r.node)).slice(0, 3)));
      assert.ok(await subscriber.until(() => counter.readings >= result.delivered, 20_000), `${counter.readings} of ${result.delivered} readings`);
      assert.equal(counter.readings, result.delivered, "every acknowledged reading, once");
      assert.equal(counter.gaps, 0);
    } finally {
      await subscriber.end();
    }
  });
});
