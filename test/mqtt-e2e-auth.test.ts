// Bad credentials against a real mosquitto (a password file, anonymous clients refused), MQTT 5 and
// 3.1.1: the wake fails with the broker's own refusal, by name and code; the node backs off in sleep
// periods (1, then 2: the wake after the second failure does not even try) while it keeps sampling;
// once the credentials are right, every reading it kept arrives, and the password never appears in
// its log. A telemetry topic the broker's ACL denies is, over MQTT 5, a failed wake that names the
// broker's reason (0x87), not a delivery. (Over 3.1.1 mosquitto acknowledges the PUBLISH and drops
// it: the node cannot tell; docs/mqtt.md says so.)

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { asRoot, dedupe, retainedJson, Subscriber, tempDir, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { PacketType, startProxy, type Proxy } from "./support/proxy";

const passwd = ["/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd"].find((p) => fs.existsSync(p));
const skip = mosquittoMissing() ?? (passwd ? undefined : "mosquitto_passwd is not installed (it comes with mosquitto)");

/** What mosquitto 2 answers a wrong password with, by protocol version: "not authorized" in both
 *  (MQTT 5 0x87, 3.1.1 return code 5), not "bad user name or password" (0x86 / 4). */
const refusal = {
  5: /^broker refused the connection: not authorized \(0x87\)$/,
  4: /^broker refused the connection: not authorized \(0x05\)$/,
};

for (const version of [5, 4] as const) {
  describe(`bad credentials (mosquitto, MQTT ${version === 5 ? "5" : "3.1.1"})`, { skip }, () => {
    let dir: string;
    let broker: Mosquitto;
    let proxy: Proxy;
    let subscriber: Subscriber;
    let node: TestNode;
    const password = "s3cret-Pa55";
    before(async () => {
      dir = tempDir("mosquitto-auth");
      const file = path.join(dir, "passwd");
      execFileSync(passwd!, ["-b", "-c", file, "sensor", password]);
      execFileSync(passwd!, ["-b", file, "watcher", "watch"]);
      fs.chmodSync(file, 0o644);
      broker = await startMosquitto(["allow_anonymous false", `password_file ${file}`, ...asRoot()]);
      proxy = await startProxy({ port: broker.port });
      subscriber = await Subscriber.connect(broker.url, ["torpor/+/telemetry"], { username: "watcher", password: "watch" });
      node = new TestNode(`auth-${version}`, { broker: proxy.url, mqttVersion: version, brokerUser: "sensor", brokerPassword: password });
    });
    after(async () => {
      await subscriber.end();
      await proxy.close();
      await broker.stop();
      node.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("is refused with the broker's code, backs off, keeps the readings, delivers them once right", async () => {
      assert.equal((await node.wake()).error, undefined, node.log());

      node.configure({ brokerPassword: "wrong-Pa55" });
      // Wake 2, on the grid: refused. Backoff 1 period, so wake 3 tries again: refused. Backoff 2.
      for (const wake of [2, 3]) {
        const before = proxy.connections.length;
        const refused = await node.wake();
        assert.match(refused.error ?? "", refusal[version], `wake ${wake}: ${node.log()}`);
        assert.equal(proxy.connections.length, before + 1, `wake ${wake} tried once`);
        assert.equal(refused.delivered, 0);
      }
      assert.match(node.log(), /publish failed: broker refused the connection: .*; 2 readings kept, next attempt in 2 periods/);
      // Wake 4 is within the backoff: it samples and sleeps without touching the network.
      const before = proxy.connections.length;
      const quiet = await node.wake();
      assert.equal(proxy.connections.length, before, "no connection attempt during the backoff");
      assert.equal(quiet.error, undefined);
      assert.match(quiet.lines.join("\n"), /^buffered 3 readings$/m);

      // Wake 5, after the backoff, with the right password again: everything kept goes out.
      node.configure({ brokerPassword: password });
      const back = await node.wake();
      assert.equal(back.error, undefined, node.log());
      assert.equal(back.delivered, 4, node.log());
      const last = proxy.connections.at(-1)!;
      assert.equal(last.up.frames.filter((f) => f.type === PacketType.CONNECT).length, 1);

      const expected = node.sampled();
      assert.equal(expected.length, 5);
      await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= expected.length);
      assert.deepEqual(dedupe(subscriber.records(node.telemetryTopic), node.name).samples, expected, node.log());

      // The status the node published once back names the failed attempts.
      const status = await retainedJson(broker.url, node.statusTopic, { username: "watcher", password: "watch" });
      assert.equal(status.publishFailures, 2);

      // Secrets never appear in logs.
      assert.ok(!node.log().includes(password) && !node.log().includes("wrong-Pa55"), node.log());
    });
  });
}

describe("a telemetry topic the broker's ACL denies (mosquitto, MQTT 5)", { skip: mosquittoMissing() }, () => {
  let dir: string;
  let broker: Mosquitto;
  let node: TestNode;
  before(async () => {
    dir = tempDir("mosquitto-acl");
    const acl = path.join(dir, "acl");
    // The node may use its command topic, not its telemetry topic.
    fs.writeFileSync(acl, "topic readwrite torpor/+/cmd\ntopic readwrite torpor/+/status\n");
    fs.chmodSync(acl, 0o644);
    broker = await startMosquitto([`acl_file ${acl}`, ...asRoot()]);
    node = new TestNode("acl-5", { broker: broker.url, mqttVersion: 5 });
  });
  after(async () => {
    await broker.stop();
    node.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("is a failed wake naming the broker's reason, the readings refused and counted, not delivered", async () => {
    const report = await node.wake();
    assert.equal(report.error, "broker refused 1 readings for good: not authorized (0x87)", node.log());
    assert.equal(report.delivered, 0);
    assert.match(node.log(), /^publish failed: broker refused 1 readings for good: not authorized \(0x87\);/m);
    const status = await retainedJson(broker.url, node.statusTopic);
    assert.equal(status.refused, 1, "the refused reading is counted in the status");
    assert.equal(status.buffered, 0, "and no longer blocks the buffer");
  });
});
