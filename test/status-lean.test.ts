// A lean wake (issue 11): the retained status goes out when it has news — a new session, something
// it says changed beyond what moves at every wake, a failed attempt before (whose Will may have
// said "offline"), or its heartbeat (`statusEvery`) — and a resumed wake with nothing new sends
// none. Counted on the wire, through the proxy, against the embedded broker.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { TestNode } from "./support/e2e-node";
import { PacketType, publishInfo, settled, startProxy, type Proxy } from "./support/proxy";

describe("the status of a lean wake", () => {
  let broker: EmbeddedBroker;
  let proxy: Proxy;
  let node: TestNode;
  before(async () => {
    broker = await startEmbeddedBroker();
    proxy = await startProxy({ port: Number(new URL(broker.url).port) });
    node = new TestNode("lean", { broker: proxy.url, statusEvery: 180 });
  });
  after(async () => {
    await proxy.close();
    await broker.close();
    node.remove();
  });

  /** One wake; whether its connection carried a status. */
  const statusSent = async (): Promise<boolean> => {
    const before = proxy.connections.length;
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.equal(proxy.connections.length, before + 1, node.log());
    const trace = await settled(proxy.connections.at(-1)!);
    return trace.up.frames.some((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.statusTopic);
  };

  it("sends it for news and for its heartbeat, and not otherwise", async () => {
    assert.equal(await statusSent(), true, "a new session");
    // The first wake is off the sampling grid, the next ones on it, a minute apart: the heartbeat
    // (180 s) comes after two or three resumed wakes with nothing new.
    let quiet = 0;
    while (!(await statusSent())) assert.ok(++quiet <= 3, "no heartbeat");
    assert.ok(quiet >= 2, `a status after only ${quiet} quiet wakes`);
    assert.equal(await statusSent(), false, "nothing new after the heartbeat");
    // A sensor starts failing: its error count is news.
    node.configure({ sim: { faults: { "sht3x@68": "absent" } } });
    assert.equal(await statusSent(), true, "a sensor error counted");
    node.configure({ sim: {} });
    assert.equal(await statusSent(), false, "the count stands; nothing new");
    // A wake whose exchange is cut: the next one says "asleep" again over what the Will may have said.
    proxy.next({ cutBeforeAck: { topic: node.telemetryTopic } });
    assert.match((await node.wake()).error ?? "", /connection closed by peer/);
    let sent = false;
    for (let wake = 0; wake < 3 && !sent; wake++) {
      const before = proxy.connections.length;
      assert.equal((await node.wake()).error, undefined, node.log());
      if (proxy.connections.length > before) sent = await settled(proxy.connections.at(-1)!).then((t) => t.up.frames.some((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.statusTopic));
    }
    assert.ok(sent, `no status after a failed attempt\n${node.log()}`);
  });
});
