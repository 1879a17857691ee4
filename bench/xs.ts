// XS compute and heap slots per wake cycle, on the real XS engine (XS 13, @agoric/xsnap): the
// firmware's wake (src/app.ts) with the simulator's SHT3x and battery on a host without a network
// (bench/xs-wake.entry.ts), at several fills of the reading buffer. compute is XS's meter
// (deterministic, about one unit per bytecode). Slots: those live after a collection before the
// wake, those in use when it ends (what it allocated, garbage included, on top) and those live after
// it. Baseline: the same command doing nothing (the harness's own cost).
//
//   npm run bench   (all benchmarks)   node dist/bench/xs.js   (this one)

import * as path from "node:path";
import { bundle, repoRoot } from "../test/support/bundle";
import { findXsnapWorker, XsWorker } from "../test/support/xsnap";

/**
 * XS compute of each wake from an empty buffer to `fills` readings (index 0: the first), one
 * command each, on a fresh worker: what tools/power turns into CPU time.
 */
export async function xsComputeByFill(fills: number): Promise<{ compute: number[] } | { skipped: string }> {
  if (!findXsnapWorker()) return { skipped: "xsnap-worker is not built (npm ci builds it)" };
  const worker = await XsWorker.start({ meteringLimit: 0, timeoutMs: 600_000 });
  try {
    await worker.evaluate(bundle(path.join(repoRoot, "bench", "xs-wake.entry.ts")));
    const compute: number[] = [];
    for (let i = 0; i < fills; i++) compute.push((await worker.call({ op: "wake" })).meter.compute);
    return { compute };
  } finally {
    await worker.close();
  }
}

export async function xsBench() {
  if (!findXsnapWorker()) return { benchmark: "XS compute per wake", skipped: "xsnap-worker is not built (npm ci builds it)" };
  const worker = await XsWorker.start({ meteringLimit: 0, timeoutMs: 600_000 });
  try {
    await worker.evaluate(bundle(path.join(repoRoot, "bench", "xs-wake.entry.ts")));
    const idle = (await worker.call({ op: "idle" })).meter;
    const rows = [];
    let readings = 0;
    for (const fill of [1, 100, 720, 1440]) {
      if (fill - 1 > readings) {
        await worker.call({ op: "wakes", count: fill - 1 - readings });
        readings = fill - 1;
      }
      const before = (await worker.call({ op: "gc" })).meter.currentHeapCount;
      const { meter } = await worker.call({ op: "wake" });
      const after = await worker.call({ op: "gc" });
      readings++;
      rows.push({
        readingsAfter: readings,
        compute: meter.compute,
        slotsLiveBefore: before,
        slotsAllocated: meter.currentHeapCount - before,
        // Slots in use when the wake ended, its garbage included: no collection runs in a wake on
        // xsnap's large heap, so this is the wake's high-water mark (xsnap reports no chunk bytes:
        // bench/memory.ts measures those in mcsim).
        peakSlots: meter.currentHeapCount,
        slotsLiveAfter: after.meter.currentHeapCount,
        retainedPayloadBytes: (after.result as { payloadBytes: number }).payloadBytes,
      });
    }
    return {
      benchmark: "XS compute and slots per wake (restore, sample SHT3x + battery, append, commit ×2, no publish)",
      baseline: { op: "idle", compute: idle.compute, heapSlots: idle.currentHeapCount },
      results: rows,
    };
  } finally {
    await worker.close();
  }
}

if (require.main === module) void xsBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
