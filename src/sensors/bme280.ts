// Bosch BME280 temperature, pressure and humidity over I2C, in forced mode: each sample is one
// measurement, after which the chip is back in sleep mode (0.1 µA) — the datasheet's "weather
// monitoring" use (§3.5.1: forced mode, oversampling ×1, filter off).
// Datasheet: BST-BME280-DS002 (rev 1.6, 2018): §5.3 memory map, §5.4 registers, §4.2.2 trimming
// parameters (Table 16), §4.2.3 integer compensation, §9.1 measurement time.

import { Conversion, I2CLink, inRange, knownOptions, optionObject, optionOneOf, SensorError, type Sample, type SampleCallback, type Sensor, type SensorOptions } from "./sensor";

/** §5.3 memory map. */
const REG = {
  calibTP: 0x88, // calib00..calib25: dig_T1..dig_P9, then dig_H1 at 0xA1
  id: 0xd0,
  calibH: 0xe1, // calib26..: dig_H2..dig_H6 in 0xE1..0xE7
  ctrlHum: 0xf2,
  status: 0xf3,
  ctrlMeas: 0xf4,
  config: 0xf5,
} as const;

export const BME280_ID = 0x60;
/** A BMP280 (its datasheet §4.3.1): the same registers at the same addresses, but no humidity. */
export const BMP280_ID = 0x58;

const MODE_SLEEP = 0b00;
const MODE_FORCED = 0b01;
/** status bit 3: "measuring" is set while a conversion runs (§5.4.4). */
const STATUS_MEASURING = 0x08;

/** §4.2.2 Table 16: the trimming parameters, as the compensation formulas name them. */
export interface Calibration {
  T1: number; T2: number; T3: number;
  P1: number; P2: number; P3: number; P4: number; P5: number; P6: number; P7: number; P8: number; P9: number;
  H1: number; H2: number; H3: number; H4: number; H5: number; H6: number;
}

/** Parses the 26 bytes at 0x88..0xA1 and the 7 at 0xE1..0xE7 (Table 16; words are LSB first). */
export function parseCalibration(tp: Uint8Array, h: Uint8Array): Calibration {
  const v = new DataView(tp.buffer, tp.byteOffset, tp.byteLength);
  const u16 = (i: number) => v.getUint16(i, true);
  const s16 = (i: number) => v.getInt16(i, true);
  const s8 = (b: number) => (b << 24) >> 24;
  return {
    T1: u16(0), T2: s16(2), T3: s16(4),
    P1: u16(6), P2: s16(8), P3: s16(10), P4: s16(12), P5: s16(14), P6: s16(16), P7: s16(18), P8: s16(20), P9: s16(22),
    H1: tp[25]!,
    H2: (s8(h[1]!) << 8) | h[0]!,
    H3: h[2]!,
    // dig_H4 is 0xE4[7:0] as bits 11..4 and 0xE5[3:0]; dig_H5 is 0xE6 as bits 11..4 and 0xE5[7:4]; both signed.
    H4: (s8(h[3]!) << 4) | (h[4]! & 0x0f),
    H5: (s8(h[5]!) << 4) | (h[4]! >> 4),
    H6: s8(h[6]!),
  };
}

// The datasheet's integer compensation. Temperature and humidity exist only as 32-bit versions:
// they run in C's int32 arithmetic — Math.imul multiplies and `| 0` adds with the wrap-around of the
// reference code on a 32-bit MCU, `>>` is C's arithmetic shift. Pressure uses the 64-bit version
// (§4.2.3) in BigInt, because the 32-bit one (§8.2) is off by 2.7 Pa on Bosch's worked example
// (BMP280 datasheet §3.12, the same formulas): a dozen BigInt operations once per sample are a
// fair price on XS for the chip's accuracy.

