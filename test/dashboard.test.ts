// The web dashboard (`npm run monitor -- --web`) in a real browser: Debian's Chromium, headless,
// driven by playwright-core, against the monitor as its own process and two simulated nodes with
// three sensors each. A click on a node's row in the fleet view opens its charts, and every chart
// must show exactly the points its node sampled, at the times the node stamped them; each row has a
// badge for the node's state and the firmware version it runs. (test/dashboard-fleet.test.ts takes a thousand nodes.)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CHROMIUM as browser, headless } from "./support/headless";
import { startEmbeddedBroker } from "../tools/broker";
import { start } from "../tools/start";
import { until } from "./support/until";

const monitor = path.join(__dirname, "..", "tools", "monitor", "main.js");
const examples = path.join(__dirname, "..", "..", "examples");

/** What each node logged it sampled: "<node> <channel>" → values in order. */
function sampled(lines: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of lines) {
    const m = /^\[([\w.-]+)\] \S+ woke \([\w-]+\); (.*)$/.exec(line);
    if (!m) continue;
    for (const [, channel, value] of m[2]!.matchAll(/(\S+)=(-?[\d.]+) \S+/g)) {
      const key = `${m[1]} ${channel}`;
      out.set(key, [...(out.get(key) ?? []), Number(value)]);
    }
  }
  return out;
}

describe("the web dashboard", { skip: fs.existsSync(browser) ? undefined : `${browser} is not installed (apt-get install chromium; .ci/run does this)` }, () => {
  it("charts every point each node sampled, per node and channel, with its state", { timeout: 90_000 }, async () => {
    const broker = await startEmbeddedBroker();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-dashboard-"));
    const child = spawn(process.execPath, [monitor, "--broker", broker.url, "--web", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const context = await headless(dir);
    try {
      await until("the monitor to subscribe", () => err.includes("monitor: watching") && out.includes("dashboard on "));
      const url = /dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)![1]!;
      const config = JSON.parse(fs.readFileSync(path.join(examples, "three-sensors.json"), "utf8")) as Record<string, unknown>;
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...config, batchSize: 4 }));
      const lines: string[] = [];
      await start({ broker: broker.url, nodes: 2, cycles: 3, timeScale: 600, state: path.join(dir, "state"), config: path.join(dir, "config.json") }, (l) => lines.push(l));
      const expected = sampled(lines);
      assert.equal(expected.size, 2 * 6, "two nodes, six channels each");

      const page = await context.newPage();
      await page.goto(url);
      await page.waitForFunction(`document.querySelectorAll("#fleet tbody tr").length === 2`, undefined, { timeout: 15_000 });
      const points = expected.get("node-2 battery/voltage")!.length;
      for (const node of ["node-1", "node-2"]) {
        // The fleet row opens the node's charts.
        await page.locator(`#fleet tbody tr[data-node="${node}"]`).click();
        await page.waitForFunction(
          ({ node, n }) => {
            const charts = (globalThis as unknown as { torporCharts?: Map<string, { data: number[][] }> }).torporCharts;
            return charts !== undefined && charts.size === 6 && [...charts.entries()].every(([key, c]) => key.startsWith(`${node} `) && c.data[0]!.length >= n);
          },
          { node, n: points },
          { timeout: 15_000 },
        );
        const charts = await page.evaluate(() => {
          const map = (globalThis as unknown as { torporCharts: Map<string, { data: number[][] }> }).torporCharts;
          return [...map.entries()].map(([key, chart]) => ({ key, times: chart.data[0]!, values: chart.data[1]! }));
        });
        for (const { key, times, values } of charts) {
          assert.deepEqual(values, expected.get(key), key);
          // The node's own sample times, on its one-minute grid after the power-on wake.
          assert.ok(times.slice(1).every((t, i) => t > times[i]! && t % 60 === 0), `${key}: ${times.join(" ")}`);
        }
        // The page's own canvases, drawn: one per channel.
        assert.equal(await page.locator("#detail canvas").count(), 6);
      }
      const badges = await page.locator("#fleet tbody .badge").allTextContents();
      assert.equal(badges.length, 2);
      assert.ok(badges.every((b) => ["asleep", "awake"].includes(b)), badges.join(", "));
      // Each row: its battery, and its next connection on its own clock.
      const cells = await page.locator('#fleet tbody tr[data-node="node-1"] td').allTextContents();
      assert.match(cells[3]!, /^\d\.\d\d V$/);
      assert.match(cells[4]!, /^\d\d:\d\d:\d\dZ$/);
      // Its running firmware (the built-in one, package.json's version); no updateKey, no update state.
      const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string };
      assert.deepEqual(cells.slice(7, 9), [version, "—"]);
    } finally {
      await context.close();
      child.kill();
      await broker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
