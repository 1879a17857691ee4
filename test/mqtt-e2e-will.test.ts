// The Will ("offline", retained on the status topic) against a real mosquitto. MQTT 5: Will Delay =
// Session Expiry, derived from the schedule (here 1 s samples, batches of 1, 3 periods: 3 s), so a
// node that goes to sleep normally never triggers it, nor does one whose connection dies and that
// comes back within the delay; one that vanishes (its wake process killed mid-exchange, a power cut)
// is announced offline once the delay is over, and its next wake re-sends what was in flight.
// MQTT 3.1.1 has no Will Delay: a normal sleep still never triggers the Will, but a wake that dies
// mid-exchange does, at once.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { retainedJson, Subscriber, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { PacketType, publishInfo, startProxy, type Proxy } from "./support/proxy";

const WILL_DELAY_S = 3;
const schedule = { sampleInterval: 1, batchSize: 1, sessionPeriods: WILL_DELAY_S };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the Will (mosquitto)", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let proxy: Proxy;
  const nodes: TestNode[] = [];
  const subscribers: Subscriber[] = [];
  before(async () => {
    broker = await startMosquitto();
    proxy = await startProxy({ port: broker.port });
  });
  after(async () => {
    for (const s of subscribers) await s.end();
    await proxy.close();
    await broker.stop();
    for (const n of nodes) n.remove();
  });

  const setup = async (name: string, version: 4 | 5) => {
    const node = new TestNode(name, { broker: proxy.url, mqttVersion: version, ...schedule });
    nodes.push(node);
    const watcher = await Subscriber.connect(broker.url, [node.statusTopic]);
    subscribers.push(watcher);
    const states = () => watcher.statuses(node.statusTopic).map((s) => s.state);
    return { node, watcher, states };
  };

  it("MQTT 5: never for a node that sleeps or comes back within the delay; after the delay for one that vanishes", async () => {
    const { node, watcher, states } = await setup("will-5", 5);
    for (let i = 0; i < 2; i++) assert.equal((await node.wake()).error, undefined, node.log());

    // A wake whose connection dies (no DISCONNECT), and the next wake, within the delay.
    proxy.next({ cutBeforeAck: { topic: node.telemetryTopic } });
    assert.match((await node.wake()).error ?? "", /connection closed by peer/);
    assert.equal((await node.wake()).error, undefined, node.log());

    // Longer than the Will Delay after all that: not one "offline".
    await sleep(WILL_DELAY_S * 1000 + 1000);
    assert.deepEqual(states(), ["asleep", "asleep", "asleep"]);

    // A power cut mid-exchange: the wake process is killed once the broker has its batch (the
    // proxy holds the PUBACK back, so the node is still waiting for it).
    proxy.next({ holdDown: true });
    const connections = proxy.connections.length;
    const child = node.spawnWake();
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const brokerAcked = () => proxy.connections[connections]?.down.frames.some((f) => f.type === PacketType.PUBACK) ?? false;
    for (let i = 0; i < 100 && !brokerAcked(); i++) await sleep(50);
    assert.ok(brokerAcked(), "the broker acknowledged the batch");
    child.kill("SIGKILL");
    await exited;
    const killedPublish = proxy.connections[connections]!.up.frames.find((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic)!;

    assert.ok(await watcher.until(() => states().includes("offline"), WILL_DELAY_S * 1000 + 5000), `no Will: ${JSON.stringify(states())}`);
    assert.deepEqual(states(), ["asleep", "asleep", "asleep", "offline"]);
    assert.equal((await retainedJson(broker.url, node.statusTopic)).state, "offline", "retained for later subscribers");

    // The node's next wake (a reset: its process died) finds the batch in retained memory and sends
    // it again, DUP set, same packet id; its status replaces "offline".
    const back = await node.wake();
    assert.equal(back.error, undefined, node.log());
    assert.match(back.lines[0]!, /^woke \(reset\)/);
    const resent = proxy.connections.at(-1)!.up.frames.find((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic)!;
    assert.deepEqual(
      { dup: publishInfo(resent).dup, id: publishInfo(resent).packetId },
      { dup: true, id: publishInfo(killedPublish).packetId },
    );
    assert.ok(await watcher.until(() => states().at(-1) === "asleep"));
  });

  it("MQTT 3.1.1: never for a node that sleeps; at once for a wake that dies mid-exchange", async () => {
    const { node, watcher, states } = await setup("will-4", 4);
    for (let i = 0; i < 2; i++) assert.equal((await node.wake()).error, undefined, node.log());
    proxy.next({ cutBeforeAck: { topic: node.telemetryTopic } });
    assert.match((await node.wake()).error ?? "", /connection closed by peer/);
    assert.ok(await watcher.until(() => states().includes("offline")), `no Will: ${JSON.stringify(states())}`);
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.ok(await watcher.until(() => states().length === 4));
    assert.deepEqual(states(), ["asleep", "asleep", "offline", "asleep"]);
  });
});
