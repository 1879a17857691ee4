// The client over TLS, which comes in as the ECMA-419 socket class of the options, with its own
// options (`secure`) passed through untouched, as in the SDK's client: a QoS 1 message reaches
// mosquitto's TLS listener when the broker's certificate checks out, and a broker the given CA did
// not sign is an error, not a connection.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { MQTTClient } from "../src/mqtt/client";
import { NodeTLS } from "../hosts/node/tcp";
import { asRoot } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { makePki, opensslMissing, type Pki } from "./support/pki";

/** How long a connection may take before the test gives up on it. */
const LIFE_MS = 10_000;

function publishOver(port: number, ca: string): Promise<{ error?: Error; acked: boolean }> {
  return new Promise((resolve) => {
    let wrote = false;
    const timer = setTimeout(() => {
      client.close();
      resolve({ error: new Error(`not settled within ${LIFE_MS} ms`), acked: false });
    }, LIFE_MS);
    const client = new MQTTClient({
      address: "127.0.0.1",
      host: "localhost",
      port,
      socket: { io: NodeTLS, secure: { ca: fs.readFileSync(ca, "utf8") } },
      id: "tls",
      onWritable() {
        if (wrote) return;
        wrote = true;
        this.write("over tls", { topic: "tls", QoS: 1 });
      },
      onControl(message) {
        if (message.operation !== MQTTClient.PUBACK) return;
        clearTimeout(timer);
        this.write(null, { operation: MQTTClient.DISCONNECT });
        this.close();
        resolve({ acked: true });
      },
      onError(error) {
        clearTimeout(timer);
        resolve({ ...(error ? { error } : {}), acked: false });
      },
    });
  });
}

describe("MQTTClient over TLS", { skip: mosquittoMissing() ?? opensslMissing() }, () => {
  let pki: Pki;
  let broker: Mosquitto;
  before(async () => {
    pki = makePki();
    broker = await startMosquitto([`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, ...asRoot()]);
  });
  after(async () => {
    await broker?.stop();
    if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
  });

  it("publishes at QoS 1 through the TLS socket class it is given", async () => {
    const result = await publishOver(broker.port, pki.ca);
    assert.equal(result.error, undefined);
    assert.ok(result.acked);
  });

  it("refuses a broker its CA did not sign", async () => {
    const result = await publishOver(broker.port, pki.otherCa);
    assert.equal(result.acked, false);
    assert.match(String(result.error), /TLS|certificate/i);
  });
});
