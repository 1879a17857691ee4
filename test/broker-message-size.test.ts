// mosquitto with `message_size_limit 240` (bytes of PUBLISH payload): the broker takes a bigger
// message's QoS flow to its end and drops the message. Over MQTT 5 it says so with PUBACK (or
// PUBREC) 0x95, a code the spec does not list for those packets: the node must take it as a
// refusal of that message — keep or refuse its readings by the code's class — not as a protocol
// error that ends the wake and repeats forever. Over 3.1.1 the acknowledgement is an ordinary
// PUBACK: the readings are lost unless the node never sends a message the broker drops, so the
// operator sets `maxPacketSize: 240` (a packet limit at the payload limit: every packet that fits
// carries a payload that does). One reading (about 170 bytes of payload) fits, a batch of three
// (about 250) does not.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { Rig } from "./support/rig";

const limit = 240;

for (const version of [5, 4] as const) {
  describe(`mosquitto message_size_limit (MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    let rig: Rig;
    before(async () => {
      broker = await startMosquitto([`message_size_limit ${limit}`]);
      rig = await Rig.start(`message-size-${version}`, broker.port, { mqttVersion: version, batchSize: 3, maxLatency: 0, ...(version === 4 ? { maxPacketSize: limit } : {}) });
    });
    after(async () => {
      await rig.close();
      await broker.stop();
    });

    it("loses no reading to messages the broker drops, and does not retry one forever", async () => {
      const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
      assert.equal((await rig.wake()).error, undefined, log());
      // A backlog: the broker is away for four wakes; the next attempt sends batches of three.
      await rig.outage(4);
      await rig.drain();
      assert.doesNotMatch(rig.node.log(), /protocol error/, "a reason code outside the spec's table is the broker's answer, not a broken stream");
      const state = await rig.assertAccounted({ drained: true });
      if (version === 4) assert.equal(state.counters.refused, 0, `the node knows the limit: every reading fits in a message the broker keeps\n${log()}`);
    });
  });
}
