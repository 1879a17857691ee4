// TLS sessions that survive deep sleep on the Node host, against mosquitto with a test CA: after the
// first wake's full handshake, every connecting wake resumes the session the host kept (a process
// per wake, and a fleet); a broker that forgot it (restarted on the same port) refuses it, and the
// wake makes a full handshake at once, delivers, and counts it; a session made with another CA is
// not offered, and a TLS error forgets it.

import assert from "node:assert/strict";
import { once } from "node:events";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Counters } from "../src/retained/state";
import { layeredConfig, manifestConfig, readConfigFile } from "../hosts/node/config-file";
import { runFleet } from "../hosts/node/fleet";
import { heldState } from "../hosts/node/host";
import { RetainedFile } from "../hosts/node/retained-file";
import type { WakeReport } from "../hosts/node/wake";
import { asRoot, retainedJson, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { makePki, opensslMissing, type Pki } from "./support/pki";

const skip = mosquittoMissing() ?? opensslMissing();

describe("TLS sessions across deep sleep (Node host, mosquitto)", { skip }, () => {
  let pki: Pki;
  let broker: Mosquitto;
  let url: string;
  const nodes: TestNode[] = [];
  const brokerConfig = () => [`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, ...asRoot()];
  before(async () => {
    pki = makePki();
    broker = await startMosquitto(brokerConfig());
    url = `mqtts://localhost:${broker.port}`;
  });
  after(async () => {
    await broker.stop();
    for (const n of nodes) n.remove();
    fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  /** One wake as its own process, as the runner starts them: nothing survives but the state directory. */
  async function processWake(node: TestNode): Promise<WakeReport> {
    const child = node.spawnWake();
    const [report] = (await once(child, "message")) as [WakeReport];
    if (child.exitCode === null) await once(child, "exit");
    return report;
  }

  /** The counters the node's retained state holds now. */
  function counters(node: TestNode): Counters {
    const retained = new RetainedFile(path.join(node.dir, "state", "retained.bin"));
    try {
      const state = heldState(retained, layeredConfig(manifestConfig(), readConfigFile(node.configFile)).config);
      assert.ok(state, node.log());
      return state.counters;
    } finally {
      retained.close();
    }
  }

  it("a process per wake: every wake after the first resumes; a restarted broker's refusal is a full handshake in the same wake", async () => {
    const config = { broker: url, tlsCa: pki.ca };
    const node = new TestNode("tls-resume", config);
    nodes.push(node);
    for (let wake = 1; wake <= 4; wake++) {
      const report = await processWake(node);
      assert.equal(report.error, undefined, node.log());
      assert.equal(report.delivered, 1, node.log());
    }
    assert.deepEqual([counters(node).tlsResumed, counters(node).tlsRefused], [3, 0], node.log());

    // The broker forgets its sessions; the node's is still young and for this broker and CA.
    await broker.stop();
    broker = await startMosquitto({ config: brokerConfig(), port: broker.port });
    const refused = await processWake(node);
    assert.equal(refused.error, undefined, node.log());
    assert.equal(refused.delivered, 1, node.log());
    assert.deepEqual([counters(node).tlsResumed, counters(node).tlsRefused], [3, 1], node.log());
    // The full handshake's session is kept in its place.
    assert.equal((await processWake(node)).error, undefined, node.log());
    assert.deepEqual([counters(node).tlsResumed, counters(node).tlsRefused], [4, 1], node.log());
  });

  it("a session made with another CA is not offered; a TLS error forgets the session", async () => {
    const node = new TestNode("tls-ca-change", { broker: url, tlsCa: pki.ca });
    nodes.push(node);
    const kept = path.join(node.dir, "state", "tls-session.json");
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.equal(counters(node).tlsResumed, 1, node.log());
    // The file holds the session's secret: the node's own user alone may read it.
    assert.equal(fs.statSync(kept).mode & 0o777, 0o600);

    // Another CA file that still verifies the broker: the broker would take the session, but it
    // was made trusting other certificates, so it is not offered (not counted as refused either).
    const bundle = path.join(pki.dir, "bundle.crt");
    fs.writeFileSync(bundle, fs.readFileSync(pki.otherCa, "utf8") + fs.readFileSync(pki.ca, "utf8"));
    node.configure({ tlsCa: bundle });
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.deepEqual([counters(node).tlsResumed, counters(node).tlsRefused], [1, 0], node.log());
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.equal(counters(node).tlsResumed, 2, node.log());

    // The broker's chain does not verify against this CA: the handshake fails, the session goes.
    node.configure({ tlsCa: pki.otherCa });
    assert.match((await node.wake()).error ?? "", /TLS: /, node.log());
    assert.equal(fs.existsSync(kept), false, "the session was forgotten after the TLS error");
    node.configure({ tlsCa: pki.ca });
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.deepEqual([counters(node).tlsResumed, counters(node).tlsRefused], [2, 0], node.log());
  });

  it("a fleet: each node resumes its own session at every wake after its first", async () => {
    const names = ["tls-fleet-1", "tls-fleet-2", "tls-fleet-3"];
    const { config } = layeredConfig(manifestConfig(), { broker: url, tlsCa: pki.ca, sampleInterval: 60, batchSize: 1, awakeTimeout: 5, statusEvery: 0, format: "senml-json" });
    const errors: string[] = [];
    const result = await runFleet({
      names,
      config,
      scale: "max",
      startMs: Date.UTC(2026, 0, 1),
      cycles: 4,
      untilMs: Date.UTC(2026, 0, 1) + 3_600_000,
      concurrency: 3,
      onWake: (i, report) => void (report.error !== undefined && errors.push(`${names[i]}: ${report.error}`)),
    });
    assert.deepEqual(errors, []);
    assert.equal(result.delivered, 12);
    for (const name of names) {
      // statusEvery 0: the last wake's status, with its counts, is the retained one.
      const status = await retainedJson(url, `torpor/${name}/status`, { ca: fs.readFileSync(pki.ca) });
      assert.equal(status.tlsResumed, 3, `${name}: ${JSON.stringify(status)}`);
      assert.equal(status.tlsRefused ?? 0, 0, `${name}: ${JSON.stringify(status)}`);
    }
  });
});
