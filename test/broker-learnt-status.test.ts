// mosquitto with `max_packet_size 250` over MQTT 3.1.1, and a node that was not told the limit
// (3.1.1 cannot announce it): one reading fits in a packet, the retained status (about 360 bytes)
// does not. mosquitto closes the connection on the oversized status without a word (3.1.1 has no
// reason code), so its Will, {"state":"offline"} retained, replaces the node's status. A healthy
// node that keeps waking and delivering must not stay "offline" for its watchers: from the closes
// it learns a smaller limit for the status, and a status that fits arrives after the Will.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { retainedJson } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { Rig } from "./support/rig";

const limit = 250;

describe("mosquitto max_packet_size the node was not told (MQTT 3.1.1)", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let rig: Rig;
  before(async () => {
    broker = await startMosquitto([`max_packet_size ${limit}`]);
    rig = await Rig.start("learnt-status", broker.port, { mqttVersion: 4 });
  });
  after(async () => {
    await rig.close();
    await broker.stop();
  });

  it("learns to send a status that fits, so the retained status does not stay offline", async () => {
    const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
    for (let i = 0; i < 10; i++) await rig.wake();
    const statuses = rig.subscriber.statuses(rig.node.statusTopic).map((s) => String(s.state));
    assert.notEqual(statuses.at(-1), "offline", `the last status the subscriber got is the Will's "offline", though the node kept waking and delivering (statuses in order: ${statuses.join(", ")})\n${log()}`);
    assert.notEqual((await retainedJson(broker.url, rig.node.statusTopic)).state, "offline", `the retained status is "offline"\n${log()}`);
    const state = await rig.assertAccounted({ drained: true });
    assert.equal(state.counters.refused, 0, `each reading fits in a packet of its own\n${log()}`);
  });
});
