// The virtual board every simulated host runs on: a virtual I2C bus and virtual analog and digital
// pins carrying a device for every configured sensor, healthy unless `sim.faults` says otherwise,
// behind ECMA-419 IO classes. The Node host and the Moddable simulator host both build their IO
// from this, so a config behaves the same on both.

import type { Config } from "../../src/config";
import type { SensorConfig } from "../../src/sensors/registry";
import type { AnalogConstructor, DigitalConstructor, I2CConstructor } from "../../src/host";
import { BatteryScale, batteryDefaults, parseBatteryOptions } from "../../src/sensors/battery";
import { BMP280_ID } from "../../src/sensors/bme280";
import { contactDefaults, parseContactOptions } from "../../src/sensors/contact";
import { dischargeVoltage, VirtualBattery } from "./battery";
import { VirtualBME280 } from "./bme280";
import { VirtualContact } from "./contact";
import type { DeviceClock, Environment } from "./environment";
import { failingNow, failingRead, faultyTarget, OUT_OF_RANGE_VOLTS, outOfRange, parseSim, type Fault } from "./faults";
import { VirtualI2CBus, type I2CTarget } from "./i2c-bus";
import { virtualAnalog, virtualDigital, type AnalogInput, type DigitalInput } from "./pins";
import { VirtualSHT3x } from "./sht3x";
import { VirtualSHT4x } from "./sht4x";
import { virtualI2C, type VirtualI2COptions } from "./virtual-i2c";

export interface VirtualBoard {
  bus: VirtualI2CBus;
  io: { I2C: I2CConstructor; Analog: AnalogConstructor; Digital: DigitalConstructor };
}

type Device = { i2c: I2CTarget } | { analog: AnalogInput } | { digital: DigitalInput };

interface Context {
  environment: Environment;
  clock: DeviceClock;
  fault: Fault | undefined;
}

/** The device for each sensor type, given the world it measures; "chip-id" and "range" are built here. */
const devices: Record<string, (sensor: SensorConfig, c: Context) => Device> = {
  sht3x: (s, c) => ({ i2c: new VirtualSHT3x(s.address!, climate(c), c.clock) }),
  sht4x: (s, c) => ({ i2c: new VirtualSHT4x(s.address!, climate(c), c.clock) }),
  bme280: (s, c) => ({ i2c: new VirtualBME280(s.address!, climate(c), c.clock, c.fault?.kind === "chip-id" ? { chipId: BMP280_ID } : {}) }),
  battery: (s, c) => {
    // The ADC reads through the divider and calibration the entry describes, so the driver reads the cell.
    const scale = new BatteryScale({ ...batteryDefaults, ...parseBatteryOptions(s.options) }, 12);
    return { analog: new VirtualBattery(scale, c.clock, c.fault?.kind === "range" ? () => OUT_OF_RANGE_VOLTS : dischargeVoltage) };
  },
  contact: (s, c) => {
    const { invert } = { ...contactDefaults, ...parseContactOptions(s.options) };
    return { digital: new VirtualContact(c.clock, invert ? 0 : 1) };
  },
};

function climate(c: Context): Environment {
  return c.fault?.kind === "range" ? outOfRange(c.environment) : c.environment;
}

/**
 * @param sim the config's `sim` value (simulation settings such as injected faults), as given;
 *   invalid settings throw a ConfigError naming the key.
 * @param options how the I2C class waits out a stuck bus (tests without a blocking wait pass their own).
 */
export function virtualBoard(config: Config, sim: unknown, environment: Environment, hostClock: DeviceClock, options: VirtualI2COptions = {}): VirtualBoard {
  const { faults } = parseSim(sim, config.sensors);
  // The world the devices measure moves in whole seconds: a reading depends on the second it was
  // taken in, not on how many milliseconds a loaded host took to get there, so the same wake gives
  // the same reading on every host (one process per wake, or a fleet in one) and under any load.
  // Conversions still time themselves on the host's ticks.
  const clock: DeviceClock = { now: () => Math.floor(hostClock.now() / 1000) * 1000, ticks: () => hostClock.ticks() };
  const bus = new VirtualI2CBus();
  const analog = new Map<number, AnalogInput>();
  const digital = new Map<number, DigitalInput>();
  config.sensors.forEach((sensor, i) => {
    const fault = faults.get(i);
    const make = devices[sensor.type];
    if (!make || fault?.kind === "absent") return;
    const failing = fault?.kind === "intermittent" ? failingNow(clock, config.sampleInterval * 1000, fault.every) : () => false;
    const device = make(sensor, { environment, clock, fault });
    if ("i2c" in device) bus.attach(sensor.address!, faultyTarget(sensor.address!, device.i2c, fault, failing));
    else if ("analog" in device) {
      const input = device.analog;
      analog.set(sensor.pin!, { resolution: input.resolution, read: failingRead(sensor.pin!, () => input.read(), failing) });
    } else digital.set(sensor.pin!, { read: failingRead(sensor.pin!, () => device.digital.read(), failing) });
  });
  return { bus, io: { I2C: virtualI2C(bus, options), Analog: virtualAnalog(analog), Digital: virtualDigital(digital) } };
}
