// Energy bookkeeping and time sync: what a wake costs, and readings taken before the clock was set
// leave with the right times.

import type { Clock, Host } from "../src/host";
import { WakeMeter } from "../src/power/energy";
import { noteClock, setClock } from "../src/power/time-sync";
import { emptyEnergy } from "../src/retained/state";
import { freshState } from "../src/retained/state";
import assert from "node:assert/strict";
import { describe, it } from "node:test";

/** A clock the test moves by hand; `set` plays SNTP. */
class HandClock implements Clock {
  rtc = 5_000; // ms: an ESP32 RTC after a power loss counts from boot
  tick = 0;
  set = false;
  now(): number { return this.rtc; }
  ticks(): number { return this.tick; }
  synced(): boolean { return this.set; }
  advance(ms: number): void { this.rtc += ms; this.tick += ms; }
}

function hostWith(clock: HandClock, sntp: { jumpTo?: number; fail?: boolean } = {}) {
  const lines: string[] = [];
  const calls: string[] = [];
  const host = {
    clock,
    log: (line: string) => void lines.push(line),
    network: {
      up(_timeout: number, callback: (error?: Error) => void) {
        calls.push("up");
        clock.advance(700); // association and DHCP take time, which is not a clock jump
        if (sntp.fail) return callback(new Error("no access point"));
        if (sntp.jumpTo !== undefined) {
          clock.rtc = sntp.jumpTo;
          clock.set = true;
        }
        callback();
      },
      down: () => void calls.push("down"),
    },
  };
  return { host: host as unknown as Host, lines, calls };
}

describe("time sync", () => {
  it("retimes readings taken before the clock was set by the jump SNTP made", () => {
    const clock = new HandClock();
    const { host, calls, lines } = hostWith(clock, { jumpTo: 1_700_000_123_000 });
    const state = freshState(1, 2000, 0, 0, 1);
    state.buffer.append(1_690_000_000, [1]); // a reading from before the power loss, clock set then
    noteClock({ ...host, clock: { now: () => 0, ticks: () => 0, synced: () => true } } as Host, state, 0);
    for (let i = 0; i < 10; i++) {
      const seq = state.buffer.append(Math.floor(clock.now() / 1000), [100 + i]);
      noteClock(host, state, seq);
      clock.rtc += 60_000; // deep sleep: the RTC runs on, ticks restart with the next wake
    }
    assert.equal(state.unsyncedFrom, 1);
    const before = clock.now();
    return setClock(host, state, 10_000).then((up) => {
      assert.equal(up, true);
      assert.deepEqual(calls, ["up", "down"]);
      assert.equal(state.unsyncedFrom, undefined);
      const jump = Math.round((1_700_000_123_000 - (before + 700)) / 1000);
      assert.deepEqual(
        state.buffer.range(0, 100).map((r) => r.time),
        [1_690_000_000, ...Array.from({ length: 10 }, (_, i) => 5 + 60 * i + jump)],
      );
      assert.match(lines.join("\n"), /clock set \(moved \d+ s\); readings from #1 retimed/);
    });
  });

  it("leaves the network alone when the clock is set or nothing waits for it, and keeps the mark when SNTP fails", async () => {
    const clock = new HandClock();
    const failing = hostWith(clock, { fail: true });
    const state = freshState(1, 2000, 0, 0, 1);
    assert.equal(await setClock(failing.host, state, 1000), false, "nothing waits");
    noteClock(failing.host, state, state.buffer.append(5, [1]));
    assert.equal(await setClock(failing.host, state, 1000), true);
    assert.equal(state.unsyncedFrom, 0, "still marked");
    clock.set = true;
    assert.equal(await setClock(failing.host, state, 1000), false, "set: nothing to measure");
    noteClock(failing.host, state, state.buffer.append(6, [1]));
    assert.equal(state.unsyncedFrom, undefined);
    assert.match(failing.lines.join("\n"), /clock set without a measured jump; readings from #0 keep their times/);
  });
});

describe("energy", () => {
  it("books each wake's awake, sampling and radio time and bytes into wrapping totals", () => {
    const clock = new HandClock();
    const totals = emptyEnergy();
    const meter = new WakeMeter(clock);
    clock.advance(40);
    meter.sampled(15);
    meter.radioOn();
    clock.advance(900);
    meter.radioOff({ bytesUp: 700, bytesDown: 60 });
    clock.advance(10);
    meter.book(totals);
    assert.deepEqual(totals, { awakeMs: 950, sampleMs: 15, radioMs: 900, radioWakes: 1, bytesUp: 700, bytesDown: 60 });
    clock.advance(30);
    meter.sampled(14);
    meter.book(totals);
    assert.deepEqual(totals, { awakeMs: 980, sampleMs: 29, radioMs: 900, radioWakes: 1, bytesUp: 700, bytesDown: 60 });
    totals.bytesUp = 2 ** 32 - 100;
    meter.radioOn();
    meter.radioOff({ bytesUp: 300, bytesDown: 0 });
    meter.book(totals);
    assert.equal(totals.bytesUp, 200, "u32 totals wrap, as the retained layout keeps them");
  });
});
