// The battery behind its divider, as the ADC sees it: a 1S Li-ion/LiPo cell that discharges over a
// month and is recharged, deterministically in time, read through the same conversion the driver
// uses (inverted), so a driver configured like the board reads the cell's voltage to the ADC's step.

import { BatteryScale } from "../../src/sensors/battery";
import type { DeviceClock } from "./environment";
import type { AnalogInput } from "./pins";

/** Open-circuit voltage of a 1S LiPo at a light load, by state of charge (a typical vendor curve). */
const curve: readonly (readonly [soc: number, volts: number])[] = [
  [0, 3.0], [0.05, 3.45], [0.1, 3.68], [0.2, 3.74], [0.3, 3.77], [0.4, 3.8], [0.5, 3.84],
  [0.6, 3.88], [0.7, 3.94], [0.8, 4.0], [0.9, 4.08], [1, 4.2],
];

/** A month between recharges. */
export const DISCHARGE_PERIOD_MS = 30 * 86_400_000;

/**
 * The cell's voltage at a time: full at each multiple of `periodMs` since the epoch, then
 * discharging linearly in charge to empty just before the next.
 */
export function dischargeVoltage(timeMs: number, periodMs = DISCHARGE_PERIOD_MS): number {
  const soc = 1 - (((timeMs % periodMs) + periodMs) % periodMs) / periodMs;
  let i = 1;
  while (curve[i]![0] < soc) i++;
  const [s0, v0] = curve[i - 1]!;
  const [s1, v1] = curve[i]!;
  return v0 + ((v1 - v0) * (soc - s0)) / (s1 - s0);
}

export class VirtualBattery implements AnalogInput {
  readonly resolution: number;

  constructor(
    readonly scale: BatteryScale,
    readonly clock: DeviceClock,
    /** Volts at a time (default: the discharge curve). */
    readonly voltage: (timeMs: number) => number = dischargeVoltage,
    resolution = 12,
  ) {
    this.resolution = resolution;
  }

  read(): number {
    return this.scale.raw(this.voltage(this.clock.now()));
  }
}
