// `npm run power`: the battery-life model, its flags, and the measurements it feeds on.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { defaultAssumptions as datasheet, effectiveBatch, measureBatches, measureOnNodeHost, parameters, parsePowerArgs, project, sweep, type Measured } from "../tools/power";
import { parseConfig } from "../src/config";
import { UsageError } from "../tools/command";

// 48 000 units of XS compute: 20 ms at the default 2400 a millisecond.
const measured: Measured = { xsCompute: 48_000, awakeMs: 3, sampleMs: 15, radioMs: 30, bytesUp: 1000, bytesDown: 60, source: "test" };
const only = (m: Measured) => new Map([1, 5, 7, 12, 60].map((b) => [b, m]));
const tool = path.join(__dirname, "..", "tools", "power.js");

describe("power budget", () => {
  it("adds up a day's charge from the datasheet currents", () => {
    const p = project({ sampleInterval: 60, batchSize: 12, maxLatency: 3600 }, measured, datasheet);
    assert.equal(p.wakesPerDay, 1440);
    assert.equal(p.radioWakesPerDay, 120);
    // Per day, mA·ms: awake 1440 × (250 boot + 15 sensors + 20 CPU) ms × 68 mA, radio 120 × 1030 ms × 100 mA plus the airtime of
    // 1000 bytes at 1 Mbit/s (8 ms) at 140 mA more, the rest asleep at 10 µA.
    const awake = 1440 * 285 * 68;
    const radio = 120 * 1030 * 100 + 120 * 8 * 140;
    const sleep = (86_400_000 - 1440 * 285 - 120 * 1030) * 0.01;
    assert.ok(Math.abs(p.averageUa - ((awake + radio + sleep) / 86_400_000) * 1000) < 1e-6);
    assert.ok(Math.abs(p.batteryDays - 2500 / (p.averageUa / 1000) / 24) < 1e-9);
  });

  it("lasts longer with bigger batches and longer intervals, and says when maxLatency caps the batch", () => {
    const lives = [1, 12, 60].map((batchSize) => project({ sampleInterval: 60, batchSize, maxLatency: batchSize * 60 }, measured, datasheet).batteryDays);
    assert.ok(lives[0]! < lives[1]! && lives[1]! < lives[2]!, String(lives));
    assert.equal(effectiveBatch({ sampleInterval: 60, batchSize: 60, maxLatency: 900 }), 16);
    assert.equal(effectiveBatch({ sampleInterval: 60, batchSize: 5, maxLatency: 0 }), 1);
    const figures = sweep({ sampleInterval: 60, batchSize: 7, maxLatency: 900 }, only(measured), datasheet);
    assert.deepEqual(figures.byBatch.map((p) => p.batchSize), [1, 5, 7, 12, 60]);
    assert.deepEqual(figures.byInterval.map((p) => p.sampleInterval), [30, 60, 300, 900]);
    // However rarely it publishes, a node connects daily (commands, clock).
    assert.equal(project({ sampleInterval: 3600, batchSize: 1000, maxLatency: 7 * 86400 }, measured, datasheet).radioWakesPerDay, 1);
  });

  it("takes the CPU time from XS compute at the stated rate, not from the host's own clock", () => {
    const schedule = { sampleInterval: 60, batchSize: 12, maxLatency: 3600 };
    const base = project(schedule, measured, datasheet).averageUa;
    assert.equal(project(schedule, { ...measured, awakeMs: 999 }, datasheet).averageUa, base);
    const slower = project(schedule, measured, { ...datasheet, xsPerMs: datasheet.xsPerMs / 2 }).averageUa;
    // 20 ms more a wake at 68 mA instead of 10 µA asleep, 1440 wakes a day, in µA on average.
    const extra = (1440 * 20 * (68 - 0.01)) / 86_400;
    assert.ok(Math.abs(slower - base - extra) < 1e-6, `${slower} vs ${base}`);
    // A device's own measurement (--state of a device) has no XS compute: its CPU time is used.
    assert.ok(project(schedule, { ...measured, xsCompute: undefined, awakeMs: 120 }, datasheet).averageUa > base);
  });

  it("names every parameter with a source, and shows what the assumed ones move", () => {
    for (const [key, p] of Object.entries(parameters)) assert.ok(p.source.length > 20 && p.unit, key);
    assert.match(parameters.bootMs.source, /not measured/);
    const figures = sweep({ sampleInterval: 60, batchSize: 60, maxLatency: 3600 }, only(measured), datasheet);
    const row = (key: string) => figures.sensitivity.find((s) => s.key === key)!.days.map((d) => d.batteryDays);
    for (const key of ["bootMs", "wifiMs", "sleepUa"]) {
      const days = row(key);
      assert.ok(days.length >= 3 && days.every((d, i) => i === 0 || d < days[i - 1]!), `${key}: ${days}`);
    }
  });

  it("refuses a bad flag with one line naming it, exit code 2", () => {
    for (const [args, message] of [
      [["--wakes", "1"], /^power: --wakes must be a whole number of at least 2, got "1"\n$/],
      [["--cpu-ma=-3"], /^power: --cpu-ma must be a number of at least 0, got "-3"\n$/],
      [["--colour"], /^power: Unknown option '--colour'/],
      [["--config", "/nonexistent.json"], /^power: --config \/nonexistent\.json: no such file\n$/],
    ] as const) {
      const run = spawnSync(process.execPath, [tool, ...args], { encoding: "utf8" });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split("\n").length, 1);
    }
    assert.throws(() => parsePowerArgs(["--battery-mah", "lots"]), (e: unknown) => e instanceof UsageError && /--battery-mah/.test(e.message));
    assert.equal(parsePowerArgs(["--help"]), "help");
  });

  it("measures each batch size shown from real publishes, up to a full batch of 60", async () => {
    const measured = await measureBatches({ flashEvery: 0 }, parseConfig({ batchSize: 5 }), 24);
    assert.deepEqual([...measured.keys()], [1, 5, 12, 60]);
    // A publish of 60 readings carries 59 more than one of a single reading, each of two channels,
    // at well over 10 bytes each in SenML JSON; the status message is in both.
    const up = (b: number) => measured.get(b)!.bytesUp;
    assert.ok(up(1) < up(12) && up(12) < up(60) && up(60) - up(1) > 59 * 2 * 10, JSON.stringify([...measured]));
    // The CPU part is XS compute, from the wakes of each batch.
    assert.ok([...measured.values()].every((m) => m.xsCompute !== undefined && m.xsCompute > 10_000));
  });

  it("measures awake and radio time from real wakes on the Node host", async () => {
    const m = await measureOnNodeHost({ batchSize: 2, flashEvery: 0 }, 4);
    // The virtual SHT3x converts for 12.5 ms (high repeatability): sampling cannot take less.
    assert.ok(m.sampleMs >= 12 && m.awakeMs >= 0, JSON.stringify(m));
    assert.ok(m.radioMs > 0 && m.bytesUp > 100 && m.bytesDown > 0, JSON.stringify(m));
  });
});
