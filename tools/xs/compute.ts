// The firmware's wake on the real XS engine, metered: the compute each wake costs as the reading
// buffer fills, for `npm run power`'s CPU term and the XS benchmark.

import * as path from "node:path";
import { bundle, repoRoot } from "./bundle";
import { findXsnapWorker, XsWorker } from "./worker";

/**
 * XS compute of each wake from an empty buffer to `fills` readings (index 0: the first), one
 * command each, on a fresh worker: what `npm run power` turns into CPU time.
 */
export async function xsComputeByFill(fills: number): Promise<{ compute: number[] } | { skipped: string }> {
  if (!findXsnapWorker()) return { skipped: "xsnap-worker is not built (npm ci builds it)" };
  const worker = await XsWorker.start({ meteringLimit: 0, timeoutMs: 600_000 });
  try {
    await worker.evaluate(bundle(path.join(repoRoot, "tools", "xs", "wake.entry.ts")));
    const compute: number[] = [];
    for (let i = 0; i < fills; i++) compute.push((await worker.call({ op: "wake" })).meter.compute);
    return { compute };
  } finally {
    await worker.close();
  }
}
