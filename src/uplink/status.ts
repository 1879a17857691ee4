// The node's retained status on `<prefix>/<node>/status`: what a watcher needs to tell a sleeping
// node from a dead one (state, when it will wake and how often it connects), its buffer, its
// counters, its energy and battery forecast, and what its commands did. It goes out only with
// news — a lean wake sends none — and in a size the broker takes.

import type { Config } from "../config";
import { fnv1a } from "../encoding/fnv";
import { withOverrides } from "../retained/link-memory";
import type { Version } from "../mqtt/codec";
import { defaultAssumptions, effectiveBatch, project } from "../power/projection";
import { DOWNLINK_PERIOD_S, nextWake } from "../power/schedule";
import type { NodeState } from "../retained/state";
import type { OutgoingPublish } from "../mqtt/session";
import type { BrokerLimits } from "./limits";
import { encodeStatus, statusEncoding } from "./status-encoding";

export type StatusDocument = Record<string, unknown>;

/** What the status says: `online` only for an always-connected node between exchanges. */
export interface StatusFacts {
  readonly config: Config;
  readonly state: NodeState;
  readonly hostName: string;
  /** Network.counters of the host, when it keeps any. */
  readonly network?: Readonly<Record<string, number>> | undefined;
  readonly version: Version;
  readonly online: boolean;
  /** The QoS telemetry goes at, after the broker's Maximum QoS. */
  readonly qos: 0 | 1 | 2;
  /** Wall clock, ms. */
  readonly wall: number;
  /** The running firmware's version, where the host knows it, and the update's state (docs/updates.md). */
  readonly firmware?: string;
  readonly update?: Record<string, unknown>;
}

function statusDocument(f: StatusFacts): StatusDocument {
  const { config, state } = f;
  const link = state.link;
  const schedule = withOverrides(config, link.overrides);
  // The TLS counts only where there is TLS: a plain node's status stays as it was.
  const { tlsResumed, tlsRefused, ...counters } = state.counters;
  const status: StatusDocument = {
    state: f.online ? "online" : "asleep",
    host: f.hostName,
    at: Math.floor(f.wall / 1000),
    // From the schedule as it is now: a command taken in this exchange may have just changed it.
    nextWake: Math.round(nextWake(f.wall, schedule.sampleInterval) / 1000),
    // Seconds between connections on this schedule: a watcher expects one that often, whether or
    // not a status came with it (telemetry carries its own times).
    every: Math.min(effectiveBatch(schedule) * schedule.sampleInterval, DOWNLINK_PERIOD_S),
    buffered: state.buffer.length,
    dropped: state.buffer.dropped,
    ...counters,
    ...(config.broker.secure ? { tlsResumed, tlsRefused } : {}),
    sensorErrors: Object.fromEntries(config.sensors.map((s, i) => [s.id, state.sensorErrors[i] ?? 0])),
    // Totals up to the last wake (EnergyTotals); docs/power.md turns them into battery life.
    energy: state.energy,
    mqtt: f.version === 5 ? "5" : "3.1.1",
  };
  const days = batteryDays(state, schedule);
  if (days !== undefined) status.batteryDays = days;
  if (f.network) status.network = f.network;
  if (f.qos !== config.qos) status.qos = f.qos;
  if (link.qos2AsPuback && f.qos === 2) status.qos2 = "answered with PUBACK: at least once";
  if (link.overrides) status.overrides = link.overrides;
  if (link.results?.length) status.commands = link.results;
  if (f.firmware !== undefined) status.version = f.firmware;
  if (f.update) status.update = f.update;
  return status;
}

/** The status a subscriber cannot do without, for a broker whose packet limit is tight. */
function essentials(full: StatusDocument): StatusDocument {
  const keep = ["state", "at", "nextWake", "every", "buffered", "dropped", "delivered", "refused", "version"];
  return Object.fromEntries(keep.map((key) => [key, full[key]]));
}

/**
 * Whether the status has news: what it says changed (beyond what moves at every wake: the next
 * wake, the counts of wakes and deliveries, energy), its heartbeat (`statusEvery`) is due, the
 * broker's session is new (a broker that lost the session may have lost its retained messages
 * too), or the last attempt failed or ended without the node's DISCONNECT (its Will may have said
 * "offline": `statusAt` is then cleared). A resumed wake with nothing new sends none: that is most
 * of a lean wake's bytes. Returns the fingerprint to keep when it goes out, or undefined.
 */
function statusNews(full: StatusDocument, state: NodeState, config: Config, sessionPresent: boolean | undefined, nowS: number): number | undefined {
  const link = state.link;
  const print = fnv1a(JSON.stringify(Object.entries(full).filter(([key]) => !volatileStatus.has(key))));
  const every = config.statusEvery;
  const due = every === 0 || sessionPresent !== true || state.failures > 0 || link.statusAt === undefined || nowS - link.statusAt >= every || nowS < link.statusAt || print !== link.statusPrint;
  return due ? print : undefined;
}

/**
 * The status message to publish: undefined when it has no news, null when not even its essentials
 * fit the broker's packet limit. The full status where it fits — and where the broker keeps a
 * limit it never announced, only in a size it has been seen to take, for a QoS 0 status gets no
 * answer — else its essentials. Going out, it is booked as sent (`statusAt`, `statusPrint`).
 */
export function statusMessage(facts: StatusFacts, sessionPresent: boolean | undefined, topic: string, limits: BrokerLimits, length: (m: OutgoingPublish) => number): OutgoingPublish | null | undefined {
  const full = statusDocument(facts);
  const nowS = Math.floor(facts.wall / 1000);
  const print = statusNews(full, facts.state, facts.config, sessionPresent, nowS);
  if (print === undefined) return undefined;
  const messages = [full, essentials(full)].map((status): OutgoingPublish => ({ topic, payload: encodeStatus(status, statusEncoding(facts.config)), qos: 0, retain: limits.retain }));
  const message = messages.find((m) => limits.fitsUnanswered(length(m))) ?? messages.find((m) => limits.fits(length(m)));
  if (!message) return null;
  facts.state.link.statusAt = nowS;
  facts.state.link.statusPrint = print;
  return message;
}

/** Status fields that move at (nearly) every wake: news only with a heartbeat. */
const volatileStatus = new Set(["at", "nextWake", "buffered", "wakes", "delivered", "energy", "batteryDays", "tlsResumed", "network"]);

/** Days a battery of the datasheet's defaults lasts on `config`'s schedule at what the node's wakes
 *  have cost so far (its energy totals); undefined before it has published once. */
function batteryDays(state: NodeState, config: Config): number | undefined {
  const { energy } = state;
  const wakes = state.counters.wakes;
  if (wakes === 0 || energy.radioWakes === 0) return undefined;
  const measured = {
    xsCompute: undefined,
    awakeMs: Math.max(0, energy.awakeMs - energy.sampleMs - energy.radioMs) / wakes,
    sampleMs: energy.sampleMs / wakes,
    radioMs: energy.radioMs / energy.radioWakes,
    bytesUp: energy.bytesUp / energy.radioWakes,
    bytesDown: energy.bytesDown / energy.radioWakes,
  };
  return Math.round(project(config, measured, defaultAssumptions).batteryDays);
}
