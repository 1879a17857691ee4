// Corruption: retained memory truncated, bit-flipped or written by other firmware. The node must
// start clean, count a cold start, not crash, and publish again. A flip in one slot only is what the
// A/B design is for: the node falls back to the other slot, one commit older, without a cold start.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { nodeState, runWake, startBroker, subscribe, until, type TestBroker } from "./torture-node";

const damage: [string, (file: string) => void][] = [
  ["truncated", (file) => fs.truncateSync(file, 100)],
  ["bit-flipped in both slots", (file) => {
    const bytes = fs.readFileSync(file);
    for (const at of [40, 4096 + 40]) bytes[at]! ^= 0x08;
    fs.writeFileSync(file, bytes);
  }],
  ["foreign (another firmware's layout version)", (file) => {
    const bytes = fs.readFileSync(file);
    for (const base of [0, 4096]) bytes.writeUInt16LE(0x7777, base + 4);
    fs.writeFileSync(file, bytes);
  }],
  ["random bytes", (file) => {
    let s = 12345;
    fs.writeFileSync(file, Buffer.from(Array.from({ length: 8192 }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24))));
  }],
];

describe("a corrupt retained block", () => {
  let broker: TestBroker;
  before(async () => (broker = await startBroker()));
  after(() => broker.close());

  for (const [what, spoil] of damage) {
    it(`${what}: starts clean, counts a cold start and publishes again`, async () => {
      const name = `spoilt-${what.split(" ")[0]}`;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-corrupt-"));
      const raw = { node: name, broker: broker.url, batchSize: 2, flashEvery: 0 };
      const configFile = path.join(dir, "config.json");
      fs.writeFileSync(configFile, JSON.stringify(raw));
      const subscriber = await subscribe(broker.url, name);
      try {
        for (let i = 0; i < 4; i++) await runWake(dir, configFile, { timeScale: 100_000 });
        const before = nodeState(dir, raw);
        assert.ok(typeof before === "object" && before.counters.wakes === 4 && before.counters.cold === 0);
        // The first reading went at once (a first publish), then batches of two: three so far.
        assert.ok(await until(() => subscriber.received.length === 3, 2000));
        spoil(path.join(dir, "retained.bin"));
        const lines: string[] = [];
        for (let i = 0; i < 3; i++) {
          const run = await runWake(dir, configFile, { timeScale: 100_000 });
          assert.equal(run.code, 0, run.lines.join("\n"));
          lines.push(...run.lines);
        }
        assert.equal(lines.filter((l) => /^\S+ retained state (corrupt|foreign): starting clean \(cold start counted\)$/.test(l)).length, 1, lines.join("\n"));
        const state = nodeState(dir, raw);
        assert.ok(typeof state === "object");
        assert.equal(state.counters.cold, 1);
        assert.equal(state.counters.wakes, 3, "counting from the clean start");
        // A clean start publishes its first reading at once again, then a batch of two.
        assert.ok(await until(() => subscriber.received.length === 6, 3000), "published again after the clean start");
      } finally {
        await subscriber.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("a flip in the newest slot only: falls back to the other slot, no cold start", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-corrupt-"));
    const raw = { node: "spoilt-one", broker: broker.url, batchSize: 100, maxLatency: 86400, flashEvery: 0 };
    const configFile = path.join(dir, "config.json");
    fs.writeFileSync(configFile, JSON.stringify(raw));
    try {
      for (let i = 0; i < 3; i++) await runWake(dir, configFile, { timeScale: 100_000 });
      const file = path.join(dir, "retained.bin");
      const bytes = fs.readFileSync(file);
      const newest = bytes.readUInt32LE(8) > bytes.readUInt32LE(4096 + 8) ? 0 : 4096;
      bytes[newest + 20]! ^= 1;
      fs.writeFileSync(file, bytes);
      const state = nodeState(dir, raw);
      assert.ok(typeof state === "object");
      assert.equal(state.counters.cold, 0);
      // The older slot is the last wake's commit after sampling: the two readings since the first
      // (published at once) are there.
      assert.equal(state.buffer.length, 2);
      assert.equal(state.counters.wakes, 3);
      const run = await runWake(dir, configFile, { timeScale: 100_000 });
      assert.equal(run.code, 0);
      assert.ok(!run.lines.some((l) => /starting clean/.test(l)), run.lines.join("\n"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
