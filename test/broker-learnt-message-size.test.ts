// mosquitto with `message_size_limit 300` (bytes of PUBLISH payload, announced nowhere) over MQTT 5,
// and a node that was not told. The retained status (about 360 bytes of payload) is over the limit:
// it goes at QoS 0, so the broker drops it without a word. A batch of five readings (about 335
// bytes) is over it too: the broker answers it with PUBACK 0x95 (Packet too large), and that is how
// the node learns that the broker drops large messages. From then on its status must fit: it
// arrives, shrunk, within the next wakes, so that a watcher sees the node at all.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { ackReason, PacketType } from "./support/proxy";
import { Rig } from "./support/rig";

describe("mosquitto message_size_limit below the status (MQTT 5)", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let rig: Rig;
  before(async () => {
    broker = await startMosquitto(["message_size_limit 300"]);
    rig = await Rig.start("learnt-message-size", broker.port, { mqttVersion: 5, batchSize: 5 });
  });
  after(async () => {
    await rig.close();
    await broker.stop();
  });

  it("sends a status that fits once a 0x95 told it the broker drops large messages", async () => {
    const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
    // The first wake publishes at once; the sixth and the eleventh carry a batch of five.
    for (let i = 0; i < 11; i++) await rig.wake();
    const connections = await rig.connections();
    const refusal = connections.findIndex((c) => c.down.frames.some((f) => f.type === PacketType.PUBACK && ackReason(f) === 0x95));
    assert.ok(refusal >= 0, `the scene: the broker answered no batch with PUBACK 0x95\n${log()}`);
    const statuses = rig.subscriber.statuses(rig.node.statusTopic);
    assert.ok(
      statuses.some((s) => s.state === "asleep"),
      `${statuses.length} status messages reached the subscriber in 11 wakes, though the broker told the node in connection ${refusal + 1} of ${connections.length} that it drops large messages (the node remembers a packet limit of ${String(rig.state().link.refusedSize)} bytes)\n${log()}`,
    );
    const state = await rig.assertAccounted();
    assert.equal(state.counters.refused, 0, `each reading fits in a message the broker keeps\n${log()}`);
  });
});
