// Where the battery goes: each wake's awake time, split into sampling, radio and the rest, and the
// bytes it sent and received, added to totals kept in retained state and published in the status.
// tools/power.ts turns the totals into a battery-life projection with the ESP32's currents.
//
// Durations come from host.clock.ticks(), which starts when the firmware does; the boot before it
// (ROM, bootloader, XS) is not visible from here and the power tool adds it (docs/power.md).

import type { Clock } from "../host";
import type { EnergyTotals } from "../retained/state";

/** One wake's measurements, booked into the totals as it ends. */
export class WakeMeter {
  #start: number;
  #sampleMs = 0;
  #radioMs = 0;
  #radioStart = -1;
  #radio = false;
  #bytesUp = 0;
  #bytesDown = 0;

  constructor(readonly clock: Clock) {
    this.#start = clock.ticks();
  }

  sampled(durationMs: number): void {
    this.#sampleMs += durationMs;
  }

  /** The radio is about to come up (or a connection about to be used). */
  radioOn(): void {
    this.#radioStart = this.clock.ticks();
  }

  /** The exchange that began at radioOn() is over. */
  radioOff(bytes: { bytesUp: number; bytesDown: number }): void {
    if (this.#radioStart >= 0) this.#radioMs += this.clock.ticks() - this.#radioStart;
    this.#radioStart = -1;
    this.#radio = true;
    this.#bytesUp += bytes.bytesUp;
    this.#bytesDown += bytes.bytesDown;
  }

  /** Adds this wake to the totals and starts measuring the next one (always-connected mode). */
  book(totals: EnergyTotals): void {
    const now = this.clock.ticks();
    const add = (key: keyof EnergyTotals, n: number) => (totals[key] = (totals[key] + Math.max(0, Math.round(n))) >>> 0);
    add("awakeMs", now - this.#start);
    add("sampleMs", this.#sampleMs);
    add("radioMs", this.#radioMs);
    add("radioWakes", this.#radio ? 1 : 0);
    add("bytesUp", this.#bytesUp);
    add("bytesDown", this.#bytesDown);
    this.#start = now;
    this.#sampleMs = this.#radioMs = this.#bytesUp = this.#bytesDown = 0;
    this.#radio = false;
  }
}
