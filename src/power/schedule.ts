// When to wake and when to publish. Pure functions of the state, the config and the time: the wake
// cycle asks, the scheduler decides.

import type { Config } from "../config";
import type { NodeState } from "../retained/state";
import { seqBefore } from "../telemetry/reading";

/** Publish attempts back off to at most this many sampling periods apart after failures. */
export const MAX_BACKOFF_PERIODS = 32;

/** Sampling periods between publish attempts after `failures` failed ones in a row (at least 1). */
export function backoffPeriods(failures: number): number {
  return Math.min(2 ** (failures - 1), MAX_BACKOFF_PERIODS);
}

/** Longest a node waits for a connection whatever its batching: for queued commands and the daily
 *  clock sync (SNTP runs while the network is up). */
export const DOWNLINK_PERIOD_S = 86_400;

/**
 * How far from a grid point a wake may be and still count as that grid point's. An RTC timer on a
 * deep-sleeping ESP32 runs from an RC oscillator and fires early or late by up to a few percent;
 * without this slack an early wake would stamp its reading off the grid and then sleep a few
 * milliseconds to the grid point it was meant for, sampling twice.
 */
export function tolerance(intervalS: number): number {
  const period = intervalS * 1000;
  return Math.min(period / 4, Math.max(1000, period / 50));
}

/**
 * The next wake on the sampling grid (multiples of the interval since the epoch) after now. Aligning
 * to the grid rather than adding the interval to "now" means time spent awake, a timer's drift and
 * clock corrections never accumulate; a grid point closer than the tolerance is this wake's own (it
 * woke early) or too close to be worth a wake, so the one after it is taken.
 */
export function nextWake(nowMs: number, intervalS: number): number {
  const period = intervalS * 1000;
  return (Math.floor((nowMs + tolerance(intervalS)) / period) + 1) * period;
}

/** The time a reading taken now is stamped with, in Unix seconds: the grid point it was meant for
 *  when the wake is within the tolerance of one (a timer wake), else the time itself (power-on). */
export function sampleTime(nowMs: number, intervalS: number): number {
  const period = intervalS * 1000;
  const grid = Math.round(nowMs / period) * period;
  return Math.floor((Math.abs(nowMs - grid) <= tolerance(intervalS) ? grid : nowMs) / 1000);
}

export type PublishReason = "firmware" | "batch" | "latency" | "threshold" | "retry" | "first" | "clock" | "downlink";

/** What publishReason needs to know about this wake besides the state. */
export interface WakeFacts {
  nowS: number;
  /** The reading just taken, per channel. */
  latest: readonly (number | null)[];
  /** Channel names and resolutions, in the buffer's order (for thresholds). */
  channels: readonly { name: string; resolution: number }[];
  /** False while the host's clock has not been set since a power loss. */
  clockSet: boolean;
  /** The running firmware was just updated and has not yet completed a publishing wake
   *  (UpdateHost.pending): it is rolled back unless one of its first `updateTries` wakes does. */
  firmwarePending: boolean;
}

/** Why this wake should publish, or undefined if it should just sample and sleep. */
export function publishReason(state: NodeState, config: Config, wake: WakeFacts): PublishReason | undefined {
  const { nowS } = wake;
  // Every wake of a new image tries, backoff or not, a full batch or not: waiting would roll back
  // an image that works (a batch of 5 takes more wakes than the default 3 tries). At most
  // `updateTries` wakes, then the image proved itself or is gone.
  if (wake.firmwarePending) return "firmware";
  if (state.failures > 0) {
    const periods = backoffPeriods(state.failures);
    // Counted in grid steps: the attempt of a power-on wake, off the grid, is one period before the
    // next grid wake whether that comes 2 s or 59 s after it. A clock behind the last attempt (it
    // stepped back) says nothing about how long ago that was: the backoff is over rather than
    // stretched until the clock catches up, maybe for hours.
    const steps = Math.floor(nowS / config.sampleInterval) - Math.floor(state.lastAttempt / config.sampleInterval);
    if (nowS >= state.lastAttempt && steps < periods) return undefined;
  }
  if (state.session.inflight.length) return "retry";
  const buffer = state.buffer;
  const from = seqBefore(state.unsent, buffer.first) ? buffer.first : state.unsent;
  const unsent = (buffer.next - from) >>> 0;
  if (unsent >= config.batchSize) return "batch";
  if (unsent && nowS - (buffer.range(from, 1)[0]?.time ?? nowS) >= config.maxLatency) return "latency";
  if (unsent && thresholdCrossed(state.lastSent, wake, config.thresholds)) return "threshold";
  if (state.lastAttempt === 0 && unsent) return "first";
  // Readings stamped by an unset clock are put right at the first connection (SNTP).
  if (!wake.clockSet) return "clock";
  if (nowS - state.lastAttempt >= DOWNLINK_PERIOD_S) return "downlink";
  return undefined;
}

/** True when a channel with a threshold moved by more than it since the value last published. */
export function thresholdCrossed(lastSent: readonly (number | null)[], wake: WakeFacts, thresholds: Readonly<Record<string, number>>): boolean {
  return wake.channels.some((channel, i) => {
    const limit = thresholds[channel.name];
    const now = wake.latest[i];
    const then = lastSent[i];
    if (limit === undefined || now === null || now === undefined || then === null || then === undefined) return false;
    // In units of the channel's resolution, so 0.7 °C at 0.1 is 7 steps, not 6.999….
    return Math.abs(now - then) > limit / channel.resolution + 1e-9;
  });
}

/** After a publish: the newest reading's values are the ones thresholds now measure from, once
 *  every reading up to it is in a message. */
export function notePublished(state: NodeState, latest: readonly (number | null)[]): void {
  if (state.unsent !== state.buffer.next) return;
  latest.forEach((v, i) => {
    if (v !== null) state.lastSent[i] = v;
  });
}
