// XS compute and heap slots per wake cycle, on the real XS engine (XS 13, @agoric/xsnap): the
// firmware's wake (src/app.ts) with the simulator's SHT3x and battery on a host without a network
// (tools/xs/wake.entry.ts), at several fills of the reading buffer. compute is XS's meter
// (deterministic, about one unit per bytecode). Slots: those live after a collection before the
// wake, those in use when it ends (what it allocated, garbage included, on top) and those live after
// it. Baseline: the same command doing nothing (the harness's own cost).
//
// CRC's share of each wake (issue 11: at most 15 % at any fill): the bundle's src/encoding/crc32.ts is
// tools/xs/crc-metered.ts, which times every CRC call on XS's meter; the baseline is what the same
// wake's CRCs cost before the byte table and incremental commits (three whole-slot passes of the
// nibble table, tools/xs/crc32-nibble.ts), measured on the same slot in the same run.
//
//   npm run bench   (all benchmarks)   node dist/bench/xs.js   (this one)

import * as path from "node:path";
import { build, type Plugin } from "esbuild";
import { bundle, repoRoot } from "../tools/xs/bundle";
import { findXsnapWorker, XsWorker } from "../tools/xs/worker";

const crcModule = path.join(repoRoot, "src", "encoding", "crc32.ts");
const meteredCrc = path.join(repoRoot, "tools", "xs", "crc-metered.ts");

/** Resolves every import of src/encoding/crc32 but crc-metered's own to crc-metered. */
const meterCrc: Plugin = {
  name: "meter-crc",
  setup(b) {
    b.onResolve({ filter: /\/crc32$/ }, (args) => {
      if (args.importer === meteredCrc || path.resolve(args.resolveDir, `${args.path}.ts`) !== crcModule) return undefined;
      return { path: meteredCrc };
    });
  },
};

/** The wake entry as `bundle` bundles a script for xsnap, with the CRCs metered. */
async function meteredWake(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(repoRoot, "tools", "xs", "wake.entry.ts")],
    bundle: true, format: "iife", target: "es2022", platform: "neutral", write: false, logLevel: "silent", legalComments: "none",
    plugins: [meterCrc],
  });
  return result.outputFiles[0]!.text;
}

const CRC_SHARE = 0.15;
/** range() of the newest 60 of 1440 readings before it could walk back from the head: measured
 *  with this bench on the commit before (the code walked from the anchor, 180 blocks). */
const RANGE_BEFORE = 970_740;
const RANGE_BEFORE_NOTE = "measured with this bench on commit 952ef12, before range() could walk back from the head";
const round3 = (x: number) => Math.round(x * 1000) / 1000;

const FILLS = [1, 60, 720, 1440];

/**
 * On a fresh worker running `script`, wakes up to each of FILLS readings and measures the wake that
 * reaches it with `measure`; then `last` on the full buffer.
 */
async function overFills<T, U>(script: string, measure: (worker: XsWorker, readings: number) => Promise<T>, last: (worker: XsWorker, readings: number) => Promise<U>): Promise<{ rows: T[]; last: U; idle: { compute: number; heapSlots: number } }> {
  const worker = await XsWorker.start({ meteringLimit: 0, timeoutMs: 600_000 });
  try {
    await worker.evaluate(script);
    const idle = (await worker.call({ op: "idle" })).meter;
    const rows: T[] = [];
    let readings = 0;
    for (const fill of FILLS) {
      if (fill - 1 > readings) await worker.call({ op: "wakes", count: fill - 1 - readings });
      readings = fill;
      rows.push(await measure(worker, readings));
    }
    return { rows, last: await last(worker, readings), idle: { compute: idle.compute, heapSlots: idle.currentHeapCount } };
  } finally {
    await worker.close();
  }
}

export async function xsBench() {
  if (!findXsnapWorker()) return { benchmark: "XS compute per wake", skipped: "xsnap-worker is not built (npm ci builds it)" };
  // Compute and slots on the firmware as it is; the CRCs' share on a second run with them metered
  // (the metering's few units a call would otherwise be in the figures).
  const plain = await overFills(
    bundle(path.join(repoRoot, "tools", "xs", "wake.entry.ts")),
    async (worker, readings) => {
      const liveBefore = (await worker.call({ op: "gc" })).meter.currentHeapCount;
      const { meter } = await worker.call({ op: "wake" });
      const after = await worker.call({ op: "gc" });
      return {
        readingsAfter: readings,
        compute: meter.compute,
        slotsLiveBefore: liveBefore,
        slotsAllocated: meter.currentHeapCount - liveBefore,
        // Slots in use when the wake ended, its garbage included: no collection runs in a wake on
        // xsnap's large heap, so this is the wake's high-water mark (xsnap reports no chunk bytes:
        // bench/memory.ts measures those in mcsim).
        peakSlots: meter.currentHeapCount,
        slotsLiveAfter: after.meter.currentHeapCount,
        retainedPayloadBytes: (after.result as { payloadBytes: number }).payloadBytes,
      };
    },
    // A batch of 60 read out of the full buffer as a publishing wake finds it (freshly loaded): the
    // oldest, one from the middle and the newest.
    async (worker) => (await worker.call({ op: "range", count: 60 })).result as { from: number; compute: number; readings: number }[],
  );
  const metered = await overFills(
    await meteredWake(),
    async (worker, readings) => {
      const { meter, result } = await worker.call({ op: "wake" });
      const crc = (result as { crc: number }).crc;
      const { compute: nibble, load } = (await worker.call({ op: "nibble-crc" })).result as { compute: number; load: number };
      const old = meter.compute - crc + nibble;
      return {
        readingsAfter: readings,
        compute: meter.compute,
        crcCompute: crc,
        crcShare: round3(crc / meter.compute),
        // The load's pass over the whole slot, which power-cut safety needs at every wake.
        crcOfLoad: load,
        crcOfLoadShare: round3(load / meter.compute),
        before: { compute: old, crcCompute: nibble, crcShare: round3(nibble / old) },
      };
    },
    async () => undefined,
  );
  const targets = metered.rows.map((row) => ({
    target: `CRC share of a wake with ${row.readingsAfter} readings buffered`,
    limit: CRC_SHARE,
    measured: row.crcShare,
    met: row.crcShare <= CRC_SHARE,
    ...(row.crcShare <= CRC_SHARE ? {} : { missedBy: round3(row.crcShare - CRC_SHARE) }),
    before: row.before.crcShare,
  }));
  const batches = plain.last;
  const newest = batches[batches.length - 1]!;
  targets.push({
    target: "range() of the newest 60 readings of a full buffer (1440 wakes) costs about one batch (at most twice the oldest 60's), not a walk from the anchor",
    limit: 2 * batches[0]!.compute,
    measured: newest.compute,
    met: newest.compute <= 2 * batches[0]!.compute,
    before: RANGE_BEFORE,
  });
  return {
    benchmark: "XS compute and slots per wake (restore, sample SHT3x + battery, append, commit ×2, no publish)",
    baseline: { op: "idle", ...plain.idle },
    results: plain.rows,
    crc: {
      note: "a second run with every CRC call timed on XS's meter (tools/xs/crc-metered.ts); before: the same wake with its CRCs as three whole-slot passes of the nibble table (the code before issue 11), measured on the same slot",
      results: metered.rows,
    },
    rangeOfABatch: { readingsBuffered: 1440, batches, before: { newest60: RANGE_BEFORE, note: RANGE_BEFORE_NOTE } },
    targets,
  };
}

if (require.main === module) void xsBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
