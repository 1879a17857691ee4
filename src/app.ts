// The wake cycle: restore → sample → buffer → maybe publish → schedule → sleep. Every step that
// waits has a bound, every failure is counted, and the readings are in retained memory before the
// radio is even considered.

import { ConfigError, type Config } from "./config";
import { useHostCrc32 } from "./encoding/crc32";
import type { Host } from "./host";
import { WakeMeter } from "./power/energy";
import { backoffPeriods, nextWake, notePublished, publishReason, sampleTime } from "./power/schedule";
import { noteClock, setClock } from "./power/time-sync";
import { connect, publish, type Connection, type PublishOutcome } from "./uplink/driver";
import { withOverrides } from "./retained/link-memory";
import type { NodeState } from "./retained/state";
import { nextEpoch } from "./retained/flash-epoch";
import { NonceCounter } from "./retained/nonce-counter";
import { RetainedStore } from "./retained/store";
import type { Channel } from "./sensors/channel";
import { channelsOf } from "./sensors/registry";
import { scale } from "./sensors/resolution";
import { sampleSensors } from "./sensors/sampling";
import { sensorFaults } from "./sensors/sensor";

export interface WakeSummary {
  sampled: (number | null)[];
  outcome: PublishOutcome | undefined;
  nextWake: number;
}

export async function wake(host: Host, config: Config): Promise<WakeSummary> {
  const node = new NodeRuntime(host, config);
  const { now, values } = await node.sample(host.wakeCause);
  let outcome: PublishOutcome | undefined;
  // A wake pin (a door contact) is news: its reading goes out now, not with the next batch.
  if (node.publishDue(now, host.wakeCause === "pin")) {
    await node.setClock();
    outcome = node.record(now, await publish(node));
  } else {
    host.log(`buffered ${plural(node.state.buffer.length, "reading")}`);
  }
  const next = nextWake(host.clock.now(), node.config.sampleInterval);
  node.endWake();
  return { sampled: values, outcome, nextWake: next };
}

/**
 * Always-connected mode: the node stays up, samples on the grid, keeps one MQTT connection open and
 * publishes over it when a batch is due; between samples it naps (light sleep). A PINGREQ goes out
 * only at a sampling wake after which the keepalive would otherwise lapse before the next one, so
 * pings and samples share wakes; any publish counts as traffic. Only a broker whose Server Keep Alive
 * is shorter than the sampling interval gets pings between samples, from naps cut short for them. A
 * lost connection is opened again at the next due publish, with the same backoff as in deep sleep.
 * `onCycle` reports each cycle and may return false to end the run: the node then disconnects
 * normally and returns.
 */
export async function runConnected(host: Host, config: Config, onCycle?: (summary: WakeSummary) => boolean | void): Promise<void> {
  const node = new NodeRuntime(host, config);
  let connection: Connection | undefined;
  for (let cause: string = host.wakeCause; ; cause = "nap") {
    const { now, values } = await node.sample(cause);
    const interval = node.config.sampleInterval;
    const next = nextWake(now, interval);
    let outcome: PublishOutcome | undefined;
    if (node.publishDue(now)) {
      await node.setClock();
      if (connection?.isOpen) {
        outcome = node.record(now, await connection.flush());
      } else {
        const opened = await connect(node, true);
        connection = opened.connection;
        outcome = node.record(now, opened.outcome);
      }
    } else {
      // The keepalive is the one promised at CONNECT, even if a command has changed the schedule since.
      if (connection?.isOpen && connection.idleMs + interval * 1000 >= connection.keepAlive * 1000) connection.ping();
      host.log(`buffered ${plural(node.state.buffer.length, "reading")}`);
    }
    node.endWake();
    if (onCycle?.({ sampled: values, outcome, nextWake: next }) === false) {
      await connection?.close();
      return;
    }
    // Nap until the next sample; a broker whose keepalive is shorter than that (Server Keep Alive)
    // gets its PINGREQ from a nap cut short for it.
    for (let ms = next - host.clock.now(); ms > 0; ms = next - host.clock.now()) {
      const ping = connection?.isOpen ? connection.pingDueMs : Infinity;
      await new Promise<void>((resolve) => host.nap(Math.min(ms, ping), resolve));
      if (ping < ms) connection?.ping();
    }
    node.state.counters.wakes++;
  }
}

/** The node between restore and sleep: its state in retained memory, its sensors, its schedule. */
class NodeRuntime {
  readonly channels: Channel[];
  readonly state: NodeState;
  readonly commit: () => void;
  /** Encryption's nonces, with a payloadKey: one counter for the whole boot. */
  readonly nonces?: NonceCounter;
  #store: RetainedStore;
  /** Awake time, split up, for the energy totals; measured from before the state loads. */
  #meter: WakeMeter;
  #latest: (number | null)[] = [];

