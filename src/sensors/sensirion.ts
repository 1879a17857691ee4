// What the Sensirion humidity sensors (SHT3x, SHT4x) share: a single-shot measurement command, a
// wait on the host timer for its maximum conversion time, a 6-byte answer of two CRC-checked words
// (temperature, then humidity). After the answer the chip is idle again, at its lowest power.

import { sensirionWords } from "./sensirion-crc";
import { Conversion, I2CLink, inRange, knownOptions, optionOneOf, type Sample, type SampleCallback, type Sensor, type SensorOptions } from "./sensor";

export type Repeatability = "high" | "medium" | "low";
export const repeatabilities: readonly Repeatability[] = ["high", "medium", "low"];

export interface Measurement {
  command: Uint8Array;
  /** Maximum conversion time from the datasheet, plus a millisecond of margin. */
  ms: number;
}

/** What makes each chip itself. */
export interface SensirionChip {
  name: string;
  defaultAddress: number;
  measurements: Record<Repeatability, Measurement>;
  /** The command reading the chip's 32-bit serial number, if it has one. */
  serialNumber?: Measurement;
  /** Temperature in °C and humidity in %RH from the raw words (the datasheet's conversion). */
  convert(t: number, rh: number): { temperature: number; humidity: number };
}

/** Operating range of both families' temperature sensor (SHT3x-DIS §2.2, SHT4x §3.1). */
const MIN_C = -40;
const MAX_C = 125;

export interface SensirionOptions {
  repeatability?: Repeatability;
  /** Read the chip's serial number once per driver instance, before the first measurement. */
  serialNumber?: boolean;
}

/** Checks the options of a Sensirion driver; only chips that have a serial number take `serialNumber`. */
export function parseSensirionOptions(chip: SensirionChip, options: Record<string, unknown>): SensirionOptions {
  knownOptions(options, chip.serialNumber ? ["repeatability", "serialNumber"] : ["repeatability"]);
  const parsed: SensirionOptions = {};
  const repeatability = optionOneOf(options, "repeatability", repeatabilities);
  if (repeatability !== undefined) parsed.repeatability = repeatability;
  const serialNumber = optionOneOf(options, "serialNumber", [true, false]);
  if (serialNumber !== undefined) parsed.serialNumber = serialNumber;
  return parsed;
}

export class SensirionSensor implements Sensor {
  #link: I2CLink;
  #conversion: Conversion;
  #chip: SensirionChip;
  #options: Required<SensirionOptions> = { repeatability: "high", serialNumber: false };
  #serialNumber: number | undefined;

  constructor(chip: SensirionChip, options: SensorOptions) {
    this.#chip = chip;
    this.#link = new I2CLink(chip.name, { ...options.sensor, address: options.sensor.address ?? chip.defaultAddress });
    this.#conversion = new Conversion(options.timer);
  }

  configure(options: Record<string, unknown>): void {
    this.#options = { ...this.#options, ...parseSensirionOptions(this.#chip, options) };
  }

  /** The chip's serial number, once a sample with `serialNumber: true` has read it. */
  get serialNumber(): number | undefined {
    return this.#serialNumber;
  }

  sample(callback: SampleCallback): void {
    const serial = this.#chip.serialNumber;
    if (!serial || !this.#options.serialNumber || this.#serialNumber !== undefined) {
      this.#measure(callback);
      return;
    }
    this.#run("read serial number", serial, (bytes) => {
      const [high, low] = sensirionWords(`${this.#chip.name}: serial number`, bytes, 2);
      this.#serialNumber = ((high! << 16) | low!) >>> 0;
      return {};
    }, (error) => (error ? callback(error) : this.#measure(callback)));
  }

  #measure(callback: SampleCallback): void {
    this.#run("measurement", this.#chip.measurements[this.#options.repeatability], (bytes) => this.#decode(bytes), callback);
  }

  #run(what: string, { command, ms }: Measurement, decode: (bytes: Uint8Array) => Sample, callback: SampleCallback): void {
    this.#conversion.run(() => this.#link.write(`start ${what}`, command), ms, () => decode(this.#link.read(`read ${what}`, 6)), callback);
  }

  /** Decodes a measurement answer; a temperature beyond the chip's range is a `range` fault. */
  #decode(bytes: Uint8Array): Sample {
    const [t, rh] = sensirionWords(`${this.#chip.name}: measurement`, bytes, 2);
    const { temperature, humidity } = this.#chip.convert(t!, rh!);
    return {
      thermometer: { temperature: inRange(`${this.#chip.name}: temperature`, temperature, MIN_C, MAX_C, "°C") },
      hygrometer: { humidity },
    };
  }

  close(): void {
    this.#conversion.cancel();
    this.#link.close();
  }
}
