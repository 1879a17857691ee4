// Connections cut mid-batch, through a loopback proxy, against real brokers: a batch whose PUBLISH
// reached the broker but whose PUBACK never reached the node is sent again with DUP set, under the
// same packet id, on the next wake, and a subscriber outside torpor (MQTT.js) receives every reading
// the node sampled at least once. The same holds when the connection dies halfway through the first
// write, and when the broker's answer arrives corrupted.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEmbeddedBroker } from "../tools/broker";
import { dedupe, Subscriber, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto } from "./support/mosquitto";
import { connectLevel, PacketType, publishInfo, startProxy, type Proxy } from "./support/proxy";

interface Peer {
  name: string;
  skip?: string;
  version: 4 | 5;
  start(): Promise<{ port: number; stop(): Promise<void> }>;
}

const peers: Peer[] = [
  { name: "mosquitto, MQTT 5", version: 5, skip: mosquittoMissing(), start: () => startMosquitto() },
  { name: "mosquitto, MQTT 3.1.1", version: 4, skip: mosquittoMissing(), start: () => startMosquitto() },
  {
    name: "aedes, MQTT 3.1.1",
    version: 4,
    start: async () => {
      const broker = await startEmbeddedBroker();
      return { port: Number(new URL(broker.url).port), stop: () => broker.close() };
    },
  },
];

for (const peer of peers) {
  describe(`a connection cut mid-batch (${peer.name})`, { skip: peer.skip }, () => {
    let broker: { port: number; stop(): Promise<void> };
    let proxy: Proxy;
    let subscriber: Subscriber;
    const nodes: TestNode[] = [];
    before(async () => {
      broker = await peer.start();
      proxy = await startProxy({ port: broker.port });
      subscriber = await Subscriber.connect(`mqtt://127.0.0.1:${broker.port}`, ["torpor/+/telemetry"]);
    });
    after(async () => {
      await subscriber.end();
      await proxy.close();
      await broker.stop();
      for (const n of nodes) n.remove();
    });

    const newNode = (name: string) => {
      const node = new TestNode(`${name}-${peer.version}`, { broker: proxy.url, mqttVersion: peer.version });
      nodes.push(node);
      return node;
    };

    /** Every reading the node sampled reached the subscriber, at least once. */
    const everyReadingArrived = async (node: TestNode) => {
      const expected = node.sampled();
      await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= expected.length);
      assert.deepEqual(dedupe(subscriber.records(node.telemetryTopic), node.name).samples, expected, node.log());
    };

    it("after the PUBLISH reached the broker but before its PUBACK came back: re-sent with DUP, same id", async () => {
      const node = newNode("cut-before-ack");
      assert.equal((await node.wake()).error, undefined, node.log());
      const first = proxy.connections.length;
      // Wake 2 (a timer wake on the sampling grid) loses its connection after the broker took the batch.
      proxy.next({ cutBeforeAck: { topic: node.telemetryTopic } });
      const cut = await node.wake();
      assert.match(cut.error ?? "", /connection to 127\.0\.0\.1:\d+ failed: connection closed by peer/);
      assert.match(cut.lines.join("\n"), /publish failed: .*; 1 reading kept, next attempt in 1 period/);
      const lost = proxy.connections[first]!;
      assert.match(lost.cut ?? "", /after the broker acknowledged PUBLISH/);
      const sent = lost.up.frames.filter((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic);
      assert.equal(sent.length, 1);
      const { packetId, dup } = publishInfo(sent[0]!);
      assert.equal(dup, false);

      // Wake 3, one period later: the same message again, DUP set, same packet id, first in the write.
      const again = await node.wake();
      assert.equal(again.error, undefined, node.log());
      // A connection lost before CONNACK is not a broker refusing MQTT 5: the node keeps its version.
      assert.equal(connectLevel(proxy.connections[first + 1]!.up.frames[0]!), peer.version);
      assert.equal(proxy.connections.length, first + 2, "one connection per wake");
      assert.equal(again.delivered, 2, "the re-sent reading and the new one");
      const resent = proxy.connections[first + 1]!.up.frames.filter((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic);
      assert.equal(resent.length, 2);
      assert.deepEqual(
        resent.map((f) => ({ dup: publishInfo(f).dup, sameId: publishInfo(f).packetId === packetId })),
        [
          { dup: true, sameId: true },
          { dup: false, sameId: false },
        ],
      );
      // The payload is re-encoded from retained memory: byte for byte the message that was lost.
      assert.deepEqual(resent[0]!.bytes.subarray(publishInfo(resent[0]!).body), sent[0]!.bytes.subarray(publishInfo(sent[0]!).body));
      await everyReadingArrived(node);
    });

    it("halfway through the first write: nothing was acknowledged, everything arrives next time", async () => {
      const node = newNode("cut-mid-write");
      assert.equal((await node.wake()).error, undefined, node.log());
      // The CONNECT alone is over 40 bytes: the broker gets part of it, then the line drops.
      proxy.next({ cutUpAfterBytes: 20 });
      const cut = await node.wake();
      assert.match(cut.error ?? "", /failed: connection closed by peer/);
      await node.wake();
      await node.wake();
      assert.equal(node.reports.at(-1)!.error, undefined, node.log());
      assert.equal(node.reports.reduce((n, r) => n + r.delivered, 0), 4, node.log());
      await everyReadingArrived(node);
    });

    it("a corrupted byte from the broker: a protocol error, the readings kept and delivered later", async () => {
      const node = newNode("corrupt");
      assert.equal((await node.wake()).error, undefined, node.log());
      // The CONNACK's first byte becomes 0xdf: a PINGRESP with reserved flag bits set.
      proxy.next({ corrupt: { direction: "down", offset: 0 } });
      const bad = await node.wake();
      assert.match(bad.error ?? "", /^protocol error from broker: /);
      assert.match(bad.lines.join("\n"), /1 reading kept/);
      await node.wake();
      assert.equal(node.reports.at(-1)!.error, undefined, node.log());
      await everyReadingArrived(node);
    });
  });
}
