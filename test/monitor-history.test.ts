// The monitor's history from the collector's database (`--db`): what `npm run collect` stored is
// in the charts at once, in time order, is not taken for news of the node, and a batch that brings
// it again is a duplicate. Against a real PostgreSQL.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "pg";
import { rowsOf, schema, store } from "../tools/collect-store";
import { TelemetryMonitor } from "../tools/monitor/events";
import { loadHistory } from "../tools/monitor/history";
import { FleetState, health } from "../tools/monitor/state";
import { postgresMissing, startPostgres, type Postgres } from "./support/postgres";

const T0 = 1_764_000_000;
const pack = (bt: number, values: number[]) =>
  new TextEncoder().encode(JSON.stringify(values.map((v, i) => ({ ...(i === 0 ? { bn: "urn:dev:torpor:n1:sht3x/temperature", bu: "Cel", bt } : {}), v, ...(i ? { t: 60 * i } : {}) }))));

describe("monitor history from the collector's database", { skip: postgresMissing() }, () => {
  let pg: Postgres;
  before(async () => (pg = await startPostgres()));
  after(() => pg?.stop());

  it("charts what was stored, and takes it as seen", async () => {
    const db = new Client({ connectionString: pg.url });
    await db.connect();
    await db.query(schema);
    const newer = pack(T0 + 180, [21.3, 21.4]);
    const older = pack(T0, [21, 21.1, 21.2]);
    for (const payload of [newer, older]) await store(db, "torpor/n1/telemetry", payload, rowsOf("torpor", "torpor/n1/telemetry", payload)!);
    await db.end();

    const fleet = new FleetState();
    const monitor = new TelemetryMonitor();
    assert.equal(await loadHistory(pg.url, fleet, monitor), 5);
    const node = fleet.nodes.get("n1")!;
    const channel = node.channels.get("sht3x/temperature")!;
    assert.deepEqual(channel.times, [T0, T0 + 60, T0 + 120, T0 + 180, T0 + 240]);
    assert.deepEqual(channel.values, [21, 21.1, 21.2, 21.3, 21.4]);
    assert.equal(channel.unit, "Cel");
    assert.equal(health(node, T0 + 300), "unknown", "history is not news of the node");
    // The node's next wake re-sends the newer batch with one more reading.
    const events = monitor.handle("torpor/n1/telemetry", pack(T0 + 180, [21.3, 21.4, 21.5]));
    assert.deepEqual(events.filter((e) => e.kind === "duplicate"), [{ kind: "duplicate", node: "n1", count: 2 }]);
    assert.deepEqual(events.filter((e) => e.kind === "reading").map((e) => (e.kind === "reading" ? e.reading.value : 0)), [21.5]);
  });
});
