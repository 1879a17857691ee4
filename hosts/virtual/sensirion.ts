// A Sensirion humidity sensor (SHT3x, SHT4x) at command level: it answers its single-shot measurement
// commands, NACKs a read while converting (as the real chips do without clock stretching), and
// returns temperature and humidity words with their CRC-8, computed from the environment at the
// time of the command. The chip families differ only in their command tables and conversions.

import { sensirionCrc } from "../../src/sensors/sensirion-crc";
import type { DeviceClock, Environment } from "./environment";
import { I2CNack, type I2CTarget } from "./i2c-bus";

export interface SensirionModel {
  /** Bytes per command. */
  commandLength: 1 | 2;
  /** Measurement commands and their typical conversion times (ms). */
  measurements: ReadonlyMap<number, number>;
  /** Commands that abort a measurement or reset the chip, answering nothing. */
  resets: readonly number[];
  /** The command that reads the 32-bit serial number, if the chip has one. */
  serialNumber?: number;
  /** Raw temperature and humidity words for conditions: the inverse of the datasheet's conversion. */
  encode(temperature: number, humidity: number): [number, number];
}

export class VirtualSensirion implements I2CTarget {
  #result: Uint8Array | undefined;
  #readyAt = 0;

  constructor(
    readonly model: SensirionModel,
    readonly address: number,
    readonly environment: Environment,
    readonly clock: DeviceClock,
    /** A fixed serial number, made from the address so that two chips differ. */
    readonly serialNumber = (0x5e_21_00_00 | address) >>> 0,
  ) {}

  write(bytes: Uint8Array): void {
    const { model } = this;
    if (bytes.length !== model.commandLength) throw new I2CNack(this.address, `command of ${bytes.length} bytes`);
    const command = model.commandLength === 2 ? (bytes[0]! << 8) | bytes[1]! : bytes[0]!;
    this.#result = undefined;
    if (model.resets.includes(command)) return;
    if (command === model.serialNumber) {
      this.#answer([this.serialNumber >>> 16, this.serialNumber & 0xffff], 0);
      return;
    }
    const ms = model.measurements.get(command);
    if (ms === undefined) throw new I2CNack(this.address, `unsupported command 0x${command.toString(16)}`);
    const { temperature, humidity } = this.environment.at(this.clock.now());
    this.#answer(model.encode(temperature, humidity), ms);
  }

  read(byteLength: number): Uint8Array {
    if (!this.#result || this.clock.ticks() < this.#readyAt) throw new I2CNack(this.address, "no measurement ready");
    const result = this.#result;
    this.#result = undefined;
    return result.slice(0, byteLength);
  }

  #answer(words: readonly number[], ms: number): void {
    this.#result = sensirionAnswer(words);
    this.#readyAt = this.clock.ticks() + ms;
  }
}

/** Words as a Sensirion chip sends them: each MSB first, then its CRC-8. */
export function sensirionAnswer(words: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(3 * words.length);
  words.forEach((word, i) => {
    bytes[3 * i] = word >> 8;
    bytes[3 * i + 1] = word & 0xff;
    bytes[3 * i + 2] = sensirionCrc(bytes, 3 * i, 3 * i + 2);
  });
  return bytes;
}

/** A raw 16-bit word for a value: rounded, and clamped to what the ADC can say. */
export function word(x: number): number {
  return Math.min(0xffff, Math.max(0, Math.round(x)));
}
