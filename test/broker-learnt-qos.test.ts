// mosquitto with `max_qos 1` on its listener and a node configured for QoS 2, over MQTT 5. CONNACK
// announces Maximum QoS 1; the QoS 2 PUBLISH the node pipelined before CONNACK (it could not know)
// draws DISCONNECT 0x9B (QoS not supported). What the node learns from that is what CONNACK said:
// QoS 1 — not one step below what it already lowered to. From then on its Will and telemetry go at
// QoS 1, the broker's best, and every reading arrives.

import assert from "node:assert/strict";
import type { IConnectPacket } from "mqtt-packet";
import { after, before, describe, it } from "node:test";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { decodeFrame, PacketType, publishInfo } from "./support/proxy";
import { limitKnownFrom, Rig } from "./support/rig";

describe("mosquitto max_qos 1, node at QoS 2 (MQTT 5)", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let rig: Rig;
  before(async () => {
    broker = await startMosquitto({ listener: ["max_qos 1"] });
    rig = await Rig.start("learnt-qos", broker.port, { mqttVersion: 5, qos: 2 }, { subscriberQos: 2 });
  });
  after(async () => {
    await rig.close();
    await broker.stop();
  });

  it("publishes at the broker's Maximum QoS 1 once it is known, not lower", async () => {
    const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
    for (let i = 0; i < 6; i++) await rig.wake();
    await rig.drain();
    const connections = await rig.connections();
    const from = limitKnownFrom(connections, "maximumQoS");
    // Every packet that asks for a QoS once the node could know the broker's maximum (its Will, its
    // telemetry), as "connection N: <what> at QoS q".
    const asked: string[] = [];
    connections.forEach((c, i) => {
      for (const f of c.up.frames.filter((f) => f.at >= from)) {
        if (f.type === PacketType.CONNECT) asked.push(`connection ${i + 1}: Will at QoS ${(decodeFrame(f) as IConnectPacket).will?.qos ?? "none"}`);
        if (f.type === PacketType.PUBLISH && publishInfo(f).topic === rig.node.telemetryTopic) asked.push(`connection ${i + 1}: telemetry at QoS ${publishInfo(f).qos}`);
      }
    });
    assert.ok(asked.some((a) => a.includes("telemetry")), `no telemetry after the broker announced Maximum QoS 1\n${log()}`);
    assert.deepEqual(asked.filter((a) => !a.endsWith("QoS 1")), [], `after the broker announced Maximum QoS 1 the node asked for another QoS than 1 (all: ${asked.join("; ")})\n${log()}`);
    const state = await rig.assertAccounted({ drained: true });
    assert.equal(state.counters.refused, 0, log());
    const late = rig.subscriber.messages.filter((m) => m.topic === rig.node.telemetryTopic).slice(-3);
    assert.deepEqual(late.map((m) => m.qos), late.map(() => 1), `the subscriber (at QoS 2) got the latest telemetry at QoS ${late.map((m) => m.qos).join(", ")}, not at the broker's 1\n${log()}`);
  });
});
