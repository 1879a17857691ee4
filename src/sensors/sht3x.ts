// Sensirion SHT3x (SHT30/31/35) temperature and humidity over I2C, in single-shot mode without
// clock stretching: the sensor sleeps between samples (0.2 µA idle), which is what a battery wants.
// Datasheet: "Datasheet SHT3x-DIS", v7 (2019), §4.3 (commands), §4.4 (conversion), §4.12 (CRC).

import type { I2C } from "../host";
import { sensirionCrc } from "./sensirion-crc";
import { openI2C, SensorError, transfer, type Sample, type SampleCallback, type Sensor, type SensorOptions } from "./sensor";

type Repeatability = "high" | "medium" | "low";

// Single shot, clock stretching disabled (§4.3 Table 9), with the maximum conversion time (Table 4)
// plus a millisecond of margin.
const commands: Record<Repeatability, { command: number; ms: number }> = {
  high: { command: 0x2400, ms: 16 },
  medium: { command: 0x240b, ms: 7 },
  low: { command: 0x2416, ms: 5 },
};

export default class SHT3x implements Sensor {
  #io: I2C;
  #timer: SensorOptions["timer"];
  #repeatability: Repeatability = "high";
  #pending: unknown;

  constructor(options: SensorOptions) {
    this.#io = openI2C({ ...options.sensor, address: options.sensor.address ?? 0x44 });
    this.#timer = options.timer;
  }

  configure(options: { repeatability?: Repeatability }): void {
    if (options.repeatability !== undefined) {
      if (!(options.repeatability in commands)) throw new RangeError(`sht3x: repeatability must be high, medium or low`);
      this.#repeatability = options.repeatability;
    }
  }

  sample(callback: SampleCallback): void {
    const { command, ms } = commands[this.#repeatability];
    try {
      transfer("sht3x: start measurement", () => this.#io.write(Uint8Array.of(command >> 8, command & 0xff)));
    } catch (e) {
      callback(e as SensorError);
      return;
    }
    this.#pending = this.#timer.set(() => {
      this.#pending = undefined;
      let sample: Sample;
      try {
        sample = decode(new Uint8Array(transfer("sht3x: read measurement", () => this.#io.read(6))));
      } catch (e) {
        callback(e as SensorError);
        return;
      }
      callback(undefined, sample);
    }, ms);
  }

  close(): void {
    if (this.#pending !== undefined) this.#timer.clear(this.#pending);
    this.#io.close();
  }
}

/** Decodes the 6-byte measurement: T word, CRC, RH word, CRC (§4.4, §4.12). */
export function decode(bytes: Uint8Array): Sample {
  if (bytes.length !== 6) throw new SensorError("io", `sht3x: expected 6 bytes, got ${bytes.length}`);
  if (sensirionCrc(bytes, 0, 2) !== bytes[2] || sensirionCrc(bytes, 3, 5) !== bytes[5]) {
    throw new SensorError("crc", "sht3x: CRC mismatch in measurement");
  }
  const t = (bytes[0]! << 8) | bytes[1]!;
  const rh = (bytes[3]! << 8) | bytes[4]!;
  return {
    thermometer: { temperature: -45 + (175 * t) / 65535 },
    hygrometer: { humidity: (100 * rh) / 65535 },
  };
}
