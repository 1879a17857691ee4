// Sensirion SHT3x (SHT30/31/35) temperature and humidity over I2C, in single-shot mode without
// clock stretching: the sensor sleeps between samples (0.2 µA idle), which is what a battery wants.
// Datasheet: "Datasheet SHT3x-DIS", v7 (2019), §4.3 (commands), §4.4 (conversion), §4.12 (CRC).

import { SensirionSensor, type SensirionChip } from "./sensirion";
import type { SensorOptions } from "./sensor";

/** Single shot, clock stretching disabled (§4.3 Table 9), with the maximum conversion time (Table 4) + 1 ms. */
export const sht3x: SensirionChip = {
  name: "sht3x",
  defaultAddress: 0x44,
  measurements: {
    high: { command: Uint8Array.of(0x24, 0x00), ms: 16 },
    medium: { command: Uint8Array.of(0x24, 0x0b), ms: 7 },
    low: { command: Uint8Array.of(0x24, 0x16), ms: 5 },
  },
  // §4.13: T = -45 + 175·St/(2^16 - 1), RH = 100·Srh/(2^16 - 1).
  convert: (t, rh) => ({ temperature: -45 + (175 * t) / 65535, humidity: (100 * rh) / 65535 }),
};

export default class SHT3x extends SensirionSensor {
  constructor(options: SensorOptions) {
    super(sht3x, options);
  }
}

