// A Bosch BME280 at register level: chip id, the calibration registers, ctrl_hum / ctrl_meas /
// config, the status register's measuring bit, and forced-mode conversions whose raw ADC words are
// found by searching for the words that the datasheet's compensation (the driver's own functions)
// turns into the environment's conditions — so a driver reads the environment to within the chip's
// resolution at the oversampling it asked for. Normal mode and the IIR filter are not modelled.
// Datasheet: BST-BME280-DS002 §5.3 (memory map), §5.4 (registers), §3.4/§3.5 (resolution), §9.1.

import { BME280_ID, compensateHumidity, compensatePressure, compensateTemperature, type Calibration } from "../../src/sensors/bme280";
import type { DeviceClock, Environment } from "./environment";
import { I2CNack, type I2CTarget } from "./i2c-bus";

/**
 * Trimming parameters: dig_T* and dig_P* are Bosch's worked example (BMP280 datasheet §3.12, whose
 * formulas the BME280 shares); dig_H* are as read from a real BME280 (the datasheet gives none).
 */
export const exampleCalibration: Calibration = {
  T1: 27504, T2: 26435, T3: -1000,
  P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
  H1: 75, H2: 362, H3: 0, H4: 313, H5: 50, H6: 30,
};

/** The register bytes of a calibration, as Table 16 lays them out (0x88..0xA1 and 0xE1..0xE7). */
export function calibrationRegisters(c: Calibration): { tp: Uint8Array; h: Uint8Array } {
  const tp = new Uint8Array(26);
  const v = new DataView(tp.buffer);
  [c.T1, c.T2, c.T3, c.P1, c.P2, c.P3, c.P4, c.P5, c.P6, c.P7, c.P8, c.P9].forEach((word, i) => v.setUint16(2 * i, word & 0xffff, true));
  tp[25] = c.H1;
  const h = Uint8Array.of(c.H2 & 0xff, (c.H2 >> 8) & 0xff, c.H3, (c.H4 >> 4) & 0xff, (c.H4 & 0x0f) | ((c.H5 & 0x0f) << 4), (c.H5 >> 4) & 0xff, c.H6 & 0xff);
  return { tp, h };
}

export interface VirtualBME280Options {
  /** What the id register says: another chip at the same address (a BMP280 is 0x58). */
  chipId?: number;
  calibration?: Calibration;
}

const ID = 0xd0;
const CTRL_HUM = 0xf2;
const STATUS = 0xf3;
const CTRL_MEAS = 0xf4;
const CONFIG = 0xf5;
const DATA = 0xf7; // press_msb .. hum_lsb, 8 registers
/** Registers a write may change (§5.3: the others are read-only, or reset, which is not modelled). */
const WRITABLE = [CTRL_HUM, CTRL_MEAS, CONFIG];

export class VirtualBME280 implements I2CTarget {
  #regs = new Uint8Array(256);
  #pointer = 0;
  #calibration: Calibration;
  /** The data registers a running conversion will latch, and when. */
  #converting: { data: Uint8Array; readyAt: number } | undefined;

  constructor(readonly address: number, readonly environment: Environment, readonly clock: DeviceClock, options: VirtualBME280Options = {}) {
    this.#calibration = options.calibration ?? exampleCalibration;
    const { tp, h } = calibrationRegisters(this.#calibration);
    this.#regs.set(tp, 0x88);
    this.#regs.set(h, 0xe1);
    this.#regs[ID] = options.chipId ?? BME280_ID;
    // Data registers' reset values (§5.3): 0x80000 for pressure and temperature, 0x8000 for humidity.
    this.#regs.set([0x80, 0, 0, 0x80, 0, 0, 0x80, 0], DATA);
  }

  /** One byte sets the register pointer; pairs of (register, value) write registers (§6.2.1). */
  write(bytes: Uint8Array): void {
    if (bytes.length === 1) {
      this.#pointer = bytes[0]!;
      return;
    }
    if (bytes.length === 0 || bytes.length % 2) throw new I2CNack(this.address, `write of ${bytes.length} bytes`);
    for (let i = 0; i < bytes.length; i += 2) {
      const register = bytes[i]!;
      if (!WRITABLE.includes(register)) continue;
      this.#regs[register] = bytes[i + 1]!;
      // Modes 01 and 10 are both forced mode (§5.4.5); ctrl_hum counts from this write on (§5.4.3).
      if (register === CTRL_MEAS && (bytes[i + 1]! & 0b11) !== 0 && (bytes[i + 1]! & 0b11) !== 0b11) this.#startConversion();
    }
  }

  read(byteLength: number): Uint8Array {
    this.#latch();
    const out = new Uint8Array(byteLength);
    for (let i = 0; i < byteLength; i++) out[i] = this.#register((this.#pointer + i) & 0xff);
    return out;
  }

  #register(address: number): number {
    if (address === STATUS) return this.#converting ? 0x08 : 0;
    return this.#regs[address]!;
  }

