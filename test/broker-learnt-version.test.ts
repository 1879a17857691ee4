// An MQTT 5 node whose broker (mosquitto, `max_inflight_messages 1`: Receive Maximum 1) is away
// behind something that accepts connections and closes them (a proxy, a load balancer) for two
// connection attempts, then back. Closed connections prove nothing about the protocol version: the
// node must not give up MQTT 5 for them — once the broker is back and speaks 5, the node is on 5.
// Whatever it learnt of the broker's limits holds on any version it connects with: a 3.1.1
// connection (which cannot announce Receive Maximum) still keeps one message in flight, because
// mosquitto answers a QoS 2 PUBLISH beyond its in-flight limit with PUBREC and drops it. Every
// reading arrives, and the node's `delivered` counter says what arrived.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { connectLevel, maxInFlight } from "./support/proxy";
import { limitKnownFrom, Rig } from "./support/rig";

describe("a v5 broker with Receive Maximum 1 away behind a proxy for two attempts (mosquitto, MQTT 5)", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let rig: Rig;
  before(async () => {
    broker = await startMosquitto(["max_inflight_messages 1"]);
    rig = await Rig.start("learnt-version", broker.port, { mqttVersion: 5, qos: 2 }, { subscriberQos: 2 });
  });
  after(async () => {
    await rig.close();
    await broker.stop();
  });

  it("stays on MQTT 5, keeps the broker's in-flight limit, and loses no reading", async () => {
    const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
    assert.equal((await rig.wake()).error, undefined, log());
    // The broker is away: the next two connections are accepted and closed before CONNACK.
    for (let i = 0; i < 2; i++) rig.proxy.next({ cutUpAfterBytes: 12 });
    for (let i = 0; i < 7; i++) await rig.wake();
    await rig.drain();
    // The status goes out with news only; this command makes the last wake publish one.
    await rig.subscriber.client.publishAsync(rig.node.commandTopic, JSON.stringify({ cmd: "status" }), { qos: 1 });
    const statusesBefore = rig.subscriber.statuses(rig.node.statusTopic).length;
    await rig.wake();
    await rig.subscriber.until(() => rig.subscriber.statuses(rig.node.statusTopic).length > statusesBefore);
    const connections = await rig.connections();
    // Everything wrong, at once: the faults feed one another (a needless 3.1.1 connection is where
    // the in-flight limit is forgotten, which is where a reading goes missing).
    const problems: string[] = [];
    const levels = connections.map((c) => connectLevel(c.up.frames[0]!));
    if (levels.at(-1) !== 5) problems.push(`the node's connections were MQTT ${levels.map((l) => (l === 5 ? "5" : "3.1.1")).join(", ")}: it ends on 3.1.1 though the broker speaks 5`);
    const from = limitKnownFrom(connections, "receiveMaximum");
    connections.forEach((c, i) => {
      const depth = maxInFlight(c, from);
      if (depth > 1) problems.push(`connection ${i + 1} (MQTT ${levels[i] === 5 ? "5" : "3.1.1"}) had ${depth} QoS 2 messages in flight though the broker's Receive Maximum 1 was known`);
    });
    const sampled = rig.node.sampled().length;
    await rig.subscriber.until(() => rig.received().length >= sampled);
    const state = rig.state();
    const received = rig.received().length;
    if (received !== sampled) problems.push(`${sampled} readings sampled, ${received} arrived (${state.counters.refused} refused, ${state.buffer.length} buffered)`);
    if (state.counters.delivered !== received) problems.push(`the node counts ${state.counters.delivered} readings delivered, ${received} arrived`);
    const last = rig.subscriber.statuses(rig.node.statusTopic).at(-1);
    if (last?.delivered !== received) problems.push(`the last status the subscriber got says ${String(last?.delivered)} delivered, ${received} arrived`);
    assert.deepEqual(problems, [], `${problems.join("\n")}\n--- node log ---\n${log()}`);
  });
});
