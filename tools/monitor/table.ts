// The monitor's outputs: the live table (one row per node, redrawn in a terminal) and the CSV of
// readings (`--csv`).

import type { Reading } from "./events";
import { battery, health, lastHeard, latest, nextExpected, nodeClock, sensorErrors, statusNumber, type FleetState } from "./state";

/** 42 s, 5m, 3h, 2d: an age at a glance (0 for a time ahead of now). */
export function age(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const clock = (s: number) => new Date(s * 1000).toISOString().slice(11, 19) + "Z";

const columns = ["node", "state", "seen", "battery", "next connection", "buffered", "dropped", "sensor errors", "missed", "dups", "version", "update", "last values"] as const;

/** The table at `nowS`, nodes in name order, as text lines. */
export function renderTable(fleet: FleetState, nowS: number): string {
  const rows = [...fleet.nodes.values()]
    .sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }))
    .map((node) => {
      const seen = lastHeard(node);
      const volts = battery(node);
      const next = nextExpected(node);
      // A value's age on the node's clock: its sample time is on that clock.
      const clockNow = nodeClock(node, nowS) ?? nowS;
      const values = [...node.channels.entries()].map(([name, channel]) => {
        const last = latest(channel)!;
        return `${name}=${last.value}${channel.unit && channel.unit !== "/" ? ` ${channel.unit}` : ""} (${age(clockNow - last.time)})`;
      });
      const faults = [...node.faults.values()].reduce((n, v) => n + v, 0);
      const counted = sensorErrors(node);
      return [
        node.node,
        health(node, nowS),
        seen === undefined ? "—" : `${age(nowS - seen)} ago`,
        volts === undefined ? "—" : `${volts.toFixed(2)} V`,
        next === undefined ? "—" : clock(next),
        String(statusNumber(node, "buffered") ?? "—"),
        String(statusNumber(node, "dropped") ?? "—"),
        // What the node counted, and the faults its batches carried that the monitor saw.
        counted === undefined && faults === 0 ? "—" : `${counted ?? "—"}${faults ? ` (${faults} seen)` : ""}`,
        String(node.missed),
        String(node.duplicates),
        node.firmware?.version ?? "—",
        node.firmware?.update ?? "—",
        values.join("  ") + (node.errors ? `  ! ${node.errors} unreadable` : ""),
      ];
    });
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(columns), ...rows.map(line)].join("\n");
}

export const csvHeader = "node,channel,time,value,unit";

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** One reading as a CSV line: time as ISO 8601 UTC, the channel without the node's base name. */
export function csvLine(r: Reading): string {
  const channel = r.name.replace(/^urn:dev:torpor:[^:]+:/, "");
  const value = r.value ?? r.stringValue ?? r.boolValue ?? "";
  return [r.node, channel, new Date(r.time * 1000).toISOString(), String(value), r.unit ?? ""].map(csvField).join(",");
}
