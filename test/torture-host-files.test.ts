// Power cuts inside the host's own files: wake processes killed with SIGKILL in the middle of
// writing, renaming or removing the clock's anchor and the sleep marker (test/support/
// strike-host-files.ts picks the operation and how much of a write gets out, from a seed), over and
// over, on the same --state. After each, the next wake neither steps the clock back (every reading
// is later than the one before it, none is skipped as "clock back") nor leaps it ahead of what the
// scaled clock allows, every wake not struck runs to its sleep, and at the end every reading ever
// committed has reached an independent subscriber.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { MAX_BACKOFF_PERIODS } from "../src/power/schedule";
import { nodeState, runWake, startBroker, subscribe, until, type TestBroker } from "./torture-node";

const NODES = 2;
const WAKES_PER_NODE = 100;
const TIME_SCALE = 60;
const INTERVAL = 60;
/** Host-file operations in one wake: the marker's removal, the clock saved at the start, the
 *  marker and the clock at the sleep (a write and a rename each, or one write in place). */
const OPERATIONS = 7;
const strikeModule = path.join(__dirname, "support", "strike-host-files.js");

/** xorshift32: the seed repeats the strikes (not the machine's timing). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32);
}

interface Tally {
  strikes: Map<string, number>;
  /** Readings seen in retained state after some wake: time → values. */
  committed: Map<number, number[]>;
  received: { time: number; values: Record<string, number> }[];
}

