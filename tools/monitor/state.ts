// What the monitor knows of each node, built from the monitor's events (TelemetryMonitor): the
// newest value and the history of each channel (by the times the node stamped, so a batch of past
// readings back-fills the history rather than landing at its arrival), the last status, and the
// counts of what went wrong. Judges each node's state at a given moment: awake, asleep, online,
// overdue or offline, and when it is next expected to connect, on the node's own clock (nodeClock):
// a simulated node's runs many times faster than the monitor's. Time is passed in, never read: the
// table, the dashboard and the tests share it.

import { firmwareOf } from "../update/status";
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
  /** Arrival times (monitor clock, Unix s) of the last status and the last telemetry. */
  statusAt: number | undefined;
  telemetryAt: number | undefined;
  /** The node's clock (Unix s) at its last connection (its newest reading, or its status's `at`),
   *  with that message's arrival. */
  connection: ClockPoint | undefined;
  /** The last telemetry messages' newest readings against their arrival (at most CLOCK_POINTS):
   *  the telemetry's cadence, and how fast the node's clock runs on the monitor's (nodeClock). */
  clockPoints: ClockPoint[];
  /** Arrival of the last Will ({"state":"offline"}). */
  willAt: number | undefined;
  /** Wakes the grid says were missed, duplicate readings dropped, payloads that did not decode
   *  (and readings of channels beyond MAX_NODE_CHANNELS). */
  missed: number;
  duplicates: number;
  errors: number;
  /** Sensor faults the batches carried, by sensor id. */
  faults: Map<string, number>;
  /** The running version and the update's state and progress, from the last status that said
   *  (a Will does not, nor a status cut to its essentials for a tight broker: `update` "—"). */
  firmware: Firmware | undefined;
}

export interface Firmware {
  version: string;
  /** State, target version, chunks held of all, and offers refused: "fetching → 0.3.0 5/137". */
  update: string;
}

/** Points kept per channel: a day of one-minute samples. */
export const HISTORY = 1440;

/** Channels kept per node: twice what a node can have (MAX_CHANNELS). Names come from payloads,
 *  which anyone who may publish can write: readings of further channels are counted as errors. */
export const MAX_NODE_CHANNELS = 64;

/** A node is "awake" while telemetry has come since its last status, for at most this long of its
 *  own clock. */
const AWAKE_S = 30;

/** A time on the node's clock (Unix s) and when the monitor heard it (Unix s, its clock). */
export interface ClockPoint {
  time: number;
  arrival: number;
}

/** Connections the rate of the node's clock is learnt over: long enough to average out the
 *  jitter of arrival, short enough to forget a clock that was set. */
const CLOCK_POINTS = 8;

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
        node.telemetryAt = nowS;
        connected(node, r.time, nowS, true);
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
        else {
          node.statusAt = nowS;
          if (typeof event.status.at === "number") connected(node, event.status.at, nowS, false);
        }
        node.status = event.status;
        node.firmware = firmware(event.status) ?? node.firmware;
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
      node = { node: name, channels: new Map(), status: undefined, statusAt: undefined, telemetryAt: undefined, connection: undefined, clockPoints: [], willAt: undefined, missed: 0, duplicates: 0, errors: 0, faults: new Map(), firmware: undefined };
      this.nodes.set(name, node);
    }
    return node;
  }

  #errored(topic: string): void {
    const name = topic.split("/").at(-2);
    if (name) this.#node(name).errors++;
  }
}

function firmware(status: Record<string, unknown>): Firmware | undefined {
  const f = firmwareOf(status);
  return f && { version: f.version, update: f.refused > 0 ? `${f.update}, ${f.refused} refused` : f.update };
}

/**
 * Books a time on the node's clock heard at `arrival`. A message's newest time is the connection's;
 * older ones (a backlog) leave it be. Readings also teach the clock's rate; a status's `at` does not,
 * for a retained status may be old when it arrives.
 */
