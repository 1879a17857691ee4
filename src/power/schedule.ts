// When to wake and when to publish. Pure functions of the state, the config and the time: the wake
// cycle asks, the scheduler decides.

import type { Config } from "../config";
import type { NodeState } from "./state";

/** Publish attempts back off to at most this many sampling periods apart after failures. */
export const MAX_BACKOFF_PERIODS = 32;

/**
 * The next wake on the sampling grid (multiples of the interval since the epoch), strictly after now.
 * Aligning to the grid rather than adding the interval to "now" means time spent awake and clock
 * corrections never accumulate as drift; a wake that overran a grid point skips to the next one.
 */
export function nextWake(nowMs: number, intervalS: number): number {
  const period = intervalS * 1000;
  return (Math.floor(nowMs / period) + 1) * period;
}

export type PublishReason = "batch" | "latency" | "retry" | "first";

/** Why this wake should publish, or undefined if it should just sample and sleep. */
export function publishReason(state: NodeState, config: Config, nowS: number): PublishReason | undefined {
  if (state.failures > 0) {
    const periods = Math.min(2 ** (state.failures - 1), MAX_BACKOFF_PERIODS);
    if (nowS - state.lastAttempt < periods * config.sampleInterval) return undefined;
  }
  const unsent = state.buffer.range(state.unsent, state.buffer.next - state.unsent);
  if (state.session.inflight.length) return "retry";
  if (unsent.length >= config.batchSize) return "batch";
  if (unsent.length && nowS - unsent[0]!.time >= config.maxLatency) return "latency";
  if (state.lastAttempt === 0 && unsent.length) return "first";
  return undefined;
}
