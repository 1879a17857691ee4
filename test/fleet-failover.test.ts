// Broker failover: `broker` takes the members of a cluster (a JSON array, or URLs separated by
// commas); a node that cannot reach one tries the next within the same wake, and remembers the one
// that answered, so later wakes go there first.

import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { connectAsync } from "mqtt";
import { layeredConfig, manifestConfig } from "../hosts/node/config-file";
import { runFleet } from "../hosts/node/fleet";
import { ConfigError, parseConfig } from "../src/config";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { ReadingCounter } from "../tools/start";

describe("broker lists in the config", () => {
  it("takes one URL, a JSON array or URLs separated by commas; the first is the one dialled first", () => {
    const a = { secure: false, host: "10.0.0.1", port: 1883 };
    const b = { secure: true, host: "b.example", port: 8883 };
    assert.deepEqual(parseConfig({ broker: "mqtt://10.0.0.1" }).brokers, [a]);
    for (const broker of [["mqtt://10.0.0.1:1883", "mqtts://b.example"], '["mqtt://10.0.0.1:1883","mqtts://b.example"]', "mqtt://10.0.0.1:1883,mqtts://b.example", "mqtt://10.0.0.1:1883, mqtts://b.example"]) {
      const config = parseConfig({ broker });
      assert.deepEqual(config.brokers, [a, b], JSON.stringify(broker));
      assert.deepEqual(config.broker, a);
    }
  });

  const bad: [string, unknown, RegExp][] = [
    ["a bad member, by its place", "mqtt://a:1883,http://b", /^config broker\[1\]: "http:\/\/b" is not an mqtt/],
    ["an empty list", [], /^config broker: is an empty list/],
    ["more members than a node fails over between", Array.from({ length: 9 }, (_, i) => `mqtt://h${i}`), /^config broker: lists 9 brokers; at most 8$/],
    ["a list of something else", [1883], /^config broker: expected a string, got 1883$/],
    ["an empty member", "mqtt://a:1883,", /^config broker\[1\]: "" is not an mqtt/],
  ];
  for (const [what, broker, message] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseConfig({ broker }), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    });
  }
});

describe("a node whose first broker cannot be reached", () => {
  let broker: EmbeddedBroker;
  let dead: net.Server;
  let deadConnections = 0;
  before(async () => {
    broker = await startEmbeddedBroker();
    // Takes the connection and closes it at once: a member going down, or a proxy with no backend.
    dead = net.createServer((socket) => (deadConnections++, socket.destroy()));
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
  });
  after(async () => {
    await broker.close();
    await new Promise((resolve) => dead.close(resolve));
  });

  it("publishes through the next one in the same wake, and goes there first from then on", async () => {
    const { port } = dead.address() as net.AddressInfo;
    const { config } = layeredConfig(manifestConfig(), { broker: `mqtt://127.0.0.1:${port},${broker.url}`, batchSize: 2 });
    const counter = new ReadingCounter(config);
    const subscriber = await connectAsync(broker.url, { clean: false, clientId: "failover-watcher" });
    subscriber.on("message", (topic, payload) => counter.handle(topic, payload));
    await subscriber.subscribeAsync("torpor/+/telemetry", { qos: 1 });
    try {
      const names = ["fo-1", "fo-2", "fo-3"];
      const result = await runFleet({ names, config, scale: "max", cycles: 3, startMs: Date.UTC(2026, 0, 1) });
      assert.equal(result.failures, 0, "no wake failed: each found the second broker within itself");
      assert.equal(deadConnections, names.length, "the first broker was tried once per node, never again");
      for (let i = 0; i < 50 && counter.readings < result.delivered; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(counter.readings, result.sampled);
    } finally {
      await subscriber.endAsync();
    }
  });
});
