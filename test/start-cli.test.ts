// `npm start` as a newcomer meets it: the command line, its errors, and a short run to completion,
// with port 1883 free or taken (it ends by itself either way).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_PORT } from "../tools/start";
import { holdPort } from "./support/mosquitto";

const script = path.join(__dirname, "..", "tools", "start.js");

/** Runs `npm start`; one that has not ended by itself in 60 s is killed (status null). */
function start(...args: string[]) {
  return spawnSync(process.execPath, [script, ...args], { encoding: "utf8", timeout: 60_000, killSignal: "SIGKILL" });
}

function tempFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-cli-"));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe("npm start", () => {
  it("runs a node against the embedded broker and prints decoded telemetry", () => {
    const r = start("--cycles", "2", "--time-scale", "600");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /embedded MQTT broker \(aedes, MQTT 3\.1\.1\) on mqtt:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /\[node-1\] \d\d:\d\d:\d\d woke \(power-on\)/);
    assert.match(r.stdout, /\[node-1\] \d\d:\d\d:\d\d published \d+ readings?/);
    assert.match(r.stdout, /node-1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +sht3x\/temperature +-?[\d.]+ Cel/);
    assert.match(r.stdout, /node-1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +sht3x\/humidity +[\d.]+ %RH/);
    assert.match(r.stdout, /\[node-1\] 2 acknowledged publish\(es\): done/);
  });

  it("leaves nothing behind from a process-per-wake run without --state, and keeps a --state DIR", () => {
    const r = start("--process-per-wake", "--cycles", "1", "--time-scale", "600");
    assert.equal(r.status, 0, r.stderr);
    const made = /^node state in (\S+) \(removed at the end; --state DIR keeps it\)/m.exec(r.stdout)?.[1];
    assert.ok(made !== undefined, r.stdout);
    assert.equal(fs.existsSync(made), false, `${made} is still there`);
    const kept = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-cli-state-"));
    try {
      const again = start("--state", kept, "--cycles", "1", "--time-scale", "600");
      assert.equal(again.status, 0, again.stderr);
      assert.ok(fs.existsSync(path.join(kept, "node-1", "config.json")), again.stdout);
    } finally {
      fs.rmSync(kept, { recursive: true, force: true });
    }
  });

  it(`exits by itself when port ${DEFAULT_PORT} is taken, its embedded broker on a free port`, async () => {
    // Whoever holds the port (a local mosquitto, another run, or this test) the run is the same.
    const holder = await holdPort(DEFAULT_PORT);
    try {
      const r = start("--cycles", "1", "--time-scale", "600");
      assert.equal(r.status, 0, r.status === null ? `still running after the node was done: killed\n${r.stdout}` : r.stderr);
      assert.match(r.stdout, new RegExp(`^port ${DEFAULT_PORT} is taken`, "m"));
      const port = /embedded MQTT broker \(aedes, MQTT 3\.1\.1\) on mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(r.stdout)?.[1];
      assert.ok(port !== undefined && Number(port) !== DEFAULT_PORT, r.stdout);
      assert.match(r.stdout, /^\[node-1\] 1 acknowledged publish\(es\): done$/m);
    } finally {
      await holder.close();
    }
  });

  it("says in one line that the --port asked for is taken, and exits 1 by itself", async () => {
    const holder = await holdPort();
    try {
      const r = start("--port", String(holder.port), "--cycles", "1");
      assert.equal(r.status, 1, r.status === null ? "did not exit: killed" : r.stdout);
      assert.equal(r.stderr, `torpor: --port ${holder.port} is taken (another broker?): choose another, or leave --port out for ${DEFAULT_PORT} or a free one\n`);
    } finally {
      await holder.close();
    }
  });

  it("prints its usage with --help", () => {
    const r = start("--help");
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--cycles N/);
  });

  const bad: [string, string[], RegExp][] = [
    ["an unknown flag", ["--nodez", "2"], /^torpor: Unknown option '--nodez'/],
    ["a bad count", ["--nodes", "zero"], /^torpor: --nodes must be a whole number from 1 to 100000, got "zero"/],
    ["a bad time scale", ["--time-scale=0"], /^torpor: --time-scale must be "max" or a number above 0/],
    ["a bad broker URL", ["--broker", "localhost:1883"], /^torpor: --broker must be an mqtt:\/\/host:port URL/],
    ["a missing config file", ["--config", "/nonexistent/torpor.json"], /^torpor: --config \/nonexistent\/torpor\.json: no such file/],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with one line and exit code 2`, () => {
      const r = start(...args);
      assert.equal(r.status, 2);
      assert.match(r.stderr, message);
    });
  }

  it("rejects a bad config value naming the key, with exit code 2", () => {
    const r = start("--config", tempFile("c.json", JSON.stringify({ batchSize: "many" })));
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), `torpor: config batchSize: expected an integer, got "many"`);
  });

  it("rejects bad simulation settings before starting any node", () => {
    const r = start("--config", tempFile("c.json", JSON.stringify({ sim: { faults: { "sht3x@68": "melted" } } })));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^torpor: config sim\.faults\["sht3x@68"\]: /);
  });

  it("rejects a config file that is not JSON", () => {
    const file = tempFile("c.json", "{ batchSize: 3 ");
    const r = start("--config", file);
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(`^torpor: --config ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: not valid JSON`));
  });
});
