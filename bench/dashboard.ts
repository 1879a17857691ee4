// The dashboard's update cost with a thousand nodes (issue 23): a simulated fleet of 1,000 nodes
// (test/support/fleet-dashboard: three sensors, six channels, nine readings each) watched by the
// monitor's dashboard, its page in headless Chromium (Debian's, through playwright-core). Per poll
// the page parses /state and applies it (window.torporUpdate); timed inside the page, with the
// style and layout it forces (paint is not in it), median of RUNS polls each:
//
// - "unchanged": the same fleet again;
// - "ages moved": every node's last-seen age moved on (the usual poll: nodes connect every few
//   minutes, and every row's age moves every second);
// - "all changed": every node has a new reading on every channel and a new age (a worst case: every
//   row's text, and the sparklines of the rows in view, redrawn);
// - baseline "no-op update": the same JSON parsed and nothing applied, measured in the same run: the
//   floor of any page that polls this state.
//
// Also the monitor's side: building /state (snapshot) and its size. Target: a poll's update under
// 100 ms (a tenth of the one-second poll), so the page stays responsive at 1,000 nodes.
//
//   npm run bench:dashboard

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CHROMIUM as browser, headless } from "../test/support/headless";
import { snapshot } from "../tools/monitor/dashboard";
import { watchFleet } from "../test/support/fleet-dashboard";

const NODES = 1000;
const RUNS = 21;
const TARGET_MS = 100;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  if (!fs.existsSync(browser)) throw new Error(`${browser} is not installed (apt-get install chromium)`);
  const watched = await watchFleet(NODES);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-bench-dashboard-"));
  let context;
  try {
    const now = Date.now() / 1000;
    const snapshotMs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      bytes = JSON.stringify(snapshot(watched.fleet, now)).length;
      snapshotMs.push(performance.now() - t0);
    }
    context = await headless(dir);
    const page = await context.newPage();
    await page.goto(watched.dashboard.url);
    await page.waitForFunction(`document.querySelectorAll("#fleet tbody tr").length === ${NODES}`, undefined, { timeout: 60_000 });
    const page_ = await page.evaluate(async (runs) => {
      interface Row { seen: number | null; spark: { values: number[] }[] }
      const w = globalThis as unknown as { torporUpdate: (state: unknown) => void; fetch: typeof fetch; document: { body: { offsetHeight: number } } };
      const text = await (await w.fetch("/state")).text();
      const time = (f: (i: number) => void) => {
        const ms: number[] = [];
        // Warmed up first: the first calls are compiled as they go.
        for (let i = 0; i < 5; i++) f(runs + i);
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          f(i);
          void w.document.body.offsetHeight; // the style and layout the update forces
          ms.push(performance.now() - t0);
        }
        return ms;
      };
      const noop = time(() => JSON.parse(text));
      const unchanged = time(() => w.torporUpdate(JSON.parse(text)));
      const ages = time((i) => {
        const state = JSON.parse(text) as { nodes: Row[] };
        for (const node of state.nodes) if (node.seen !== null) node.seen += 1000 + i;
        w.torporUpdate(state);
      });
      const changed = time((i) => {
        const state = JSON.parse(text) as { nodes: Row[] };
        for (const node of state.nodes) {
          if (node.seen !== null) node.seen += 2000 + i;
          for (const channel of node.spark) channel.values = [...channel.values.slice(1), channel.values[0]! + i + 1];
        }
        w.torporUpdate(state);
      });
      return { noop, unchanged, ages, changed };
    }, RUNS);
    const update = { unchanged: round(median(page_.unchanged)), agesMoved: round(median(page_.ages)), allChanged: round(median(page_.changed)) };
    const result = {
      bench: "dashboard",
      baseline: "no-op update",
      setup: { nodes: NODES, channelsPerNode: watched.fleet.nodes.get("node-1")!.channels.size, runs: RUNS, browser: "Chromium (headless, playwright-core)" },
      stateBytes: bytes,
      snapshotMs: round(median(snapshotMs)),
      pageMs: { "no-op update": round(median(page_.noop)), ...update },
      targetMs: TARGET_MS,
      targetMet: Math.max(update.unchanged, update.agesMoved, update.allChanged) < TARGET_MS,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await context?.close();
    await watched.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
