// Radio wakes per day and projected battery life at a one-minute interval with batches of 1, 12 and
// 60 readings: awake times measured on the Node host (real wakes against an embedded broker), the
// ESP32 datasheet's currents and the boot and Wi-Fi figures of tools/power.ts (docs/power.md).
// Baseline: batch 1, a publish at every wake.
//
//   npm run bench   (all benchmarks)   node dist/bench/power.js   (this one)

import { datasheet, measureOnNodeHost, project } from "../tools/power";

export async function powerBench() {
  const interval = 60;
  const rows = [];
  for (const batchSize of [1, 12, 60]) {
    // maxLatency at the batch's span, so that the batch decides when to publish.
    const schedule = { sampleInterval: interval, batchSize, maxLatency: batchSize * interval };
    const measured = await measureOnNodeHost({ ...schedule, flashEvery: 0 }, Math.max(2 * batchSize, 24));
    const p = project(schedule, measured, datasheet);
    rows.push({
      batchSize,
      radioWakesPerDay: Math.round(p.radioWakesPerDay * 10) / 10,
      averageUa: Math.round(p.averageUa),
      batteryDays: Math.round(p.batteryDays),
      shares: { sleep: round(p.shares.sleep), awake: round(p.shares.awake), radio: round(p.shares.radio) },
      measured: { awakeMs: round(measured.awakeMs), sampleMs: round(measured.sampleMs), exchangeMs: round(measured.radioMs), bytesUp: Math.round(measured.bytesUp), bytesDown: Math.round(measured.bytesDown) },
    });
  }
  return { benchmark: "radio wakes and battery life, one-minute interval", baseline: "batch 1", assumptions: datasheet, results: rows };
}

const round = (x: number) => Math.round(x * 100) / 100;

if (require.main === module) void powerBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
