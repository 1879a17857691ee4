// `npm run collect` stores every reading exactly once: against a real PostgreSQL, a message stored
// twice adds nothing, a node's firmware and update changes are a row each, and a collector killed with SIGKILL in the middle of a fleet's traffic and
// started again ends with exactly the readings the nodes sampled — what an independent subscriber
// received and what the nodes logged — no more, no fewer.

import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { connectAsync } from "mqtt";
import { Client } from "pg";
import { encodePayload } from "../src/telemetry/payload";
import { parseConfig } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { startEmbeddedBroker } from "../tools/broker";
import { rowsOf, schema, store } from "../tools/collect-store";
import { decodePayload } from "../tools/payload-decoder";
import { start } from "../tools/start";
import { mosquittoMissing, startMosquitto } from "./support/mosquitto";
import { postgresMissing, startPostgres, type Postgres } from "./support/postgres";
import { sampledFromLog } from "./support/simulated-node";
import { killed, runTool } from "./support/tool-process";
import { until } from "./support/until";

const collector = path.join(__dirname, "..", "tools", "collect.js");

interface Broker {
  url: string;
  stop(): Promise<void>;
}

/** mosquitto where there is one (queues for the collector's session while it is down), else aedes. */
async function startBroker(): Promise<Broker> {
  if (!mosquittoMissing()) return startMosquitto(["max_queued_messages 100000", "max_inflight_messages 20"]);
  const aedes = await startEmbeddedBroker();
  return { url: aedes.url, stop: () => aedes.close() };
}

