// What bench:tls reads from the proxy's record of a connection: round trips, bytes and the client's
// think time, for one wake and as medians over several.

import type { ConnectionTrace } from "../test/support/proxy";

/** The delay the proxy adds each way, ms. */
export const DELAY_MS = 50;

export interface Wake {
  roundTrips: number;
  bytesUp: number;
  bytesDown: number;
  thinkMs: number;
  /** The client's handshake work as its TLS stack times it (Moddable's log line), ms. */
  workMs?: number;
}

export interface Figures {
  roundTrips: number;
  bytesUp: number;
  bytesDown: number;
  /** Median of the client's think time in the connection, ms (see flights). */
  thinkMs: number;
  /** Median of Wake.workMs, where the stack times it. */
  workMs?: number;
}

/**
 * Round trips: the client's flights answered before its last one. Think time: how long the client
 * took from TCP connected to its first flight and from each answer reaching it to its next flight —
 * its compute inside the connection, whatever the host (a chunk up is stamped when the proxy
 * forwards it, DELAY_MS after the client sent it; a chunk down when it reaches the client).
 */
export function flights(trace: ConnectionTrace): { roundTrips: number; thinkMs: number } {
  const chunks = [...trace.up.chunks.map((c) => ({ ...c, up: true })), ...trace.down.chunks.map((c) => ({ ...c, up: false }))].sort((a, b) => a.at - b.at);
  const runs: { up: boolean; first: number; last: number }[] = [];
  for (const c of chunks) {
    const run = runs.at(-1);
    if (run?.up === c.up) run.last = c.at;
    else runs.push({ up: c.up, first: c.at, last: c.at });
  }
  const lastUp = runs.map((r) => r.up).lastIndexOf(true);
  let roundTrips = 0;
  let thinkMs = runs[0]?.up ? runs[0].first - DELAY_MS - trace.openedAt : 0;
  for (let i = 0; i < runs.length - 1; i++) {
    if (i < lastUp && runs[i]!.up && !runs[i + 1]!.up) roundTrips++;
    if (!runs[i]!.up && runs[i + 1]!.up) thinkMs += runs[i + 1]!.first - DELAY_MS - runs[i]!.last;
  }
  return { roundTrips, thinkMs: Math.max(0, thinkMs) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export function summary(wakes: Wake[]): Figures {
  const last = wakes.at(-1)!;
  const work = wakes.flatMap((w) => (w.workMs === undefined ? [] : [w.workMs]));
  return {
    roundTrips: median(wakes.map((w) => w.roundTrips)),
    bytesUp: last.bytesUp,
    bytesDown: last.bytesDown,
    thinkMs: Math.round(median(wakes.map((w) => w.thinkMs)) * 100) / 100,
    ...(work.length === wakes.length ? { workMs: median(work) } : {}),
  };
}

