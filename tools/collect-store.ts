// What the collector writes to PostgreSQL, and how: every reading once, keyed by node, channel and
// sample time; the faults the batches carry and the statuses in their own tables, and a row for
// each change of a node's firmware or update (`updates`); a payload no decoder reads kept as it came. One message's rows go in one transaction, so a message is either
// all stored or not at all, and storing it again (QoS 1 redelivers what was not acknowledged)
// changes nothing.

import { createHash } from "node:crypto";
import type { ClientBase } from "pg";
import { decodePayload, decodeStatus, type PayloadFormatName } from "./payload-decoder";
import { readFirmware, type FirmwareStatus } from "./update/status";
import type { TelemetryVerifier } from "./telemetry-verifier";

export const schema = `
CREATE TABLE IF NOT EXISTS readings (
  node text NOT NULL,
  channel text NOT NULL,
  t timestamptz NOT NULL,
  value double precision NOT NULL,
  unit text,
  PRIMARY KEY (node, channel, t)
);
CREATE TABLE IF NOT EXISTS faults (
  node text NOT NULL,
  sensor text NOT NULL,
  t timestamptz NOT NULL,
  fault text NOT NULL,
  PRIMARY KEY (node, sensor, t)
);
CREATE TABLE IF NOT EXISTS statuses (
  node text NOT NULL,
  digest text NOT NULL,
  received timestamptz NOT NULL DEFAULT now(),
  status jsonb NOT NULL,
  PRIMARY KEY (node, digest)
);
CREATE TABLE IF NOT EXISTS updates (
  id bigserial PRIMARY KEY,
  node text NOT NULL,
  received timestamptz NOT NULL DEFAULT now(),
  at timestamptz,
  version text NOT NULL,
  state text,
  target text,
  held integer,
  chunks integer,
  refused integer NOT NULL,
  last text,
  rolled_back text
);
CREATE INDEX IF NOT EXISTS updates_node ON updates (node, id);
CREATE TABLE IF NOT EXISTS rejected (
  topic text NOT NULL,
  digest text NOT NULL,
  received timestamptz NOT NULL DEFAULT now(),
  error text NOT NULL,
  payload bytea NOT NULL,
  PRIMARY KEY (topic, digest)
);`;

export interface Rows {
  node: string;
  readings: { channel: string; t: number; value: number; unit: string | null }[];
  faults: { sensor: string; t: number; fault: string }[];
  status?: unknown;
  /** The status's firmware fields, and its `at` (the node's clock, Unix s). */
  firmware?: FirmwareStatus & { at: number | undefined };
  rejected?: string;
}

/** The rows one message brings, or undefined for a topic that is not torpor's. With a `verifier`,
 *  telemetry it refuses (forged, altered, replayed, untagged) brings only its `rejected` row. */
export function rowsOf(prefix: string, topic: string, payload: Uint8Array, contentType?: string, verifier?: TelemetryVerifier): Rows | undefined {
  const levels = topic.split("/");
  const kind = levels.pop();
  const node = levels.pop();
  if (!node || levels.join("/") !== prefix || (kind !== "telemetry" && kind !== "status")) return undefined;
  const rows: Rows = { node, readings: [], faults: [] };
  try {
    if (kind === "status") {
      const status = decodeStatus(payload);
      rows.status = status;
      const firmware = readFirmware(status);
      if (firmware) rows.firmware = { ...firmware, at: typeof status.at === "number" && Number.isFinite(status.at) ? status.at : undefined };
      return rows;
    }
    const baseName = `urn:dev:torpor:${node}:`;
    const verify = verifier && ((format: PayloadFormatName, message: Uint8Array) => verifier.open(topic, node, format, message));
    for (const record of decodePayload(payload, { baseName, ...(contentType === undefined ? {} : { contentType }), ...(verify ? { verify, unseal: (m: Uint8Array) => verifier.unseal(topic, node, m) } : {}) }).records) {
      const name = record.name.startsWith(baseName) ? record.name.slice(baseName.length) : record.name;
      if (name.endsWith("/error") && record.stringValue !== undefined) rows.faults.push({ sensor: name.slice(0, -"/error".length), t: record.time, fault: record.stringValue });
      else if (record.value !== undefined) rows.readings.push({ channel: name, t: record.time, value: record.value, unit: record.unit ?? null });
    }
  } catch (e) {
    return { node, readings: [], faults: [], rejected: e instanceof Error ? e.message : String(e) };
  }
  return rows;
}

const digest = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Stores one message's rows in one transaction; returns the readings that were new. */
export async function store(db: ClientBase, topic: string, payload: Uint8Array, rows: Rows): Promise<number> {
  await db.query("BEGIN");
  try {
    let added = 0;
    if (rows.readings.length) {
      const r = rows.readings;
      const result = await db.query(
        `INSERT INTO readings (node, channel, t, value, unit)
         SELECT $1, c, to_timestamp(t), v, u FROM unnest($2::text[], $3::float8[], $4::float8[], $5::text[]) AS x(c, t, v, u)
         ON CONFLICT DO NOTHING`,
        [rows.node, r.map((x) => x.channel), r.map((x) => x.t), r.map((x) => x.value), r.map((x) => x.unit)],
      );
      added = result.rowCount ?? 0;
    }
    if (rows.faults.length) {
      const f = rows.faults;
      await db.query(
        `INSERT INTO faults (node, sensor, t, fault)
         SELECT $1, s, to_timestamp(t), f FROM unnest($2::text[], $3::float8[], $4::text[]) AS x(s, t, f)
         ON CONFLICT DO NOTHING`,
        [rows.node, f.map((x) => x.sensor), f.map((x) => x.t), f.map((x) => x.fault)],
      );
    }
    // A retained status comes again at every (re)subscription: the same bytes are stored once.
    if (rows.status !== undefined) {
      await db.query("INSERT INTO statuses (node, digest, status) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [rows.node, digest(payload), JSON.stringify(rows.status)]);
    }
    // An update event: the firmware or the update's state, target, progress or refusals changed
    // since the node's last row. A status that repeats them (a heartbeat, a retained copy) adds none.
    if (rows.firmware !== undefined) {
      const f = rows.firmware;
      await db.query(
        `INSERT INTO updates (node, at, version, state, target, held, chunks, refused, last, rolled_back)
         SELECT $1::text, to_timestamp($2::float8), $3::text, $4::text, $5::text, $6::integer, $7::integer, $8::integer, $9::text, $10::text
         WHERE NOT EXISTS (
           SELECT 1 FROM (SELECT * FROM updates WHERE node = $1 ORDER BY id DESC LIMIT 1) l
           WHERE (l.version, l.state, l.target, l.held, l.chunks, l.refused, l.last, l.rolled_back)
             IS NOT DISTINCT FROM ($3::text, $4::text, $5::text, $6::integer, $7::integer, $8::integer, $9::text, $10::text))`,
        [rows.node, f.at ?? null, f.version, f.state ?? null, f.target ?? null, f.held ?? null, f.of ?? null, f.refused, f.last ?? null, f.rolledBack ?? null],
      );
    }
    if (rows.rejected !== undefined) {
      await db.query("INSERT INTO rejected (topic, digest, error, payload) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", [topic, digest(payload), rows.rejected, Buffer.from(payload)]);
    }
    await db.query("COMMIT");
    return added;
  } catch (e) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw e;
  }
}
