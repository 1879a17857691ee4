// The XS heap a wake needs on a device, measured where the device's limits can be imposed: the app
// in the Moddable simulator (mcsim) under the creation limits of each ESP32 target family
// (tools/check-moddable memoryLimits), through a full batch of 60 with three sensors over MQTT 5.
// Prints the largest slots and chunk bytes among mcsim's once-a-second samples and the headroom
// they leave under the smallest fixed heap (esp32s3/esp32c6: 4,928 slots, 78,848 chunk bytes).
// xsnap (bench/xs.ts) counts slots but not chunk bytes, and runs the firmware unpreloaded, so this
// is the figure for a board. Needs $MODDABLE, xvfb-run and mosquitto; skipped without them.
//
//   npm run bench   (all benchmarks)   node dist/bench/memory.js   (this one)

import { findSdk, memoryLimits, removeOutput, simulatorFitsMemory } from "../tools/check-moddable";

const SMALLEST = { slots: 4_928, chunkBytes: 78_848 };

export async function memoryBench() {
  const benchmark = "XS heap per wake in mcsim under each target family's limits (a batch of 60, three sensors, MQTT 5)";
  const sdk = findSdk();
  if (!sdk) return { benchmark, skipped: "MODDABLE is not set" };
  try {
    const results = [];
    for (const limit of memoryLimits) {
      const r = await simulatorFitsMemory(sdk, limit);
      if (r.skipped !== undefined) return { benchmark, skipped: r.skipped };
      const peak = /peak sampled (\d+) slots, (\d+) chunk bytes/.exec(r.detail);
      const slots = Number(peak?.[1] ?? NaN);
      const chunkBytes = Number(peak?.[2] ?? NaN);
      results.push({
        limit: limit.name,
        creation: limit.creation,
        fits: r.ok,
        peakSlots: slots,
        peakChunkBytes: chunkBytes,
        headroomUnderSmallestFixedHeap: { slots: round(1 - slots / SMALLEST.slots), chunkBytes: round(1 - chunkBytes / SMALLEST.chunkBytes) },
      });
    }
    return { benchmark, smallestFixedHeap: SMALLEST, results };
  } finally {
    removeOutput(sdk);
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

if (require.main === module) void memoryBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
