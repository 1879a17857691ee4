// `npm start` against the broker a user names: `node` and `broker` from --config are the ones used;
// the runner's own subscriber logs in with the config's credentials and trusts its tlsCa (a real
// mosquitto that refuses anonymous clients, over TLS); a broker that is not there yet is the
// node's to back off from while the runner goes on; TLS files that cannot be used are exit 2 at
// boot, naming the key.

import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { asRoot, Subscriber, tempDir } from "./support/e2e-node";
import { freePort, mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { makePki, opensslMissing, type Pki } from "./support/pki";
import { startBroker, type TestBroker } from "./torture-node";

const script = path.join(__dirname, "..", "tools", "start.js");
const passwd = ["/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd"].find((p) => fs.existsSync(p));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm start` with args, asynchronously (the brokers live in this process); `onLine` sees
 *  every line of its output as it comes. Killed if it has not ended in 60 s. */
function start(args: string[], onLine: (line: string) => void = () => {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let partial = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const lines = (partial + d).split("\n");
      partial = lines.pop()!;
      lines.forEach(onLine);
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function configFile(dir: string, config: Record<string, unknown>): string {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

describe("npm start with the broker a user names", () => {
  let dir: string;
  let broker: TestBroker;
  before(async () => {
    dir = tempDir("start-broker");
    broker = await startBroker();
  });
  after(async () => {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("uses node and broker from --config", async () => {
    const subscriber = await Subscriber.connect(broker.url, ["torpor/+/telemetry"]);
    try {
      const r = await start(["--config", configFile(dir, { node: "kitchen", broker: broker.url, batchSize: 1 }), "--cycles", "1", "--time-scale", "600"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^broker ${broker.url.replace(/[.:/]/g, "\\$&")}$`, "m"));
      assert.doesNotMatch(r.stdout, /embedded MQTT broker/);
      assert.match(r.stdout, /^\[kitchen\] \d\d:\d\d:\d\d woke \(power-on\)/m);
      assert.match(r.stdout, /^ {2}kitchen +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +sht3x\/temperature/m);
      assert.ok(await subscriber.until(() => subscriber.messages.some((m) => m.topic === "torpor/kitchen/telemetry")), "the named broker got the telemetry");
    } finally {
      await subscriber.end();
    }
  });

  it("numbers several nodes after the config's node name", async () => {
    const r = await start(["--config", configFile(dir, { node: "shed", broker: broker.url, batchSize: 1 }), "--nodes", "2", "--cycles", "1", "--time-scale", "600"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[shed-1\] 1 acknowledged publish\(es\): done$/m);
    assert.match(r.stdout, /^\[shed-2\] 1 acknowledged publish\(es\): done$/m);
  });

  it("goes on when the broker is not there yet: the node backs off, then delivers", async () => {
    const port = await freePort();
    let late: TestBroker | undefined;
    let failures = 0;
    const r = await start(["--broker", `mqtt://127.0.0.1:${port}`, "--config", configFile(dir, { batchSize: 1 }), "--cycles", "1", "--time-scale", "600"], (line) => {
      // The broker comes up once the node has failed twice and said it backs off.
      if (/^\[node-1\] \S+ publish failed: .*ECONNREFUSED.*next attempt in \d+ periods?$/.test(line) && ++failures === 2) {
        void startBroker(port).then((b) => (late = b));
      }
    });
    await late?.close();
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(failures >= 2, r.stdout);
    assert.equal(r.stdout.split("\n").filter((l) => /^subscriber: mqtt:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*; retrying$/.test(l)).length, 1, r.stdout);
    assert.match(r.stdout, /^\[node-1\] 1 acknowledged publish\(es\): done$/m);
  });

  const badTls: [string, (dir: string) => Record<string, unknown>, RegExp][] = [
    ["a CA file that is not there", () => ({ tlsCa: "/nonexistent/ca.pem" }), /^torpor: config tlsCa: "\/nonexistent\/ca\.pem": no such file$/],
    ["a CA file that is not PEM", (d) => ({ tlsCa: configFile(d, { not: "a certificate" }) }), /^torpor: config tlsCa: ".*" does not hold a PEM certificate$/],
    ["a key given inline that is not a key", () => ({ tlsKey: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" }), /^torpor: config tlsKey: the text given is not a PEM private key$/],
  ];
  for (const [what, config, message] of badTls) {
    it(`refuses ${what} at boot, naming the key, with exit code 2`, () => {
      const r = spawnSync(process.execPath, [script, "--config", configFile(dir, config(dir)), "--cycles", "1"], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 2, r.stdout);
      assert.match(r.stderr.trim(), message);
      assert.doesNotMatch(r.stdout, /\[node-1\]/);
    });
  }
});

describe("npm start against a mosquitto that wants a password, over TLS", { skip: mosquittoMissing() ?? opensslMissing() ?? (passwd ? undefined : "mosquitto_passwd is not installed") }, () => {
  let dir: string;
  let pki: Pki;
  let mosquitto: Mosquitto;
  const password = "s3cret-Pa55";
  before(async () => {
    dir = tempDir("start-auth");
    pki = makePki();
    const file = path.join(dir, "passwd");
    execFileSync(passwd!, ["-b", "-c", file, "sensor", password]);
    execFileSync(passwd!, ["-b", file, "watcher", "watch"]);
    fs.chmodSync(file, 0o644);
    mosquitto = await startMosquitto(["allow_anonymous false", `password_file ${file}`, `cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, ...asRoot()]);
  });
  after(async () => {
    await mosquitto.stop();
    fs.rmSync(pki.dir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("logs its subscriber in with the config's credentials and CA, and shows the telemetry", async () => {
    const url = `mqtts://localhost:${mosquitto.port}`;
    const watcher = await Subscriber.connect(url, ["torpor/+/telemetry"], { ca: fs.readFileSync(pki.ca), username: "watcher", password: "watch" });
    try {
      const config = { broker: url, brokerUser: "sensor", brokerPassword: password, tlsCa: pki.ca, batchSize: 1 };
      const r = await start(["--config", configFile(dir, config), "--cycles", "2", "--time-scale", "600"]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /^subscriber: /m, "the subscriber got in at once");
      assert.match(r.stdout, /^ {2}node-1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +sht3x\/temperature +-?[\d.]+ Cel$/m);
      assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), "the password is never printed");
      assert.ok(watcher.messages.some((m) => m.topic === "torpor/node-1/telemetry"), "mosquitto got the telemetry");
    } finally {
      await watcher.end();
    }
  });
});
