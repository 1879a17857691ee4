// A Sensirion SHT3x at command level (see sensirion.ts): single-shot commands without clock
// stretching, the break command, and the datasheet's conversion inverted (SHT3x-DIS §4.13).

import type { DeviceClock, Environment } from "./environment";
import { VirtualSensirion, word, type SensirionModel } from "./sensirion";

export const sht3xModel: SensirionModel = {
  commandLength: 2,
  // Typical conversion times (datasheet Table 4) by single-shot command.
  measurements: new Map([
    [0x2400, 12.5],
    [0x240b, 4.5],
    [0x2416, 2.5],
  ]),
  resets: [0x30a2],
  encode: (temperature, humidity) => [word(((temperature + 45) * 65535) / 175), word((humidity * 65535) / 100)],
};

export class VirtualSHT3x extends VirtualSensirion {
  constructor(address: number, environment: Environment, clock: DeviceClock) {
    super(sht3xModel, address, environment, clock);
  }
}

