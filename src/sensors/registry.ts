// Sensor types the config may name, the driver for each, and the channels (SenML records) a sample
// of it yields. Adding a driver means adding one entry here.

import type { SensorConfig } from "../config";
import { ConfigError } from "../config-error";
import type { Host } from "../host";
import SHT3x from "./sht3x";
import type { Sample, Sensor } from "./sensor";

/** One measured quantity of one sensor: a SenML name, unit and the resolution readings keep. */
export interface Channel {
  /** The id of the sensor that measures it. */
  sensor: string;
  /** SenML name relative to the node's base name, e.g. "sht3x/temperature". */
  name: string;
  /** SenML unit (RFC 8428 §12.1). */
  unit: string;
  /** Readings are stored and published as integer multiples of this. */
  resolution: number;
  /** Where the value sits in the driver's sample object. */
  property: readonly [string, string];
}

interface SensorType {
  create(config: SensorConfig, host: Host): Sensor;
  channels: readonly Omit<Channel, "name" | "sensor">[];
}

const types: Record<string, SensorType> = {
  sht3x: {
    create: (config, host) =>
      new SHT3x({ sensor: { io: host.io.I2C, ...host.i2c, address: config.address ?? 0x44, timeout: 50 }, timer: host.timer }),
    channels: [
      { unit: "Cel", resolution: 0.01, property: ["thermometer", "temperature"] },
      { unit: "%RH", resolution: 0.01, property: ["hygrometer", "humidity"] },
    ],
  },
};

/** Checks each entry against its type (known type, the connection it needs) and returns them. */
export function checkSensors(sensors: SensorConfig[]): SensorConfig[] {
  sensors.forEach((sensor, i) => {
    if (!types[sensor.type]) throw new ConfigError(`sensors[${i}].type`, `unknown sensor type "${sensor.type}" (known: ${Object.keys(types).join(", ")})`);
  });
  return sensors;
}

/** The type of a sensor entry that checkSensors has accepted. */
export function sensorType(config: SensorConfig): SensorType {
  return types[config.type]!;
}

/** The channels of every configured sensor, in a fixed order that the retained buffer relies on. */
export function channelsOf(sensors: readonly SensorConfig[]): Channel[] {
  return sensors.flatMap((config) =>
    sensorType(config).channels.map((c) => ({ ...c, sensor: config.id, name: `${config.id}/${c.property[1]}` })),
  );
}

/** Picks a channel's value out of a sample, or undefined when the driver did not report it. */
export function valueOf(sample: Sample, channel: Channel): number | undefined {
  const value = sample[channel.property[0]]?.[channel.property[1]];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
