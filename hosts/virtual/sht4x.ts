// A Sensirion SHT4x at command level (see sensirion.ts): the three single-shot precisions, soft
// reset, the serial number, and the datasheet's conversion inverted (SHT4x §4.6).

import type { DeviceClock, Environment } from "./environment";
import { VirtualSensirion, word, type SensirionModel } from "./sensirion";

export const sht4xModel: SensirionModel = {
  commandLength: 1,
  // Typical measurement durations (datasheet Table 5).
  measurements: new Map([
    [0xfd, 6.9],
    [0xf6, 3.7],
    [0xe0, 1.3],
  ]),
  resets: [0x94],
  serialNumber: 0x89,
  encode: (temperature, humidity) => [word(((temperature + 45) * 65535) / 175), word(((humidity + 6) * 65535) / 125)],
};

export class VirtualSHT4x extends VirtualSensirion {
  constructor(address: number, environment: Environment, clock: DeviceClock) {
    super(sht4xModel, address, environment, clock);
  }
}
