// The wake cycle: restore → sample → buffer → maybe publish → schedule → sleep. Every step that
// waits has a bound, every failure is counted, and the readings are in retained memory before the
// radio is even considered.

import type { Config } from "./config";
import type { Host } from "./host";
import { withOverrides } from "./link";
import { publish, type PublishOutcome } from "./publisher";
import { MAX_BACKOFF_PERIODS, nextWake, publishReason } from "./power/schedule";
import { RetainedSlots } from "./power/retained";
import { bufferCapacity, freshState, layoutOf, readState, STATE_VERSION, writeState, type NodeState } from "./power/state";
import { sampleSensors } from "./sensors/sampling";
import { channelsOf, type Channel } from "./sensors/registry";
import { sensorFaults } from "./sensors/sensor";
import { scale } from "./telemetry/resolution";

export interface WakeSummary {
  sampled: (number | null)[];
  outcome: PublishOutcome | undefined;
  nextWake: number;
}

export async function wake(host: Host, config: Config): Promise<WakeSummary> {
  const channels = channelsOf(config.sensors);
  const store = new RetainedStore(host, channels, config.sensors.length);
  const state = store.state;
  state.counters.wakes++;
  // Commands ("set") change the schedule across sleeps; the compiled-in config stays the base.
  config = withOverrides(config, state.link.overrides);

  const now = host.clock.now();
  const nowS = Math.floor(now / 1000);
  const sampled = await sampleSensors(host, config, channels);
  for (const e of sampled.errors) state.sensorErrors[e.sensor] = (state.sensorErrors[e.sensor] ?? 0) + 1;
  state.buffer.append(nowS, sampled.values, sampled.errors.map((e) => ({ sensor: e.sensor, fault: sensorFaults.indexOf(e.fault) })));
  store.commit();
  const failures = sampled.errors.map((e) => `; ${config.sensors[e.sensor]!.id} failed (${e.fault}): ${e.message}`);
  host.log(`woke (${host.wakeCause}); ${describeSample(channels, sampled.values)}${failures.join("")}`);

  let outcome: PublishOutcome | undefined;
  const reason = publishReason(state, config, nowS);
  if (reason) {
    outcome = await publish(host, config, channels, state, () => store.commit(), nextWake(now, config.sampleInterval));
    state.lastAttempt = nowS;
    if (outcome.error) {
      state.failures = Math.min(state.failures + 1, 16);
      state.counters.publishFailures++;
      const periods = Math.min(2 ** (state.failures - 1), MAX_BACKOFF_PERIODS);
      host.log(`publish failed: ${outcome.error}; ${plural(state.buffer.length, "reading")} kept, next attempt in ${plural(periods, "period")}`);
    } else {
      state.failures = 0;
      host.log(`published ${plural(outcome.delivered, "reading")} in ${plural(outcome.messages, "message")}`);
    }
  } else {
    host.log(`buffered ${plural(state.buffer.length, "reading")}`);
  }

  const next = nextWake(host.clock.now(), config.sampleInterval);
  store.commit();
  return { sampled: sampled.values, outcome, nextWake: next };
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

/** The node's state in retained memory: loaded once per wake, committed after every change. */
class RetainedStore {
  readonly state: NodeState;
  #slots: RetainedSlots;

  constructor(host: Host, channels: Channel[], sensors: number) {
    this.#slots = new RetainedSlots(host.retained, STATE_VERSION);
    const capacity = bufferCapacity(this.#slots, channels.length, sensors);
    const layout = layoutOf(channels);
    const loaded = this.#slots.load();
    let state: NodeState | undefined;
    let why: string = loaded.status;
    if (loaded.status === "ok") {
      try {
        state = readState(loaded.payload, channels.length, capacity, sensors);
        if (state.layout !== layout) {
          why = "sensor channels changed";
          state = undefined;
        }
      } catch (e) {
        why = `unreadable (${e instanceof Error ? e.message : String(e)})`;
      }
    }
    if (!state) {
      const cold = loaded.status === "empty" ? 0 : 1;
      state = freshState(channels.length, capacity, layout, cold, sensors);
      if (loaded.status !== "empty") host.log(`retained state ${why}: starting clean (cold start counted)`);
    }
    this.state = state;
  }

  commit(): void {
    this.#slots.commit(writeState(this.state, this.#slots.next));
  }
}

function describeSample(channels: readonly Channel[], values: readonly (number | null)[]): string {
  return channels
    .map((c, i) => `${c.name}=${values[i] === null ? "—" : `${scale(values[i]!, c.resolution)} ${c.unit}`}`)
    .join(" ");
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
