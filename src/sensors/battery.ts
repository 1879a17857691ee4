// Battery voltage through an ECMA-419 Analog input (§10.2) behind a resistor divider: the ADC sees
// the battery voltage divided by (R1 + R2) / R2, because a Li-ion cell (up to 4.2 V) is above what
// an ESP32 ADC input takes. Reported as `{battery: {voltage}}` in volts: ECMA-419 defines no battery
// sensor class, so the compound-sensor name `battery` and the property `voltage` are torpor's.

import type { Analog, AnalogConstructor } from "../host";
import { inRange, knownOptions, OptionError, optionNumber, optionObject, SensorError, type SampleCallback, type Sensor } from "./sensor";

/** A two-point calibration: two ADC readings and the battery voltages a meter showed for them. */
export interface CalibrationPoint {
  raw: number;
  volts: number;
}

export interface BatteryOptions {
  /** Battery volts per volt at the pin: (R1 + R2) / R2. */
  divider: number;
  /** Volts at the pin that the ADC's highest reading stands for. */
  fullScale: number;
  /** Either a correction of the nominal conversion, or two points that replace it. */
  calibration: { scale: number; offset: number } | { points: [CalibrationPoint, CalibrationPoint] };
  /** Readings averaged per sample (an ESP32 ADC is noisy; a read takes microseconds). */
  average: number;
}

export const batteryDefaults: BatteryOptions = { divider: 2, fullScale: 3.3, calibration: { scale: 1, offset: 0 }, average: 4 };

/** Checks `options`; returns only what it sets, so that configure() changes only what it is given. */
export function parseBatteryOptions(options: Record<string, unknown>): Partial<BatteryOptions> {
  knownOptions(options, ["divider", "fullScale", "calibration", "average"]);
  const parsed: Partial<BatteryOptions> = {};
  const divider = optionNumber(options, "divider", 1, 100);
  if (divider !== undefined) parsed.divider = divider;
  const fullScale = optionNumber(options, "fullScale", 0.1, 10);
  if (fullScale !== undefined) parsed.fullScale = fullScale;
  const average = optionNumber(options, "average", 1, 64, "", true);
  if (average !== undefined) parsed.average = average;
  const calibration = optionObject(options, "calibration");
  if (calibration?.points !== undefined) {
    knownOptions(calibration, ["points"], "calibration.");
    if (divider !== undefined || fullScale !== undefined) {
      throw new OptionError("calibration.points", "two points map readings straight to battery volts: leave out divider and fullScale");
    }
    parsed.calibration = { points: parsePoints(calibration.points) };
  } else if (calibration) {
    knownOptions(calibration, ["scale", "offset"], "calibration.");
    parsed.calibration = {
      scale: optionNumber(calibration, "scale", 0.5, 1.5, "calibration.") ?? 1,
      offset: optionNumber(calibration, "offset", -1, 1, "calibration.") ?? 0,
    };
  }
  return parsed;
}

function parsePoints(value: unknown): [CalibrationPoint, CalibrationPoint] {
  const key = "calibration.points";
  if (!Array.isArray(value) || value.length !== 2) throw new OptionError(key, `expected two points [{"raw": n, "volts": v}, {"raw": n, "volts": v}]`);
  const points = value.map((point: unknown, i: number): CalibrationPoint => {
    if (typeof point !== "object" || point === null || Array.isArray(point)) throw new OptionError(`${key}[${i}]`, `expected {"raw": n, "volts": v}`);
    const p = knownOptions(point as Record<string, unknown>, ["raw", "volts"], `${key}[${i}].`);
    const raw = optionNumber(p, "raw", 0, 65535, `${key}[${i}].`, true);
    const volts = optionNumber(p, "volts", 0, 100, `${key}[${i}].`);
    if (raw === undefined || volts === undefined) throw new OptionError(`${key}[${i}]`, `needs both "raw" and "volts"`);
    return { raw, volts };
  });
  if (points[0]!.raw === points[1]!.raw) throw new OptionError(key, "the two points need different raw readings");
  return [points[0]!, points[1]!];
}

/** Readings ↔ battery volts for given options and ADC resolution; the virtual ADC uses the inverse. */
export class BatteryScale {
  readonly max: number;
  #gain: number;
  #offset: number;

  constructor(options: BatteryOptions, resolution: number) {
    this.max = 2 ** resolution - 1;
    const c = options.calibration;
    if ("points" in c) {
      const [a, b] = c.points;
      this.#gain = (b.volts - a.volts) / (b.raw - a.raw);
      this.#offset = a.volts - a.raw * this.#gain;
    } else {
      this.#gain = ((options.fullScale * options.divider) / this.max) * c.scale;
      this.#offset = c.offset;
    }
  }

  volts(raw: number): number {
    return this.#offset + raw * this.#gain;
  }

  /** The reading for a battery voltage: rounded, and clamped to the ADC's rails as a real ADC is. */
  raw(volts: number): number {
    return Math.min(this.max, Math.max(0, Math.round((volts - this.#offset) / this.#gain)));
  }
}

export interface BatterySensorOptions {
  sensor: { io: AnalogConstructor; pin: number; resolution?: number };
}

export default class Battery implements Sensor {
  #adc: Analog;
  #options: BatteryOptions = batteryDefaults;

  constructor(options: BatterySensorOptions) {
    const { io, ...analog } = options.sensor;
    try {
      this.#adc = new io(analog);
    } catch (e) {
      throw new SensorError("absent", `battery: no analog input on pin ${analog.pin} (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  configure(options: Record<string, unknown>): void {
    this.#options = { ...this.#options, ...parseBatteryOptions(options) };
  }

  /** The ADC answers in microseconds: no conversion to wait for, so the callback comes at once. */
  sample(callback: SampleCallback): void {
    let voltage: number;
    try {
      voltage = this.#measure();
    } catch (e) {
      callback(e as SensorError);
      return;
    }
    callback(undefined, { battery: { voltage } });
  }

  #measure(): number {
    const scale = new BatteryScale(this.#options, this.#adc.resolution);
    let sum = 0;
    let lowest = Infinity;
    let highest = -Infinity;
    for (let i = 0; i < this.#options.average; i++) {
      let raw: number;
      try {
        raw = this.#adc.read();
      } catch (e) {
        throw new SensorError("io", `battery: ADC read failed (${e instanceof Error ? e.message : String(e)})`);
      }
      sum += raw;
      lowest = Math.min(lowest, raw);
      highest = Math.max(highest, raw);
    }
    // A reading at a rail says only "at least" or "at most": the true voltage is beyond the range.
    if (lowest <= 0 || highest >= scale.max) {
      throw new SensorError("range", `battery: ADC reading at its rail (${lowest <= 0 ? 0 : scale.max} of ${scale.max}): the voltage is beyond what the divider and ADC can measure`);
    }
    return inRange("battery: voltage", scale.volts(sum / this.#options.average), 0, 100, "V");
  }

  close(): void {
    this.#adc.close();
  }
}
