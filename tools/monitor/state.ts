// What the monitor knows of each node, built from the monitor's events (TelemetryMonitor): the
// newest value and the history of each channel (by the times the node stamped, so a batch of past
// readings back-fills the history rather than landing at its arrival), the last status, and the
// counts of what went wrong. Judges each node's state at a given moment: awake, asleep, online,
// overdue or offline. Time is passed in, never read: the table, the dashboard and the tests share it.

import type { MonitorEvent } from "./events";

export type NodeHealth = "awake" | "asleep" | "online" | "overdue" | "offline" | "unknown";

export interface ChannelState {
  unit: string | undefined;
  /** Sample times (Unix s, the node's clock) and values, in time order, at most HISTORY long. */
  times: number[];
  values: number[];
}

export interface NodeState {
  node: string;
  channels: Map<string, ChannelState>;
  /** The last status, as the node (or its Will) published it. */
  status: Record<string, unknown> | undefined;
  /** Arrival times (monitor clock, Unix s) of the last status and the last two telemetry messages. */
  statusAt: number | undefined;
  telemetryAt: number | undefined;
  previousTelemetryAt: number | undefined;
  /** Arrival of the last Will ({"state":"offline"}). */
  willAt: number | undefined;
  /** Wakes the grid says were missed, duplicate readings dropped, payloads that did not decode
   *  (and readings of channels beyond MAX_NODE_CHANNELS). */
  missed: number;
  duplicates: number;
  errors: number;
  /** Sensor faults the batches carried, by sensor id. */
  faults: Map<string, number>;
}

/** Points kept per channel: a day of one-minute samples. */
export const HISTORY = 1440;

/** Channels kept per node: twice what a node can have (MAX_CHANNELS). Names come from payloads,
 *  which anyone who may publish can write: readings of further channels are counted as errors. */
export const MAX_NODE_CHANNELS = 64;

/** A node is "awake" while telemetry has come since its last status, for at most this long. */
const AWAKE_S = 30;

export class FleetState {
  readonly nodes = new Map<string, NodeState>();

  /** Books one event that arrived at `nowS` (the monitor's clock; the same for every event of one
   *  message). */
  apply(event: MonitorEvent, nowS: number): void {
    if (event.kind === "error") return this.#errored(event.topic);
    const node = this.#node(event.kind === "reading" ? event.reading.node : event.node);
    switch (event.kind) {
      case "reading": {
        const r = event.reading;
        if (node.telemetryAt !== nowS) {
          node.previousTelemetryAt = node.telemetryAt;
          node.telemetryAt = nowS;
        }
        const channel = r.name.replace(/^urn:dev:torpor:[^:]+:/, "");
        if (channel.endsWith("/error") && r.stringValue !== undefined) {
          const sensor = channel.slice(0, -"/error".length);
          node.faults.set(sensor, (node.faults.get(sensor) ?? 0) + 1);
        } else if (r.value !== undefined) {
          if (node.channels.has(channel) || node.channels.size < MAX_NODE_CHANNELS) add(node.channels, channel, r.unit, r.time, r.value);
          else node.errors++;
        }
        break;
      }
      case "duplicate":
        node.duplicates += event.count;
        break;
      case "gap":
        node.missed += event.missed;
        break;
      case "status":
        if (event.status.state === "offline") node.willAt = nowS;
        else node.statusAt = nowS;
        node.status = event.status;
        break;
    }
  }

  /** A reading from history (the collector's database): in the chart, not news of the node. */
  backfill(node: string, channel: string, unit: string | undefined, time: number, value: number): void {
    const state = this.#node(node);
    if (state.channels.has(channel) || state.channels.size < MAX_NODE_CHANNELS) add(state.channels, channel, unit, time, value);
  }

  #node(name: string): NodeState {
    let node = this.nodes.get(name);
    if (!node) {
      node = { node: name, channels: new Map(), status: undefined, statusAt: undefined, telemetryAt: undefined, previousTelemetryAt: undefined, willAt: undefined, missed: 0, duplicates: 0, errors: 0, faults: new Map() };
      this.nodes.set(name, node);
    }
    return node;
  }

  #errored(topic: string): void {
    const name = topic.split("/").at(-2);
    if (name) this.#node(name).errors++;
  }
}

