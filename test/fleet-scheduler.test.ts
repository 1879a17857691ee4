// The fleet's clock: a wake's timers are virtual while it samples (so load cannot make a sensor
// time out, and the wake's time is exact), real while it talks to a broker; the scheduler starts
// wakes in simulated-time order, holds simulated time while a wake is in flight in "max" mode, and
// never has more than its limit in flight.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FleetScheduler } from "../hosts/node/fleet-scheduler";
import { WakeTime } from "../hosts/node/fleet-time";
import { blockFor } from "../hosts/virtual/virtual-i2c";

const T0 = Date.UTC(2026, 0, 1);

describe("a fleet wake's time", () => {
  it("fires virtual timers in order at their exact times, however long the host is busy", async () => {
    const time = new WakeTime(T0);
    const fired: [string, number][] = [];
    await new Promise<void>((resolve) => {
      // A sensor's 500 ms timeout and its 16 ms conversion, as sampling.ts and a driver set them.
      const timeout = time.set(() => fired.push(["timeout", time.ticks()]), 500);
      time.set(() => {
        fired.push(["conversion", time.ticks()]);
        time.clear(timeout);
        time.set(() => (fired.push(["next", time.ticks()]), resolve()), 2);
      }, 16);
      // The machine is loaded: the thread is blocked for longer than the timeout.
      blockFor(600);
    });
    assert.deepEqual(fired, [["conversion", 16], ["next", 18]]);
    assert.equal(time.now(), T0 + 18);
  });

  it("runs on real time while the network is up, and virtual again after", async () => {
    const time = new WakeTime(T0);
    time.goReal();
    const before = time.ticks();
    await new Promise<void>((resolve) => time.set(resolve, 30));
    const after = time.ticks();
    assert.ok(after - before >= 29, `${after - before} ms passed on a 30 ms real timer`);
    time.goVirtual();
    const frozen = time.ticks();
    blockFor(20);
    assert.equal(time.ticks(), frozen, "virtual time does not run by itself");
  });
});

describe("the fleet's scheduler", () => {
  it('in "max" mode starts wakes in time order, holds time while one is in flight, and keeps to its limit', async () => {
    const scheduler = new FleetScheduler({ scale: "max", startMs: T0, concurrency: 3 }, 10);
    for (let node = 0; node < 10; node++) scheduler.schedule(node, T0 + (node % 4) * 1000);
    const started: number[] = [];
    const inFlight = new Set<number>();
    let most = 0;
    const runs = new Map<number, number>();
    const stats = await scheduler.run(async (node, due) => {
      for (const other of inFlight) assert.ok(other <= due, `a wake due at ${due} started while one due at ${other} was in flight`);
      started.push(due);
      inFlight.add(due);
      most = Math.max(most, inFlight.size);
      // Real time in flight, as a wake talking to a broker takes.
      await new Promise((r) => setTimeout(r, 1 + (node % 3)));
      inFlight.delete(due);
      const n = (runs.get(node) ?? 0) + 1;
      runs.set(node, n);
      return n < 3 ? due + 60_000 : undefined;
    });
    assert.equal(stats.wakes, 30);
    assert.deepEqual(started, [...started].sort((a, b) => a - b));
    assert.ok(most <= 3, `${most} in flight`);
    assert.equal(stats.lastMs, T0 + 3000 + 120_000);
  });

  it("on a time scale starts every wake at its own simulated time, in order, and stops when told", async () => {
    const scheduler = new FleetScheduler({ scale: 100_000, startMs: T0, concurrency: 10 }, 3);
    [2, 0, 1].forEach((node) => scheduler.schedule(node, T0 + node * 10_000));
    const stop = new AbortController();
    const seen: [number, number][] = [];
    await scheduler.run(async (node, due) => {
      seen.push([node, due]);
      if (seen.length === 5) stop.abort();
      return due + 30_000;
    }, stop.signal);
    assert.deepEqual(seen, [[0, T0], [1, T0 + 10_000], [2, T0 + 20_000], [0, T0 + 30_000], [1, T0 + 40_000]]);
  });
});
