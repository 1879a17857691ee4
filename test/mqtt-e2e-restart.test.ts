// A broker restarted while the node sleeps (mosquitto with persistence on, MQTT 5 and 3.1.1): the
// node's next wake resumes its session (CONNACK Session Present), takes the command an operator queued
// for it before the restart, applies it (the next sleep follows the new interval) and reports it in
// its retained status; a subscriber outside torpor sees every reading at least once across the
// restart. Without persistence the session is gone (Session Present 0): the node subscribes again in
// that wake, so the commands sent after it still arrive.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { connectAsync } from "mqtt";
import { asRoot, dedupe, retainedJson, Subscriber, tempDir, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { connackInfo, connectionsOf, frameOf, PacketType, settled, startProxy, type Proxy } from "./support/proxy";

for (const version of [5, 4] as const) {
  describe(`a broker restarted between wakes (mosquitto, MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip: mosquittoMissing() }, () => {
    let store: string;
    let broker: Mosquitto;
    let proxy: Proxy;
    let node: TestNode;
    // docs/mqtt.md: the client id is torpor-<node>.
    const clientId = `torpor-restart-${version}`;
    const config = () => ["persistence true", `persistence_location ${store}/`, ...asRoot()];
    before(async () => {
      store = tempDir("mosquitto-store");
      broker = await startMosquitto(config());
      // The node and the subscriber reach the broker through the proxy, which follows it to its new
      // port after the restart.
      proxy = await startProxy({ port: broker.port });
      node = new TestNode(`restart-${version}`, { broker: proxy.url, mqttVersion: version });
    });
    after(async () => {
      await proxy.close();
      await broker.stop();
      node.remove();
      fs.rmSync(store, { recursive: true, force: true });
    });

    it("resumes the session and applies the command queued while it slept", async () => {
      // A subscriber with a persistent session of its own, so that it misses nothing either.
      const subscriber = await Subscriber.connect(proxy.url, [node.telemetryTopic], { clean: false, clientId: `watcher-${version}`, protocolVersion: version, ...(version === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}) });
      try {
        const first = await node.wake();
        assert.equal(first.error, undefined, node.log());
        // The subscriber shares the proxy (and reconnects through it after the restart, whenever its
        // own timer says): the node's connections are the ones with its client id.
        const [opened] = connectionsOf(proxy, clientId);
        assert.ok(opened, node.log());
        assert.equal(connackInfo(await frameOf(opened, "down", PacketType.CONNACK)).sessionPresent, false, "a new node has no session yet");

        // While the node sleeps, an operator queues a command (QoS 1, as the docs say); then the
        // broker restarts, from its persistence file, on another port.
        const operator = await connectAsync(proxy.url, { protocolVersion: version });
        await operator.publishAsync(node.commandTopic, JSON.stringify({ cmd: "set", sampleInterval: 20, id: "c1" }), { qos: 1 });
        await operator.endAsync();
        await broker.stop();
        broker = await startMosquitto(config());
        proxy.target = { host: "127.0.0.1", port: broker.port };

        const second = await node.wake();
        assert.equal(second.error, undefined, node.log());
        const connection = await settled(connectionsOf(proxy, clientId).at(-1)!);
        assert.equal(connectionsOf(proxy, clientId).length, 2, "one connection per wake");
        assert.equal(connackInfo(await frameOf(connection, "down", PacketType.CONNACK)).sessionPresent, true, "session resumed after the restart");
        // The subscription came back with the session: this wake did not subscribe again.
        assert.equal(connection.up.frames.filter((f) => f.type === PacketType.SUBSCRIBE).length, 0);
        assert.match(second.lines.join("\n"), /^command c1: ok$/m);
        // The new interval holds from this very sleep on (60 s before).
        assert.ok(second.sleepMs! <= 20_000, `sleeps at most the commanded 20 s, not 60 s: ${second.sleepMs}`);

        // What an operator sees afterwards: the retained status names the change and the result.
        const status = await retainedJson(proxy.url, node.statusTopic);
        assert.equal(status.state, "asleep");
        assert.deepEqual(status.overrides, { sampleInterval: 20 });
        assert.deepEqual(status.commands, ["c1: ok"]);
        assert.equal(status.mqtt, version === 5 ? "5" : "3.1.1");

        // The change is kept across sleeps.
        const third = await node.wake();
        assert.equal(third.error, undefined, node.log());
        assert.ok(third.sleepMs! <= 20_000, `${third.sleepMs}`);

        const expected = node.sampled();
        await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= expected.length);
        assert.deepEqual(dedupe(subscriber.records(node.telemetryTopic), node.name).samples, expected, node.log());
      } finally {
        await subscriber.end();
      }
    });
  });
}


describe("a broker restarted without persistence (mosquitto, MQTT 5)", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let proxy: Proxy;
  let node: TestNode;
  const clientId = "torpor-restart-lost";
  before(async () => {
    broker = await startMosquitto();
    proxy = await startProxy({ port: broker.port });
    node = new TestNode("restart-lost", { broker: proxy.url, mqttVersion: 5 });
  });
  after(async () => {
    await proxy.close();
    await broker.stop();
    node.remove();
  });

  it("loses the session; the node subscribes again and takes the next command", async () => {
    assert.equal((await node.wake()).error, undefined, node.log());
    await broker.stop();
    broker = await startMosquitto();
    proxy.target = { host: "127.0.0.1", port: broker.port };

    const subscriber = await Subscriber.connect(broker.url, [node.telemetryTopic]);
    try {
      const second = await node.wake();
      assert.equal(second.error, undefined, node.log());
      const connection = await settled(connectionsOf(proxy, clientId).at(-1)!);
      assert.equal(connackInfo(await frameOf(connection, "down", PacketType.CONNACK)).sessionPresent, false);
      assert.equal(connection.up.frames.filter((f) => f.type === PacketType.SUBSCRIBE).length, 1, "subscribed again");
      assert.equal(second.delivered, 1);
      await subscriber.until(() => subscriber.records(node.telemetryTopic).length > 0);
      assert.deepEqual(dedupe(subscriber.records(node.telemetryTopic), node.name).samples, node.sampled().slice(1));

      const operator = await connectAsync(broker.url, { protocolVersion: 5 });
      await operator.publishAsync(node.commandTopic, JSON.stringify({ cmd: "status", id: "after-restart" }), { qos: 1 });
      await operator.endAsync();
      const third = await node.wake();
      assert.equal(third.error, undefined, node.log());
      assert.match(third.lines.join("\n"), /^command after-restart: ok$/m);
    } finally {
      await subscriber.end();
    }
  });
});
