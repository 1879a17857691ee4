// A clock that behaves like an RTC across restarts of the node's process. While the node is awake,
// time runs at the real rate: the awake window is physics and is not compressed. While it sleeps
// (its process is gone), time runs `scale` times faster: a node woken from its timer wakes exactly
// when its sleep said, and a node whose process was killed finds that time went on at the scaled
// rate since it was last seen. The anchor lives in a checked record in the node's state directory
// (host-file.ts); where the clock starts is the host's decision (host.ts), made from the anchor,
// the sleep marker and the retained state.

import type { Clock } from "../../src/host";
import { readRecord, writeRecord } from "./host-file";

/** Simulated times outside these years are a damaged file, not a clock: readings are stamped in
 *  unsigned 32-bit seconds, which end in 2106. */
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(2100, 0, 1);

export function plausibleTime(ms: unknown): ms is number {
  return typeof ms === "number" && Number.isInteger(ms) && ms >= EARLIEST && ms < LATEST;
}

export interface Anchor {
  /** Simulated ms since the epoch at realMs. */
  simMs: number;
  /** Real ms since the epoch when the anchor was set. */
  realMs: number;
}

export type AnchorRead = { status: "ok"; anchor: Anchor } | { status: "missing" } | { status: "bad"; why: string };

/** The anchor file, checked: its record, its shape and its times. */
export function readAnchor(path: string): AnchorRead {
  const read = readRecord(path);
  if (read.status !== "ok") return read;
  const { simMs, realMs } = read.value;
  if (!plausibleTime(simMs)) return { status: "bad", why: `simulated time ${JSON.stringify(simMs)} is not a time from 2000 to 2099` };
  if (!plausibleTime(realMs)) return { status: "bad", why: `real time ${JSON.stringify(realMs)} is not a time from 2000 to 2099` };
  return { status: "ok", anchor: { simMs, realMs } };
}

/** Where an anchor puts the clock now: on by the real time since, scaled, and never back (a host
 *  clock that stepped back since counts as no time at all). */
export function fromAnchor(anchor: Anchor, scale: number, realNow: number): number {
  return Math.round(anchor.simMs + Math.max(0, realNow - anchor.realMs) * scale);
}

export class ScaledClock implements Clock {
  readonly #path: string;
  readonly #startSim: number;
  readonly #scale: number;
  readonly #start = performance.now();
  /** Simulated ms added by naps beyond the real time they took. */
  #napped = 0;

  /** @param startSim the simulated time at the start of this wake (host.ts decides it). */
  constructor(path: string, scale: number, startSim: number) {
    this.#path = path;
    this.#scale = scale;
    this.#startSim = startSim;
    this.#save();
  }

  now(): number {
    return Math.round(this.#startSim + this.#napped + (performance.now() - this.#start));
  }

  ticks(): number {
    return Math.round(performance.now() - this.#start + this.#napped);
  }

  /** A light sleep of ms simulated time: it takes ms / scale real time, and the clock says ms. */
  nap(ms: number, callback: () => void): void {
    const realMs = ms / this.#scale;
    setTimeout(() => {
      this.#napped += ms - realMs;
      this.#save();
      callback();
    }, realMs);
  }

  /** Records "now" as the point from which sleeping time runs at the scaled rate. */
  #save(): void {
    const anchor: Anchor = { simMs: this.now(), realMs: Date.now() };
    writeRecord(this.#path, { ...anchor });
  }

  /** Marks the start of a deep sleep: from here the clock runs `scale` times faster. */
  sleep(): void {
    this.#save();
  }
}
