// The monitor's events: decodes each message on a node's telemetry or status topic (all three
// formats), drops duplicate readings (QoS 1 is at least once, and a batch re-sent after a lost
// PUBACK arrives twice), and flags gaps that mean missed wakes. Shared by the monitor's command
// line (npm run monitor) and the runner (npm start), which prints the same lines.

import { decodePayload, decodeStatus, type PayloadFormatName } from "../payload-decoder";
import type { TelemetryVerifier } from "../telemetry-verifier";
import type { ResolvedRecord } from "../senml";

export interface Reading extends ResolvedRecord {
  node: string;
}

export type MonitorEvent =
  | { kind: "reading"; reading: Reading }
  | { kind: "duplicate"; node: string; count: number }
  | { kind: "gap"; node: string; from: number; to: number; missed: number }
  | { kind: "status"; node: string; status: Record<string, unknown> }
  | { kind: "error"; topic: string; message: string };

/** Decodes messages into events; holds what dedupe and gap detection need, per node. */
export class TelemetryMonitor {
  #seen = new Map<string, Set<string>>();
  #lastTime = new Map<string, number>();
  #steps = new Map<string, Map<number, number>>();

  /** `verifier`: nodes tag their telemetry; a message it refuses is an `error` event. */
  constructor(readonly prefix = "torpor", readonly verifier?: TelemetryVerifier) {}

  get subscriptions(): string[] {
    return [`${this.prefix}/+/telemetry`, `${this.prefix}/+/status`];
  }

  /** `contentType`: the message's MQTT 5 Content Type, if it had one (else the first byte tells). */
  handle(topic: string, payload: Uint8Array, contentType?: string): MonitorEvent[] {
    const parts = topic.split("/");
    const kind = parts.pop();
    const node = parts.pop();
    if (!node || parts.join("/") !== this.prefix) return [];
    if (kind === "status") {
      try {
        return [{ kind: "status", node, status: decodeStatus(payload) }];
      } catch (e) {
        return [{ kind: "error", topic, message: (e as Error).message }];
      }
    }
    if (kind !== "telemetry") return [];
    let records: ResolvedRecord[];
    try {
      const verifier = this.verifier;
      const verify = verifier && ((format: PayloadFormatName, message: Uint8Array) => verifier.open(topic, node, format, message));
      records = decodePayload(payload, { baseName: `urn:dev:torpor:${node}:`, ...(contentType === undefined ? {} : { contentType }), ...(verify ? { verify, unseal: (m: Uint8Array) => verifier.unseal(topic, node, m) } : {}) }).records;
    } catch (e) {
      return [{ kind: "error", topic, message: (e as Error).message }];
    }
    return this.#readings(node, records);
  }

  /** Takes a reading as seen already (history from the collector's database): a batch that brings
   *  it again is a duplicate. */
  remember(node: string, name: string, time: number): void {
    this.#seenBy(node).add(`${name}@${time}`);
  }

  #seenBy(node: string): Set<string> {
    const seen = this.#seen.get(node) ?? new Set<string>();
    this.#seen.set(node, seen);
    return seen;
  }

  #readings(node: string, records: ResolvedRecord[]): MonitorEvent[] {
    const seen = this.#seenBy(node);
    const fresh: MonitorEvent[] = [];
    let duplicates = 0;
    for (const record of records) {
      const key = `${record.name}@${record.time}`;
      if (seen.has(key)) {
        duplicates++;
        continue;
      }
      seen.add(key);
      // Bound the memory of a long-running monitor: forget the oldest keys.
      if (seen.size > 100_000) seen.delete(seen.values().next().value!);
      fresh.push({ kind: "reading", reading: { node, ...record } });
    }
    // A pack lists records channel by channel (fault records first): the wakes it stands for are
    // its distinct times, in order.
    const times = [...new Set(fresh.map((e) => (e.kind === "reading" ? e.reading.time : 0)))].sort((a, b) => a - b);
    const events = times.flatMap((time) => this.#gap(node, time));
    if (duplicates) events.unshift({ kind: "duplicate", node, count: duplicates });
    return [...events, ...fresh];
  }

  /**
   * The sampling interval is learnt as the smallest step between readings seen at least twice (a
   * power-on wake is off the grid, so its single odd step teaches nothing); a step of two or more
   * intervals is a gap.
   */
  #gap(node: string, time: number): MonitorEvent[] {
    const last = this.#lastTime.get(node);
    if (last === undefined || time <= last) {
      if (last === undefined) this.#lastTime.set(node, time);
      return [];
    }
    this.#lastTime.set(node, time);
    const step = time - last;
    const steps = this.#steps.get(node) ?? new Map<number, number>();
    this.#steps.set(node, steps);
    steps.set(step, (steps.get(step) ?? 0) + 1);
    let interval = Infinity;
    for (const [s, n] of steps) if (n >= 2 && s < interval) interval = s;
    const missed = Number.isFinite(interval) ? Math.round(step / interval) - 1 : 0;
    return missed >= 1 ? [{ kind: "gap", node, from: last, to: time, missed }] : [];
  }
}

export function formatEvent(event: MonitorEvent): string {
  const when = (s: number) => new Date(s * 1000).toISOString().replace("T", " ").replace(/\.000Z$/, "Z");
  switch (event.kind) {
    case "reading": {
      const r = event.reading;
      const name = r.name.replace(/^urn:dev:torpor:[^:]+:/, "");
      const value = r.value ?? r.stringValue ?? r.boolValue;
      return `${event.reading.node.padEnd(8)} ${when(r.time)}  ${name.padEnd(22)} ${String(value).padStart(8)} ${r.unit ?? ""}`.trimEnd();
    }
    case "duplicate":
      return `${event.node.padEnd(8)} ${event.count} duplicate reading(s) ignored (a re-sent batch)`;
    case "gap":
      return `${event.node.padEnd(8)} ! ${event.missed} missed wake(s) between ${when(event.from)} and ${when(event.to)}`;
    case "status":
      return `${event.node.padEnd(8)} status ${JSON.stringify(event.status)}`;
    case "error":
      return `! ${event.topic}: ${event.message}`;
  }
}
