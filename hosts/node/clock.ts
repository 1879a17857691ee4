// A clock that behaves like an RTC across restarts of the node's process. While the node is awake,
// time runs at the real rate: the awake window is physics and is not compressed. While it sleeps
// (its process is gone), time runs `scale` times faster: a node woken from its timer wakes exactly
// when its sleep said, and a node whose process was killed finds that time went on at the scaled
// rate since it was last seen. The anchor lives in a file in the node's state directory.

import * as fs from "node:fs";
import type { Clock } from "../../src/host";

interface Anchor {
  /** Simulated ms since the epoch at realMs. */
  simMs: number;
  /** Real ms since the epoch when the anchor was set. */
  realMs: number;
}

export class ScaledClock implements Clock {
  readonly #path: string;
  readonly #startSim: number;
  readonly #scale: number;
  readonly #start = performance.now();
  /** Simulated ms added by naps beyond the real time they took. */
  #napped = 0;

  /**
   * @param wokeAt the simulated time a timer wake was due, when this process is one; the clock reads
   * exactly that at the start of the wake.
   */
  constructor(path: string, scale: number, wokeAt?: number) {
    this.#path = path;
    this.#scale = scale;
    const realNow = Date.now();
    const anchor = readAnchor(path);
    this.#startSim = wokeAt ?? (anchor ? anchor.simMs + (realNow - anchor.realMs) * scale : realNow);
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
    fs.writeFileSync(this.#path, JSON.stringify(anchor));
  }

  /** Marks the start of a deep sleep: from here the clock runs `scale` times faster. */
  sleep(): void {
    this.#save();
  }
}

function readAnchor(path: string): Anchor | undefined {
  try {
    const anchor = JSON.parse(fs.readFileSync(path, "utf8")) as Partial<Anchor>;
    if (typeof anchor.simMs === "number" && typeof anchor.realMs === "number") return anchor as Anchor;
  } catch {
    // No clock yet (a new node) or an unreadable one: start from real time.
  }
  return undefined;
}
