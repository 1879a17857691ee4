// A Sensirion SHT3x at command level: it answers the single-shot measurement commands, NACKs a read
// while converting (as the real chip does without clock stretching), and returns temperature and
// humidity words with their CRC-8, computed from the environment at the time of the command.

import { sensirionCrc } from "../../../src/sensors/sensirion-crc";
import type { Environment } from "./environment";
import { I2CNack, type I2CTarget } from "./i2c-bus";

// Typical conversion times (datasheet Table 4) by single-shot command.
const conversions = new Map<number, number>([
  [0x2400, 12.5],
  [0x240b, 4.5],
  [0x2416, 2.5],
]);

export interface DeviceClock {
  /** Wall-clock ms: which moment of the environment to measure. */
  now(): number;
  /** Monotonic ms: how long a conversion has been running. */
  ticks(): number;
}

export class VirtualSHT3x implements I2CTarget {
  #result: Uint8Array | undefined;
  #readyAt = 0;

  constructor(readonly address: number, readonly environment: Environment, readonly clock: DeviceClock) {}

  write(bytes: Uint8Array): void {
    if (bytes.length !== 2) throw new I2CNack(this.address, `command of ${bytes.length} bytes`);
    const command = (bytes[0]! << 8) | bytes[1]!;
    if (command === 0x30a2) {
      this.#result = undefined;
      return;
    }
    const ms = conversions.get(command);
    if (ms === undefined) throw new I2CNack(this.address, `unsupported command 0x${command.toString(16)}`);
    const { temperature, humidity } = this.environment.at(this.clock.now());
    this.#result = encodeMeasurement(temperature, humidity);
    this.#readyAt = this.clock.ticks() + ms;
  }

  read(byteLength: number): Uint8Array {
    if (!this.#result || this.clock.ticks() < this.#readyAt) throw new I2CNack(this.address, "no measurement ready");
    const result = this.#result;
    this.#result = undefined;
    return result.slice(0, byteLength);
  }
}

/** The chip's 6-byte answer for given conditions: the inverse of the datasheet's conversion. */
export function encodeMeasurement(temperature: number, humidity: number): Uint8Array {
  const t = clampWord(((temperature + 45) * 65535) / 175);
  const rh = clampWord((humidity * 65535) / 100);
  const bytes = Uint8Array.of(t >> 8, t & 0xff, 0, rh >> 8, rh & 0xff, 0);
  bytes[2] = sensirionCrc(bytes, 0, 2);
  bytes[5] = sensirionCrc(bytes, 3, 5);
  return bytes;
}

function clampWord(x: number): number {
  return Math.min(0xffff, Math.max(0, Math.round(x)));
}
