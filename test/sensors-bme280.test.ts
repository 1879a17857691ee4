// BME280: Bosch's integer compensation against Bosch's worked example and the datasheet's own
// floating-point formulas (§8.1), the calibration register layout (Table 16), the chip-id check,
// and the driver against the register-level virtual chip at every oversampling.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import BME280, { compensateHumidity, compensatePressure, compensateTemperature, parseCalibration, type Calibration } from "../src/sensors/bme280";
import { SensorError, type Sample } from "../src/sensors/sensor";
import { calibrationRegisters, exampleCalibration, VirtualBME280 } from "../hosts/virtual/bme280";
import type { Conditions } from "../hosts/virtual/environment";
import { VirtualI2CBus } from "../hosts/virtual/i2c-bus";
import { virtualI2C } from "../hosts/virtual/virtual-i2c";
import { FakeTime } from "./fixtures/xs/sensors-ops";

// The datasheet's double-precision compensation (BME280 §8.1), as an independent oracle.
function temperatureDouble(c: Calibration, adc: number): { tFine: number; celsius: number } {
  const var1 = (adc / 16384 - c.T1 / 1024) * c.T2;
  const var2 = (adc / 131072 - c.T1 / 8192) ** 2 * c.T3;
  return { tFine: var1 + var2, celsius: (var1 + var2) / 5120 };
}
function pressureDouble(c: Calibration, adc: number, tFine: number): number {
  let var1 = tFine / 2 - 64000;
  let var2 = (var1 * var1 * c.P6) / 32768;
  var2 = var2 + var1 * c.P5 * 2;
  var2 = var2 / 4 + c.P4 * 65536;
  var1 = ((c.P3 * var1 * var1) / 524288 + c.P2 * var1) / 524288;
  var1 = (1 + var1 / 32768) * c.P1;
  let p = 1048576 - adc;
  p = ((p - var2 / 4096) * 6250) / var1;
  var1 = (c.P9 * p * p) / 2147483648;
  var2 = (p * c.P8) / 32768;
  return p + (var1 + var2 + c.P7) / 16;
}
function humidityDouble(c: Calibration, adc: number, tFine: number): number {
  let h = tFine - 76800;
  h = (adc - (c.H4 * 64 + (c.H5 / 16384) * h)) * ((c.H2 / 65536) * (1 + (c.H6 / 67108864) * h * (1 + (c.H3 / 67108864) * h)));
  h = h * (1 - (c.H1 * h) / 524288);
  return Math.min(100, Math.max(0, h));
}

describe("BME280 compensation", () => {
  // Bosch's worked example (BMP280 datasheet §3.12; the BME280's T and P formulas are the same):
  // adc_T = 519888 → t_fine = 128422, T = 25.08 °C; adc_P = 415148 → p = 100653.27 Pa.
  it("gives the worked example's temperature exactly", () => {
    assert.deepEqual(compensateTemperature(exampleCalibration, 519888), { tFine: 128422, centiCelsius: 2508 });
  });

  it("gives the worked example's pressure to within 1/256 Pa's rounding", () => {
    const p = compensatePressure(exampleCalibration, 415148, 128422);
    assert.ok(Math.abs(p - 100653.27) < 0.03, `${p} Pa`);
  });

  it("agrees with the datasheet's double-precision formulas across the operating range", () => {
    let worst = { t: 0, p: 0, h: 0 };
    for (let adcT = 300_000; adcT <= 700_000; adcT += 20_000) {
      const { tFine, centiCelsius } = compensateTemperature(exampleCalibration, adcT);
      const reference = temperatureDouble(exampleCalibration, adcT);
      worst.t = Math.max(worst.t, Math.abs(centiCelsius / 100 - reference.celsius));
      for (let adcP = 250_000; adcP <= 600_000; adcP += 25_000) {
        const p = compensatePressure(exampleCalibration, adcP, tFine);
        if (p > 30_000 && p < 110_000) worst.p = Math.max(worst.p, Math.abs(p - pressureDouble(exampleCalibration, adcP, reference.tFine)));
      }
      for (let adcH = 20_000; adcH <= 45_000; adcH += 1_000) {
        const h = compensateHumidity(exampleCalibration, adcH, tFine) / 1024;
        worst.h = Math.max(worst.h, Math.abs(h - humidityDouble(exampleCalibration, adcH, reference.tFine)));
      }
    }
    // Within each formula's output step: 0.01 °C, 1/256 Pa (plus t_fine's integer truncation), 1/1024 %RH.
    assert.ok(worst.t <= 0.006, `temperature off by ${worst.t}`);
    assert.ok(worst.p <= 0.1, `pressure off by ${worst.p}`);
    assert.ok(worst.h <= 0.01, `humidity off by ${worst.h}`);
  });

  it("clamps humidity to 0..100 %RH as the datasheet's code does", () => {
    const { tFine } = compensateTemperature(exampleCalibration, 519888);
    assert.equal(compensateHumidity(exampleCalibration, 0, tFine), 0);
    assert.equal(compensateHumidity(exampleCalibration, 0xffff, tFine), 100 * 1024);
  });

  it("parses the calibration registers as Table 16 lays them out, signs included", () => {
    // 0x88.. LSB first: dig_T1 = 27504 = 0x6B70, dig_T2 = 26435 = 0x6743, dig_T3 = -1000 = 0xFC18, …
    const tp = Uint8Array.of(
      0x70, 0x6b, 0x43, 0x67, 0x18, 0xfc, 0x7d, 0x8e, 0x43, 0xd6, 0xd0, 0x0b, 0x27, 0x0b,
      0x8c, 0x00, 0xf9, 0xff, 0x8c, 0x3c, 0xf8, 0xc6, 0x70, 0x17, 0x00, 75,
    );
    // 0xE1..0xE7: dig_H2 = 362, dig_H3 = 0, dig_H4 = 0x13 << 4 | 0x9 = 313, dig_H5 = 0x03 << 4 | 0x2 = 50, dig_H6 = 30.
    const h = Uint8Array.of(0x6a, 0x01, 0x00, 0x13, 0x29, 0x03, 0x1e);
    assert.deepEqual(parseCalibration(tp, h), exampleCalibration);
    assert.deepEqual(calibrationRegisters(exampleCalibration), { tp, h });
    const negative = parseCalibration(tp, Uint8Array.of(0x00, 0x80, 0xff, 0xff, 0xf8, 0xff, 0xe7));
    assert.deepEqual([negative.H2, negative.H3, negative.H4, negative.H5, negative.H6], [-32768, 255, -8, -1, -25]);
  });
});

