// The monitor's history from the collector's database (`--db postgres://…`): each channel's newest
// readings, as `npm run collect` stored them, put in the charts and remembered as seen, so that the
// dashboard shows the past at once and a batch that brings one of them again is a duplicate. The
// database does not keep the topic prefix: every node in it is loaded.

import type { TelemetryMonitor } from "./events";
import { HISTORY, type FleetState } from "./state";

/** Loads up to HISTORY readings per node and channel; returns how many. */
export async function loadHistory(db: string, fleet: FleetState, monitor: TelemetryMonitor): Promise<number> {
  const { Client } = await import("pg");
  const client = new Client({ connectionString: db });
  await client.connect();
  try {
    const { rows } = await client.query<{ node: string; channel: string; t: number; value: number; unit: string | null }>(
      `SELECT node, channel, extract(epoch FROM t)::float8 AS t, value, unit FROM (
         SELECT *, row_number() OVER (PARTITION BY node, channel ORDER BY t DESC) AS k FROM readings
       ) newest WHERE k <= $1 ORDER BY node, channel, t`,
      [HISTORY],
    );
    for (const r of rows) {
      fleet.backfill(r.node, r.channel, r.unit ?? undefined, r.t, r.value);
      monitor.remember(r.node, `urn:dev:torpor:${r.node}:${r.channel}`, r.t);
    }
    return rows.length;
  } finally {
    await client.end();
  }
}