  #startConversion(): void {
    const t = osrs(this.#regs[CTRL_MEAS]! >> 5);
    const p = osrs(this.#regs[CTRL_MEAS]! >> 2);
    const h = osrs(this.#regs[CTRL_HUM]!);
    const { temperature, humidity, pressure } = this.environment.at(this.clock.now());
    const { adcT, adcP, adcH } = rawWords(this.#calibration, { temperature, humidity, pressure }, { t, p, h });
    const data = Uint8Array.of(adcP >> 12, (adcP >> 4) & 0xff, (adcP & 0x0f) << 4, adcT >> 12, (adcT >> 4) & 0xff, (adcT & 0x0f) << 4, adcH >> 8, adcH & 0xff);
    // §9.1 typical measurement time.
    const ms = 1 + 2 * t + (p ? 2 * p + 0.5 : 0) + (h ? 2 * h + 0.5 : 0);
    this.#converting = { data, readyAt: this.clock.ticks() + ms };
  }

  /** A finished conversion lands in the data registers and the chip returns to sleep mode. */
  #latch(): void {
    if (!this.#converting || this.clock.ticks() < this.#converting.readyAt) return;
    this.#regs.set(this.#converting.data, DATA);
    this.#regs[CTRL_MEAS]! &= ~0b11;
    this.#converting = undefined;
  }
}

/** Oversampling factor of an osrs_x field (§5.4.3): 0 = skipped, 1..5 = ×1..×16. */
function osrs(field: number): number {
  const code = field & 0b111;
  return code === 0 ? 0 : 1 << (Math.min(code, 5) - 1);
}

/**
 * The raw words whose compensation is nearest to the conditions. Each ADC has 16 + log2(oversampling)
 * significant bits of its 20 (§3.4, Table 7; humidity always 16), so the search runs over those
 * steps only; a skipped measurement reads 0x80000 / 0x8000 as on the chip.
 */
export function rawWords(c: Calibration, conditions: { temperature: number; humidity: number; pressure: number }, oversampling: { t: number; p: number; h: number }): { adcT: number; adcP: number; adcH: number } {
  const step = (factor: number) => 16 / factor;
  const adcT = oversampling.t ? nearest(step(oversampling.t), 0x100000, (adc) => compensateTemperature(c, adc).tFine / 5120, conditions.temperature) : 0x80000;
  const { tFine } = compensateTemperature(c, adcT);
  // Pressure falls as adc_P rises: search its negative.
  const adcP = oversampling.p ? nearest(step(oversampling.p), 0x100000, (adc) => -compensatePressure(c, adc, tFine), -conditions.pressure) : 0x80000;
  const adcH = oversampling.h ? nearest(1, 0x10000, (adc) => compensateHumidity(c, adc, tFine) / 1024, conditions.humidity) : 0x8000;
  return { adcT, adcP, adcH };
}

/** Binary search over adc = k·step in [0, limit) for the f(adc) nearest to target; f non-decreasing. */
function nearest(step: number, limit: number, f: (adc: number) => number, target: number): number {
  let lo = 0;
  let hi = limit / step - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (f(mid * step) < target) lo = mid + 1;
    else hi = mid;
  }
  const above = lo * step;
  const below = Math.max(0, lo - 1) * step;
  return Math.abs(f(below) - target) <= Math.abs(f(above) - target) ? below : above;
}
