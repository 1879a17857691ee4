// The state of an update on the node, one variable, and the one function that changes it. The
// progress record around it (refusals, the day's bytes, the offer subscription) is what the host
// keeps across deep sleep and power loss (`UpdateHost.writeProgress`), written after every change.

import { fromHex, toHex } from "../encoding/hex";
import { chunkCount, type Offer } from "./offer";

/**
 * - `idle`: no update under way;
 * - `fetching`: an offer taken, `held` the bitmap of the chunks written to staging (bit i of byte
 *   i >> 3: chunk i);
 * - `staged`: every chunk held and the whole image's SHA-256 the signed one: the host boots it at
 *   the next wake.
 */
export type Transfer = { phase: "idle" } | { phase: "fetching"; offer: Offer; held: Uint8Array } | { phase: "staged"; offer: Offer };

export type TransferEvent =
  | { type: "offer"; offer: Offer }
  | { type: "chunk"; index: number }
  | { type: "verified" }
  /** Refused (the offer, a chunk, the image), or booted: back to idle. */
  | { type: "end" };

export function transition(t: Transfer, e: TransferEvent): Transfer {
  switch (e.type) {
    case "offer":
      return { phase: "fetching", offer: e.offer, held: new Uint8Array(Math.ceil(chunkCount(e.offer) / 8)) };
    case "chunk": {
      if (t.phase !== "fetching") throw new Error(`chunk in phase ${t.phase}`);
      const held = t.held.slice();
      held[e.index >> 3]! |= 1 << (e.index & 7);
      return { phase: "fetching", offer: t.offer, held };
    }
    case "verified":
      if (t.phase !== "fetching" || missing(t).length > 0) throw new Error(`verified in phase ${t.phase}`);
      return { phase: "staged", offer: t.offer };
    case "end":
      return { phase: "idle" };
  }
}

export function holds(t: Transfer, index: number): boolean {
  return t.phase === "fetching" && (t.held[index >> 3]! & (1 << (index & 7))) !== 0;
}

/** Chunks still to fetch, in order; at most `limit`. */
export function missing(t: Transfer, limit = Infinity): number[] {
  const out: number[] = [];
  if (t.phase !== "fetching") return out;
  const n = chunkCount(t.offer);
  for (let i = 0; i < n && out.length < limit; i++) if (!holds(t, i)) out.push(i);
  return out;
}

export function heldCount(t: Transfer): number {
  return t.phase === "fetching" ? chunkCount(t.offer) - missing(t).length : 0;
}

/** Everything kept across sleeps. */
export interface UpdateRecord {
  transfer: Transfer;
  /** Offers, chunks and images refused, all told; the last reason; the ids refused lately (a
   *  retained offer comes again with every new session, and is counted once). */
  refused: number;
  last?: string;
  refusedIds: string[];
  /** The broker's session holds the offer subscription. */
  subscribed: boolean;
  /** Chunk bytes taken on `day` (Unix days): the daily budget's meter. */
  day: number;
  dayBytes: number;
}

export const freshRecord = (): UpdateRecord => ({ transfer: { phase: "idle" }, refused: 0, refusedIds: [], subscribed: false, day: 0, dayBytes: 0 });

export function encodeRecord(r: UpdateRecord): string {
  const t = r.transfer;
  const transfer = t.phase === "fetching" ? { ...t, held: toHex(t.held) } : t;
  return JSON.stringify({ ...r, transfer });
}

/** The record the host kept; a fresh one when there is none or it does not read (counted as lost
 *  progress by the caller: the staging is discarded with it). */
export function decodeRecord(text: string): UpdateRecord | undefined {
  try {
    const v = JSON.parse(text) as UpdateRecord & { transfer: { held?: string } };
    const t = v.transfer as { phase: string; offer?: Offer; held?: string };
    if (t.phase === "fetching") {
      const held = fromHex(t.held ?? "", Math.ceil(chunkCount(t.offer!) / 8));
      if (!held) return undefined;
      return { ...v, transfer: { phase: "fetching", offer: t.offer!, held } };
    }
    if (t.phase !== "idle" && t.phase !== "staged") return undefined;
    return v as UpdateRecord;
  } catch {
    return undefined;
  }
}
