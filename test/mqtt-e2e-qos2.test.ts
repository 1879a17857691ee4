// QoS 2 across a lost connection, against mosquitto (MQTT 5 and 3.1.1): the connection dies right
// after the node got PUBREC (its PUBREL never reaches the broker). The broker owns the message now,
// so the next wake sends only PUBREL for it — no PUBLISH again — and a QoS 2 subscriber outside
// torpor gets every reading exactly once. Likewise when the cut comes before PUBREC: the PUBLISH goes
// again with DUP under its id, and the broker, which holds that id, does not deliver it twice. And
// when the broker loses the session while it holds a message (PUBREC sent, PUBREL not yet come),
// the node publishes those readings again as a new message: at least once, never lost.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { dedupe, Subscriber, TestNode, type Sample } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { ackPacketId, connackInfo, PacketType, publishInfo, startProxy, type Proxy } from "./support/proxy";

for (const version of [5, 4] as const) {
  describe(`QoS 2 after PUBREC, then the broker loses the session (mosquitto, MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    let proxy: Proxy;
    let node: TestNode;
    before(async () => {
      broker = await startMosquitto();
      proxy = await startProxy({ port: broker.port });
      node = new TestNode(`qos2-lost-${version}`, { broker: proxy.url, mqttVersion: version, qos: 2 });
    });
    after(async () => {
      await proxy.close();
      await broker.stop();
      node.remove();
    });

    it("publishes the released batch again as a new message: not one reading lost", async () => {
      let subscriber = await Subscriber.connect(broker.url, [node.telemetryTopic], {}, 2);
      const received = () => dedupe(subscriber.records(node.telemetryTopic), node.name).samples;
      let seen: Sample[];
      try {
        assert.equal((await node.wake()).error, undefined, node.log());
        proxy.next({ cutAfterDown: PacketType.PUBREC });
        assert.match((await node.wake()).error ?? "", /connection closed by peer/, node.log());
        // mosquitto delivers QoS 2 on PUBREL, which never came: so far only the first wake's reading.
        await subscriber.until(() => received().length >= 1);
        seen = received();
      } finally {
        await subscriber.end();
      }
      // The broker restarts without persistence: the session, and the message it held, are gone.
      await broker.stop();
      broker = await startMosquitto();
      proxy.target = { host: "127.0.0.1", port: broker.port };
      subscriber = await Subscriber.connect(broker.url, [node.telemetryTopic], {}, 2);
      try {
        const next = await node.wake();
        assert.equal(next.error, undefined, node.log());
        const connection = proxy.connections.at(-1)!;
        assert.equal(connackInfo(connection.down.frames.find((f) => f.type === PacketType.CONNACK)!).sessionPresent, false);
        assert.equal(next.delivered, 2, node.log());
        const expected = node.sampled();
        await subscriber.until(() => seen.length + received().length >= expected.length);
        assert.deepEqual([...seen, ...received()], expected, node.log());
      } finally {
        await subscriber.end();
      }
    });
  });

  describe(`QoS 2 cut after PUBREC (mosquitto, MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    let proxy: Proxy;
    let subscriber: Subscriber;
    let node: TestNode;
    before(async () => {
      broker = await startMosquitto();
      proxy = await startProxy({ port: broker.port });
      node = new TestNode(`qos2-${version}`, { broker: proxy.url, mqttVersion: version, qos: 2 });
      subscriber = await Subscriber.connect(broker.url, [node.telemetryTopic], {}, 2);
    });
    after(async () => {
      await subscriber.end();
      await proxy.close();
      await broker.stop();
      node.remove();
    });

    it("sends only PUBREL on the next wake; the subscriber gets each reading exactly once", async () => {
      assert.equal((await node.wake()).error, undefined, node.log());

      proxy.next({ cutAfterDown: PacketType.PUBREC });
      const cut = await node.wake();
      assert.match(cut.error ?? "", /connection closed by peer/, node.log());
      const lost = proxy.connections.at(-1)!;
      const publish = lost.up.frames.find((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic)!;
      assert.equal(publishInfo(publish).qos, 2);
      const id = publishInfo(publish).packetId!;
      assert.ok(lost.down.frames.some((f) => f.type === PacketType.PUBREC && ackPacketId(f) === id), "the node got PUBREC");
      assert.ok(!lost.up.frames.some((f) => f.type === PacketType.PUBREL), "its PUBREL never left");

      const next = await node.wake();
      assert.equal(next.error, undefined, node.log());
      assert.equal(next.delivered, 2, "PUBCOMP for the released batch, and the new one");
      const up = proxy.connections.at(-1)!.up.frames;
      const telemetry = up.filter((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic);
      assert.ok(!telemetry.some((f) => publishInfo(f).packetId === id), "the released batch is not published again");
      assert.equal(telemetry.length, 1, "only the new batch");
      assert.deepEqual(up.filter((f) => f.type === PacketType.PUBREL).map(ackPacketId), [id, publishInfo(telemetry[0]!).packetId]);

      const expected = node.sampled();
      await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= expected.length);
      const { samples, copies } = dedupe(subscriber.records(node.telemetryTopic), node.name);
      assert.deepEqual(samples, expected, node.log());
      assert.deepEqual([...new Set(copies.values())], [1], "exactly once");
    });

    it("cut before PUBREC came back: PUBLISH again with DUP, and still exactly once", async () => {
      proxy.next({ cutBeforeAck: { topic: node.telemetryTopic } });
      const cut = await node.wake();
      assert.match(cut.error ?? "", /connection closed by peer/, node.log());
      const lost = proxy.connections.at(-1)!.up.frames.find((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic)!;

      const next = await node.wake();
      assert.equal(next.error, undefined, node.log());
      const again = proxy.connections.at(-1)!.up.frames.find((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic)!;
      assert.deepEqual({ dup: publishInfo(again).dup, id: publishInfo(again).packetId, qos: publishInfo(again).qos }, { dup: true, id: publishInfo(lost).packetId, qos: 2 });

      const expected = node.sampled();
      await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= expected.length);
      const { samples, copies } = dedupe(subscriber.records(node.telemetryTopic), node.name);
      assert.deepEqual(samples, expected, node.log());
      assert.deepEqual([...new Set(copies.values())], [1], "the broker recognised the DUP: exactly once");
    });
  });
}
