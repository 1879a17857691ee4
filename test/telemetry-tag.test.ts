// Authenticated telemetry (docs/security.md): a node with a `telemetryKey` tags every message in
// each of the three formats; its own messages all verify and decode to what it sampled, within the
// broker's packet limit; a forged, altered or replayed message published beside them is an `error`
// event in the monitor and a `rejected` row, never a reading, in the collector's PostgreSQL.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { connectAsync } from "mqtt";
import { Client } from "pg";
import { nodeCrypto } from "../hosts/node/host";
import type { PayloadFormat } from "../src/config";
import { sealTelemetry } from "../src/telemetry/telemetry-tag";
import { parseConfig } from "../src/config";
import { defaultAssumptions } from "../src/power/projection";
import { rowsOf, schema, store } from "../tools/collect-store";
import { tagCost } from "../tools/power-security";
import { deriveNodeKey } from "../tools/keys";
import { TelemetryMonitor } from "../tools/monitor/events";
import { decodePayload, payloadFormatOf } from "../tools/payload-decoder";
import { TelemetryVerifier } from "../tools/telemetry-verifier";
import { Subscriber, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { watchJson } from "./support/monitor-json";
import { postgresMissing, startPostgres, type Postgres } from "./support/postgres";

const FLEET = "one secret for the whole fleet, kept by the collector";

describe("telemetry tags", () => {
  it("a per-node key derived from the fleet secret is HKDF-SHA-256 as documented", () => {
    // RFC 5869 by hand (extract, then one expand block): the derivation docs/security.md states.
    const { createHmac } = require("node:crypto") as typeof import("node:crypto");
    const prk = createHmac("sha256", "torpor").update(FLEET).digest();
    const okm = createHmac("sha256", prk).update(Buffer.concat([Buffer.from("telemetry:n1"), Buffer.from([1])])).digest("hex");
    assert.equal(deriveNodeKey(FLEET, "n1", "telemetry"), okm);
    assert.notEqual(deriveNodeKey(FLEET, "n2", "telemetry"), okm);
  });

  it("a message opens under its key and topic only, and a copy passes while an older epoch is a replay", () => {
    const key = deriveNodeKey(FLEET, "n1", "telemetry");
    const body = new TextEncoder().encode('[{"bn":"urn:dev:torpor:n1:x","bt":1764000000,"v":1}]');
    const topic = "torpor/n1/telemetry";
    const m1 = sealTelemetry(nodeCrypto, key, "senml-json", topic, { epoch: 1, first: 5, kind: 0 }, body);
    const m2 = sealTelemetry(nodeCrypto, key, "senml-json", topic, { epoch: 2, first: 0, kind: 0 }, body);
    const verifier = new TelemetryVerifier({ fleetSecret: FLEET });
    assert.deepEqual(verifier.open(topic, "n1", "senml-json", m1), body);
    assert.deepEqual(verifier.open(topic, "n1", "senml-json", m1), body, "a copy");
    assert.throws(() => verifier.open("torpor/n2/telemetry", "n2", "senml-json", m1), /wrong tag/);
    verifier.open(topic, "n1", "senml-json", m2);
    assert.throws(() => verifier.open(topic, "n1", "senml-json", m1), /replayed \(epoch 1, the node is at 2\)/);
  });
});

describe("npm run power: the tag's cost", () => {
  it("projects the battery both ways from whichever the run measured", () => {
    const measured = { xsCompute: undefined, awakeMs: 30, sampleMs: 10, radioMs: 400, bytesUp: 120, bytesDown: 20 };
    const untagged = tagCost(parseConfig({ format: "compact" }), measured, defaultAssumptions);
    const tagged = tagCost(parseConfig({ format: "compact", telemetryKey: FLEET }), { ...measured, bytesUp: 135 }, defaultAssumptions);
    assert.equal(untagged.bytesPerMessage, 15);
    assert.ok(untagged.batteryDaysWith < untagged.batteryDaysWithout);
    assert.deepEqual(tagged, untagged, "the same two projections, measured either way");
  });
});

describe("tagged telemetry from a node (mosquitto, PostgreSQL)", { skip: mosquittoMissing() ?? postgresMissing() }, () => {
  let broker: Mosquitto;
  let pg: Postgres;
  before(async () => {
    broker = await startMosquitto();
    pg = await startPostgres();
  });
  after(async () => {
    await broker?.stop();
    await pg?.stop();
  });

  // Packet limits a batch of forty readings, tag and all, does not fit in: it must be split.
  const limits = { "senml-json": 400, "senml-cbor": 250, compact: 128 };
  it("npm run monitor -- --telemetry-key FILE --json: a forged message beside a node's own is an error event", async () => {
    const name = "tagged-monitor";
    const topic = `torpor/${name}/telemetry`;
    const key = deriveNodeKey(FLEET, name, "telemetry");
    const node = new TestNode(name, { broker: broker.url, telemetryKey: key, batchSize: 1 });
    const keyFile = path.join(node.dir, "telemetry.key");
    fs.writeFileSync(keyFile, `${key}\n`);
    const monitor = await watchJson(broker.url, ["--telemetry-key", keyFile]);
    const { events } = monitor;
    const forger = await connectAsync(broker.url);
    try {
      assert.equal((await node.wake()).error, undefined, node.log());
      const forged = sealTelemetry(nodeCrypto, "a key nobody provisioned 12345", "senml-json", topic, { epoch: 1, first: 7, kind: 0 }, new TextEncoder().encode(`[{"bn":"urn:dev:torpor:${name}:sht3x/temperature","bt":1764000000,"u":"Cel","v":99}]`));
      await forger.publishAsync(topic, Buffer.from(forged), { qos: 1 });
      assert.equal((await node.wake()).error, undefined, node.log());
      await monitor.until((seen) => seen.filter((e) => e.kind === "reading").length >= 4 && seen.some((e) => e.kind === "error"));
      const errors = events.filter((e) => e.kind === "error");
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message!, /^telemetry tag: wrong tag/);
      assert.ok(events.filter((e) => e.kind === "reading").every((e) => !e.reading!.name.endsWith("torpor:auth")), "the tag record is no reading");
    } finally {
      await monitor.stop();
      await forger.endAsync();
      node.remove();
    }
  });

  for (const format of ["senml-json", "senml-cbor", "compact"] as const) {
    it(`${format}: the node's own messages verify within the packet limit; forged, altered and replayed ones are flagged and kept out of readings`, async () => {
      const name = `tagged-${format}`;
      const topic = `torpor/${name}/telemetry`;
      const maxPacketSize = limits[format];
      const node = new TestNode(name, { broker: broker.url, telemetryKey: deriveNodeKey(FLEET, name, "telemetry"), format, batchSize: 40, maxLatency: 86400, maxPacketSize });
      const subscriber = await Subscriber.connect(broker.url, [topic]);
      const db = new Client({ connectionString: pg.url });
      await db.connect();
      await db.query(`CREATE DATABASE "${name}"`);
      const collectorDb = new Client({ connectionString: pg.url.replace(/\/postgres$/, `/${name}`) });
      try {
        await collectorDb.connect();
        await collectorDb.query(schema);
        // The first wake publishes its reading; the next forty go as one batch, split to fit.
        for (let i = 0; i < 41; i++) assert.equal((await node.wake()).error, undefined, node.log());
        await subscriber.until(() => subscriber.messages.length >= 3);
        const own = subscriber.messages.map((m) => new Uint8Array(m.payload));
        assert.ok(own.length >= 3, `split into several messages: ${own.length}`);
        for (const p of own) assert.ok(p.length + topic.length + 2 + 2 + 3 <= maxPacketSize, `a packet of ${p.length} bytes of payload exceeds ${maxPacketSize}`);

        // A forged message (right format, a key the node does not have), an altered copy of the
        // node's own, and — after the node starts clean, a new epoch — its first message again.
        const genuine = own[0]!;
        const forged = sealTelemetry(nodeCrypto, "a key nobody provisioned 12345", format, topic, { epoch: 9, first: 1, kind: 0 }, genuine.subarray(0, 40));
        const altered = genuine.slice();
        altered[Math.floor(altered.length / 2)]! ^= 0x04;
        fs.rmSync(path.join(node.dir, "state", "retained.bin"));
        assert.equal((await node.wake()).error, undefined, node.log());
        await subscriber.until(() => subscriber.messages.length > own.length);
        const later = subscriber.messages.slice(own.length).map((m) => new Uint8Array(m.payload));

        const monitor = new TelemetryMonitor("torpor", new TelemetryVerifier({ fleetSecret: FLEET }));
        const collector = new TelemetryVerifier({ fleetSecret: FLEET });
        const events = [];
        const sequence = [...own, forged, altered, ...later, genuine];
        for (const message of sequence) {
          events.push(monitor.handle(topic, message));
          const rows = rowsOf("torpor", topic, message, undefined, collector)!;
          await store(collectorDb, topic, message, rows);
        }
        const errors = events.map((e) => e.filter((x) => x.kind === "error").map((x) => (x as { message: string }).message));
        const n = own.length;
        assert.deepEqual(errors.slice(0, n), own.map(() => []), "the node's own verify");
        assert.match(errors[n]![0]!, /^telemetry tag: wrong tag/);
        assert.match(errors[n + 1]![0]!, /^telemetry tag: wrong tag/);
        assert.deepEqual(errors.slice(n + 2, -1), later.map(() => []), "the new epoch verifies");
        assert.match(errors.at(-1)![0]!, /^telemetry tag: replayed \(epoch 1, the node is at 2\)$/);

        const rejected = await collectorDb.query<{ error: string }>("SELECT error FROM rejected ORDER BY error");
        assert.equal(rejected.rows.length, 3);
        const readings = await collectorDb.query<{ n: number }>("SELECT count(*)::int AS n FROM readings");
        const expected = node.sampled().length * 2;
        assert.equal(readings.rows[0]!.n, expected, "every reading the node sampled, and nothing else");
        // What the readings say is what the node's messages say, decoded with the tag checked.
        const check = new TelemetryVerifier({ keys: [deriveNodeKey(FLEET, name, "telemetry")] });
        for (const message of own) {
          const fmt = payloadFormatOf(message);
          assert.equal(fmt, format);
          decodePayload(message, { baseName: `urn:dev:torpor:${name}:`, verify: (f: PayloadFormat, m) => check.open(topic, name, f, m) });
        }
      } finally {
        await collectorDb.end();
        await db.end();
        await subscriber.end();
        node.remove();
      }
    });
  }
});
