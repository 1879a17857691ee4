// What every torpor sensor driver is: the ECMA-419 Sensor Class Pattern (§13) — an options object
// carrying the IO connection, configure(), sample(), close() — with one torpor extension: sampling
// is asynchronous. A single-shot conversion takes milliseconds, and a battery node must not spin
// for them, so sample() starts the conversion and calls back when the host's timer says it is done.

import type { I2C, I2CConstructor, I2COptions, Timers } from "../host";

/** The `sensor` member of a driver's options: ECMA-419 I2C options plus the I2C class itself. */
export interface I2CSensorOptions extends Omit<I2COptions, "format"> {
  io: I2CConstructor;
}

export interface SensorOptions {
  sensor: I2CSensorOptions;
  /** The host's timer, for conversion delays. */
  timer: Timers;
}

/** Why a sample failed; the wake cycle counts these per sensor and publishes them. The order is
 *  part of the retained layout (a fault is stored as its index): append, never reorder. */
export const sensorFaults = ["absent", "io", "crc", "timeout", "chip-id", "range"] as const;
export type SensorFault = (typeof sensorFaults)[number];

export class SensorError extends Error {
  constructor(readonly fault: SensorFault, message: string) {
    super(message);
    this.name = "SensorError";
  }
}

/** A sample as ECMA-419 names its parts: {thermometer: {temperature}, hygrometer: {humidity}, …}. */
export type Sample = Record<string, Record<string, number>>;

export type SampleCallback = (error: SensorError | undefined, sample?: Sample) => void;

export interface Sensor {
  configure(options: Record<string, unknown>): void;
  sample(callback: SampleCallback): void;
  close(): void;
}

/**
 * Opens the sensor's I2C connection, turning the bus's exception for a missing device into a fault.
 * Moddable's I2C throws on a NACK; a driver must never let that escape as a crash.
 */
export function openI2C(options: I2CSensorOptions): I2C {
  const { io, ...rest } = options;
  return new io({ ...rest, format: "buffer" });
}

/** Runs a bus transfer, mapping any bus exception to a SensorError. */
export function transfer<T>(what: string, operation: () => T): T {
  try {
    return operation();
  } catch (e) {
    throw e instanceof SensorError ? e : new SensorError("io", `${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
