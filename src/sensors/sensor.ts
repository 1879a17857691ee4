// What every torpor sensor driver is: the ECMA-419 Sensor Class Pattern (§13) — an options object
// carrying the IO connection, configure(), sample(), close() — with one torpor extension: sampling
// is asynchronous. A single-shot conversion takes milliseconds, and a battery node must not spin
// for them, so sample() starts the conversion and calls back when the host's timer says it is done.
// Also here: what the drivers share — turning bus exceptions into faults, waiting for a conversion,
// range checks and option parsing — so that each driver is only its chip.

import type { I2C, I2CConstructor, I2COptions, Timers } from "../host";

/** The `sensor` member of an I2C driver's options: ECMA-419 I2C options plus the I2C class itself. */
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
  // A field, not `this.name = …`: Moddable freezes Error.prototype in ROM, where assigning throws.
  override readonly name = "SensorError";

  constructor(readonly fault: SensorFault, message: string) {
    super(message);
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
 * A driver's I2C connection, with every bus exception turned into a SensorError:
 * - the host's I2C class throws an error named "TimeoutError" for a bus that stays stuck past the
 *   connection's `timeout` → `timeout`;
 * - any other exception before the device has answered once on this connection → `absent`: an I2C
 *   master only learns that nobody is there from the NACK of the first transfer (Moddable's I2C
 *   throws the same "read failed"/"write failed" for both, so the first transfer is the only tell);
 * - after that → `io`: the chip is there but a transfer failed.
 */
export class I2CLink {
  #io: I2C;
  #answered = false;

  constructor(readonly name: string, options: I2CSensorOptions) {
    const { io, ...rest } = options;
    this.#io = new io({ ...rest, format: "buffer" });
  }

  write(what: string, bytes: Uint8Array, stop = true): void {
    this.#transfer(what, () => this.#io.write(bytes, stop));
  }

  read(what: string, byteLength: number): Uint8Array {
    return new Uint8Array(this.#transfer(what, () => this.#io.read(byteLength)));
  }

  /** Register read as register-based chips (BME280 §6.2.2) want it: pointer write, repeated start, read. */
  readRegisters(what: string, register: number, byteLength: number): Uint8Array {
    this.write(what, Uint8Array.of(register), false);
    return this.read(what, byteLength);
  }

  close(): void {
    this.#io.close();
  }

  #transfer<T>(what: string, operation: () => T): T {
    try {
      const result = operation();
      this.#answered = true;
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (e instanceof Error && e.name === "TimeoutError") throw new SensorError("timeout", `${this.name}: ${what}: ${message}`);
      if (!this.#answered) throw new SensorError("absent", `${this.name}: no answer (${what}: ${message})`);
      throw new SensorError("io", `${this.name}: ${what}: ${message}`);
    }
  }
}

/**
 * One single-shot conversion: start it, wait on the host timer, read it. `read` returns undefined
 * while the chip still says it is busy; it is then asked again after `retryMs`, a bounded number of
 * times, so a chip that never finishes costs a `timeout` fault and not a wake.
 */
export class Conversion {
  #timer: Timers;
  #pending: unknown;

  constructor(timer: Timers) {
    this.#timer = timer;
  }

  run(start: () => void, ms: number, read: () => Sample | undefined, callback: SampleCallback, retryMs = 1, retries = 3): void {
    try {
      start();
    } catch (e) {
      callback(asSensorError(e));
      return;
    }
    let left = retries;
    const poll = () => {
      this.#pending = undefined;
      let sample: Sample | undefined;
      try {
        sample = read();
      } catch (e) {
        callback(asSensorError(e));
        return;
      }
      if (sample) callback(undefined, sample);
      else if (left-- > 0) this.#pending = this.#timer.set(poll, retryMs);
      else callback(new SensorError("timeout", "conversion did not finish"));
    };
    this.#pending = this.#timer.set(poll, ms);
  }

  cancel(): void {
    if (this.#pending !== undefined) this.#timer.clear(this.#pending);
    this.#pending = undefined;
  }
}

function asSensorError(e: unknown): SensorError {
  return e instanceof SensorError ? e : new SensorError("io", e instanceof Error ? e.message : String(e));
}

/**
 * A value outside what the chip can measure is a fault, never a reading: it means a broken chip, a
 * wrong wiring or a bad calibration, and publishing it would poison every chart downstream.
 */
export function inRange(what: string, value: number, min: number, max: number, unit: string): number {
  if (!(value >= min && value <= max)) {
    throw new SensorError("range", `${what} ${Number(value.toFixed(3))} ${unit} is outside the sensor's range ${min}..${max} ${unit}`);
  }
  return value;
}

/** A bad driver option; `key` is its path inside `options` (the registry prefixes `sensors[i].options.`). */
export class OptionError extends RangeError {
  // A field, not `this.name = …`: Moddable freezes Error.prototype in ROM, where assigning throws.
  override readonly name = "OptionError";

  constructor(readonly key: string, readonly detail: string) {
    super(`options.${key}: ${detail}`);
  }
}

/**
 * Checks an options object against the keys a driver knows: a misspelt option that silently keeps
 * its default is as bad as a misspelt config key. Returns the object, typed for reading.
 */
export function knownOptions(options: Record<string, unknown>, known: readonly string[], prefix = ""): Record<string, unknown> {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new OptionError(prefix + key, `unknown option (known: ${known.join(", ") || "none"})`);
  }
  return options;
}

export function optionNumber(options: Record<string, unknown>, key: string, min: number, max: number, prefix = "", integer = false): number | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new OptionError(prefix + key, `expected ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function optionOneOf<T extends string | number | boolean>(options: Record<string, unknown>, key: string, allowed: readonly T[], prefix = ""): T | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new OptionError(prefix + key, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${JSON.stringify(value)}`);
  return found;
}

export function optionObject(options: Record<string, unknown>, key: string, prefix = ""): Record<string, unknown> | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new OptionError(prefix + key, `expected an object, got ${JSON.stringify(value)}`);
  return value as Record<string, unknown>;
}
