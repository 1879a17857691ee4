// `npm run monitor` end to end: the monitor as its own process, subscribed to a broker that a
// simulated node publishes to, exports exactly the readings the node sampled as CSV; bad flags are
// one line and exit code 2; a --web port that is taken is one line and exit code 1.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { startEmbeddedBroker } from "../tools/broker";
import { start } from "../tools/start";
import { holdPort } from "./support/mosquitto";
import { until } from "./support/until";

const monitor = path.join(__dirname, "..", "tools", "monitor", "main.js");

describe("npm run monitor, end to end", () => {
  it("exports the readings a simulated node sampled as CSV, once each", async () => {
    const broker = await startEmbeddedBroker();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-monitor-"));
    const child = spawn(process.execPath, [monitor, "--broker", broker.url, "--csv"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    try {
      await until("the monitor to subscribe", () => err.includes("monitor: watching"));
      assert.equal(out, "node,channel,time,value,unit\n");
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ batchSize: 2 }));
      const lines: string[] = [];
      await start({ broker: broker.url, nodes: 1, cycles: 3, timeScale: 600, state: path.join(dir, "state"), config: path.join(dir, "config.json") }, (l) => lines.push(l));
      const sampled = lines
        .map((l) => /woke \([\w-]+\); sht3x\/temperature=(-?[\d.]+) Cel sht3x\/humidity=([\d.]+) %RH/.exec(l))
        .filter((m) => m !== null)
        .flatMap((m) => [`node-1,sht3x/temperature,${m[1]},Cel`, `node-1,sht3x/humidity,${m[2]},%RH`]);
      await until("every reading", () => out.trim().split("\n").length - 1 >= sampled.length);
      const rows = out.trim().split("\n").slice(1).map((l) => l.split(","));
      assert.ok(rows.every((r) => !Number.isNaN(Date.parse(r[2]!))), out + err);
      assert.deepEqual(rows.map((r) => `${r[0]},${r[1]},${r[3]},${r[4]}`).sort(), sampled.sort());
      assert.equal(new Set(rows.map((r) => `${r[1]} ${r[2]}`)).size, rows.length, "no reading twice");
    } finally {
      child.kill();
      await broker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says in one line that the dashboard's --port is taken, and exits 1 by itself", async () => {
    const holder = await holdPort();
    try {
      const run = spawnSync(process.execPath, [monitor, "--web", "--port", String(holder.port)], { encoding: "utf8", timeout: 10_000, killSignal: "SIGKILL" });
      assert.equal(run.status, 1, run.status === null ? "did not exit: killed" : run.stdout);
      assert.equal(run.stderr, `monitor: --port ${holder.port}: taken (another dashboard?): choose another, or --port 0 for a free one\n`);
    } finally {
      await holder.close();
    }
  });

  it("says in one line what is wrong with its flags, and exits 2", () => {
    for (const [args, message] of [
      [["--json", "--csv"], /--json, --csv and --web: choose one/],
      [["--broker", "http://x"], /is not an mqtt:\/\/ or mqtts:\/\/ URL/],
      [["--port", "80"], /--port goes with --web/],
      [["--web", "--port", "x"], /--port must be a port number/],
    ] as const) {
      const run = spawnSync(process.execPath, [monitor, ...args], { encoding: "utf8", timeout: 10_000 });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr.split("\n")[0]!, message);
    }
  });
});
