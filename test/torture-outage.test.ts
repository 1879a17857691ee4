// Broker outage: the broker is gone for six simulated hours while two nodes keep sampling; when it
// comes back (a new broker on the same port, sessions lost), every reading arrives, in order. One
// node has the full 8 KB of RTC memory and loses nothing; the other has too little for six hours,
// so its buffer overflows — and the readings that never arrive are exactly those it counted as
// dropped, the oldest of the outage.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { MAX_BACKOFF_PERIODS } from "../src/power/schedule";
import { freePort } from "./support/mosquitto";
import { nodeState, runWake, startBroker, subscribe, until, type Received } from "./torture-node";

const INTERVAL = 180;
const OUTAGE_S = 6 * 3600;
/** Room for about 70 readings: six hours at three minutes is 120. */
const SMALL_RTC = 2336;

interface Node {
  name: string;
  dir: string;
  configFile: string;
  raw: Record<string, unknown>;
  size: number;
  wakes: number;
  lines: string[];
}

function makeNode(name: string, url: string, size: number): Node {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `torpor-outage-${name}-`));
  const raw = { node: name, broker: url, batchSize: 5, sampleInterval: INTERVAL, maxLatency: 3600, flashEvery: 0 };
  const configFile = path.join(dir, "config.json");
  fs.writeFileSync(configFile, JSON.stringify(raw));
  return { name, dir, configFile, raw, size, wakes: 0, lines: [] };
}

async function wake(node: Node): Promise<void> {
  const run = await runWake(node.dir, node.configFile, { timeScale: 100_000, env: { TORPOR_RETAINED_BYTES: String(node.size) } });
  assert.equal(run.code, 0, run.lines.join("\n"));
  node.wakes++;
  node.lines.push(...run.lines);
}

function drained(node: Node): boolean {
  const state = nodeState(node.dir, node.raw, node.size);
  return typeof state === "object" && state.buffer.length === 0 && state.session.inflight.length === 0;
}

describe("a six-hour broker outage", () => {
  it("delivers every reading in order once the broker is back; past capacity, exactly the counted drops are missing", async (t) => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const nodes = [makeNode("outage-big", url, 8192), makeNode("outage-small", url, SMALL_RTC)];
    const received = new Map<string, Received[]>(nodes.map((n) => [n.name, []]));
    try {
      // Before: the broker is up and the nodes publish as usual.
      let broker = await startBroker(port);
      let subscribers = await Promise.all(nodes.map((n) => subscribe(url, n.name)));
      await Promise.all(nodes.map(async (n) => {
        for (let i = 0; i < 7; i++) await wake(n);
      }));
      await until(() => nodes.every(drained), 3000);
      await Promise.all(subscribers.map((s) => s.close()));
      nodes.forEach((n, i) => received.get(n.name)!.push(...subscribers[i]!.received));
      await broker.close();

      // Six hours without a broker: sampling goes on, publish attempts back off.
      const outageWakes = OUTAGE_S / INTERVAL;
      await Promise.all(nodes.map(async (n) => {
        for (let i = 0; i < outageWakes; i++) await wake(n);
      }));
      for (const n of nodes) assert.ok(n.lines.some((l) => /publish failed: connection .* failed/.test(l)), `${n.name} noticed no outage`);

      // The broker is back, without the sessions it had.
      broker = await startBroker(port);
      subscribers = await Promise.all(nodes.map((n) => subscribe(url, n.name)));
      // Its publish attempts back off up to MAX_BACKOFF_PERIODS wakes apart; on a loaded machine one
      // more attempt may time out: room for three capped backoffs.
      await Promise.all(nodes.map(async (n) => {
        for (let i = 0; i < 3 * MAX_BACKOFF_PERIODS && !drained(n); i++) await wake(n);
      }));
      await until(() => nodes.every((n, i) => subscribers[i]!.received.length > 0 && drained(n)), 3000);
      await new Promise((r) => setTimeout(r, 300));
      await Promise.all(subscribers.map((s) => s.close()));
      nodes.forEach((n, i) => received.get(n.name)!.push(...subscribers[i]!.received));
      await broker.close();

      for (const n of nodes) {
        assert.ok(drained(n), `${n.name} still holds readings\n${n.lines.slice(-20).join("\n")}`);
        const state = nodeState(n.dir, n.raw, n.size);
        assert.ok(typeof state === "object");
        const got = received.get(n.name)!;
        const times = got.map((r) => r.time);
        // In order, each once; after the power-on wake, on the sampling grid.
        for (let i = 1; i < times.length; i++) assert.ok(times[i]! > times[i - 1]!, `${n.name}: ${times[i]} arrived after ${times[i - 1]}`);
        for (const time of times.slice(1)) assert.equal(time % INTERVAL, 0);
        const woke = n.lines.filter((l) => /woke \(/.test(l)).length;
        assert.equal(woke, n.wakes);
        // Every wake took one reading: each one arrived or was counted as dropped, and the missing
        // ones are exactly the gaps in the grid.
        const gaps = times.slice(2).reduce((sum, time, i) => sum + (time - times[i + 1]!) / INTERVAL - 1, 0);
        t.diagnostic(`${n.name}: ${n.wakes} wakes, ${got.length} readings arrived, ${state.buffer.dropped} dropped and counted, ${gaps} missing from the grid`);
        assert.equal(got.length + state.buffer.dropped, n.wakes);
        assert.equal(gaps, state.buffer.dropped);
      }
      const [big, small] = nodes.map((n) => nodeState(n.dir, n.raw, n.size));
      assert.ok(typeof big === "object" && typeof small === "object");
      assert.equal(big.buffer.dropped, 0, "8 KB holds six hours");
      assert.ok(small.buffer.dropped > 0, "the small buffer overflowed");
    } finally {
      for (const n of nodes) fs.rmSync(n.dir, { recursive: true, force: true });
    }
  });
});
