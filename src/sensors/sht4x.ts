// Sensirion SHT4x (SHT40/41/45) temperature and humidity over I2C. Every measurement is a single
// shot, after which the chip idles at 0.08 µA; the heater is never used (it is for creep recovery
// in condensing air, and costs up to 200 mW).
// Datasheet: "Datasheet SHT4x", v6.6 (2024), §4.5 (commands), §4.6 (conversion), Table 5 (timing).

import { SensirionSensor, type SensirionChip } from "./sensirion";
import type { SensorOptions } from "./sensor";

/** Measurement commands (§4.5) with the maximum durations of Table 5, plus 1 ms. */
export const sht4x: SensirionChip = {
  name: "sht4x",
  defaultAddress: 0x44,
  measurements: {
    high: { command: Uint8Array.of(0xfd), ms: 10 },
    medium: { command: Uint8Array.of(0xf6), ms: 6 },
    low: { command: Uint8Array.of(0xe0), ms: 3 },
  },
  serialNumber: { command: Uint8Array.of(0x89), ms: 2 },
  // §4.6: T = -45 + 175·St/(2^16 - 1); RH = -6 + 125·Srh/(2^16 - 1), which the datasheet says to
  // crop to 0..100 %RH: values beyond are physically impossible but occur near saturation.
  convert: (t, rh) => ({
    temperature: -45 + (175 * t) / 65535,
    humidity: Math.min(100, Math.max(0, -6 + (125 * rh) / 65535)),
  }),
};

export default class SHT4x extends SensirionSensor {
  constructor(options: SensorOptions) {
    super(sht4x, options);
  }
}