  constructor(readonly host: Host, private baseConfig: Config) {
    const keyed = baseConfig.telemetryKey !== "" ? "telemetryKey" : baseConfig.commandKey !== "" ? "commandKey" : baseConfig.payloadKey !== "" ? "payloadKey" : undefined;
    if (keyed && !host.crypto) throw new ConfigError(keyed, "this host has no HMAC-SHA-256 (Host.crypto) to use it with");
    if (baseConfig.payloadKey !== "" && !host.crypto?.aesGcm) throw new ConfigError("payloadKey", "this host has no AES-GCM (Host.crypto.aesGcm) to use it with");
    if (baseConfig.payloadKey !== "" && !host.flash) throw new ConfigError("payloadKey", "this host keeps no flash: a power loss could make it use a nonce again");
    this.#meter = new WakeMeter(host.clock);
    // Before the state loads: its slots are checked by CRC.
    useHostCrc32(host.crc32);
    this.channels = channelsOf(baseConfig.sensors);
    this.#store = new RetainedStore(host, this.channels, baseConfig.sensors.length);
    this.state = this.#store.state;
    if (baseConfig.telemetryKey !== "" && this.#store.origin !== "retained") nextEpoch(this.state.link, host.flash);
    this.state.counters.wakes++;
    // The last wake died (a reset): if it died connected, its Will has said "offline" since, and
    // the status that says otherwise is owed at the next connection, news or not.
    if (host.wakeCause === "reset") delete this.state.link.statusAt;
    this.commit = () => this.#store.commit();
    if (baseConfig.payloadKey !== "") this.nonces = new NonceCounter(this.state.link, host.flash!, this.#store.origin, this.commit);
  }

  /** Commands ("set") change the schedule across sleeps; the compiled-in config stays the base. */
  get config(): Config {
    return withOverrides(this.baseConfig, this.state.link.overrides);
  }

  /**
   * Samples every sensor and commits the reading before anything else happens to it. A set clock
   * that is not past the newest reading already taken (it stepped back, or this grid point was
   * sampled before a reset) has nothing new to sample: that grid point's reading exists, and a
   * second one would reach subscribers as a duplicate. The wake is counted (clockBack) and goes on
   * without a reading, so publishing and its backoff still happen.
   */
  async sample(cause: string): Promise<{ now: number; values: (number | null)[] }> {
    const { host, state, channels } = this;
    const config = this.config;
    const now = host.clock.now();
    const time = sampleTime(now, config.sampleInterval);
    const newest = state.buffer.newestTime;
    if (newest !== undefined && time <= newest && (host.clock.synced?.() ?? true)) {
      state.counters.clockBack++;
      this.#latest = channels.map(() => null);
      this.commit();
      host.log(`woke (${cause}); clock at ${new Date(time * 1000).toISOString()} is not past the newest reading (${new Date(newest * 1000).toISOString()}): not sampled, clock back counted`);
      return { now, values: this.#latest };
    }
    const sampled = await sampleSensors(host, config, channels);
    this.#meter.sampled(sampled.durationMs);
    this.#latest = sampled.values;
    for (const e of sampled.errors) state.sensorErrors[e.sensor] = (state.sensorErrors[e.sensor] ?? 0) + 1;
    const seq = state.buffer.append(time, sampled.values, sampled.errors.map((e) => ({ sensor: e.sensor, fault: sensorFaults.indexOf(e.fault) })));
    noteClock(host, state, seq);
    this.commit();
    const failures = sampled.errors.map((e) => `; ${config.sensors[e.sensor]!.id} failed (${e.fault}): ${e.message}`);
    host.log(`woke (${cause}); ${describeSample(channels, sampled.values)}${failures.join("")}`);
    return { now, values: sampled.values };
  }

  publishDue(now: number, event = false): boolean {
    const config = this.config;
    const facts = { nowS: sampleTime(now, config.sampleInterval), latest: this.#latest, channels: this.channels, clockSet: this.host.clock.synced?.() ?? true, firmwarePending: this.host.update?.pending === true };
    const due = event || publishReason(this.state, config, facts) !== undefined;
    // The radio's time runs from here to record(), so it includes the clock sync and the exchange.
    if (due) this.#meter.radioOn();
    return due;
  }

  /** Lets the host set its clock before readings stamped without it leave (time-sync.ts). */
  async setClock(): Promise<void> {
    await setClock(this.host, this.state, this.config.awakeTimeout * 1000);
  }

  /** The wake's (or cycle's) last commit: energy booked, flash copy when due. */
  endWake(): void {
    this.#meter.book(this.state.energy);
    this.#store.endWake(this.config);
  }

  /** Books a publish attempt: backoff on failure, a log line either way. */
  record(now: number, outcome: PublishOutcome): PublishOutcome {
    const { state, host } = this;
    this.#meter.radioOff(outcome);
    notePublished(state, this.#latest);
    state.lastAttempt = Math.floor(now / 1000);
    if (outcome.error) {
      state.failures = Math.min(state.failures + 1, 16);
      state.counters.publishFailures++;
      const periods = backoffPeriods(state.failures);
      host.log(`publish failed: ${outcome.error}; ${plural(state.buffer.length, "reading")} kept, next attempt in ${plural(periods, "period")}`);
    } else {
      state.failures = 0;
      host.log(`published ${plural(outcome.delivered, "reading")} in ${plural(outcome.messages, "message")}`);
    }
    return outcome;
  }
}

/** Runs one wake and puts the node to sleep until the next grid point, whatever happened. */
export async function run(host: Host, config: Config): Promise<WakeSummary | undefined> {
  let next: number;
  let summary: WakeSummary | undefined;
  try {
    summary = await wake(host, config);
    next = summary.nextWake;
  } catch (e) {
    // A bug must cost one wake, not the battery: log it once and sleep a period.
    host.log(`wake failed: ${e instanceof Error ? e.message : String(e)}`);
    next = nextWake(host.clock.now(), config.sampleInterval);
  }
  const ms = Math.max(0, next - host.clock.now());
  host.log(`sleeping ${Math.round(ms / 1000)} s until ${new Date(next).toISOString()}`);
  host.sleep(ms);
  return summary;
}

function describeSample(channels: readonly Channel[], values: readonly (number | null)[]): string {
  return channels
    .map((c, i) => `${c.name}=${values[i] === null ? "—" : `${scale(values[i]!, c.resolution)} ${c.unit}`}`)
    .join(" ");
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
