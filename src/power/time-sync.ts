// Readings taken while the clock is not set — after a power loss, until SNTP answers — are stamped
// with whatever the RTC counts from (on ESP32: seconds since boot, in 1970). They are kept, marked
// by the sequence number of the first one (NodeState.unsyncedFrom), and put right when the clock is
// set: the RTC kept counting through deep sleep, so one offset — how far the clock jumped — fixes
// them all.
//
// A host sets its clock while it brings the network up (host.ts, Clock.synced). So before a publish
// the node brings the network up on its own, measures the jump as the difference between how far
// now() moved and how far the monotonic ticks() moved, retimes the readings and only then
// publishes them: the broker never sees a reading from 1970. That costs one extra network start,
// once per power loss.

import type { Host } from "../host";
import type { NodeState } from "../retained/state";

/** Marks the reading just taken when the clock is not set; forgets a mark it can no longer fix. */
export function noteClock(host: Host, state: NodeState, seq: number): void {
  const set = host.clock.synced?.() ?? true;
  if (!set && state.unsyncedFrom === undefined) state.unsyncedFrom = seq;
  if (set && state.unsyncedFrom !== undefined) {
    // The clock was set outside a wake's network start (a host that syncs at boot): the jump was
    // not seen, so there is nothing to correct by. Said once, the readings keep their times.
    host.log(`clock set without a measured jump; readings from #${state.unsyncedFrom} keep their times`);
    state.unsyncedFrom = undefined;
  }
}

/**
 * When readings wait for the clock and it is not set, brings the network up so the host can set it,
 * and retimes those readings by the jump. Resolves whether the network was brought up.
 */
export function setClock(host: Host, state: NodeState, timeoutMs: number): Promise<boolean> {
  if (state.unsyncedFrom === undefined || (host.clock.synced?.() ?? true)) return Promise.resolve(false);
  const clock = host.clock;
  const before = clock.now() - clock.ticks();
  return new Promise((resolve) => {
    host.network.up(timeoutMs, (error) => {
      const jump = Math.round((clock.now() - clock.ticks() - before) / 1000);
      host.network.down();
      const from = state.unsyncedFrom;
      if (!error && from !== undefined && (clock.synced?.() ?? true)) {
        state.buffer.retime(from, jump);
        state.unsyncedFrom = undefined;
        host.log(`clock set (moved ${jump} s); readings from #${from} retimed`);
      }
      resolve(true);
    });
  });
}
