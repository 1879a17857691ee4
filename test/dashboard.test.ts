// The web dashboard (`npm run monitor -- --web`) in a real browser: Debian's Chromium, headless,
// driven by playwright-core, against the monitor as its own process and two simulated nodes with
// three sensors each. Every chart must show exactly the points its node sampled, at the times the
// node stamped them, with a badge for the node's state. With TORPOR_SCREENSHOT=<file> set it also
// writes a screenshot there (README's docs/dashboard.png comes from it).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { chromium } from "playwright-core";
import { startEmbeddedBroker } from "../tools/broker";
import { start } from "../tools/start";

const browser = "/usr/bin/chromium";
const monitor = path.join(__dirname, "..", "tools", "monitor", "main.js");
const examples = path.join(__dirname, "..", "..", "examples");

async function until(what: string, test: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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
    const context = await chromium.launchPersistentContext(path.join(dir, "profile"), {
      executablePath: browser,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      viewport: { width: 1340, height: 900 },
    });
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
      const points = expected.get("node-2 battery/voltage")!.length;
      await page.waitForFunction(
        (n) => {
          const charts = (globalThis as unknown as { torporCharts?: Map<string, { data: number[][] }> }).torporCharts;
          return charts !== undefined && charts.size === 12 && [...charts.values()].every((c) => c.data[0]!.length >= n);
        },
        points,
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
      const badges = await page.locator("section.node .badge").allTextContents();
      assert.equal(badges.length, 2);
      assert.ok(badges.every((b) => ["asleep", "awake"].includes(b)), badges.join(", "));
      const facts = await page.locator('section[data-node="node-1"] .facts').textContent();
      // The next wake the node's status announced while the monitor's clock is short of it; once the
      // clock has passed it (a loaded machine is slow to get here), the one its period makes due, "~".
      assert.match(facts ?? "", /battery \d\.\d\d V · next wake ~?\d\d:\d\d:\d\dZ/);
      // The page's own canvases, drawn: one per channel.
      assert.equal(await page.locator("section.node canvas").count(), 12);
      if (process.env.TORPOR_SCREENSHOT) await page.screenshot({ path: process.env.TORPOR_SCREENSHOT, fullPage: true });
    } finally {
      await context.close();
      child.kill();
      await broker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
