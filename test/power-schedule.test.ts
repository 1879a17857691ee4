// When a node wakes, what it stamps its reading with, and when it spends radio time.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig, type Config } from "../src/config";
import { DOWNLINK_PERIOD_S, MAX_BACKOFF_PERIODS, nextWake, notePublished, publishReason, sampleTime, type WakeFacts } from "../src/power/schedule";
import { freshState, type NodeState } from "../src/retained/state";

const T0 = 1_700_000_040; // a multiple of 60
const channels = [{ name: "sht3x/temperature", resolution: 0.01 }, { name: "sht3x/humidity", resolution: 0.01 }];

function node(config: Partial<Record<string, unknown>> = {}): { state: NodeState; config: Config } {
  return { state: freshState(2, 3000, 0, 0, 1), config: parseConfig({ batchSize: 5, maxLatency: 900, ...config }) };
}

function facts(nowS: number, latest: (number | null)[] = [2100, 4000], clockSet = true, firmwarePending = false): WakeFacts {
  return { nowS, latest, channels, clockSet, firmwarePending };
}

describe("wake schedule", () => {
  it("wakes on the interval's grid, skipping a grid point closer than the tolerance", () => {
    const ms = T0 * 1000;
    assert.equal(nextWake(ms, 60), ms + 60_000);
    assert.equal(nextWake(ms + 12_345, 60), ms + 60_000, "a long wake still aims at the next grid point");
    // An RTC timer that fired 800 ms early: this wake is the grid point's, the next is one period on.
    assert.equal(nextWake(ms - 800, 60), ms + 60_000);
    assert.equal(nextWake(ms + 59_500, 60), ms + 120_000, "half a second of sleep is not worth a wake");
    assert.equal(nextWake(ms + 7_000, 3600) % 3_600_000, 0);
  });

  it("stamps a timer wake with its grid point and a power-on wake with its own time", () => {
    const ms = T0 * 1000;
    assert.equal(sampleTime(ms, 60), T0);
    assert.equal(sampleTime(ms - 800, 60), T0, "early");
    assert.equal(sampleTime(ms + 900, 60), T0, "late");
    assert.equal(sampleTime(ms + 17_250, 60), T0 + 17, "off the grid: a power-on wake");
    assert.equal(sampleTime(ms + 40_000, 3600), T0 + 40, "the slack scales with the interval");
    assert.equal(sampleTime(ms + 250, 1), T0, "a 1 s interval keeps a quarter second of slack");
  });
});

describe("batching policy", () => {
  it("publishes a full batch, an old reading, a threshold crossing, the first reading, and nothing else", () => {
    const { state, config } = node({ thresholds: { "sht3x/temperature": 0.5 } });
    state.buffer.append(T0, [2100, 4000]);
    assert.equal(publishReason(state, config, facts(T0)), "first");
    state.lastAttempt = T0;
    state.unsent = state.buffer.next;
    state.buffer.release(state.buffer.next);
    state.lastSent = [2100, 4000];
    for (let i = 1; i <= 4; i++) {
      state.buffer.append(T0 + 60 * i, [2100 + 10 * i, 4000]);
      assert.equal(publishReason(state, config, facts(T0 + 60 * i, [2100 + 10 * i, 4000])), undefined, `${i} readings`);
    }
    // 0.5 °C is 50 steps: 2150 is not more than that, 2151 is.
    assert.equal(publishReason(state, config, facts(T0 + 240, [2150, 4000])), undefined);
    assert.equal(publishReason(state, config, facts(T0 + 240, [2051, 4000])), undefined);
    assert.equal(publishReason(state, config, facts(T0 + 240, [2049, 4000])), "threshold");
    assert.equal(publishReason(state, config, facts(T0 + 240, [2151, null])), "threshold");
    assert.equal(publishReason(state, config, facts(T0 + 240, [null, 9000])), undefined, "no threshold on humidity");
    state.buffer.append(T0 + 300, [2100, 4000]);
    assert.equal(publishReason(state, config, facts(T0 + 300)), "batch");
    // Two readings left unsent; the older one, taken at T0 + 240, is 15 min old at T0 + 1140.
    state.unsent = (state.buffer.next - 2) >>> 0;
    assert.equal(publishReason(state, config, facts(T0 + 1139)), undefined);
    assert.equal(publishReason(state, config, facts(T0 + 1140)), "latency");
  });

  it("counts the backoff in grid steps: the grid wake after an off-grid power-on attempt is one period on", () => {
    const { state, config } = node({ batchSize: 1 });
    state.buffer.append(T0, [1, 2]);
    state.failures = 1;
    // (A grid point closer than the tolerance, 1.2 s here, is skipped: the next wake is a minute on.)
    for (const offset of [2, 29, 59]) {
      state.lastAttempt = T0 - offset;
      assert.notEqual(publishReason(state, config, facts(T0)), undefined, `a power-on attempt ${offset} s before the grid point`);
    }
    state.lastAttempt = T0 - 29;
    state.failures = 2;
    assert.equal(publishReason(state, config, facts(T0)), undefined, "two periods: not at the first grid wake");
    assert.notEqual(publishReason(state, config, facts(T0 + 60)), undefined);
  });

  it("retries messages in flight, but not before the backoff has passed", () => {
    const { state, config } = node();
    state.buffer.append(T0, [1, 2]);
    state.session.inflight.push({ packetId: 1, kind: 0, first: 0, count: 1, qos: 1, state: "sent" });
    state.unsent = 1;
    state.lastAttempt = T0;
    state.failures = 3; // 4 periods
    assert.equal(publishReason(state, config, facts(T0 + 180)), undefined);
    assert.equal(publishReason(state, config, facts(T0 + 240)), "retry");
    state.failures = 16;
    assert.equal(publishReason(state, config, facts(T0 + 60 * MAX_BACKOFF_PERIODS - 31)), undefined, "the backoff is capped");
    assert.equal(publishReason(state, config, facts(T0 + 60 * MAX_BACKOFF_PERIODS)), "retry");
  });

  it("connects at every wake of a freshly updated image, under a part batch or in backoff", () => {
    const { state, config } = node();
    state.buffer.append(T0, [1, 2]);
    state.lastAttempt = T0;
    assert.equal(publishReason(state, config, facts(T0 + 60)), undefined, "one reading of a batch of 5");
    assert.equal(publishReason(state, config, facts(T0 + 60, undefined, true, true)), "firmware");
    state.failures = 3;
    assert.equal(publishReason(state, config, facts(T0 + 60, undefined, true, true)), "firmware", "its tries are few: none waits out a backoff");
  });

  it("connects when the clock is unset, and at least daily for commands and the clock", () => {
    const { state, config } = node({ batchSize: 1000, maxLatency: 7 * 86400 });
    state.lastAttempt = T0;
    state.buffer.append(T0 + 60, [1, 2]);
    assert.equal(publishReason(state, config, facts(T0 + 60)), undefined);
    assert.equal(publishReason(state, config, facts(T0 + 60, [1, 2], false)), "clock");
    assert.equal(publishReason(state, config, facts(T0 + DOWNLINK_PERIOD_S)), "downlink");
  });

  it("measures thresholds from the newest value put in a message", () => {
    const { state } = node();
    state.buffer.append(T0, [2100, 4000]);
    notePublished(state, [2100, 4000]);
    assert.deepEqual(state.lastSent, [null, null], "not yet in a message");
    state.unsent = state.buffer.next;
    notePublished(state, [2100, null]);
    assert.deepEqual(state.lastSent, [2100, null]);
  });
});
