// The virtual board every simulated host runs on: a virtual I2C bus carrying a healthy device for
// every configured sensor, behind ECMA-419 IO classes. The Node host and the Moddable simulator
// host both build their IO from this, so a config behaves the same on both.

import type { Config } from "../../../src/config";
import type { I2CConstructor } from "../../../src/host";
import type { Environment } from "./environment";
import { VirtualI2CBus } from "./i2c-bus";
import { VirtualSHT3x, type DeviceClock } from "./sht3x";
import { virtualI2C } from "./virtual-i2c";

export interface VirtualBoard {
  bus: VirtualI2CBus;
  io: { I2C: I2CConstructor };
}

/**
 * @param sim the config's `sim` value (simulation settings such as injected faults), as given.
 */
export function virtualBoard(config: Config, sim: unknown, environment: Environment, clock: DeviceClock): VirtualBoard {
  void sim;
  const bus = new VirtualI2CBus();
  for (const sensor of config.sensors) {
    if (sensor.type === "sht3x" && sensor.address !== undefined) bus.attach(sensor.address, new VirtualSHT3x(sensor.address, environment, clock));
  }
  return { bus, io: { I2C: virtualI2C(bus) } };
}
