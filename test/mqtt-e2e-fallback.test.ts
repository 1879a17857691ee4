// MQTT 5 → 3.1.1 fallback against real peers. aedes speaks 3.1.1 only and answers an MQTT 5 CONNECT
// as 3.1.1 §3.1.2.2 says (CONNACK return code 1): a node configured for MQTT 5 falls back within the
// same wake, delivers, and remembers it, so that later wakes connect with 3.1.1 at once. A connection
// that is merely lost before CONNACK (mosquitto, which speaks 5) must not make the node give up 5: it
// connects again at once; only a 3.1.1 CONNACK after two unanswered MQTT 5 CONNECTs (RabbitMQ 3.10)
// makes it fall back.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { dedupe, retainedJson, Subscriber, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { connackInfo, connectLevel, PacketType, startProxy, type Proxy } from "./support/proxy";

describe("a broker that refuses MQTT 5 (aedes)", () => {
  let broker: EmbeddedBroker;
  let proxy: Proxy;
  let subscriber: Subscriber;
  let node: TestNode;
  before(async () => {
    broker = await startEmbeddedBroker();
    proxy = await startProxy({ port: Number(new URL(broker.url).port) });
    subscriber = await Subscriber.connect(broker.url, ["torpor/+/telemetry"]);
    node = new TestNode("fallback", { broker: proxy.url, mqttVersion: 5 });
  });
  after(async () => {
    await subscriber.end();
    await proxy.close();
    await broker.close();
    node.remove();
  });

  it("gets 3.1.1 in the same wake, and from then on directly", async () => {
    const first = await node.wake();
    assert.equal(first.error, undefined, node.log());
    assert.equal(first.delivered, 1);
    assert.match(first.lines.join("\n"), /^broker refused MQTT 5; using MQTT 3\.1\.1 \(MQTT 5 is tried again in 1440 wakes\)$/m);
    const [refused, fallback] = proxy.connections;
    assert.equal(connectLevel(refused!.up.frames[0]!), 5);
    assert.deepEqual(connackInfo(refused!.down.frames[0]!), { sessionPresent: false, code: 1 });
    // The refused connection carried the batch too (pipelined); nothing was lost with it.
    assert.equal(connectLevel(fallback!.up.frames[0]!), 4);
    assert.equal(connackInfo(fallback!.down.frames.find((f) => f.type === PacketType.CONNACK)!).code, 0);

    for (let wake = 2; wake <= 3; wake++) {
      const before = proxy.connections.length;
      const report = await node.wake();
      assert.equal(report.error, undefined, node.log());
      assert.equal(proxy.connections.length, before + 1, `wake ${wake}: one connection, no MQTT 5 attempt`);
      assert.equal(connectLevel(proxy.connections.at(-1)!.up.frames[0]!), 4);
    }
    assert.equal((await retainedJson(broker.url, node.statusTopic)).mqtt, "3.1.1");

    const expected = node.sampled();
    await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= expected.length);
    assert.deepEqual(dedupe(subscriber.records(node.telemetryTopic), node.name).samples, expected, node.log());
  });
});

describe("a connection lost before CONNACK (mosquitto, MQTT 5)", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let proxy: Proxy;
  let node: TestNode;
  before(async () => {
    broker = await startMosquitto();
    proxy = await startProxy({ port: broker.port });
    node = new TestNode("no-fallback", { broker: proxy.url, mqttVersion: 5 });
  });
  after(async () => {
    await proxy.close();
    await broker.stop();
    node.remove();
  });

  it("is tried again at once with MQTT 5, and the node stays on MQTT 5", async () => {
    assert.equal((await node.wake()).error, undefined, node.log());
    // Wake 2 loses its connection halfway through the CONNECT: it connects again, with MQTT 5.
    proxy.next({ cutUpAfterBytes: 10 });
    const lost = await node.wake();
    assert.equal(lost.error, undefined, node.log());
    assert.equal(lost.delivered, 1);
    assert.doesNotMatch(node.log(), /MQTT 3\.1\.1/);
    assert.equal(proxy.connections.length, 3, "one connection again in the same wake");
    assert.equal(connectLevel(proxy.connections[2]!.up.frames[0]!), 5, "with MQTT 5");
    const again = await node.wake();
    assert.equal(again.error, undefined, node.log());
    assert.equal(connectLevel(proxy.connections[3]!.up.frames[0]!), 5);
  });

  it("does not fall back when the broker is down behind something that accepts and closes", async () => {
    // Every connection of the wake is cut before CONNACK: MQTT 5 twice, then one 3.1.1 probe.
    for (let i = 0; i < 3; i++) proxy.next({ cutUpAfterBytes: 12 });
    const before = proxy.connections.length;
    const down = await node.wake();
    assert.match(down.error ?? "", /failed: connection closed by peer/);
    assert.equal(proxy.connections.length, before + 3, "two MQTT 5 attempts and a 3.1.1 probe, then the wake gives up");
    const after = await node.wake();
    assert.equal(after.error, undefined, node.log());
    assert.equal(connectLevel(proxy.connections.at(-1)!.up.frames[0]!), 5, "still MQTT 5");
    assert.doesNotMatch(node.log(), /using MQTT 3\.1\.1/);
  });
});