describe("npm run collect", { skip: postgresMissing() }, () => {
  let pg: Postgres;
  before(async () => (pg = await startPostgres()));
  after(() => pg?.stop());

  it("stores a message's readings, faults and status once, however often it comes", async () => {
    const db = new Client({ connectionString: pg.url });
    await db.connect();
    try {
      await db.query("CREATE DATABASE once");
      const once = new Client({ connectionString: pg.url.replace(/\/postgres$/, "/once") });
      await once.connect();
      await once.query(schema);
      const config = parseConfig({ sensors: [{ type: "bme280", address: 0x76 }, { type: "sht3x", address: 0x44 }] });
      const channels = channelsOf(config.sensors);
      const batch = {
        baseName: "urn:dev:torpor:n1:",
        channels,
        sensorIds: config.sensors.map((s) => s.id),
        readings: [
          { seq: 0, time: 1_764_000_000, values: [2150, 4010, 101325, 2149, 4012], faults: [] },
          { seq: 1, time: 1_764_000_060, values: [null, null, null, 2151, 4013], faults: [{ sensor: 0, fault: 2 }] },
        ],
        dropped: 0,
      };
      for (const format of ["senml-json", "senml-cbor", "compact"] as const) {
        const { payload, contentType } = encodePayload(format, batch);
        for (let i = 0; i < 2; i++) await store(once, "torpor/n1/telemetry", payload, rowsOf("torpor", "torpor/n1/telemetry", payload, contentType)!);
      }
      const readings = await once.query<{ channel: string; t: number; value: number; unit: string }>("SELECT channel, extract(epoch FROM t)::float8 AS t, value, unit FROM readings ORDER BY channel, t");
      assert.deepEqual(readings.rows, [
        { channel: "bme280/humidity", t: 1_764_000_000, value: 40.1, unit: "%RH" },
        { channel: "bme280/pressure", t: 1_764_000_000, value: 101325, unit: "Pa" },
        { channel: "bme280/temperature", t: 1_764_000_000, value: 21.5, unit: "Cel" },
        { channel: "sht3x/humidity", t: 1_764_000_000, value: 40.12, unit: "%RH" },
        { channel: "sht3x/humidity", t: 1_764_000_060, value: 40.13, unit: "%RH" },
        { channel: "sht3x/temperature", t: 1_764_000_000, value: 21.49, unit: "Cel" },
        { channel: "sht3x/temperature", t: 1_764_000_060, value: 21.51, unit: "Cel" },
      ]);
      const faults = await once.query("SELECT node, sensor, extract(epoch FROM t)::float8 AS t, fault FROM faults");
      assert.deepEqual(faults.rows, [{ node: "n1", sensor: "bme280", t: 1_764_000_060, fault: "crc" }]);
      const status = new TextEncoder().encode(JSON.stringify({ state: "asleep", nextWake: 1_764_000_120 }));
      for (let i = 0; i < 2; i++) await store(once, "torpor/n1/status", status, rowsOf("torpor", "torpor/n1/status", status)!);
      assert.deepEqual((await once.query("SELECT node, status FROM statuses")).rows, [{ node: "n1", status: { state: "asleep", nextWake: 1_764_000_120 } }]);
      // A payload nothing reads is kept as it came, once, and stores no reading.
      const junk = new TextEncoder().encode("[not senml");
      const rows = rowsOf("torpor", "torpor/n1/telemetry", junk)!;
      assert.match(rows.rejected!, /senml-json|JSON/);
      await store(once, "torpor/n1/telemetry", junk, rows);
      assert.equal((await once.query("SELECT count(*)::int AS n FROM rejected")).rows[0].n, 1);
      assert.equal((await once.query("SELECT count(*)::int AS n FROM readings")).rows[0].n, 7);
      assert.equal(rowsOf("torpor", "other/n1/telemetry", junk), undefined, "not torpor's topic");
      await once.end();
    } finally {
      await db.end();
    }
  });

  it("stores a row for each change of a node's firmware or update, none for a status that repeats it", async () => {
    const db = new Client({ connectionString: pg.url });
    await db.connect();
    try {
      await db.query("CREATE DATABASE updates");
      const updates = new Client({ connectionString: pg.url.replace(/\/postgres$/, "/updates") });
      await updates.connect();
      await updates.query(schema);
      const take = async (node: string, at: number, status: Record<string, unknown>) => {
        const payload = new TextEncoder().encode(JSON.stringify({ state: "asleep", at, ...status }));
        await store(updates, `torpor/${node}/status`, payload, rowsOf("torpor", `torpor/${node}/status`, payload)!);
      };
      const fetching = (held: number) => ({ version: "0.1.0", update: { state: "fetching", refused: 0, version: "0.2.0", id: "0123456789abcdef", held, of: 10 } });
      await take("n1", 100, { version: "0.1.0", update: { state: "idle", refused: 0 } });
      await take("n1", 160, { version: "0.1.0", update: { state: "idle", refused: 0 } }); // a heartbeat: no event
      await take("n2", 100, { version: "0.1.0" }); // a node that takes no updates
      await take("n2", 100, { state: "asleep" }); // a status that says nothing of versions
      await take("n1", 220, fetching(3));
      await take("n1", 220, fetching(3)); // the same retained status again
      await take("n1", 280, fetching(10));
      await take("n1", 340, { version: "0.1.0", update: { state: "idle", refused: 1, last: "image 0123456789abcdef: SHA-256 is not the offer's" } });
      await take("n1", 400, { version: "0.2.0", update: { state: "idle", refused: 1, last: "image 0123456789abcdef: SHA-256 is not the offer's" } });
      const rows = await updates.query("SELECT node, extract(epoch FROM at)::float8 AS at, version, state, target, held, chunks, refused, last, rolled_back FROM updates ORDER BY id");
      const row = (node: string, at: number, version: string, state: string | null, rest: Partial<Record<"target" | "last", string>> & { held?: number; chunks?: number; refused?: number } = {}) =>
        ({ node, at, version, state, target: rest.target ?? null, held: rest.held ?? null, chunks: rest.chunks ?? null, refused: rest.refused ?? 0, last: rest.last ?? null, rolled_back: null });
      const refusal = "image 0123456789abcdef: SHA-256 is not the offer's";
      assert.deepEqual(rows.rows, [
        row("n1", 100, "0.1.0", "idle"),
        row("n2", 100, "0.1.0", null),
        row("n1", 220, "0.1.0", "fetching", { target: "0.2.0", held: 3, chunks: 10 }),
        row("n1", 280, "0.1.0", "fetching", { target: "0.2.0", held: 10, chunks: 10 }),
        row("n1", 340, "0.1.0", "idle", { refused: 1, last: refusal }),
        row("n1", 400, "0.2.0", "idle", { refused: 1, last: refusal }),
      ]);
      await updates.end();
    } finally {
      await db.end();
    }
  });

  it("loses nothing and stores nothing twice when killed with SIGKILL mid-stream (20 nodes)", { timeout: 90_000 }, async () => {
    const nodes = 20;
    const cycles = 6;
    const broker = await startBroker();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-collect-"));
    const admin = new Client({ connectionString: pg.url });
    await admin.connect();
    await admin.query("CREATE DATABASE fleet");
    const dbUrl = pg.url.replace(/\/postgres$/, "/fleet");
    const db = new Client({ connectionString: dbUrl });
    const log: string[] = [];
    let child: ChildProcess | undefined;
    // The independent subscriber: its own clean session, every telemetry message, deduplicated.
    const seen = new Map<string, number>();
    const witness = await connectAsync(broker.url, { clean: true });
    witness.on("message", (topic, payload) => {
      const node = topic.split("/")[1]!;
      for (const r of decodePayload(payload, { baseName: `urn:dev:torpor:${node}:` }).records) {
        seen.set(`${node} ${r.name.replace(`urn:dev:torpor:${node}:`, "")} ${r.time}`, r.value!);
      }
    });
    try {
      await witness.subscribeAsync("torpor/+/telemetry", { qos: 1 });
      child = await runTool(collector, ["--broker", broker.url, "--db", dbUrl, "--client-id", "collector-under-test"], log, "collecting");
      await db.connect();
      const stored = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM readings")).rows[0]!.n;
      const configFile = path.join(dir, "config.json");
      fs.writeFileSync(configFile, JSON.stringify({ batchSize: 1 }));
      const lines: string[] = [];
      const fleet = start({ broker: broker.url, nodes, cycles, timeScale: 600, state: path.join(dir, "state"), config: configFile }, (l) => lines.push(l));
      let fleetDone = false;
      let killedMidStream = 0;
      void fleet.finally(() => (fleetDone = true));
      // Two kills while the fleet publishes: each at whatever the collector is doing at that moment.
      for (const after of [nodes * 2, nodes * 5]) {
        await until(`${after} stored readings`, async () => (await stored()) >= after || fleetDone, 60_000);
        if (!fleetDone) killedMidStream++;
        await killed(child, "SIGKILL");
        await new Promise((r) => setTimeout(r, 300));
        child = await runTool(collector, ["--broker", broker.url, "--db", dbUrl, "--client-id", "collector-under-test"], log, "collecting");
      }
      await fleet;
      assert.ok(killedMidStream > 0, "the collector was killed while the nodes were publishing");
      assert.ok(lines.filter((l) => l.endsWith("done")).length === nodes, lines.filter((l) => /error|fail/.test(l)).join("\n"));
      // What the nodes sampled, from their own logs: node, channel, value, in the order sampled.
      const sampled = sampledFromLog(lines);
      const expected = [...sampled.values()].reduce((n, v) => n + v.length, 0);
      // At least a reading per acknowledged publish (a wake that failed to publish sends two later).
      assert.equal(sampled.size, nodes * 2, "every node sampled both channels");
      assert.ok(expected >= nodes * cycles * 2 - nodes * 2, `${expected} readings sampled`);
      await until("the collector to catch up", async () => (await stored()) >= expected && seen.size >= expected, 30_000, async () => `(stored ${await stored()}, seen ${seen.size}, sampled ${expected}; collector:\n${log.join("")})`);
      const rows = (await db.query<{ node: string; channel: string; t: number; value: number }>("SELECT node, channel, extract(epoch FROM t)::float8 AS t, value FROM readings ORDER BY node, channel, t")).rows;
      assert.equal(rows.length, expected, "no reading lost, none stored twice");
      assert.deepEqual(new Map(rows.map((r) => [`${r.node} ${r.channel} ${r.t}`, r.value])), seen, "the same readings the independent subscriber received");
      const byChannel = new Map<string, number[]>();
      for (const r of rows) byChannel.set(`${r.node} ${r.channel}`, [...(byChannel.get(`${r.node} ${r.channel}`) ?? []), r.value]);
      assert.deepEqual(byChannel, sampled, "the values each node sampled, in order");
      assert.ok(log.join("").split("(session resumed)").length - 1 >= 2, `the restarted collector resumed its session:\n${log.join("")}`);
    } finally {
      if (child) await killed(child, "SIGTERM");
      await witness.endAsync();
      await db.end().catch(() => undefined);
      await admin.end();
      await broker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