async function tortureNode(broker: TestBroker, name: string, seed: number): Promise<Tally> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `torpor-hostfiles-${name}-`));
  const raw = { node: name, broker: broker.url, batchSize: 3, sampleInterval: INTERVAL, awakeTimeout: 3 };
  const configFile = path.join(dir, "config.json");
  fs.writeFileSync(configFile, JSON.stringify(raw));
  const subscriber = await subscribe(broker.url, name);
  const next = random(seed);
  const tally: Tally = { strikes: new Map(), committed: new Map(), received: subscriber.received };
  const lines: string[] = [];
  let newest = 0;
  /** After the last wake that ran to its sleep: the newest reading and when that wake started. */
  let settled = { newest: 0, realMs: Date.now() };
  /** The latest wake time a wake said it would sleep until (seconds). */
  let promised = 0;

  const wake = async (strike: boolean) => {
    const env: Record<string, string> = { NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} --require ${strikeModule}`.trim() };
    if (strike) env["TORPOR_STRIKE"] = `${1 + Math.floor(next() * OPERATIONS)}:${next().toFixed(3)}`;
    const startedMs = Date.now();
    const run = await runWake(dir, configFile, { timeScale: TIME_SCALE, env });
    lines.push(...run.lines);
    for (const l of run.lines) {
      const until = / sleeping \d+ s until (\S+)$/.exec(l);
      if (until) promised = Math.max(promised, Date.parse(until[1]!) / 1000);
    }
    const struck = run.lines.find((l) => l.startsWith("strike: "));
    if (struck) {
      const kind = struck.replace(/ \d+\/\d+ bytes of/, "").replace(/^strike: /, "").replace(/\.tmp$/, " (temporary)");
      tally.strikes.set(kind, (tally.strikes.get(kind) ?? 0) + 1);
    } else {
      assert.equal(run.code, 0, `a wake not struck ran to its sleep\n${run.lines.join("\n")}`);
      assert.ok(run.lines.some((l) => /sleeping \d+ s until/.test(l)), run.lines.join("\n"));
    }
    assert.deepEqual(run.lines.filter((l) => /wake failed|not sampled, clock back|starting clean|^wake: /.test(l)), [], lines.slice(-40).join("\n"));

    const state = nodeState(dir, raw);
    assert.ok(state, `${name}: retained state unreadable`);
    if (state === "empty") return undefined;
    assert.equal(state.counters.clockBack, 0, `${name}: the clock stepped back\n${lines.slice(-40).join("\n")}`);
    let previous = 0;
    for (const r of state.buffer.range(0, 2 ** 32 - 1)) {
      assert.ok(r.time > previous, `${name}: a reading at ${r.time} after one at ${previous}\n${lines.slice(-40).join("\n")}`);
      previous = r.time;
      const seen = tally.committed.get(r.time);
      if (seen) assert.deepEqual(seen, r.values, `${name}: two readings stamped ${r.time}`);
      tally.committed.set(r.time, r.values as number[]);
    }
    const latest = state.buffer.newestTime ?? 0;
    assert.ok(latest >= newest, `${name}: the newest reading went from ${newest} back to ${latest}`);
    // The clock may run on at the scaled rate from the last wake that slept, plus a grid step; or it
    // is at the wake time a sleep marker promised (a wake struck after writing its marker sleeps
    // as promised, and the harness starts the next wake at once, not when that sleep would end).
    const allowed = Math.max(settled.newest + 2 * INTERVAL + ((Date.now() - settled.realMs) * TIME_SCALE) / 1000, promised + INTERVAL);
    if (settled.newest > 0) assert.ok(latest <= allowed, `${name}: the clock leapt to ${latest}, ${Math.round(latest - allowed)} s past what it could reach\n${lines.slice(-40).join("\n")}`);
    newest = latest;
    if (!struck && latest > 0) settled = { newest: latest, realMs: startedMs };
    return state;
  };

  try {
    for (let i = 0; i < WAKES_PER_NODE; i++) await wake(next() < 0.8);
    // Undisturbed now: everything kept reaches the broker (room for three capped backoffs).
    let drained = false;
    for (let i = 0; i < 3 * MAX_BACKOFF_PERIODS && !drained; i++) {
      const state = await wake(false);
      drained = state !== undefined && state.buffer.length === 0 && state.session.inflight.length === 0;
    }
    assert.ok(drained, `${name}: still holds readings after ${3 * MAX_BACKOFF_PERIODS} undisturbed wakes\n${lines.slice(-30).join("\n")}`);
    await until(() => [...tally.committed.keys()].every((t) => tally.received.some((r) => r.time === t)), 5000);
  } finally {
    await subscriber.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return tally;
}

describe("power cuts inside the clock and sleep files", () => {
  let broker: TestBroker;
  let tallies: Tally[] = [];
  let seed = 0;
  before(async () => {
    broker = await startBroker();
    seed = Number(process.env["TORTURE_SEED"] ?? Date.now() % 1e9);
    try {
      tallies = await Promise.all(Array.from({ length: NODES }, (_, i) => tortureNode(broker, `hf-${i + 1}`, seed + i)));
    } catch (e) {
      throw new Error(`TORTURE_SEED=${seed}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  after(() => broker.close());

  it("strikes every kind of host-file operation, many times", (t) => {
    const strikes = new Map<string, number>();
    for (const tally of tallies) for (const [kind, n] of tally.strikes) strikes.set(kind, (strikes.get(kind) ?? 0) + n);
    t.diagnostic(`TORTURE_SEED=${seed}: ${[...strikes].map(([k, n]) => `${n}× ${k}`).join(", ")}`);
    const total = [...strikes.values()].reduce((a, b) => a + b, 0);
    assert.ok(total >= 100, `only ${total} strikes`);
    for (const kind of ["write clock.json (temporary)", "rename onto clock.json", "write sleep.json (temporary)", "rename onto sleep.json", "remove sleep.json"]) {
      assert.ok((strikes.get(kind) ?? 0) >= 3, `TORTURE_SEED=${seed}: only ${strikes.get(kind) ?? 0}× ${kind}`);
    }
  });

  it("delivers every committed reading, with the values it was committed with", () => {
    for (const t of tallies) {
      const byTime = new Map(t.received.map((r) => [r.time, r]));
      for (const [time, values] of t.committed) {
        const got = byTime.get(time);
        assert.ok(got, `TORTURE_SEED=${seed}: reading of ${new Date(time * 1000).toISOString()} never arrived`);
        assert.deepEqual([got.values["sht3x/temperature"], got.values["sht3x/humidity"]], values.map((v) => v / 100));
      }
    }
  });
});
