// The Will ("offline", retained on the status topic) against a real mosquitto.
//
// MQTT 5: Will Delay = Session Expiry, derived from the schedule (here 1 s samples, batches of 1,
// 2 periods: 2 s), and the node ends each wake with "Disconnect with Will Message" (0x04). So a node
// that keeps coming back within the delay is never announced offline — not for sleeping, not for a
// wake whose connection died — while one that stops coming back is, once the delay is over: whether
// it died asleep or mid-exchange (its wake process killed), and its next wake re-sends what was in
// flight.
//
// MQTT 3.1.1 has no Will Delay: a normal DISCONNECT discards the Will, so sleeping never triggers it,
// and a wake that dies mid-exchange triggers it at once.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { retainedJson, Subscriber, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { PacketType, publishInfo, startProxy, type Proxy } from "./support/proxy";

const WILL_DELAY_S = 2;
const schedule = { sampleInterval: 1, batchSize: 1, sessionPeriods: WILL_DELAY_S };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The two cases wait for the broker's timers: they run side by side, each through its own proxy.
describe("the Will (mosquitto)", { skip: mosquittoMissing(), concurrency: true }, () => {
  let broker: Mosquitto;
  const proxies: Proxy[] = [];
  const nodes: TestNode[] = [];
  const subscribers: Subscriber[] = [];
  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    for (const s of subscribers) await s.end();
    for (const p of proxies) await p.close();
    await broker.stop();
    for (const n of nodes) n.remove();
  });

  const setup = async (name: string, version: 4 | 5) => {
    const proxy = await startProxy({ port: broker.port });
    proxies.push(proxy);
    const node = new TestNode(name, { broker: proxy.url, mqttVersion: version, ...schedule });
    nodes.push(node);
    const watcher = await Subscriber.connect(broker.url, [node.statusTopic]);
    subscribers.push(watcher);
    const states = () => watcher.statuses(node.statusTopic).map((s) => s.state);
    return { node, watcher, states, proxy };
  };

  it("MQTT 5: never while the node comes back within the delay; after it for one that stops", async () => {
    const { node, watcher, states, proxy } = await setup("will-5", 5);
    assert.equal((await node.wake()).error, undefined, node.log());
    await proxy.connections.at(-1)!.closed;
    assert.equal(proxy.connections.at(-1)!.up.frames.find((f) => f.type === PacketType.DISCONNECT)!.bytes[2], 0x04, "Disconnect with Will Message");

    // A wake whose connection dies (no DISCONNECT), and the next wake at once.
    proxy.next({ cutBeforeAck: { topic: node.telemetryTopic } });
    assert.match((await node.wake()).error ?? "", /connection closed by peer/);
    assert.equal((await node.wake()).error, undefined, node.log());
    // Then wakes less than the delay apart, for twice the delay: not one "offline".
    for (let t = 0; t < 2 * WILL_DELAY_S * 1000; t += 600) {
      await sleep(600);
      assert.equal((await node.wake()).error, undefined, node.log());
    }
    assert.ok(!states().includes("offline"), JSON.stringify(states()));

    // The node dies asleep (it simply does not wake again): "offline", retained, once the delay is over.
    assert.ok(await watcher.until(() => states().includes("offline"), WILL_DELAY_S * 1000 + 5000), `no Will: ${JSON.stringify(states())}`);
    assert.deepEqual(states().slice(-2), ["asleep", "offline"]);
    assert.equal(states().filter((s) => s === "offline").length, 1);
    assert.equal((await retainedJson(broker.url, node.statusTopic)).state, "offline", "retained for later subscribers");

    // It comes back after all: "asleep" replaces "offline".
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.ok(await watcher.until(() => states().at(-1) === "asleep"));

    // A power cut mid-exchange: the wake process is killed once the broker has its batch (the proxy
    // holds the PUBACK back, so the node is still waiting for it).
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
    const before = states().length;
    assert.ok(await watcher.until(() => states().length > before, WILL_DELAY_S * 1000 + 5000), `no Will: ${JSON.stringify(states())}`);
    assert.equal(states().at(-1), "offline");

    // The node's next wake (a reset: its process died) finds the batch in retained memory and sends
    // it again, DUP set, same packet id; its status replaces "offline".
    const back = await node.wake();
    assert.equal(back.error, undefined, node.log());
    assert.match(back.lines[0]!, /^woke \(reset\)/);
    const resent = proxy.connections.at(-1)!.up.frames.find((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic)!;
    assert.deepEqual({ dup: publishInfo(resent).dup, id: publishInfo(resent).packetId }, { dup: true, id: publishInfo(killedPublish).packetId });
    assert.ok(await watcher.until(() => states().at(-1) === "asleep"));
  });

  it("MQTT 3.1.1: never for a node that sleeps; at once for a wake that dies mid-exchange", async () => {
    const { node, watcher, states, proxy } = await setup("will-4", 4);
    for (let i = 0; i < 2; i++) assert.equal((await node.wake()).error, undefined, node.log());
    // Longer than MQTT 5's delay would be after a normal DISCONNECT: nothing.
    await sleep(WILL_DELAY_S * 1000 + 1500);
    // (A resumed wake with nothing new to say sends no status: one "asleep" at least, never "offline".)
    assert.deepEqual([...new Set(states())], ["asleep"]);
    proxy.next({ cutBeforeAck: { topic: node.telemetryTopic } });
    assert.match((await node.wake()).error ?? "", /connection closed by peer/);
    assert.ok(await watcher.until(() => states().includes("offline")), `no Will: ${JSON.stringify(states())}`);
    // The wake after a failed one says "asleep" again, over the Will.
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.ok(await watcher.until(() => states().at(-1) === "asleep"), JSON.stringify(states()));
    assert.deepEqual(states().slice(states().indexOf("offline")), ["offline", "asleep"]);
  });
});
