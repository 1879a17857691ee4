// The clock and timers of one wake in the fleet host. The decision (docs/fleet.md): a wake's own
// time is virtual while it only computes and talks to its virtual devices, and real while it talks
// to a broker.
//
// - Virtual: a timer does not wait. When the wake has nothing left to do but wait (its promises
//   settled: a setImmediate runs only then), the earliest timer fires and the clock moves on to it.
//   A sensor's conversion takes exactly its datasheet time and its 500 ms timeout can never win,
//   however loaded the machine: load cannot turn into sensor faults, and a wake is deterministic.
// - Real: from Network.up to Network.down the wake talks TCP to a real broker, whose answers take
//   real time; timers are real and the clock runs at the real rate. The scheduler does not move
//   the fleet's time past a wake in that state (fleet-scheduler.ts), so in `max` mode simulated
//   time never runs ahead of a node waiting for its broker.

import type { Clock, Timers } from "../../src/host";

interface VirtualTimer {
  at: number;
  seq: number;
  callback: () => void;
}

export class WakeTime implements Clock, Timers {
  readonly #startSim: number;
  /** Elapsed ms of this wake up to the start of the current real phase (or now, when virtual). */
  #elapsed = 0;
  /** performance.now() when the current real phase began; undefined while virtual. */
  #realSince: number | undefined;
  #virtual: VirtualTimer[] = [];
  #seq = 0;
  #pumping = false;
  #real = new Map<number, NodeJS.Timeout>();

  constructor(startSim: number) {
    this.#startSim = startSim;
  }

  ticks(): number {
    return this.#realSince === undefined ? this.#elapsed : Math.round(this.#elapsed + performance.now() - this.#realSince);
  }

  now(): number {
    return this.#startSim + this.ticks();
  }

  set(callback: () => void, ms: number): unknown {
    const id = ++this.#seq;
    if (this.#realSince !== undefined) {
      this.#real.set(id, setTimeout(() => (this.#real.delete(id), callback()), ms));
    } else {
      this.#virtual.push({ at: this.#elapsed + Math.max(0, ms), seq: id, callback });
      this.#pump();
    }
    return id;
  }

  clear(id: unknown): void {
    if (typeof id !== "number") return;
    const real = this.#real.get(id);
    if (real) {
      clearTimeout(real);
      this.#real.delete(id);
    }
    this.#virtual = this.#virtual.filter((t) => t.seq !== id);
  }

  /** The network came up: real time from here. Pending virtual timers become real ones. */
  goReal(): void {
    if (this.#realSince !== undefined) return;
    this.#realSince = performance.now();
    const pending = this.#virtual;
    this.#virtual = [];
    for (const t of pending) this.#real.set(t.seq, setTimeout(() => (this.#real.delete(t.seq), t.callback()), t.at - this.#elapsed));
  }

  /** The network went down: the wake's time is virtual again, from where the real phase left it. */
  goVirtual(): void {
    if (this.#realSince === undefined) return;
    this.#elapsed = this.ticks();
    this.#realSince = undefined;
  }

  /** Stops every timer: the wake is over (deep sleep keeps no timer). */
  stop(): void {
    for (const t of this.#real.values()) clearTimeout(t);
    this.#real.clear();
    this.#virtual = [];
  }

  /** Fires the earliest virtual timer once the wake has nothing else to do. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    setImmediate(() => {
      this.#pumping = false;
      if (this.#realSince !== undefined || this.#virtual.length === 0) return;
      let first = 0;
      for (let i = 1; i < this.#virtual.length; i++) {
        const t = this.#virtual[i]!;
        const f = this.#virtual[first]!;
        if (t.at < f.at || (t.at === f.at && t.seq < f.seq)) first = i;
      }
      const [timer] = this.#virtual.splice(first, 1);
      this.#elapsed = Math.max(this.#elapsed, timer!.at);
      if (this.#virtual.length) this.#pump();
      timer!.callback();
    });
  }
}
