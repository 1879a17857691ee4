// MQTT 5 → 3.1.1 fallback against real peers. aedes speaks 3.1.1 only and answers an MQTT 5 CONNECT
// as 3.1.1 §3.1.2.2 says (CONNACK return code 1): a node configured for MQTT 5 falls back within the
// same wake, delivers, and remembers it, so that later wakes connect with 3.1.1 at once. A connection
// that is merely lost before CONNACK (mosquitto, which speaks 5) must not make the node give up 5:
// only a 3.1.1 CONNACK after MQTT 5 CONNECTs closed unanswered in two wakes in a row (RabbitMQ 3.10)
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

  it("is an ordinary failed attempt: the node stays on MQTT 5", async () => {
    assert.equal((await node.wake()).error, undefined, node.log());
    // Wake 2 loses its connection halfway through the CONNECT; wake 3 (one period later) tries again.
    proxy.next({ cutUpAfterBytes: 10 });
    const lost = await node.wake();
    assert.match(lost.error ?? "", /failed: connection closed by peer/);
    assert.doesNotMatch(node.log(), /MQTT 3\.1\.1/);
    assert.equal(proxy.connections.length, 2, "no 3.1.1 attempt in the same wake");
    const again = await node.wake();
    assert.equal(again.error, undefined, node.log());
    assert.equal(connectLevel(proxy.connections[2]!.up.frames[0]!), 5);
    assert.equal(again.delivered, 2);
  });

  it("does not fall back when the broker is down behind something that accepts and closes", async () => {
    // Two wakes in a row whose connections are all cut before CONNACK: the second tries one 3.1.1
    // CONNECT as well, which is cut too, so nothing says the broker will not speak 5.
    for (let i = 0; i < 3; i++) proxy.next({ cutUpAfterBytes: 12 });
    const before = proxy.connections.length;
    assert.match((await node.wake()).error ?? "", /failed: connection closed by peer/);
    assert.equal(proxy.connections.length, before + 1);
    assert.match((await node.wake()).error ?? "", /failed: connection closed by peer/);
    assert.equal(proxy.connections.length, before + 3, "MQTT 5, then one 3.1.1 probe");
    // The next attempt, once the backoff (two periods) is over, is MQTT 5 again.
    const tried = proxy.connections.length;
    for (let wake = 0; wake < 3 && proxy.connections.length === tried; wake++) assert.equal((await node.wake()).error, undefined, node.log());
    assert.equal(connectLevel(proxy.connections[tried]!.up.frames[0]!), 5, "still MQTT 5");
    assert.doesNotMatch(node.log(), /using MQTT 3\.1\.1/);
  });
});
