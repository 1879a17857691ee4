// The fleet's discrete-event scheduler: each node's next wake is an event at a simulated time, and
// the scheduler starts each wake at its time. A wake runs at the time its RTC says, however late the
// host gets round to it, so what a node does never depends on load; load only shows as lag.
//
// - A time scale X: simulated time is X times real time from the start, exactly (each event is
//   timed from the start, not from the last one, so no drift accumulates).
// - "max": simulated time jumps to the next event at once, but is held while any wake is in flight:
//   a wake talks to a real broker in real time (fleet-time.ts), and no later wake may start before
//   the earlier ones have ended. Wakes due at the same time run side by side.
//
// At most `concurrency` wakes are in flight at once (file descriptors, and a broker's accept queue);
// a wake that waits for a free place still starts at its own simulated time.

export type TimeScale = number | "max";

export interface SchedulerOptions {
  scale: TimeScale;
  startMs: number;
  concurrency: number;
}

/** Runs one wake of `node`, due at `dueMs`; resolves with its next due time, or undefined when the
 *  node is done. */
export type WakeRunner = (node: number, dueMs: number) => Promise<number | undefined>;

export interface SchedulerStats {
  wakes: number;
  /** Largest delay between an event's due time and its start, in simulated ms (scaled mode). */
  maxLagMs: number;
  /** The simulated time the last wake started at. */
  lastMs: number;
}

/** A binary min-heap of (due, node) on flat arrays: 100,000 pending wakes, no per-event objects. */
class EventHeap {
  #due: Float64Array;
  #node: Int32Array;
  size = 0;

  constructor(capacity: number) {
    this.#due = new Float64Array(Math.max(1, capacity));
    this.#node = new Int32Array(Math.max(1, capacity));
  }

  #less(a: number, b: number): boolean {
    const da = this.#due[a]!;
    const db = this.#due[b]!;
    return da < db || (da === db && this.#node[a]! < this.#node[b]!);
  }

  #swap(a: number, b: number): void {
    const d = this.#due[a]!;
    this.#due[a] = this.#due[b]!;
    this.#due[b] = d;
    const n = this.#node[a]!;
    this.#node[a] = this.#node[b]!;
    this.#node[b] = n;
  }

  push(due: number, node: number): void {
    if (this.size === this.#due.length) {
      const due2 = new Float64Array(this.size * 2);
      due2.set(this.#due);
      this.#due = due2;
      const node2 = new Int32Array(this.size * 2);
      node2.set(this.#node);
      this.#node = node2;
    }
    let i = this.size++;
    this.#due[i] = due;
    this.#node[i] = node;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  get topDue(): number {
    return this.#due[0]!;
  }

  pop(): { due: number; node: number } {
    const top = { due: this.#due[0]!, node: this.#node[0]! };
    this.size--;
    if (this.size > 0) {
      this.#due[0] = this.#due[this.size]!;
      this.#node[0] = this.#node[this.size]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.size && this.#less(l, m)) m = l;
        if (r < this.size && this.#less(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

export class FleetScheduler {
  readonly #options: SchedulerOptions;
  readonly #heap: EventHeap;
  readonly #realStart = performance.now();
  /** In "max" mode: the simulated time being held. */
  #heldMs: number;
  #inFlight = 0;
  readonly stats: SchedulerStats = { wakes: 0, maxLagMs: 0, lastMs: 0 };

  constructor(options: SchedulerOptions, nodes: number) {
    this.#options = options;
    this.#heap = new EventHeap(nodes);
    this.#heldMs = options.startMs;
  }

  schedule(node: number, dueMs: number): void {
    this.#heap.push(dueMs, node);
  }

  /** The fleet's simulated time now. */
  now(): number {
    const { scale, startMs } = this.#options;
    return scale === "max" ? this.#heldMs : startMs + (performance.now() - this.#realStart) * scale;
  }

  /** Runs events until none is left and no wake is in flight, or until `signal` aborts (then the
   *  wakes in flight finish, and no new one starts). A wake that throws ends the run with its error. */
  run(wake: WakeRunner, signal?: AbortSignal): Promise<SchedulerStats> {
    const { scale, concurrency } = this.#options;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let failed = false;
      const finish = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", pump);
        resolve(this.stats);
      };
      const pump = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (failed) return;
        const stopping = signal?.aborted ?? false;
        if (stopping || this.#heap.size === 0) {
          if (this.#inFlight === 0) finish();
          return;
        }
        if (scale === "max" && this.#inFlight === 0 && this.#heap.topDue > this.#heldMs) this.#heldMs = this.#heap.topDue;
        const now = this.now();
        while (this.#inFlight < concurrency && this.#heap.size > 0 && this.#heap.topDue <= now && !signal?.aborted) {
          const { due, node } = this.#heap.pop();
          this.stats.wakes++;
          this.stats.lastMs = due;
          this.stats.maxLagMs = Math.max(this.stats.maxLagMs, now - due);
          this.#inFlight++;
          wake(node, due).then(
            (next) => {
              this.#inFlight--;
              if (next !== undefined) this.schedule(node, next);
              pump();
            },
            (e: unknown) => {
              failed = true;
              if (timer) clearTimeout(timer);
              signal?.removeEventListener("abort", pump);
              reject(e);
            },
          );
        }
        if (scale !== "max" && this.#inFlight < concurrency && this.#heap.size > 0) {
          const realDue = (this.#heap.topDue - this.#options.startMs) / scale;
          timer = setTimeout(pump, Math.max(0, realDue - (performance.now() - this.#realStart)));
        }
      };
      signal?.addEventListener("abort", pump, { once: true });
      pump();
    });
  }
}
