// Fault injection for the simulated hosts, from the config key `sim.faults`: an object mapping
// "<type>@<address or pin>" (e.g. "bme280@118") to a fault. Bus faults wrap a healthy device in a
// faulty target on the bus, so no device model carries fault branches; "chip-id" and "range" are
// a different chip and a different world (board.ts builds those).
//
//   absent            nothing answers at the address / nothing is on the pin
//   nack              the chip acknowledges writes but NACKs every read
//   stuck             the chip holds the bus: each transfer costs the I2C timeout, then fails
//   chip-id           a BMP280 (chip id 0x58) sits where the BME280 should be
//   crc               one bit of every answer flips on the wire
//   range             the chip measures 150 °C (a battery: a voltage beyond its ADC)
//   intermittent:<k>  fails (does not answer) in every k-th sampling period, works in the others

import type { SensorConfig } from "../../src/sensors/registry";
import { ConfigError } from "../../src/config-error";
import type { Conditions, DeviceClock, Environment } from "./environment";
import { BusStuck, I2CNack, type I2CTarget } from "./i2c-bus";

export const faultKinds = ["absent", "nack", "stuck", "chip-id", "crc", "range", "intermittent"] as const;
export type FaultKind = (typeof faultKinds)[number];
export type Fault = { kind: Exclude<FaultKind, "intermittent"> } | { kind: "intermittent"; every: number };

/** What each sensor type can show: only what its chip and connection can really do. */
const possible: Record<string, readonly FaultKind[]> = {
  sht3x: ["absent", "nack", "stuck", "crc", "range", "intermittent"],
  sht4x: ["absent", "nack", "stuck", "crc", "range", "intermittent"],
  bme280: ["absent", "nack", "stuck", "chip-id", "range", "intermittent"],
  battery: ["absent", "range", "intermittent"],
  contact: ["absent", "intermittent"],
};

export interface SimSettings {
  /** By index in config.sensors. */
  faults: Map<number, Fault>;
}

/**
 * Validates the config's `sim` value (an object, or its JSON text as mcconfig passes it) against
 * the configured sensors; anything wrong is a ConfigError naming the key, e.g. sim.faults["bme280@119"].
 */
export function parseSim(raw: unknown, sensors: readonly SensorConfig[]): SimSettings {
  const faults = new Map<number, Fault>();
  if (raw === undefined) return { faults };
  const sim = structured("sim", raw);
  if (!isRecord(sim)) throw new ConfigError("sim", `expected an object like {"faults": {"bme280@118": "absent"}}`);
  for (const key of Object.keys(sim)) if (key !== "faults") throw new ConfigError(`sim.${key}`, "unknown key (known: faults)");
  if (sim.faults === undefined) return { faults };
  if (!isRecord(sim.faults)) throw new ConfigError("sim.faults", `expected an object mapping "<type>@<address or pin>" to a fault`);
  for (const [key, value] of Object.entries(sim.faults)) {
    const at = `sim.faults[${JSON.stringify(key)}]`;
    const m = /^([a-z0-9]+)@(0x[0-9a-f]+|[0-9]+)$/i.exec(key);
    if (!m) throw new ConfigError(at, `expected a key "<type>@<address or pin>", e.g. "bme280@118"`);
    const type = m[1]!;
    const where = Number(m[2]);
    const index = sensors.findIndex((s) => s.type === type && (s.address ?? s.pin) === where);
    if (index < 0) throw new ConfigError(at, `no ${type} at address or pin ${where} among "sensors"`);
    if (faults.has(index)) throw new ConfigError(at, `sensors[${index}] already has a fault`);
    const fault = parseFault(at, value);
    const kinds = possible[type] ?? [];
    if (!kinds.includes(fault.kind)) throw new ConfigError(at, `a ${type} cannot show "${fault.kind}" (it can: ${kinds.join(", ")})`);
    faults.set(index, fault);
  }
  return { faults };
}

function parseFault(at: string, value: unknown): Fault {
  const expected = `expected one of ${faultKinds.filter((k) => k !== "intermittent").map((k) => `"${k}"`).join(", ")} or "intermittent:<k>"`;
  if (typeof value !== "string") throw new ConfigError(at, `${expected}, got ${JSON.stringify(value)}`);
  const m = /^intermittent:(\d+)$/.exec(value);
  if (m) {
    const every = Number(m[1]);
    if (every < 2 || every > 1000) throw new ConfigError(at, `intermittent:<k> needs k from 2 to 1000 (k = 1 would be "absent"), got ${every}`);
    return { kind: "intermittent", every };
  }
  const kind = faultKinds.find((k) => k === value && k !== "intermittent");
  if (kind === undefined || kind === "intermittent") throw new ConfigError(at, `${expected}, got ${JSON.stringify(value)}`);
  return { kind };
}

/**
 * Whether an intermittent device fails now: in sampling period n (time / periodMs) it fails when
 * n mod k = k − 1. A function of the time only, so it holds across the Node host's one process
 * per wake, and a sensor that failed works again at the next period with a new driver.
 */
export function failingNow(clock: DeviceClock, periodMs: number, every: number): () => boolean {
  return () => Math.floor(clock.now() / periodMs) % every === every - 1;
}

/** A healthy device on the bus, made faulty by a bus-level fault; other faults leave it as it is. */
export function faultyTarget(address: number, target: I2CTarget, fault: Fault | undefined, failing: () => boolean): I2CTarget {
  switch (fault?.kind) {
    case "nack":
      return {
        write: (bytes, stop) => target.write(bytes, stop),
        read: () => {
          throw new I2CNack(address, "read refused");
        },
      };
    case "stuck":
      return {
        write: () => {
          throw new BusStuck(address);
        },
        read: () => {
          throw new BusStuck(address);
        },
      };
    case "crc":
      return {
        write: (bytes, stop) => target.write(bytes, stop),
        read: (byteLength, stop) => {
          const bytes = target.read(byteLength, stop);
          if (bytes.length > 1) bytes[1]! ^= 0x01;
          return bytes;
        },
      };
    case "intermittent":
      return {
        write: (bytes, stop) => {
          if (failing()) throw new I2CNack(address, "intermittent");
          target.write(bytes, stop);
        },
        read: (byteLength, stop) => {
          if (failing()) throw new I2CNack(address, "intermittent");
          return target.read(byteLength, stop);
        },
      };
    default:
      return target;
  }
}

/** A pin input's read that fails whenever `failing` says so (as an ESP32's ADC2 does while Wi-Fi runs). */
export function failingRead(pin: number, read: () => number, failing: () => boolean): () => number {
  return () => {
    if (failing()) throw new Error(`pin ${pin}: read failed (intermittent)`);
    return read();
  };
}

/** The world a "range" fault puts a climate sensor in: hotter than any of them may measure. */
export function outOfRange(environment: Environment): Environment {
  return { at: (timeMs): Conditions => ({ ...environment.at(timeMs), temperature: 150 }) };
}

/** The battery voltage of a "range" fault: beyond any divider's and ADC's reach. */
export const OUT_OF_RANGE_VOLTS = 100;

function structured(key: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ConfigError(key, `expected JSON, got ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