function add(channels: Map<string, ChannelState>, name: string, unit: string | undefined, time: number, value: number): void {
  let channel = channels.get(name);
  if (!channel) {
    channel = { unit, times: [], values: [] };
    channels.set(name, channel);
  }
  // Mostly appended; a batch re-sent or delayed goes in at its own time.
  let at = channel.times.length;
  while (at > 0 && channel.times[at - 1]! > time) at--;
  channel.times.splice(at, 0, time);
  channel.values.splice(at, 0, value);
  if (channel.times.length > HISTORY) {
    channel.times.shift();
    channel.values.shift();
  }
}

/**
 * Seconds between the node's connections: its status's `every` (the schedule's publish period), or,
 * from a node that does not say, the time between the arrival of its last two telemetry messages.
 */
export function period(node: NodeState): number | undefined {
  const every = statusNumber(node, "every");
  if (every !== undefined && every > 0) return every;
  if (node.telemetryAt !== undefined && node.previousTelemetryAt !== undefined) return node.telemetryAt - node.previousTelemetryAt;
  return undefined;
}

/** When the monitor last heard from the node itself (a Will is the broker's word, not the node's). */
export function lastHeard(node: NodeState): number | undefined {
  const times = [node.statusAt, node.telemetryAt].filter((t) => t !== undefined);
  return times.length ? Math.max(...times) : undefined;
}

/**
 * The node's state at `nowS`. The Will says offline (until the node is heard from again);
 * telemetry newer than the last status, within AWAKE_S, means it is in its exchange (awake); it is
 * overdue once nothing came for one and a half of its periods and 10 s more; else its last status
 * says asleep (or online, always connected). Judged on arrival times, the monitor's own clock: the
 * status goes out only with news, its `nextWake` is the next sampling wake, which need not connect,
 * and a simulated node's clock runs ahead.
 */
export function health(node: NodeState, nowS: number): NodeHealth {
  const state = node.status?.state;
  const heardSince = node.telemetryAt !== undefined && node.willAt !== undefined && node.telemetryAt > node.willAt;
  if (state === "offline" && !heardSince) return "offline";
  if (node.telemetryAt !== undefined && (node.statusAt === undefined || node.telemetryAt > node.statusAt) && nowS - node.telemetryAt <= AWAKE_S) return "awake";
  const heard = lastHeard(node);
  const every = period(node);
  if (heard !== undefined && every !== undefined && nowS - heard > 1.5 * every + 10) return "overdue";
  if (node.statusAt === undefined) return heard === undefined ? "unknown" : "asleep";
  return state === "online" ? "online" : "asleep";
}

/** The next wake its status named while that is ahead; after it, when the next connection is due
 *  by its period (`estimated`). */
export function nextExpected(node: NodeState, nowS: number): { time: number; estimated: boolean } | undefined {
  const nextWake = statusNumber(node, "nextWake");
  if (nextWake !== undefined && nextWake >= nowS) return { time: nextWake, estimated: false };
  const heard = lastHeard(node);
  const every = period(node);
  return heard !== undefined && every !== undefined ? { time: heard + every, estimated: true } : undefined;
}

/** The newest value of a channel, with its sample time. */
export function latest(channel: ChannelState): { time: number; value: number } | undefined {
  const n = channel.times.length;
  return n ? { time: channel.times[n - 1]!, value: channel.values[n - 1]! } : undefined;
}

/** The battery voltage, from the first channel in volts. */
export function battery(node: NodeState): number | undefined {
  for (const channel of node.channels.values()) if (channel.unit === "V") return latest(channel)?.value;
  return undefined;
}

/** A number from the status, if it has one there. */
export function statusNumber(node: NodeState, key: string): number | undefined {
  const v = node.status?.[key];
  return typeof v === "number" ? v : undefined;
}

/** Sensor errors the node counted (its status's `sensorErrors`, all sensors). */
export function sensorErrors(node: NodeState): number | undefined {
  const errors = node.status?.sensorErrors;
  if (typeof errors !== "object" || errors === null) return undefined;
  return Object.values(errors).reduce<number>((n, v) => n + (typeof v === "number" ? v : 0), 0);
}
