// Each node's running version and update progress, from the retained statuses on the broker
// (`update status`) or the statuses the monitor hears.

import { decodeStatus } from "../payload-decoder";

export interface NodeUpdate {
  node: string;
  version: string;
  /** The update's state, and chunks held of all for a transfer under way. */
  update: string;
  refused: number;
  last: string;
}

/** One node's line from its status; undefined for a status that says nothing of versions. */
export function nodeUpdate(node: string, payload: Uint8Array): NodeUpdate | undefined {
  let status: Record<string, unknown>;
  try {
    status = decodeStatus(payload);
  } catch {
    return undefined;
  }
  const firmware = firmwareOf(status);
  return firmware && { node, ...firmware };
}

/** What a status says of the node's firmware, field by field (the collector's `updates` rows). */
export interface FirmwareStatus {
  version: string;
  /** undefined: the node takes no updates (no `updateKey`). */
  state: string | undefined;
  /** The version it is taking. */
  target: string | undefined;
  held: number | undefined;
  of: number | undefined;
  refused: number;
  last: string | undefined;
  rolledBack: string | undefined;
}

/** The firmware fields of a decoded status; undefined for a status that says nothing of versions. */
export function readFirmware(status: Record<string, unknown>): FirmwareStatus | undefined {
  if (typeof status.version !== "string") return undefined;
  const u = (typeof status.update === "object" && status.update !== null ? status.update : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  const count = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined);
  return { version: status.version, state: text(u.state), target: text(u.version), held: count(u.held), of: count(u.of), refused: count(u.refused) ?? 0, last: text(u.last), rolledBack: text(u.rolledBack) };
}

/** What a decoded status says of the node's firmware, as text (also the monitor's version and
 *  update columns); undefined for a status that says nothing of versions. */
export function firmwareOf(status: Record<string, unknown>): Omit<NodeUpdate, "node"> | undefined {
  const f = readFirmware(status);
  if (!f) return undefined;
  const progress = f.held !== undefined && f.of !== undefined ? ` ${f.held}/${f.of}` : "";
  const target = f.target !== undefined ? ` → ${f.target}` : "";
  const last = [f.rolledBack !== undefined ? `rolled back from ${f.rolledBack}` : "", f.last ?? ""].filter(Boolean).join("; ");
  return { version: f.version, update: `${f.state ?? "—"}${target}${progress}`, refused: f.refused, last };
}

export function renderUpdates(rows: NodeUpdate[]): string {
  const header = ["node", "version", "update", "refused", "last"];
  const lines = [header, ...rows.sort((a, b) => a.node.localeCompare(b.node)).map((r) => [r.node, r.version, r.update, String(r.refused), r.last])];
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}
