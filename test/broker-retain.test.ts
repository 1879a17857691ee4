// mosquitto with `retain_available false`: a client that sends a retained PUBLISH, or names a
// retained Will, is disconnected. Over MQTT 5 the broker refuses such a Will with CONNACK 0x9A
// (Retain not supported) and announces Retain Available 0 in an accepting CONNACK: the node must
// connect again in the same wake with a Will that is not retained, publish its status without the
// retain flag, and deliver. Over 3.1.1 the broker closes the connection before CONNACK and says
// nothing the node could learn from.

import assert from "node:assert/strict";
import type { IConnectPacket } from "mqtt-packet";
import { after, before, describe, it } from "node:test";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { decodeFrame, PacketType } from "./support/proxy";
import { Rig } from "./support/rig";

for (const version of [5, 4] as const) {
  // 3.1.1 has no way to say it: until the node has one (a config key, or a guess from connections
  // closed before CONNACK), this one documents the gap rather than gating the suite.
  const todo = version === 4 ? "MQTT 3.1.1 cannot announce Retain Available; mosquitto closes before CONNACK and the node cannot tell why" : undefined;
  describe(`mosquitto retain_available false (MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    let rig: Rig;
    before(async () => {
      broker = await startMosquitto(["retain_available false"]);
      rig = await Rig.start(`no-retain-${version}`, broker.port, { mqttVersion: version });
    });
    after(async () => {
      await rig.close();
      await broker.stop();
    });

    it("connects without retained packets in its first wake and delivers every reading", { todo }, async () => {
      const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
      const first = await rig.wake();
      assert.equal(first.error, undefined, log());
      assert.equal(first.delivered, 1, log());
      await rig.outage(4);
      await rig.drain();

      const connections = await rig.connections();
      // Until its first CONNACK the node cannot know; from then on nothing retained.
      const from = connections.flatMap((c) => c.down.frames).find((f) => f.type === PacketType.CONNACK)?.at ?? Infinity;
      for (const c of connections) {
        for (const f of c.up.frames.filter((f) => f.at >= from)) {
          if (f.type === PacketType.CONNECT) assert.ok(!(decodeFrame(f) as IConnectPacket).will?.retain, `a retained Will\n${log()}`);
          if (f.type === PacketType.PUBLISH) assert.equal(f.flags & 1, 0, `a retained PUBLISH\n${log()}`);
        }
        assert.ok(!c.down.frames.some((f) => f.type === PacketType.DISCONNECT), `the broker disconnected the node\n${log()}`);
      }
      const state = await rig.assertAccounted({ drained: true });
      assert.equal(state.counters.refused, 0, log());
      // The status still reaches a subscriber that is there, or is counted as left out.
      assert.ok(rig.subscriber.statuses(rig.node.statusTopic).some((s) => s.state === "asleep") || state.counters.skipped > 0, `no status, and none counted as skipped\n${log()}`);
    });
  });
}