/** §4.2.3 BME280_compensate_T_int32: `t_fine` for the other two, and T in 0.01 °C. */
export function compensateTemperature(c: Calibration, adcT: number): { tFine: number; centiCelsius: number } {
  const var1 = Math.imul(((adcT >> 3) - (c.T1 << 1)) | 0, c.T2) >> 11;
  const d = ((adcT >> 4) - c.T1) | 0;
  const var2 = Math.imul(Math.imul(d, d) >> 12, c.T3) >> 14;
  const tFine = (var1 + var2) | 0;
  return { tFine, centiCelsius: (Math.imul(tFine, 5) + 128) >> 8 };
}

/** §4.2.3 BME280_compensate_P_int64: pressure in Pa, to 1/256 Pa (0 when the calibration would divide by zero). */
export function compensatePressure(c: Calibration, adcP: number, tFine: number): number {
  let var1 = BigInt(tFine) - 128000n;
  let var2 = var1 * var1 * BigInt(c.P6);
  var2 += (var1 * BigInt(c.P5)) << 17n;
  var2 += BigInt(c.P4) << 35n;
  var1 = ((var1 * var1 * BigInt(c.P3)) >> 8n) + ((var1 * BigInt(c.P2)) << 12n);
  var1 = (((1n << 47n) + var1) * BigInt(c.P1)) >> 33n;
  if (var1 === 0n) return 0;
  // BigInt division truncates toward zero, as C's does.
  let p = ((((1048576n - BigInt(adcP)) << 31n) - var2) * 3125n) / var1;
  var1 = (BigInt(c.P9) * (p >> 13n) * (p >> 13n)) >> 25n;
  var2 = (BigInt(c.P8) * p) >> 19n;
  p = ((p + var1 + var2) >> 8n) + (BigInt(c.P7) << 4n);
  return Number(p) / 256;
}

/** §4.2.3 bme280_compensate_H_int32: relative humidity in %RH × 1024 (Q22.10), clamped to 0..100 %. */
export function compensateHumidity(c: Calibration, adcH: number, tFine: number): number {
  let v = (tFine - 76800) | 0;
  const a = ((((adcH << 14) - (c.H4 << 20) - Math.imul(c.H5, v)) | 0) + 16384) >> 15;
  const b = (Math.imul(((Math.imul(Math.imul(v, c.H6) >> 10, ((Math.imul(v, c.H3) >> 11) + 32768) | 0) >> 10) + 2097152) | 0, c.H2) + 8192) >> 14;
  v = Math.imul(a, b);
  v = (v - (Math.imul(Math.imul(v >> 15, v >> 15) >> 7, c.H1) >> 4)) | 0;
  v = Math.min(Math.max(v, 0), 419430400);
  return v >> 12;
}

export type Oversampling = 1 | 2 | 4 | 8 | 16;
const oversamplings: readonly Oversampling[] = [1, 2, 4, 8, 16];

export interface BME280Options {
  oversampling: { temperature: Oversampling; pressure: Oversampling; humidity: Oversampling };
}

/** Checks `options` ({oversampling: {temperature, pressure, humidity}}, each 1, 2, 4, 8 or 16). */
export function parseBME280Options(options: Record<string, unknown>): Partial<BME280Options["oversampling"]> {
  knownOptions(options, ["oversampling"]);
  const o = optionObject(options, "oversampling");
  if (!o) return {};
  knownOptions(o, ["temperature", "pressure", "humidity"], "oversampling.");
  const parsed: Partial<BME280Options["oversampling"]> = {};
  for (const key of ["temperature", "pressure", "humidity"] as const) {
    const value = optionOneOf(o, key, oversamplings, "oversampling.");
    if (value !== undefined) parsed[key] = value;
  }
  return parsed;
}

/** The osrs_x register code of an oversampling factor (§5.4.3, §5.4.5): ×1 → 001 … ×16 → 101. */
function osrs(factor: Oversampling): number {
  return 31 - Math.clz32(factor) + 1;
}

