// mosquitto with `max_qos 0` on its listener: a client that sends a PUBLISH, or names a Will, above
// QoS 0 is disconnected. Over MQTT 5 the broker says so: CONNACK 0x9B (QoS not supported) with
// Maximum QoS 0 when the Will asks for more, Maximum QoS 0 in an accepting CONNACK otherwise. The
// node must adapt within the same wake — Will, telemetry and status at QoS 0 — connect again and
// deliver. Over 3.1.1 the broker closes the connection without a word, so the operator configures
// `qos: 0`, and the node must not then ask for more than that anywhere, the Will included.

import assert from "node:assert/strict";
import type { IConnectPacket } from "mqtt-packet";
import { after, before, describe, it } from "node:test";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { decodeFrame, PacketType, publishInfo } from "./support/proxy";
import { limitKnownFrom, Rig } from "./support/rig";

for (const version of [5, 4] as const) {
  describe(`mosquitto max_qos 0 (MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    let rig: Rig;
    before(async () => {
      broker = await startMosquitto({ listener: ["max_qos 0"] });
      // MQTT 5: the default QoS 1, lowered by what the broker says. 3.1.1: what the operator knows.
      rig = await Rig.start(`max-qos-${version}`, broker.port, { mqttVersion: version, ...(version === 4 ? { qos: 0 } : {}) }, { subscriberQos: 0 });
    });
    after(async () => {
      await rig.close();
      await broker.stop();
    });

    it("connects within the broker's QoS in its first wake and delivers every reading at QoS 0", async () => {
      const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
      const first = await rig.wake();
      assert.equal(first.error, undefined, log());
      assert.equal(first.delivered, 1, log());
      await rig.outage(4);
      await rig.drain();

      const connections = await rig.connections();
      const from = version === 5 ? limitKnownFrom(connections, "maximumQoS") : -Infinity;
      for (const c of connections) {
        for (const f of c.up.frames.filter((f) => f.at >= from)) {
          if (f.type === PacketType.CONNECT) assert.ok(((decodeFrame(f) as IConnectPacket).will?.qos ?? 0) === 0, `a Will above QoS 0\n${log()}`);
          if (f.type === PacketType.PUBLISH) assert.equal(publishInfo(f).qos, 0, `a PUBLISH on ${publishInfo(f).topic} above QoS 0\n${log()}`);
        }
        assert.ok(!c.down.frames.some((f) => f.type === PacketType.DISCONNECT), `the broker disconnected the node\n${log()}`);
      }
      const state = await rig.assertAccounted({ drained: true });
      assert.equal(state.counters.refused, 0, log());
      assert.ok(rig.subscriber.statuses(rig.node.statusTopic).some((s) => s.state === "asleep"), `no status arrived\n${log()}`);
    });
  });
}
