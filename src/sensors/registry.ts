// Sensor types the config may name, the driver for each, how it is connected, and the channels
// (SenML records) a sample of it yields. Adding a driver means adding one entry here.

import { ConfigError } from "../config-error";
import type { Host } from "../host";
import Battery, { parseBatteryOptions } from "./battery";
import BME280, { parseBME280Options } from "./bme280";
import { MAX_CHANNELS, type Channel } from "./channel";
import Contact, { parseContactOptions } from "./contact";
import { parseSensirionOptions } from "./sensirion";
import { OptionError, SensorError, type Sample, type Sensor, type SensorOptions } from "./sensor";
import SHT3x, { sht3x } from "./sht3x";
import SHT4x, { sht4x } from "./sht4x";

/** One entry of the config's `sensors`, as parseConfig reads it (checkSensors checks it). */
export interface SensorConfig {
  type: string;
  /** I2C address for bus sensors. */
  address?: number;
  /** GPIO/ADC pin for pin sensors. */
  pin?: number;
  /** A short name used in SenML names; defaults to the type. */
  id: string;
  options: Record<string, unknown>;
}

/**
 * The I2C bus timeout every driver's connection gets: a bus held low by a hung chip costs this
 * much per transfer, and the wake goes on (Moddable's ESP32 I2C takes `timeout` in ms).
 */
export const I2C_TIMEOUT_MS = 50;

/** What a driver needs from the host: its IO classes, bus pins, timer and clock. */
export type SensorHost = Pick<Host, "io" | "i2c" | "timer" | "clock">;

type Connection = { bus: "i2c"; addresses: readonly number[] } | { bus: "pin" };

interface SensorType {
  connection: Connection;
  create(config: SensorConfig, host: SensorHost): Sensor;
  /** Throws OptionError for options the driver would refuse. */
  check(options: Record<string, unknown>): unknown;
  channels: readonly Omit<Channel, "name" | "sensor">[];
}

const temperature = { unit: "Cel", resolution: 0.01, property: ["thermometer", "temperature"] } as const;
const humidity = { unit: "%RH", resolution: 0.01, property: ["hygrometer", "humidity"] } as const;

function i2c(config: SensorConfig, host: SensorHost): SensorOptions {
  return { sensor: { io: host.io.I2C, ...host.i2c, address: config.address!, timeout: I2C_TIMEOUT_MS }, timer: host.timer };
}

function hostIO<T>(io: T | undefined, type: string, what: string): T {
  if (!io) throw new SensorError("absent", `${type}: this host has no ECMA-419 ${what} class`);
  return io;
}

const types: Record<string, SensorType> = {
  sht3x: {
    connection: { bus: "i2c", addresses: [0x44, 0x45] },
    create: (config, host) => new SHT3x(i2c(config, host)),
    check: (options) => parseSensirionOptions(sht3x, options),
    channels: [temperature, humidity],
  },
  sht4x: {
    // SHT40-AD1B 0x44, SHT40-BD1B 0x45, SHT40-CD1B 0x46 (SHT4x datasheet §5.1).
    connection: { bus: "i2c", addresses: [0x44, 0x45, 0x46] },
    create: (config, host) => new SHT4x(i2c(config, host)),
    check: (options) => parseSensirionOptions(sht4x, options),
    channels: [temperature, humidity],
  },
  bme280: {
    // 0x76 with SDO to ground, 0x77 with SDO to VDDIO (BME280 datasheet §6.2).
    connection: { bus: "i2c", addresses: [0x76, 0x77] },
    create: (config, host) => new BME280(i2c(config, host)),
    check: parseBME280Options,
    channels: [temperature, humidity, { unit: "Pa", resolution: 1, property: ["barometer", "pressure"] }],
  },
  battery: {
    connection: { bus: "pin" },
    create: (config, host) => new Battery({ sensor: { io: hostIO(host.io.Analog, "battery", "Analog"), pin: config.pin! } }),
    check: parseBatteryOptions,
    channels: [{ unit: "V", resolution: 0.001, property: ["battery", "voltage"] }],
  },
  contact: {
    connection: { bus: "pin" },
    create: (config, host) => {
      const { pull } = parseContactOptions(config.options);
      return new Contact({ sensor: { io: hostIO(host.io.Digital, "contact", "Digital"), pin: config.pin!, ...(pull ? { pull } : {}) } });
    },
    check: parseContactOptions,
    // SenML has no unit for a state; "/" is its unit for a ratio such as a switch's (RFC 8428 §12.1).
    channels: [{ unit: "/", resolution: 1, property: ["switch", "position"] }],
  },
};

/** The entry for a type name, if it is one: an own key only, so that "constructor" or "toString"
 *  finds nothing rather than Object.prototype's members. */
function typeNamed(name: string): SensorType | undefined {
  return Object.hasOwn(types, name) ? types[name] : undefined;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Checks each entry against its type — a known type, the connection it needs and no other, an
 * address the chip can have, no address or pin used twice, options the driver accepts — and the
 * channel total against what the retained buffer can hold. Throws a ConfigError naming the entry.
 */
export function checkSensors(sensors: SensorConfig[]): SensorConfig[] {
  const taken = new Map<string, number>();
  const claim = (resource: string, key: string, i: number) => {
    const other = taken.get(resource);
    if (other !== undefined) throw new ConfigError(key, `${resource} is already used by sensors[${other}] (${sensors[other]!.id})`);
    taken.set(resource, i);
  };
  let channels = 0;
  sensors.forEach((sensor, i) => {
    const at = `sensors[${i}]`;
    const type = typeNamed(sensor.type);
    if (!type) throw new ConfigError(`${at}.type`, `unknown sensor type "${sensor.type}" (known: ${Object.keys(types).join(", ")})`);
    const { connection } = type;
    if (connection.bus === "i2c") {
      const addresses = connection.addresses.map((a) => `${hex(a)} (${a})`).join(" or ");
      if (sensor.address === undefined) throw new ConfigError(`${at}.address`, `${sensor.type} is an I2C sensor: give its "address", ${addresses}`);
      if (sensor.pin !== undefined) throw new ConfigError(`${at}.pin`, `${sensor.type} is an I2C sensor and takes no pin`);
      if (!connection.addresses.includes(sensor.address)) {
        throw new ConfigError(`${at}.address`, `a ${sensor.type} answers at ${addresses}, not at ${hex(sensor.address)} (${sensor.address})`);
      }
      claim(`I2C address ${hex(sensor.address)}`, `${at}.address`, i);
    } else {
      if (sensor.pin === undefined) throw new ConfigError(`${at}.pin`, `${sensor.type} is connected to a pin: give its "pin"`);
      if (sensor.address !== undefined) throw new ConfigError(`${at}.address`, `${sensor.type} is connected to a pin and takes no I2C address`);
      claim(`pin ${sensor.pin}`, `${at}.pin`, i);
    }
    try {
      type.check(sensor.options);
    } catch (e) {
      if (e instanceof OptionError) throw new ConfigError(`${at}.options.${e.key}`, e.detail);
      throw e;
    }
    channels += type.channels.length;
    if (channels > MAX_CHANNELS) throw new ConfigError(at, `brings the node to ${channels} channels; it keeps at most ${MAX_CHANNELS}`);
  });
  return sensors;
}

/** The type of a sensor entry that checkSensors has accepted. */
export function sensorType(config: SensorConfig): SensorType {
  return typeNamed(config.type)!;
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
