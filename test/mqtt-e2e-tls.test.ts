// mqtts:// against mosquitto with a test CA made at test time with openssl (a CA, a server
// certificate for localhost and 127.0.0.1, a client certificate): the node verifies the broker
// against `tlsCa` and publishes; with the wrong CA it fails with a TLS error that says so, keeps its
// readings and delivers them once the CA is right; with `tlsCert`/`tlsKey` it passes a broker that
// requires client certificates.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { asRoot, dedupe, Subscriber, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { makePki, opensslMissing, type Pki } from "./support/pki";

const skip = mosquittoMissing() ?? opensslMissing();

describe("mqtts:// against mosquitto with a test CA", { skip }, () => {
  let pki: Pki;
  let broker: Mosquitto;
  let url: string;
  let subscriber: Subscriber;
  const nodes: TestNode[] = [];
  before(async () => {
    pki = makePki();
    broker = await startMosquitto([`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, ...asRoot()]);
    url = `mqtts://localhost:${broker.port}`;
    subscriber = await Subscriber.connect(url, ["torpor/+/telemetry"], { ca: fs.readFileSync(pki.ca) });
  });
  after(async () => {
    await subscriber.end();
    await broker.stop();
    for (const n of nodes) n.remove();
    fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  for (const version of [5, 4] as const) {
    it(`MQTT ${version === 5 ? "5" : "3.1.1"}: verifies the broker, publishes; the wrong CA is a TLS error and loses nothing`, async () => {
      const node = new TestNode(`tls-${version}`, { broker: url, mqttVersion: version, tlsCa: pki.ca });
      nodes.push(node);
      const first = await node.wake();
      assert.equal(first.error, undefined, node.log());
      assert.equal(first.delivered, 1);

      node.configure({ tlsCa: pki.otherCa });
      const refused = await node.wake();
      // The broker's certificate chains to a CA the node was not told to trust.
      assert.equal(refused.error, `connection to localhost:${broker.port} failed: TLS: self-signed certificate in certificate chain`, node.log());
      assert.match(refused.lines.join("\n"), /1 reading kept/);

      node.configure({ tlsCa: pki.ca });
      const back = await node.wake();
      assert.equal(back.error, undefined, node.log());
      assert.equal(back.delivered, 2);
      const expected = node.sampled();
      await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= expected.length);
      assert.deepEqual(dedupe(subscriber.records(node.telemetryTopic), node.name).samples, expected, node.log());
    });
  }
});

describe("mqtts:// with client certificates (mosquitto require_certificate)", { skip }, () => {
  let pki: Pki;
  let broker: Mosquitto;
  let node: TestNode;
  before(async () => {
    pki = makePki();
    broker = await startMosquitto([`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, "require_certificate true", ...asRoot()]);
    node = new TestNode("tls-client", { broker: `mqtts://localhost:${broker.port}`, mqttVersion: 5, tlsCa: pki.ca });
  });
  after(async () => {
    await broker.stop();
    node.remove();
    fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  it("gets through with tlsCert and tlsKey, and is refused with a TLS error without them", async () => {
    node.configure({ tlsCert: pki.clientCert, tlsKey: pki.clientKey });
    assert.equal((await node.wake()).error, undefined, node.log());
    node.configure({ tlsCert: "", tlsKey: "" });
    const without = await node.wake();
    assert.match(without.error ?? "", /^connection to localhost:\d+ failed: TLS: .*certificate required$/, node.log());
    node.configure({ tlsCert: pki.clientCert, tlsKey: pki.clientKey });
    const back = await node.wake();
    assert.equal(back.error, undefined, node.log());
    assert.equal(back.delivered, 2);
  });
});
