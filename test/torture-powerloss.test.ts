// Real power losses: unlike a deep sleep or a kill, a power loss wipes RTC memory (here: the
// retained file is deleted between wakes, sometimes right after a kill). With the flash tier on
// (flashEvery 4), the node comes back from its flash copy each time, never starts clean, and the
// only readings that never reach the subscriber are ones taken in the last four wakes before a loss.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { nodeState, runWake, startBroker, subscribe, until } from "./torture-node";

const EVERY = 4;

describe("real power losses with the flash tier", () => {
  it(`lose at most flashEvery (${EVERY}) wakes' readings each, and never start clean`, async (t) => {
    const broker = await startBroker();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-powerloss-"));
    const raw = { node: "lossy", broker: broker.url, batchSize: 10, flashEvery: EVERY };
    const configFile = path.join(dir, "config.json");
    fs.writeFileSync(configFile, JSON.stringify(raw));
    const subscriber = await subscribe(broker.url, "lossy");
    const lines: string[] = [];
    /** Per wake, the reading it logged (temperature/humidity), and after which loss it came. */
    const taken: { key: string; wake: number }[] = [];
    const losses: number[] = [];
    let seed = 7;
    const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    try {
      let killed = false;
      for (let wake = 0; wake < 100; wake++) {
        // A kill can delay a flash copy by a wake; two in a row are another test's business.
        const kill = wake > 10 && !killed && next() < 0.15;
        const run = await runWake(dir, configFile, { timeScale: 100_000, ...(kill ? { killAfterMs: 40 + next() * 120 } : {}) });
        killed = run.killed;
        lines.push(...run.lines);
        for (const line of run.lines) {
          const m = /woke \([\w-]+\); sht3x\/temperature=(-?[\d.]+) Cel sht3x\/humidity=([\d.]+) %RH/.exec(line);
          if (m) taken.push({ key: `${Number(m[1])}/${Number(m[2])}`, wake });
        }
        if (wake > EVERY && next() < 0.15) {
          // The power goes: RTC memory is gone; the clock and the flash survive.
          fs.rmSync(path.join(dir, "retained.bin"), { force: true });
          fs.rmSync(path.join(dir, "sleep.json"), { force: true });
          losses.push(wake);
        }
      }
      for (let i = 0; i < 30; i++) {
        const state = nodeState(dir, raw);
        if (typeof state === "object" && state.buffer.length === 0 && state.session.inflight.length === 0) break;
        lines.push(...(await runWake(dir, configFile, { timeScale: 100_000 })).lines);
      }
      await new Promise((r) => setTimeout(r, 300));
      const arrived = new Set(subscriber.received.map((r) => `${r.values["sht3x/temperature"]}/${r.values["sht3x/humidity"]}`));
      const missing = taken.filter((r) => !arrived.has(r.key));
      t.diagnostic(`${taken.length} readings, ${losses.length} power losses, ${missing.length} readings lost`);
      assert.ok(losses.length >= 5, `${losses.length} losses`);
      assert.deepEqual(lines.filter((l) => /starting clean|wake failed/.test(l)), []);
      assert.equal(lines.filter((l) => /restored from flash/.test(l)).length, losses.length);
      for (const r of missing) {
        const loss = losses.find((w) => w >= r.wake);
        assert.ok(loss !== undefined && loss - r.wake < EVERY, `reading of wake ${r.wake} lost, power losses after wakes ${losses.join(", ")}`);
      }
      for (const loss of losses) assert.ok(missing.filter((r) => losses.find((w) => w >= r.wake) === loss).length <= EVERY);
      const state = nodeState(dir, raw);
      assert.ok(typeof state === "object" && state.counters.restored === losses.length && state.counters.cold === 0);
      assert.ok(await until(() => subscriber.received.length > 0, 100));
    } finally {
      await subscriber.close();
      await broker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
