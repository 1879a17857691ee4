// mosquitto with `max_packet_size`: the broker disconnects a client that sends a bigger packet, and
// over MQTT 5 announces the limit in CONNACK (MQTT-3.2.2-15: the client must not send more). Over
// 3.1.1 it cannot announce it, so the operator sets `maxPacketSize` to the same value. At 260 bytes
// one reading fits in a message (about 200-230 bytes), a batch of three does not (about 280-310),
// nor does the retained status (about 360): the node must split batches, shrink or leave out the
// status (counted in `skipped`), and never be disconnected for it — over 3.1.1 that disconnection
// fires the Will ("offline") at every wake of a healthy node. At 128 bytes not even one channel of a
// reading fits in any packet the broker takes: those readings are refused and counted, not retried
// forever.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { PacketType, type ConnectionTrace } from "./support/proxy";
import { limitKnownFrom, Rig } from "./support/rig";

for (const version of [5, 4] as const) {
  describe(`mosquitto max_packet_size (MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip: mosquittoMissing() }, () => {
    const brokers: Mosquitto[] = [];
    const rigs: Rig[] = [];
    after(async () => {
      for (const rig of rigs) await rig.close();
      for (const broker of brokers) await broker.stop();
    });

    async function start(name: string, limit: number, config: Record<string, unknown>): Promise<{ broker: Mosquitto; rig: Rig }> {
      const broker = await startMosquitto([`max_packet_size ${limit}`]);
      brokers.push(broker);
      // 3.1.1 cannot announce the limit: the operator gives it to the node.
      const rig = await Rig.start(`${name}-${version}`, broker.port, { mqttVersion: version, ...(version === 4 ? { maxPacketSize: limit } : {}), ...config });
      rigs.push(rig);
      return { broker, rig };
    }

    /** Nothing bigger than `limit` once the node could know it (MQTT 5: from the first CONNACK). */
    const assertWithin = (connections: ConnectionTrace[], limit: number, log: string) => {
      const from = version === 5 ? limitKnownFrom(connections, "maximumPacketSize") : -Infinity;
      connections.forEach((c, i) => {
        const over = c.up.frames.filter((f) => f.at >= from && f.bytes.length > limit);
        assert.deepEqual(over.map((f) => `type ${f.type}: ${f.bytes.length} bytes`), [], `the node's connection ${i + 1} of ${connections.length} sent packets over the broker's ${limit}\n${log}`);
      });
    };

    it("splits a backlog into packets the broker takes and is never disconnected for a packet", async () => {
      const limit = 260;
      const { broker, rig } = await start("packet-size", limit, { batchSize: 3, maxLatency: 0 });
      const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
      assert.equal((await rig.wake()).error, undefined, log());
      // A backlog: the broker is away for four wakes (the attempts fail and back off); the next
      // attempt carries several readings, more than one packet the broker takes can hold.
      await rig.outage(4);
      await rig.drain();
      const connections = await rig.connections();
      assertWithin(connections, limit, log());
      for (const c of connections) {
        assert.ok(!c.down.frames.some((f) => f.type === PacketType.DISCONNECT), `the broker disconnected the node\n${log()}`);
      }
      const state = await rig.assertAccounted({ drained: true });
      assert.equal(state.counters.refused, 0, `each reading fits in a packet of its own\n${log()}`);
      // The status either went out, within the limit (checked above), or was left out and counted.
      const statuses = rig.subscriber.statuses(rig.node.statusTopic);
      assert.ok(statuses.length > 0 || state.counters.skipped > 0, `the status neither arrived nor was counted as skipped\n${log()}`);
      // Over 3.1.1 a broker that disconnects the node publishes its Will.
      assert.ok(!statuses.some((s) => s.state === "offline"), `the Will fired: the broker dropped the node\n${log()}`);
    });

    it("refuses and counts readings of which not even one channel fits in a packet the broker takes", async () => {
      // (A reading too large only as a whole goes by channel: broker-learnt-split.test.ts.)
      const limit = 128;
      const { broker, rig } = await start("big-reading-xyz", limit, { batchSize: 1 });
      const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
      for (let i = 0; i < 3; i++) await rig.wake();
      await rig.drain();
      assertWithin(await rig.connections(), limit, log());
      const state = await rig.assertAccounted({ drained: true });
      assert.equal(state.counters.refused, rig.node.sampled().length, `every reading is too big for the broker\n${log()}`);
    });
  });
}
