// `npm run power`'s update row (tools/power-update): the wakes and days a 1 MB image spans follow
// from the per-wake, per-day and per-wake-seconds budgets and the schedule's publishing wakes; its
// charge is the radio's, the acks' and the flash's, and its days of life that charge over the
// node's own daily use.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../src/config";
import { defaultAssumptions as a, project } from "../src/power/projection";
import { flashMsPerKiB, UPDATE_IMAGE_BYTES, updateAir, updateCost, updateCostLine } from "../tools/power-update";
import { rttMs } from "../tools/power-tls";

const measured = { xsCompute: undefined, awakeMs: 30, sampleMs: 15, radioMs: 60, bytesUp: 300, bytesDown: 20 };
// A reading a minute, published hourly: 24 publishing wakes a day.
const schedule = { sampleInterval: 60, batchSize: 60, maxLatency: 3600 };

describe("npm run power: a 1 MB update", () => {
  it("spans the wakes and days the default budgets allow", () => {
    const config = parseConfig(schedule);
    assert.equal(project(config, measured, a).radioWakesPerDay, 24);
    const cost = updateCost(config, measured, a);
    // 489 chunks of 2,048 B; 8 a wake (16 KiB), 128 a day (256 KiB): three days of 16 wakes
    // (the other 8 wakes of each day idle), then 105 chunks in 14 wakes on the fourth.
    assert.equal(cost.chunk, 2048);
    assert.equal(cost.wakes, 3 * 24 + 14);
    assert.equal(cost.takingWakes, 3 * 16 + 14);
    assert.equal(cost.days, 86 / 24);
    assert.match(updateCostLine(cost), /^update of 1 MB: chunks in 62 of 86 publishing wakes over 3\.6 days/);
  });

  it("costs the radio for the chunks' bytes and round trips and the flash, as days of the node's use", () => {
    const config = parseConfig(schedule);
    const cost = updateCost(config, measured, a);
    const windows = Math.ceil(489 / 4);
    const mAms =
      ((UPDATE_IMAGE_BYTES * updateAir.down.value * 8) / 1000 + windows * rttMs.value) * a.rxMa +
      ((UPDATE_IMAGE_BYTES * updateAir.up.value * 8) / 1000) * (a.txMa - a.rxMa) +
      (UPDATE_IMAGE_BYTES / 1024) * flashMsPerKiB.value * a.cpuMa;
    assert.ok(Math.abs(cost.mAh - mAms / 3_600_000) < 1e-12);
    const perDayMah = (project(config, measured, a).averageUa / 1000) * 24;
    assert.ok(Math.abs(cost.batteryDays - cost.mAh / perDayMah) < 1e-12);
    assert.ok(cost.batteryDays > 0 && cost.batteryDays < 1, `${cost.batteryDays} days`);
  });

  it("is bounded by the seconds a wake may spend when the bytes are not", () => {
    // Each window of 4 chunks: a 100 ms round trip and 68 ms of air at 1 Mbit/s; the sixth starts
    // before the second is out.
    const config = parseConfig({ ...schedule, updateBytesPerWake: 1 << 20, updateBytesPerDay: 1 << 24, updateSecondsPerWake: 1 });
    assert.equal(updateCost(config, measured, a).wakes, Math.ceil(489 / 24));
  });
});