/** §9.1: maximum measurement time in ms for the given oversampling. */
export function measurementMs({ temperature, pressure, humidity }: BME280Options["oversampling"]): number {
  return 1.25 + 2.3 * temperature + (2.3 * pressure + 0.575) + (2.3 * humidity + 0.575);
}

/** Operating ranges (§1, Table 1): −40..85 °C, 300..1100 hPa; humidity is clamped by the formula. */
const RANGE = { minC: -40, maxC: 85, minPa: 30000, maxPa: 110000 };

export default class BME280 implements Sensor {
  #link: I2CLink;
  #conversion: Conversion;
  #calibration: Calibration;
  #oversampling: BME280Options["oversampling"] = { temperature: 1, pressure: 1, humidity: 1 };

  /** Checks the chip id and reads the calibration (once: it is fixed in the chip's NVM). */
  constructor(options: SensorOptions) {
    const address = options.sensor.address ?? 0x76;
    this.#link = new I2CLink("bme280", { ...options.sensor, address });
    this.#conversion = new Conversion(options.timer);
    try {
      const id = this.#link.readRegisters("read chip id", REG.id, 1)[0]!;
      if (id !== BME280_ID) throw new SensorError("chip-id", describeChip(id, address));
      this.#calibration = parseCalibration(
        this.#link.readRegisters("read calibration", REG.calibTP, 26),
        this.#link.readRegisters("read calibration", REG.calibH, 7),
      );
      // A consistent start (ECMA-419 §13): sleep mode, IIR filter off (config is only written in sleep).
      this.#link.write("set sleep mode", Uint8Array.of(REG.ctrlMeas, MODE_SLEEP, REG.config, 0));
    } catch (e) {
      this.#link.close();
      throw e;
    }
  }

  configure(options: Record<string, unknown>): void {
    this.#oversampling = { ...this.#oversampling, ...parseBME280Options(options) };
  }

  sample(callback: SampleCallback): void {
    const o = this.#oversampling;
    this.#conversion.run(
      // ctrl_hum takes effect only with the following ctrl_meas write (§5.4.3): both in one transfer.
      () => this.#link.write("start measurement", Uint8Array.of(REG.ctrlHum, osrs(o.humidity), REG.ctrlMeas, (osrs(o.temperature) << 5) | (osrs(o.pressure) << 2) | MODE_FORCED)),
      Math.ceil(measurementMs(o)),
      () => this.#read(),
      callback,
    );
  }

  close(): void {
    this.#conversion.cancel();
    this.#link.close();
  }

  /** One burst from status (0xF3) to hum_lsb (0xFE); undefined while the chip is still measuring. */
  #read(): Sample | undefined {
    const r = this.#link.readRegisters("read measurement", REG.status, 12);
    if (r[0]! & STATUS_MEASURING) return undefined;
    const adcP = (r[4]! << 12) | (r[5]! << 4) | (r[6]! >> 4);
    const adcT = (r[7]! << 12) | (r[8]! << 4) | (r[9]! >> 4);
    const adcH = (r[10]! << 8) | r[11]!;
    const c = this.#calibration;
    const { tFine, centiCelsius } = compensateTemperature(c, adcT);
    return {
      thermometer: { temperature: inRange("bme280: temperature", centiCelsius / 100, RANGE.minC, RANGE.maxC, "°C") },
      hygrometer: { humidity: compensateHumidity(c, adcH, tFine) / 1024 },
      barometer: { pressure: inRange("bme280: pressure", compensatePressure(c, adcP, tFine), RANGE.minPa, RANGE.maxPa, "Pa") },
    };
  }
}

function describeChip(id: number, address: number): string {
  const at = `at 0x${address.toString(16)}`;
  if (id === BMP280_ID) return `bme280: the chip ${at} is a BMP280 (chip id 0x58), which measures temperature and pressure but no humidity; fit a BME280 (chip id 0x60)`;
  return `bme280: the chip ${at} has chip id 0x${id.toString(16).padStart(2, "0")}, not a BME280's 0x60`;
}
