// A clock that steps back (an SNTP correction, an RTC that lost time, a host clock set by hand):
// a backoff started "in the future" does not hold publishing until the clock catches up, and grid
// points the node already sampled and published are not sampled again, so a subscriber never gets
// a second, different reading for a time it already has. Each such wake is counted (clockBack)
// and said once.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../src/config";
import { publishReason, type WakeFacts } from "../src/power/schedule";
import { freshState } from "../src/retained/state";
import { writeRecord } from "../hosts/node/host-file";
import { writeMarker } from "../hosts/node/wake-start";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { resolveSenml } from "../tools/senml";
import { Subscriber, TestNode } from "./support/e2e-node";
import { nodeState } from "./torture-node";

describe("a clock that steps back", () => {
  it("does not hold publishing behind a backoff that started later than now", () => {
    const config = parseConfig({ batchSize: 1, sampleInterval: 60 });
    const state = freshState(1, 4000, 0, 0, 1);
    const t = 1_790_000_040;
    state.buffer.append(t, [2000]);
    state.failures = 3; // the backoff is 4 periods
    state.lastAttempt = t;
    const facts = (nowS: number): WakeFacts => ({ nowS, latest: [2000], channels: [{ name: "x", resolution: 1 }], clockSet: true, firmwarePending: false });
    assert.equal(publishReason(state, config, facts(t + 60)), undefined, "still backing off a period later");
    assert.equal(publishReason(state, config, facts(t + 240)), "batch", "backoff over");
    assert.equal(publishReason(state, config, facts(t - 3600)), "batch", "an hour behind the last attempt: not blocked for an hour");
  });

  describe("at an outside subscriber", () => {
    let broker: EmbeddedBroker;
    let subscriber: Subscriber;
    let node: TestNode;
    before(async () => {
      broker = await startEmbeddedBroker();
      node = new TestNode("clock-back", { broker: broker.url, batchSize: 1 });
      subscriber = await Subscriber.connect(broker.url, [node.telemetryTopic]);
    });
    after(async () => {
      await subscriber.end();
      await broker.close();
      node.remove();
    });

    it("never gets a reading for a time it already has", async () => {
      const stateDir = path.join(node.dir, "state");
      const raw = { node: "clock-back", batchSize: 1 };
      for (let i = 0; i < 5; i++) assert.equal((await node.wake()).error, undefined, node.log());
      const state = nodeState(stateDir, raw);
      assert.ok(typeof state === "object");
      const newest = state.buffer.newestTime!;

      // The RTC steps back four intervals while the node sleeps: it wakes on its timer at a grid
      // point it sampled (and published) four wakes ago.
      const back = (newest - 4 * 60) * 1000;
      writeRecord(path.join(stateDir, "clock.json"), { simMs: back, realMs: Date.now() });
      writeMarker(path.join(stateDir, "sleep.json"), back);
      const wakes = [];
      for (let i = 0; i < 7; i++) wakes.push(await node.wake());

      // Grid points newest-4 … newest are not sampled again, each wake saying so once; then it goes on.
      const skipped = wakes.map((w) => w.lines.filter((l) => /^woke \(timer\); clock at .* is not past the newest reading .*: not sampled, clock back counted$/.test(l)).length);
      assert.deepEqual(skipped, [1, 1, 1, 1, 1, 0, 0], node.log());
      const after = nodeState(stateDir, raw);
      assert.ok(typeof after === "object");
      assert.equal(after.counters.clockBack, 5);
      assert.equal(after.buffer.newestTime, newest + 2 * 60);

      // The subscriber saw each time once, in order, and the two new readings.
      const name = `urn:dev:torpor:clock-back:sht3x/temperature`;
      const times = () => subscriber.messages.flatMap((m) => resolveSenml(JSON.parse(m.payload.toString("utf8")))).filter((r) => r.name === name).map((r) => r.time);
      assert.ok(await subscriber.until(() => times().includes(newest + 2 * 60)), `got ${times().join(", ")}`);
      const got = times();
      for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!, `reading for ${got[i]} arrived after one for ${got[i - 1]}: ${got.join(", ")}`);
      assert.equal(got.length, 7);
    });
  });
});
