// Encrypted telemetry (docs/security.md): a node with a `payloadKey` seals every telemetry message
// under a nonce that no power cut can make it use twice; its messages open, with the key, to what
// it sampled, in every format, on a real mosquitto; a subscriber without the key sees no reading.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { connectAsync } from "mqtt";
import { after, before, describe, it } from "node:test";
import { nodeCrypto } from "../hosts/node/host";
import { wake } from "../src/app";
import { parseConfig } from "../src/config";
import type { Flash } from "../src/host";
import { NonceCounter } from "../src/retained/nonce-counter";
import { RetainedStore } from "../src/retained/store";
import { channelsOf } from "../src/sensors/registry";
import { isSealed, openPayload, SEAL_BYTES, sealPayload } from "../src/telemetry/payload-seal";
import { deriveNodeKey } from "../tools/keys";
import { decodePayload } from "../tools/payload-decoder";
import { TelemetryVerifier } from "../tools/telemetry-verifier";
import { dedupe, Subscriber, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { watchJson } from "./support/monitor-json";
import { storeHost } from "./support/store-host";

const FLEET = "one secret for the whole fleet, kept by the collector";
const KEY = "sixteen bytes at least, here 40 of them";
/** The sealed message's header: epoch and counter, public (and small numbers, like the tag's). */
const HEADER = 9;

class Cut extends Error {}

function memoryFlash(): Flash {
  const files = new Map<string, ArrayBuffer>();
  return { read: (k) => files.get(k)?.slice(0), write: (k, b) => void files.set(k, b.slice(0)), delete: (k) => void files.delete(k) };
}

describe("payloadKey in config", () => {
  it("is a key like the others: its errors never echo it, and it refuses Home Assistant's clear latest values", () => {
    assert.throws(() => parseConfig({ payloadKey: "short secret" }), (e: Error) => e.message === "config payloadKey: is 12 bytes of UTF-8; a key takes 16..64 (docs/security.md: 32 random characters)");
    assert.throws(() => parseConfig({ payloadKey: 12345678901234567890 }), (e: Error) => !e.message.includes("1234") && /^config payloadKey: expected a string, got a number/.test(e.message));
    assert.throws(() => parseConfig({ payloadKey: KEY, homeAssistant: true }), /config payloadKey: cannot go with homeAssistant/);
    assert.equal(parseConfig({ payloadKey: KEY }).payloadKey, KEY);
  });

  it("is refused at boot, naming the key and never echoing it, on a host that cannot keep its promise", async () => {
    const config = parseConfig({ node: "x", payloadKey: KEY });
    const hosts = [
      { why: /^config payloadKey: this host has no HMAC-SHA-256/, host: { ...storeHost(new Uint8Array(8192), "power-on", () => {}, memoryFlash()) } },
      { why: /^config payloadKey: this host has no AES-GCM/, host: { ...storeHost(new Uint8Array(8192), "power-on", () => {}, memoryFlash()), crypto: { hmacSha256: nodeCrypto.hmacSha256 } } },
      // Without flash a power loss takes the nonce counter with retained memory: a nonce would come again.
      { why: /^config payloadKey: this host keeps no flash/, host: { ...storeHost(new Uint8Array(8192), "power-on", () => {}), crypto: nodeCrypto } },
    ];
    for (const { why, host } of hosts) {
      const before = host.retained.bytes.slice();
      await assert.rejects(wake(host, config), (e: Error) => e.name === "ConfigError" && why.test(e.message) && !e.message.includes(KEY));
      assert.deepEqual(host.retained.bytes, before, "nothing retained is touched: the readings it holds stay for a firmware that can send them");
    }
  });
});

describe("encryption's nonces", () => {
  it("AES-128-GCM as sealed opens under its key and topic only", () => {
    const topic = "torpor/n1/telemetry";
    const payload = new TextEncoder().encode('[{"bn":"urn:dev:torpor:n1:x","bt":1764000000,"v":21.5}]');
    const sealed = sealPayload(nodeCrypto, KEY, topic, { epoch: 3, counter: 7 }, payload);
    assert.equal(sealed.length, payload.length + SEAL_BYTES);
    assert.ok(isSealed(sealed));
    const opened = openPayload(nodeCrypto, KEY, topic, sealed);
    assert.deepEqual(opened, { payload, nonce: { epoch: 3, counter: 7 } });
    assert.match((openPayload(nodeCrypto, KEY, "torpor/n2/telemetry", sealed) as { error: string }).error, /does not open/);
    assert.match((openPayload(nodeCrypto, "another key of sixteen bytes", topic, sealed) as { error: string }).error, /does not open/);
    const altered = sealed.slice();
    altered[12]! ^= 1;
    assert.match((openPayload(nodeCrypto, KEY, topic, altered) as { error: string }).error, /does not open/);
  });

  // Wakes of a node that seals messages and commits its state between them, cut after its nth
  // step — a retained write, or a sealed message gone out — for every n: the cut either keeps retained memory (a reset) or loses it (a power
  // loss: the flash tier's older copy comes back). Every sealing seals a plaintext of its own, so no
  // (key, nonce) pair may ever come twice.
  for (const loses of [false, true]) {
    it(`a cut after any retained write around a sealing never brings a nonce back (${loses ? "retained memory lost" : "retained memory kept"})`, () => {
      const config = parseConfig({ node: "x", payloadKey: KEY, flashEvery: 3 });
      const channels = channelsOf(config.sensors);
      for (let cutAt = 1; cutAt <= 120; cutAt++) {
        const memory = new Uint8Array(8192);
        const flash = memoryFlash();
        const used = new Map<string, string>();
        let steps = 0;
        const step = () => {
          if (++steps === cutAt) throw new Cut();
        };
        let wakeCause: "power-on" | "timer" = "power-on";
        for (let wake = 0; wake < 12; wake++) {
          const host = storeHost(memory, wakeCause, () => {}, flash);
          const store = new RetainedStore(host, channels, config.sensors.length);
          const commit = () => {
            store.commit();
            step();
          };
          try {
            const nonces = new NonceCounter(store.state.link, flash, store.origin, commit);
            // Enough sealings in some wakes to need a second reservation.
            for (let m = 0; m < (wake % 4 === 3 ? 70 : 3); m++) {
              const nonce = nonces.next();
              const plaintext = `wake ${wake} message ${m}`;
              const id = `${nonce.epoch}.${nonce.counter}`;
              assert.ok(!used.has(id) || used.get(id) === plaintext, `cut after step ${cutAt}: nonce ${id} sealed "${used.get(id)}" and then "${plaintext}"`);
              used.set(id, plaintext);
              step();
              if (m % 2 === 1) commit();
            }
            commit();
            store.endWake(config);
            wakeCause = "timer";
          } catch (e) {
            if (!(e instanceof Cut)) throw e;
            if (loses) memory.fill(0);
            wakeCause = loses ? "power-on" : "timer";
          }
        }
        assert.ok(used.size > 100, `sealings happened: ${used.size}`);
      }
    });
  }
});

describe("encrypted telemetry on mosquitto", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    await broker?.stop();
  });

  it("npm run monitor -- --payload-key FILE --json: the node's readings, and a message under another key as an error event", async () => {
    const name = "sealed-monitor";
    const topic = `torpor/${name}/telemetry`;
    const key = deriveNodeKey(FLEET, name, "payload");
    const node = new TestNode(name, { broker: broker.url, payloadKey: key, batchSize: 1 });
    const keyFile = path.join(node.dir, "payload.key");
    fs.writeFileSync(keyFile, `${key}\n`);
    const monitor = await watchJson(broker.url, ["--payload-key", keyFile]);
    const { events } = monitor;
    const forger = await connectAsync(broker.url);
    try {
      assert.equal((await node.wake()).error, undefined, node.log());
      const forged = sealPayload(nodeCrypto, "a key nobody provisioned 12345", topic, { epoch: 1, counter: 0 }, new TextEncoder().encode(`[{"bn":"urn:dev:torpor:${name}:sht3x/temperature","bt":1764000000,"u":"Cel","v":99}]`));
      await forger.publishAsync(topic, Buffer.from(forged), { qos: 1 });
      assert.equal((await node.wake()).error, undefined, node.log());
      await monitor.until((seen) => seen.filter((e) => e.kind === "reading").length >= 4 && seen.some((e) => e.kind === "error"));
      const errors = events.filter((e) => e.kind === "error");
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message!, /^encryption: does not open/);
      const values = events.filter((e) => e.kind === "reading").map((e) => e.reading!.value);
      assert.deepEqual(values, node.sampled().flatMap((s) => [s.temperature, s.humidity]));
    } finally {
      await monitor.stop();
      await forger.endAsync();
      node.remove();
    }
  });

  // Packet limits a batch of eight readings, tag and sealing and all, does not fit in: it must be split.
  const limits = { "senml-json": 400, "senml-cbor": 250, compact: 128 };
  for (const format of ["senml-json", "senml-cbor", "compact"] as const) {
    it(`${format}: messages open with the key to what the node sampled, and show no reading without it`, async () => {
      const name = `sealed-${format}`;
      const topic = `torpor/${name}/telemetry`;
      const node = new TestNode(name, {
        broker: broker.url,
        payloadKey: deriveNodeKey(FLEET, name, "payload"),
        telemetryKey: deriveNodeKey(FLEET, name, "telemetry"),
        format,
        batchSize: 8,
        maxLatency: 86400,
        maxPacketSize: limits[format],
      });
      const subscriber = await Subscriber.connect(broker.url, [topic]);
      try {
        for (let i = 0; i < 17; i++) assert.equal((await node.wake()).error, undefined, node.log());
        // With the fleet secret: every message opens, verifies, and says what the node sampled.
        const verifier = new TelemetryVerifier({ fleetSecret: FLEET }, { fleetSecret: FLEET });
        const recordsOf = (m: Uint8Array) => decodePayload(m, { baseName: `urn:dev:torpor:${name}:`, unseal: (x) => verifier.unseal(topic, name, x), verify: (f, x) => verifier.open(topic, name, f, x) }).records;
        const sampled = node.sampled();
        await subscriber.until(() => dedupe(subscriber.messages.flatMap((m) => recordsOf(new Uint8Array(m.payload))), name).samples.length >= sampled.length);
        const messages = subscriber.messages.map((m) => new Uint8Array(m.payload));
        assert.ok(messages.length >= 3, `split into several messages: ${messages.length}`);
        assert.deepEqual(dedupe(messages.flatMap(recordsOf), name).samples, sampled);
        for (const m of messages) assert.ok(m.length + topic.length + 2 + 2 + 3 <= limits[format], `a packet of ${m.length} bytes of payload exceeds ${limits[format]}`);

        // Without it: each message is refused, and none of the sampled values' encodings, nor any
        // run of the message's plaintext, is in its ciphertext.
        const plain = new TelemetryVerifier(undefined, { fleetSecret: FLEET });
        for (const m of messages) {
          assert.ok(isSealed(m));
          assert.throws(() => decodePayload(m), /encrypted \(the node has a payloadKey\)/);
          const inner = plain.unseal(topic, name, m);
          for (let at = 0; at + 6 <= inner.length; at++) assert.ok(!includes(m.subarray(HEADER), inner.subarray(at, at + 6)), `plaintext bytes ${at}..${at + 6} appear in the ciphertext`);
        }
        for (const s of node.sampled()) {
          for (const v of [s.temperature, s.humidity]) {
            for (const encoding of encodingsOf(v)) assert.ok(!messages.some((m) => includes(m, encoding)), `${v} appears in a message`);
          }
        }
        // Given only tags' keys, an encrypted message is refused as one it cannot read.
        assert.throws(() => new TelemetryVerifier({ fleetSecret: FLEET }).unseal(topic, name, messages[0]!), /no payload key given/);
      } finally {
        await subscriber.end();
        node.remove();
      }
    });
  }
});

/** A value as SenML JSON writes it and as CBOR's floats hold it. */
function encodingsOf(v: number): Uint8Array[] {
  const f64 = new Uint8Array(8);
  new DataView(f64.buffer).setFloat64(0, v);
  const f32 = new Uint8Array(4);
  new DataView(f32.buffer).setFloat32(0, v);
  return [new TextEncoder().encode(String(v)), f64, f32];
}

function includes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).includes(Buffer.from(needle));
}
