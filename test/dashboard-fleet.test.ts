// The dashboard's fleet view with a thousand simulated nodes, in headless Chromium (Debian's,
// through playwright-core): a row per node; a node whose Will came and one whose telemetry does not
// decode on top, the rest below in name order; the filter narrows the rows; sorting by a column
// reorders them; each row has a sparkline per channel (drawn once in view); a click on a row opens that node's charts with what the monitor holds of it.
// With TORPOR_SCREENSHOT=<file> set it also writes a screenshot of the fleet view there (README's
// docs/dashboard.png comes from it).

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CHROMIUM as browser, headless } from "./support/headless";
import { watchFleet } from "./support/fleet-dashboard";

const NODES = 1000;

describe("the dashboard's fleet view", { skip: fs.existsSync(browser) ? undefined : `${browser} is not installed (apt-get install chromium; .ci/run does this)` }, () => {
  it("shows a thousand nodes, the troubled on top, filtered, sorted, a click from each node's charts", { timeout: 240_000 }, async () => {
    const watched = await watchFleet(NODES);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-fleet-view-"));
    let context;
    try {
      await watched.publish("torpor/node-17/status", JSON.stringify({ state: "offline" }));
      await watched.publish("torpor/node-503/telemetry", "not a payload");
      context = await headless(dir);
      const page = await context.newPage();
      await page.goto(watched.dashboard.url);
      const rows = "#fleet tbody tr";
      await page.waitForFunction(`document.querySelectorAll("#fleet tbody tr").length === ${NODES}`, undefined, { timeout: 30_000 });
      const names = () => page.locator(rows).evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-node")));

      // Troubled first: offline, then errors; then the healthy in name order.
      const order = await names();
      assert.deepEqual(order.slice(0, 4), ["node-17", "node-503", "node-1", "node-2"]);
      assert.deepEqual(await page.locator(`${rows} .badge`).evaluateAll((b) => b.slice(0, 2).map((e) => e.textContent)), ["offline", "asleep"]);
      const states = new Set(await page.locator(`${rows} .badge`).allTextContents());
      assert.deepEqual([...states].filter((s) => !["asleep", "awake"].includes(s)), ["offline"], "the rest of the fleet is healthy");
      assert.equal(await page.locator('#fleet tbody tr[data-node="node-503"] td').nth(6).textContent(), "1", "the payload that did not decode");
      // A sparkline per channel in the rows in view, and in a row once it is scrolled to.
      const channels = watched.fleet.nodes.get("node-1")!.channels.size;
      const sparks = (node: string) => page.locator(`#fleet tbody tr[data-node="${node}"] svg.spark polyline`).count();
      await page.waitForFunction(`document.querySelectorAll('#fleet tbody tr[data-node="node-1"] svg.spark').length === ${channels}`, undefined, { timeout: 15_000 });
      assert.equal(await sparks("node-1"), channels);
      await page.locator('#fleet tbody tr[data-node="node-987"]').scrollIntoViewIfNeeded();
      await page.waitForFunction(`document.querySelectorAll('#fleet tbody tr[data-node="node-987"] svg.spark').length === ${channels}`, undefined, { timeout: 15_000 });
      await page.evaluate("window.scrollTo(0, 0)");

      if (process.env.TORPOR_SCREENSHOT) await page.screenshot({ path: process.env.TORPOR_SCREENSHOT });

      // The filter: by name, then by state.
      await page.fill("#filter", "node-99");
      assert.deepEqual((await names()).sort(), ["node-99", ...Array.from({ length: 10 }, (_, i) => `node-99${i}`)].sort());
      await page.fill("#filter", "offline");
      assert.deepEqual(await names(), ["node-17"]);
      await page.fill("#filter", "");
      assert.equal((await names()).length, NODES);

      // Sorting by name, descending on the second click.
      await page.click('th[data-sort="node"]');
      assert.deepEqual((await names()).slice(0, 2), ["node-1", "node-2"]);
      await page.click('th[data-sort="node"]');
      assert.deepEqual((await names()).slice(0, 2), ["node-1000", "node-999"]);

      // A click on a row: that node's charts, every point the monitor holds of it.
      await page.click('#fleet tbody tr[data-node="node-742"]');
      await page.waitForFunction((n) => (globalThis as unknown as { torporCharts: Map<string, unknown> }).torporCharts.size === n, channels, { timeout: 15_000 });
      const charts = await page.evaluate(() =>
        [...(globalThis as unknown as { torporCharts: Map<string, { data: number[][] }> }).torporCharts.entries()].map(([key, c]) => [key, c.data[1]!] as const),
      );
      for (const [key, values] of charts) {
        const [node, channel] = key.split(" ");
        assert.equal(node, "node-742");
        assert.deepEqual(values, watched.fleet.nodes.get("node-742")!.channels.get(channel!)!.values, key);
      }
      assert.equal(await page.locator("#detail-name").textContent(), "node-742");
    } finally {
      await context?.close();
      await watched.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
