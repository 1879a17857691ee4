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

/** What a decoded status says of the node's firmware (also the monitor's version and update
 *  columns); undefined for a status that says nothing of versions. */
export function firmwareOf(status: Record<string, unknown>): Omit<NodeUpdate, "node"> | undefined {
  if (typeof status.version !== "string") return undefined;
  const u = (typeof status.update === "object" && status.update !== null ? status.update : {}) as Record<string, unknown>;
  const state = typeof u.state === "string" ? u.state : "—";
  const progress = typeof u.held === "number" && typeof u.of === "number" ? ` ${u.held}/${u.of}` : "";
  const target = typeof u.version === "string" ? ` → ${u.version}` : "";
  const last = [typeof u.rolledBack === "string" ? `rolled back from ${u.rolledBack}` : "", typeof u.last === "string" ? u.last : ""].filter(Boolean).join("; ");
  return { version: status.version, update: `${state}${target}${progress}`, refused: typeof u.refused === "number" ? u.refused : 0, last };
}

export function renderUpdates(rows: NodeUpdate[]): string {
  const header = ["node", "version", "update", "refused", "last"];
  const lines = [header, ...rows.sort((a, b) => a.node.localeCompare(b.node)).map((r) => [r.node, r.version, r.update, String(r.refused), r.last])];
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines.map((l) => l.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}