function fixed(conditions: Conditions): { at: () => Conditions } {
  return { at: () => conditions };
}

/** Opens a driver on a bus with `device` and takes one sample on simulated time. */
function sampleOnce(device: VirtualBME280 | undefined, time: FakeTime, options: Record<string, unknown> = {}, runTimers = () => { while (time.runNext()); }): { error?: SensorError; sample?: Sample } {
  const bus = new VirtualI2CBus();
  if (device) bus.attach(0x76, device);
  let result: { error?: SensorError; sample?: Sample } | undefined;
  try {
    const driver = new BME280({ sensor: { io: virtualI2C(bus), data: 21, clock: 22, hz: 100_000, address: 0x76 }, timer: time });
    driver.configure(options);
    driver.sample((error, sample) => {
      driver.close();
      result = error ? { error } : { sample: sample! };
    });
  } catch (e) {
    assert.ok(e instanceof SensorError, String(e));
    return { error: e };
  }
  runTimers();
  assert.ok(result, "the driver called back");
  return result;
}

describe("BME280 driver against the virtual BME280", () => {
  const at = Date.UTC(2026, 10, 25, 12);

  // Datasheet Tables 6 and 7 (§3.4): resolution at each oversampling, for ×1, ×2, ×4, ×8, ×16.
  const pressureResolution: Record<number, number> = { 1: 2.62, 2: 1.31, 4: 0.66, 8: 0.33, 16: 0.16 };
  const temperatureResolution: Record<number, number> = { 1: 0.005, 2: 0.0025, 4: 0.0012, 8: 0.0006, 16: 0.0003 };
  for (const factor of [1, 2, 4, 8, 16]) {
    it(`reads the environment within the chip's resolution at oversampling ×${factor}`, () => {
      for (const conditions of [
        { temperature: 21.37, humidity: 41.2, pressure: 101_325 },
        { temperature: -12.5, humidity: 88.8, pressure: 87_000.4 },
        { temperature: 61.02, humidity: 5.5, pressure: 108_999.9 },
      ]) {
        const time = new FakeTime(at);
        const { sample, error } = sampleOnce(new VirtualBME280(0x76, fixed(conditions), time), time, { oversampling: { temperature: factor, pressure: factor, humidity: factor } });
        assert.equal(error, undefined);
        // The driver reports T in 0.01 °C steps; the ADC step is finer still.
        assert.ok(Math.abs(sample!.thermometer!.temperature! - conditions.temperature) <= 0.005 + temperatureResolution[factor]!, `T ${sample!.thermometer!.temperature}`);
        assert.ok(Math.abs(sample!.barometer!.pressure! - conditions.pressure) <= pressureResolution[factor]! / 2 + 0.01, `P ${sample!.barometer!.pressure} at ×${factor}`);
        // Humidity is a 16-bit ADC at every oversampling: about 0.008 %RH a step (Table 8).
        assert.ok(Math.abs(sample!.hygrometer!.humidity! - conditions.humidity) <= 0.01, `H ${sample!.hygrometer!.humidity}`);
      }
    });
  }

  it("waits for the measurement on the timer, for the datasheet's maximum time", () => {
    const time = new FakeTime(at);
    sampleOnce(new VirtualBME280(0x76, fixed({ temperature: 20, humidity: 50, pressure: 100_000 }), time), time);
    // §9.1 at ×1: 1.25 + 2.3 + 2.875 + 2.875 = 9.3 ms → 10.
    assert.deepEqual(time.delays, [10]);
    const slow = new FakeTime(at);
    sampleOnce(new VirtualBME280(0x76, fixed({ temperature: 20, humidity: 50, pressure: 100_000 }), slow), slow, { oversampling: { temperature: 2, pressure: 16, humidity: 1 } });
    // 1.25 + 4.6 + 37.375 + 2.875 = 46.1 ms → 47.
    assert.deepEqual(slow.delays, [47]);
  });

  it("asks again while the status register says measuring, and gives up with a timeout", () => {
    // Timers that fire without time passing: the chip is forever measuring.
    const time = new FakeTime(at);
    const pending: (() => void)[] = [];
    const frozen = { set: (callback: () => void) => pending.push(callback), clear: () => {} };
    const bus = new VirtualI2CBus();
    bus.attach(0x76, new VirtualBME280(0x76, fixed({ temperature: 20, humidity: 50, pressure: 100_000 }), time));
    const driver = new BME280({ sensor: { io: virtualI2C(bus), data: 21, clock: 22, hz: 100_000, address: 0x76 }, timer: frozen });
    let result: SensorError | undefined;
    driver.sample((error) => (result = error));
    let polls = 0;
    for (; pending.length; polls++) pending.shift()!();
    driver.close();
    assert.equal(result?.fault, "timeout");
    assert.equal(polls, 4, "one read after the wait, then three bounded retries");
  });

  it("tells the user a BMP280 was found where a BME280 is configured", () => {
    const time = new FakeTime(at);
    const { error } = sampleOnce(new VirtualBME280(0x76, fixed({ temperature: 20, humidity: 50, pressure: 100_000 }), time, { chipId: 0x58 }), time);
    assert.equal(error?.fault, "chip-id");
    assert.match(error!.message, /BMP280 \(chip id 0x58\).*no humidity/);
  });

  it("names any other chip id it finds", () => {
    const time = new FakeTime(at);
    const { error } = sampleOnce(new VirtualBME280(0x76, fixed({ temperature: 20, humidity: 50, pressure: 100_000 }), time, { chipId: 0x55 }), time);
    assert.equal(error?.fault, "chip-id");
    assert.match(error!.message, /chip id 0x55, not a BME280's 0x60/);
  });

  it("reads the calibration once per driver instance, however many samples", () => {
    const time = new FakeTime(at);
    const device = new VirtualBME280(0x76, fixed({ temperature: 20, humidity: 50, pressure: 100_000 }), time);
    const reads: number[] = [];
    const bus = new VirtualI2CBus();
    bus.attach(0x76, {
      write: (bytes) => {
        if (bytes.length === 1) reads.push(bytes[0]!);
        device.write(bytes);
      },
      read: (n) => device.read(n),
    });
    const driver = new BME280({ sensor: { io: virtualI2C(bus), data: 21, clock: 22, hz: 100_000, address: 0x76 }, timer: time });
    for (let i = 0; i < 3; i++) {
      driver.sample(() => {});
      while (time.runNext());
    }
    driver.close();
    assert.deepEqual(reads, [0xd0, 0x88, 0xe1, 0xf3, 0xf3, 0xf3]);
  });

  it("reports 150 °C as a range fault, not a reading", () => {
    const time = new FakeTime(at);
    const { error } = sampleOnce(new VirtualBME280(0x76, fixed({ temperature: 150, humidity: 50, pressure: 100_000 }), time), time);
    assert.equal(error?.fault, "range");
    assert.match(error!.message, /temperature 150 °C is outside the sensor's range -40\.\.85 °C/);
  });

  it("reports a pressure beyond 300..1100 hPa as a range fault", () => {
    const time = new FakeTime(at);
    const { error } = sampleOnce(new VirtualBME280(0x76, fixed({ temperature: 20, humidity: 50, pressure: 120_000 }), time), time);
    assert.equal(error?.fault, "range");
    assert.match(error!.message, /pressure 1\d{5}(\.\d+)? Pa is outside the sensor's range 30000\.\.110000 Pa/);
  });

  it("refuses an oversampling the chip does not have", () => {
    const time = new FakeTime(at);
    const bus = new VirtualI2CBus();
    bus.attach(0x76, new VirtualBME280(0x76, fixed({ temperature: 20, humidity: 50, pressure: 100_000 }), time));
    const driver = new BME280({ sensor: { io: virtualI2C(bus), data: 21, clock: 22, hz: 100_000, address: 0x76 }, timer: time });
    assert.throws(() => driver.configure({ oversampling: { pressure: 3 } }), { name: "OptionError", message: "options.oversampling.pressure: expected one of 1, 2, 4, 8, 16, got 3" });
    driver.close();
  });
});
