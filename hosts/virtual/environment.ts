// What the virtual sensors measure: a deterministic function of time, so a simulated node gives the
// same readings for the same times on every run and every host.

export interface Conditions {
  /** °C */
  temperature: number;
  /** %RH */
  humidity: number;
  /** Pa */
  pressure: number;
}

export interface Environment {
  at(timeMs: number): Conditions;
}

/** The clock a virtual device reads (the host's; the board gives devices its time in whole seconds). */
export interface DeviceClock {
  /** Wall-clock ms: which moment of the environment to measure. */
  now(): number;
  /** Monotonic ms: how long a conversion has been running. */
  ticks(): number;
}

const DAY_MS = 86_400_000;

/**
 * A seeded synthetic day: temperature and humidity follow a daily cycle (warmest mid-afternoon,
 * humidity opposite), plus smooth noise. Noise is interpolated between per-minute values hashed from
 * (seed, minute), so it depends only on the time asked for, never on how often it was asked.
 */
export class SyntheticEnvironment implements Environment {
  /** @param phaseMs where in the day this place is: nodes with different phases read differently. */
  constructor(readonly seed = 1, readonly phaseMs = 0) {}

  at(time: number): Conditions {
    const timeMs = time + this.phaseMs;
    const phase = (2 * Math.PI * ((timeMs % DAY_MS) - 15 * 3_600_000)) / DAY_MS;
    const day = Math.cos(phase);
    return {
      temperature: 21 + 3 * day + 0.4 * this.#noise(timeMs, 1),
      humidity: 45 - 8 * day + 1.5 * this.#noise(timeMs, 2),
      pressure: 101_325 + 150 * Math.sin(phase / 2) + 20 * this.#noise(timeMs, 3),
    };
  }

  #noise(timeMs: number, stream: number): number {
    const minute = Math.floor(timeMs / 60_000);
    const f = (timeMs % 60_000) / 60_000;
    const a = hash(this.seed, stream, minute);
    const b = hash(this.seed, stream, minute + 1);
    return a + (b - a) * f;
  }
}

/** Where in the synthetic day a node's readings are, from its name: every host gives a node the
 *  same phase (so one node reads the same in a fleet and in a process of its own), and no two
 *  nodes of a fleet read alike. Whole seconds, within a day. */
export function phaseOf(node: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < node.length; i++) h = Math.imul(h ^ node.charCodeAt(i), 0x01000193);
  return ((h >>> 0) % 86_400) * 1000;
}

/** The synthetic world a simulated node named `node` measures. */
export function nodeEnvironment(node: string): SyntheticEnvironment {
  return new SyntheticEnvironment(1, phaseOf(node));
}

/** Uniform in [-1, 1) from three integers (a small avalanche hash; quality enough for noise). */
function hash(seed: number, stream: number, n: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream, 0xc2b2ae35) ^ n;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 31 - 1;
}

/** A row of a recording: a time and whatever quantities it has. */
export interface RecordedRow {
  timeMs: number;
  temperature?: number;
  humidity?: number;
  pressure?: number;
}

/**
 * Replays a recording (such as those in shared/data) in a loop: the recording's first row is played
 * at the start of its day-aligned period and the values are linearly interpolated between rows.
 * Quantities the recording lacks come from the synthetic model.
 */
export class RecordedEnvironment implements Environment {
  #rows: RecordedRow[];
  #span: number;
  #fallback = new SyntheticEnvironment();

  constructor(rows: RecordedRow[]) {
    if (rows.length < 2) throw new RangeError("a recording needs at least two rows");
    this.#rows = rows;
    this.#span = rows[rows.length - 1]!.timeMs - rows[0]!.timeMs;
    if (!(this.#span > 0)) throw new RangeError("recording rows must be in time order");
  }

  at(timeMs: number): Conditions {
    const rows = this.#rows;
    const t = rows[0]!.timeMs + (((timeMs - rows[0]!.timeMs) % this.#span) + this.#span) % this.#span;
    let lo = 0;
    let hi = rows.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (rows[mid]!.timeMs <= t) lo = mid;
      else hi = mid;
    }
    const a = rows[lo]!;
    const b = rows[hi]!;
    const f = b.timeMs === a.timeMs ? 0 : (t - a.timeMs) / (b.timeMs - a.timeMs);
    const fallback = this.#fallback.at(timeMs);
    const mix = (key: keyof Conditions) => {
      const x = a[key];
      const y = b[key];
      return x === undefined || y === undefined ? fallback[key] : x + (y - x) * f;
    };
    return { temperature: mix("temperature"), humidity: mix("humidity"), pressure: mix("pressure") };
  }
}