function connected(node: NodeState, time: number, arrival: number, reading: boolean): void {
  const last = node.connection;
  if (last === undefined || time > last.time) node.connection = { time, arrival };
  if (!reading) return;
  const points = node.clockPoints;
  const newest = points.at(-1);
  if (newest !== undefined && newest.arrival === arrival) newest.time = Math.max(newest.time, time);
  else if (newest === undefined || time > newest.time) points.push({ time, arrival });
  // A clock set back (or a node started afresh) starts the learning over.
  else points.splice(0, points.length, { time, arrival });
  if (points.length > CLOCK_POINTS) points.shift();
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
 * Seconds between the node's connections, on its clock: its status's `every` (the schedule's time
 * between connections), or, from a node that does not say, its telemetry's cadence: the step
 * between the newest readings of its last two telemetry messages.
 */
export function period(node: NodeState): number | undefined {
  const every = statusNumber(node, "every");
  if (every !== undefined && every > 0) return every;
  const [before, newest] = node.clockPoints.slice(-2);
  return before !== undefined && newest !== undefined ? newest.time - before.time : undefined;
}

/**
 * The node's clock at `nowS` (the monitor's): its last connection's time moved on at the rate its
 * clock ran against arrivals over its last connections — about 1 for a real node, the time scale
 * for a simulated one — or at 1 before it has connected twice.
 */
export function nodeClock(node: NodeState, nowS: number): number | undefined {
  const last = node.connection;
  if (last === undefined) return undefined;
  const points = node.clockPoints;
  const first = points[0];
  const newest = points.at(-1);
  const rate = first !== undefined && newest !== undefined && newest.arrival > first.arrival ? (newest.time - first.time) / (newest.arrival - first.arrival) : 1;
  return last.time + rate * Math.max(0, nowS - last.arrival);
}

/** When the monitor last heard from the node itself (a Will is the broker's word, not the node's). */
export function lastHeard(node: NodeState): number | undefined {
  const times = [node.statusAt, node.telemetryAt].filter((t) => t !== undefined);
  return times.length ? Math.max(...times) : undefined;
}

/**
 * The node's state at `nowS`. The Will says offline (until the node is heard from again);
 * telemetry newer than the last status, within AWAKE_S of its connection, means it is in its
 * exchange (awake); it is overdue once its clock is one and a half of its periods and 10 s past its
 * last connection; else its last status says asleep (or online, always connected). Judged on the
 * node's clock (nodeClock), not on its status's `nextWake`: the status goes out only with news, and
 * its `nextWake` is the next sampling wake, which need not connect.
 */
export function health(node: NodeState, nowS: number): NodeHealth {
  const state = node.status?.state;
  const heardSince = node.telemetryAt !== undefined && node.willAt !== undefined && node.telemetryAt > node.willAt;
  if (state === "offline" && !heardSince) return "offline";
  const clock = nodeClock(node, nowS);
  const since = clock === undefined || node.connection === undefined ? undefined : clock - node.connection.time;
  if (since === undefined) return lastHeard(node) === undefined ? "unknown" : state === "online" ? "online" : "asleep";
  const exchanging = node.telemetryAt !== undefined && (node.statusAt === undefined || node.telemetryAt > node.statusAt);
  if (exchanging && since <= AWAKE_S) return "awake";
  const every = period(node);
  if (every !== undefined && since > 1.5 * every + 10) return "overdue";
  return state === "online" ? "online" : "asleep";
}

/** When, on the node's clock, its next connection is due: its last one and its period. */
export function nextExpected(node: NodeState): number | undefined {
  const every = period(node);
  return node.connection !== undefined && every !== undefined ? node.connection.time + every : undefined;
}

/** How badly a node needs looking at, for the fleet view's order: 3 offline, 2 overdue, 1 healthy
 *  but for missed wakes or errors, 0 fine. */
export function trouble(node: NodeState, nowS: number): number {
  const state = health(node, nowS);
  if (state === "offline") return 3;
  if (state === "overdue") return 2;
  return node.missed > 0 || errorCount(node) > 0 ? 1 : 0;
}

/** Errors at a glance: payloads that did not decode, and the failed samples the node counted (or,
 *  from a node whose status does not say, the faults its batches carried). */
export function errorCount(node: NodeState): number {
  const seen = [...node.faults.values()].reduce((n, v) => n + v, 0);
  return node.errors + (sensorErrors(node) ?? seen);
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
