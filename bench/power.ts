// Radio wakes per day and projected battery life at a one-minute interval with batches of 1, 12 and
// 60 readings: tools/power's model with its default parameters (each with its source there), XS
// compute per wake measured on XS 13, and the sensors' waits and each publish's bytes from real
// wakes on the Node host (two full batches each). Baseline: batch 1, a publish at every wake.
//
//   npm run bench   (all benchmarks)   node dist/bench/power.js   (this one)

import { defaultAssumptions, measureOnNodeHost, parameters, project } from "../tools/power";
import { xsComputeByFill } from "../tools/xs/compute";

export async function powerBench() {
  const interval = 60;
  const xs = await xsComputeByFill(60);
  const compute = "skipped" in xs ? undefined : xs.compute;
  const rows = [];
  for (const batchSize of [1, 12, 60]) {
    // maxLatency at the batch's span, so that the batch decides when to publish.
    const schedule = { sampleInterval: interval, batchSize, maxLatency: batchSize * interval };
    const measured = await measureOnNodeHost({ ...schedule, flashEvery: 0 }, Math.max(2 * batchSize + 2, 24), compute);
    const p = project(schedule, measured, defaultAssumptions);
    rows.push({
      batchSize,
      radioWakesPerDay: Math.round(p.radioWakesPerDay * 10) / 10,
      averageUa: Math.round(p.averageUa),
      batteryDays: Math.round(p.batteryDays),
      shares: { sleep: round(p.shares.sleep), awake: round(p.shares.awake), radio: round(p.shares.radio) },
      measured: { xsCompute: measured.xsCompute === undefined ? null : Math.round(measured.xsCompute), sampleMs: round(measured.sampleMs), exchangeMs: round(measured.radioMs), bytesUp: Math.round(measured.bytesUp), bytesDown: Math.round(measured.bytesDown) },
    });
  }
  return {
    benchmark: "radio wakes and battery life, one-minute interval",
    baseline: "batch 1",
    ...("skipped" in xs ? { xsSkipped: xs.skipped } : {}),
    parameters,
    results: rows,
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

if (require.main === module) void powerBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
