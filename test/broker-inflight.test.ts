// mosquitto with `max_inflight_messages 1`, a node publishing at QoS 2 (the broker limits QoS 2
// messages in flight from a client; it acknowledges QoS 1 at once). Over MQTT 5 the broker
// announces Receive Maximum 1 in CONNACK; a node that has a backlog on its first connection has
// already pipelined it by then, and the broker answers the excess with PUBREC 0x97 (Quota
// exceeded): "later", so those readings must be kept and sent again, not released. Once the node
// knows the limit it holds to it, re-sends included (MQTT-3.3.4-9). Over 3.1.1 the broker cannot
// announce the limit and drops the excess silently behind an ordinary PUBREC, so the operator
// configures `maxInflight: 1` and the node must never pipeline past it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { maxInFlight, PacketType, type ConnectionTrace } from "./support/proxy";
import { limitKnownFrom, Rig } from "./support/rig";

for (const version of [5, 4] as const) {
  describe(`mosquitto max_inflight_messages 1 (MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    const rigs: Rig[] = [];
    // 3.1.1 has no Receive Maximum: the operator tells the node what the broker takes.
    const config = { mqttVersion: version, qos: 2, ...(version === 4 ? { maxInflight: 1 } : {}) };
    before(async () => (broker = await startMosquitto(["max_inflight_messages 1"])));
    after(async () => {
      for (const rig of rigs) await rig.close();
      await broker.stop();
    });

    /** Over MQTT 5 the limit holds from the first CONNACK that announced it; over 3.1.1 from the start. */
    const assertWithinLimit = (connections: ConnectionTrace[], rig: Rig) => {
      const from = version === 5 ? limitKnownFrom(connections, "receiveMaximum") : -Infinity;
      connections.forEach((c, i) => assert.ok(maxInFlight(c, from) <= 1, `the node's connection ${i + 1} of ${connections.length}: ${maxInFlight(c, from)} messages in flight, the broker takes 1\n${rig.node.log()}`));
    };

    it("keeps what the broker had no room for in a backlog pipelined before CONNACK, and delivers it", async () => {
      const rig = await Rig.start(`inflight-backlog-${version}`, broker.port, config);
      rigs.push(rig);
      // The broker is away for the node's first attempts (wakes 1 and 2; wake 3 backs off): its
      // first connection, at wake 4, carries four readings in four messages.
      await rig.outage(3);
      assert.equal((await rig.wake()).error, undefined, rig.node.log());
      await rig.drain();
      assertWithinLimit(await rig.connections(), rig);
      const state = await rig.assertAccounted({ drained: true });
      assert.equal(state.counters.refused, 0, `Quota exceeded means later: nothing refused for good\n${rig.node.log()}`);
    });

    it("re-sends what was in flight when the connection broke no faster than the broker takes it", async () => {
      const rig = await Rig.start(`inflight-resend-${version}`, broker.port, config);
      rigs.push(rig);
      await rig.outage(3);
      // The fourth wake's connection breaks as soon as its CONNACK reached the node: the node has
      // heard the limit, and has its backlog in flight.
      rig.proxy.next({ cutAfterDown: PacketType.CONNACK });
      assert.ok((await rig.wake()).error, rig.node.log());
      await rig.drain();
      assertWithinLimit(await rig.connections(), rig);
      const state = await rig.assertAccounted({ drained: true });
      assert.equal(state.counters.refused, 0, rig.node.log());
    });
  });
}
