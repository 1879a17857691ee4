// `npm run update` as an operator runs it: keygen writes the pair, image stamps the version, offer
// signs and publishes, status shows each node's version and update; an offer signed with another
// key is refused, counted in the status, and the telemetry goes on; a bad flag is one line naming
// it and exit code 2.

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseUpdateKey } from "../src/update/key";
import { builtinVersion } from "../hosts/node/firmware";
import { dedupe, retainedJson, Subscriber, tempDir, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";

const main = path.join(__dirname, "..", "tools", "update", "main.js");

function update(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe("npm run update", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let dir: string;
  before(async () => {
    broker = await startMosquitto();
    dir = tempDir("update-cli");
  });
  after(async () => {
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a bad flag with its name and exit code 2", () => {
    for (const [args, message] of [
      [["image", "--version", "2", "--out", "x"], /--version must be semver/],
      [["offer", "--key", "k", "--image", "i"], /--broker must be an mqtt:\/\/host:port URL/],
      [["offer", "--broker", "mqtt://h:1", "--image", "i"], /offer needs --key/],
      [["status", "--broker", "http://x"], /--broker must be an mqtt:\/\/host:port URL/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ] as const) {
      const r = spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr.split("\n")[0]!, message);
    }
  });

  it("keygen, image, offer, status: a node takes the update and reports it", async () => {
    const keys = path.join(dir, "keys");
    assert.equal((await update(["keygen", "--out", keys])).status, 0);
    const pub = fs.readFileSync(path.join(keys, "update.pub"), "utf8").trim();
    assert.ok(parseUpdateKey(pub), pub);
    assert.equal((await update(["keygen", "--out", keys])).status, 1, "an existing key is kept");
    const image = path.join(dir, "fw.img");
    assert.equal((await update(["image", "--version", "0.3.0", "--out", image])).status, 0);
    assert.match(fs.readFileSync(image, "utf8").split("\n")[0]!, /"version":"0\.3\.0"/);

    const node = new TestNode("cli", { broker: broker.url, updateKey: pub, updateBytesPerWake: 1 << 20, updateBytesPerDay: 1 << 24 }, dir);
    assert.equal((await node.wake()).error, undefined, node.log());
    const offered = await update(["offer", "--broker", broker.url, "--key", path.join(keys, "update.key"), "--image", image, "--node", "cli"]);
    assert.equal(offered.status, 0, offered.stderr);
    assert.match(offered.stdout, /^offered 0\.3\.0 \(\d+ bytes, \d+ chunks\) as torpor\/update\/[0-9a-f]{16} to cli$/m);
    for (let i = 0; i < 12 && !node.log().includes("completed a publishing wake"); i++) await node.wake();
    const status = await update(["status", "--broker", broker.url]);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /^node +version +update +refused +last$/m);
    assert.match(status.stdout, /^cli +0\.3\.0 +idle +0$/m, `${status.stdout}\n${node.log()}`);
  });

  it("a refused offer is counted in the status, and the telemetry goes on", async () => {
    const keys = path.join(dir, "other-keys");
    assert.equal((await update(["keygen", "--out", keys])).status, 0);
    const image = path.join(dir, "fw-0.4.0.img");
    assert.equal((await update(["image", "--version", "0.4.0", "--out", image])).status, 0);
    // The node trusts the first key pair; the offer is signed with another.
    const pub = fs.readFileSync(path.join(dir, "keys", "update.pub"), "utf8").trim();
    const node = new TestNode("refuses", { broker: broker.url, updateKey: pub }, dir);
    const watcher = await Subscriber.connect(broker.url, [node.telemetryTopic]);
    try {
      assert.equal((await node.wake()).error, undefined, node.log());
      assert.equal((await update(["offer", "--broker", broker.url, "--key", path.join(keys, "update.key"), "--image", image, "--node", "refuses"])).status, 0);
      for (let i = 0; i < 2; i++) assert.equal((await node.wake()).error, undefined, node.log());
      const status = await retainedJson(broker.url, node.statusTopic);
      const { state, refused, last } = status.update as Record<string, unknown>;
      assert.deepEqual({ state, refused }, { state: "idle", refused: 1 });
      assert.match(String(last), /^offer [0-9a-f]{16}: bad signature$/);
      assert.equal(status.version, builtinVersion());
      assert.ok(await watcher.until(() => dedupe(watcher.records(node.telemetryTopic), node.name).samples.length === node.sampled().length), node.log());
    } finally {
      await watcher.end();
    }
  });
});
