// SHT4x, battery and contact drivers against their virtual devices: what they read, what they wait
// for, and how they fail. (BME280: sensors-bme280.test.ts; SHT3x: sht3x.test.ts; every driver with
// every injected fault through the wake's sampling path: sensors-faults.test.ts.)

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Battery, { BatteryScale, batteryDefaults, parseBatteryOptions } from "../src/sensors/battery";
import Contact, { parseContactOptions } from "../src/sensors/contact";
import { SensorError, type Sample, type Sensor } from "../src/sensors/sensor";
import SHT4x, { sht4x } from "../src/sensors/sht4x";
import { DISCHARGE_PERIOD_MS, dischargeVoltage, VirtualBattery } from "../hosts/virtual/battery";
import { VirtualContact } from "../hosts/virtual/contact";
import { VirtualI2CBus } from "../hosts/virtual/i2c-bus";
import { virtualAnalog, virtualDigital } from "../hosts/virtual/pins";
import { VirtualSHT4x } from "../hosts/virtual/sht4x";
import { virtualI2C } from "../hosts/virtual/virtual-i2c";
import { FakeTime } from "./fixtures/xs/sensors-ops";

type Outcome = { error?: SensorError; sample?: Sample };

/** Configures, samples once on simulated time and closes; a constructor's fault is an outcome too. */
function sampleWith(time: FakeTime, open: () => Sensor, options: Record<string, unknown> = {}): Outcome {
  let driver: Sensor;
  try {
    driver = open();
  } catch (e) {
    assert.ok(e instanceof SensorError, String(e));
    return { error: e };
  }
  driver.configure(options);
  let outcome: Outcome | undefined;
  driver.sample((error, sample) => (outcome = error ? { error } : { sample: sample! }));
  while (time.runNext());
  driver.close();
  assert.ok(outcome, "the driver called back");
  return outcome;
}

const noon = Date.UTC(2026, 10, 25, 12);
const conditions = { temperature: 23.45, humidity: 41.2, pressure: 101_325 };

describe("SHT4x driver against the virtual SHT4x", () => {
  function sht4xOn(bus: VirtualI2CBus, time: FakeTime, address = 0x44) {
    return () => new SHT4x({ sensor: { io: virtualI2C(bus), data: 21, clock: 22, hz: 100_000, address }, timer: time });
  }

  it("reads temperature and humidity within the chip's resolution, in one high-precision shot", () => {
    const time = new FakeTime(noon);
    const bus = new VirtualI2CBus();
    bus.attach(0x44, new VirtualSHT4x(0x44, { at: () => conditions }, time));
    const { sample, error } = sampleWith(time, sht4xOn(bus, time));
    assert.equal(error, undefined);
    // One raw step is 175/65535 °C and 125/65535 %RH; rounding to the nearest step halves that.
    assert.ok(Math.abs(sample!.thermometer!.temperature! - 23.45) <= 175 / 65535 / 2);
    assert.ok(Math.abs(sample!.hygrometer!.humidity! - 41.2) <= 125 / 65535 / 2);
    // 0xFD, waited out for Table 5's 8.3 ms maximum (+1 ms), and nothing else.
    assert.deepEqual(time.delays, [10]);
  });

  it("uses the medium and low repeatability commands with their shorter waits", () => {
    for (const [repeatability, wait] of [["medium", 6], ["low", 3]] as const) {
      const time = new FakeTime(noon);
      const bus = new VirtualI2CBus();
      bus.attach(0x44, new VirtualSHT4x(0x44, { at: () => conditions }, time));
      const { sample } = sampleWith(time, sht4xOn(bus, time), { repeatability });
      assert.ok(Math.abs(sample!.thermometer!.temperature! - 23.45) < 0.01);
      assert.deepEqual(time.delays, [wait]);
    }
  });

  it("crops humidity to 0..100 %RH as the datasheet says, and converts its extremes", () => {
    assert.deepEqual(sht4x.convert(0, 0), { temperature: -45, humidity: 0 });
    assert.deepEqual(sht4x.convert(0xffff, 0xffff), { temperature: 130, humidity: 100 });
    assert.equal(sht4x.convert(0x8000, 0x8000).humidity, -6 + (125 * 0x8000) / 65535);
  });

  it("reads the serial number once per driver instance when asked to", () => {
    const time = new FakeTime(noon);
    const bus = new VirtualI2CBus();
    const device = new VirtualSHT4x(0x45, { at: () => conditions }, time);
    bus.attach(0x45, device);
    const driver = new SHT4x({ sensor: { io: virtualI2C(bus), data: 21, clock: 22, hz: 100_000, address: 0x45 }, timer: time });
    driver.configure({ serialNumber: true });
    for (let i = 0; i < 2; i++) {
      driver.sample((error) => assert.equal(error, undefined));
      while (time.runNext());
    }
    driver.close();
    assert.equal(driver.serialNumber, device.serialNumber);
    assert.deepEqual(time.delays, [2, 10, 10], "serial number (2 ms) before the first measurement only");
  });

  it("refuses unknown options and repeatabilities", () => {
    assert.throws(() => sht4xOn(new VirtualI2CBus(), new FakeTime(noon))().configure({ precision: "high" }), /options\.precision: unknown option \(known: repeatability, serialNumber\)/);
    assert.throws(() => sht4xOn(new VirtualI2CBus(), new FakeTime(noon))().configure({ repeatability: "best" }), /options\.repeatability: expected one of "high", "medium", "low"/);
  });
});

describe("battery driver against the virtual ADC", () => {
  function batteryOn(time: FakeTime, options: Record<string, unknown> = {}, voltage?: (t: number) => number) {
    const scale = new BatteryScale({ ...batteryDefaults, ...parseBatteryOptions(options) }, 12);
    const Analog = virtualAnalog(new Map([[34, new VirtualBattery(scale, time, voltage)]]));
    return () => new Battery({ sensor: { io: Analog, pin: 34 } });
  }

  it("follows the discharge curve over a month, to the ADC's step", () => {
    const step = (3.3 * 2) / 4095;
    let last = Infinity;
    const charged = Math.ceil(Date.UTC(2026, 0, 1) / DISCHARGE_PERIOD_MS) * DISCHARGE_PERIOD_MS;
    for (let day = 0; day < 30; day += 3) {
      const at = charged + day * 86_400_000;
      const time = new FakeTime(at);
      const { sample, error } = sampleWith(time, batteryOn(time));
      assert.equal(error, undefined);
      const voltage = sample!.battery!.voltage!;
      assert.ok(Math.abs(voltage - dischargeVoltage(at)) <= step / 2 + 1e-9, `day ${day}: ${voltage} V vs ${dischargeVoltage(at)} V`);
      assert.ok(voltage <= last, "a discharging cell never rises");
      assert.deepEqual(time.delays, [], "no timer: an ADC read needs no wait");
      last = voltage;
    }
  });

  it("applies the divider, full scale and a scale/offset calibration", () => {
    const time = new FakeTime(noon);
    // The board's cell at 3.9 V read through a 3:1 divider on a 2.5 V ADC, then corrected.
    const options = { divider: 3, fullScale: 2.5, calibration: { scale: 1.01, offset: -0.02 } };
    const { sample } = sampleWith(time, batteryOn(time, options, () => 3.9), options);
    assert.ok(Math.abs(sample!.battery!.voltage! - 3.9) <= (3 * 2.5 * 1.01) / 4095);
  });

  it("maps readings through a two-point calibration", () => {
    const scale = new BatteryScale({ ...batteryDefaults, ...parseBatteryOptions({ calibration: { points: [{ raw: 2000, volts: 3.3 }, { raw: 2600, volts: 4.2 }] } }) }, 12);
    assert.equal(scale.volts(2000), 3.3);
    assert.ok(Math.abs(scale.volts(2300) - 3.75) < 1e-12);
    assert.equal(scale.raw(4.2), 2600);
  });

  it("reports a reading at the ADC's rail as a range fault, never as a voltage", () => {
    for (const volts of [100, 0]) {
      const time = new FakeTime(noon);
      const { error } = sampleWith(time, batteryOn(time, {}, () => volts));
      assert.equal(error?.fault, "range");
      assert.match(error!.message, /ADC reading at its rail/);
    }
  });

  it("reports a pin without an analog input as absent", () => {
    const { error } = sampleWith(new FakeTime(noon), () => new Battery({ sensor: { io: virtualAnalog(new Map()), pin: 35 } }));
    assert.equal(error?.fault, "absent");
    assert.match(error!.message, /no analog input on pin 35/);
  });

  it("refuses a two-point calibration combined with a divider, and points that cannot define a line", () => {
    assert.throws(() => parseBatteryOptions({ divider: 2, calibration: { points: [{ raw: 1, volts: 1 }, { raw: 2, volts: 2 }] } }), { name: "OptionError", key: "calibration.points" });
    assert.throws(() => parseBatteryOptions({ calibration: { points: [{ raw: 5, volts: 1 }, { raw: 5, volts: 2 }] } }), /different raw readings/);
    assert.throws(() => parseBatteryOptions({ calibration: { points: [{ raw: 5 }, { raw: 6, volts: 2 }] } }), { key: "calibration.points[0]" });
    assert.throws(() => parseBatteryOptions({ average: 2.5 }), /options\.average: expected an integer from 1 to 64/);
  });
});

describe("contact driver against the virtual door", () => {
  function contactOn(time: FakeTime, options: Record<string, unknown> = {}) {
    const { invert = false, pull } = parseContactOptions(options);
    const Digital = virtualDigital(new Map([[4, new VirtualContact(time, invert ? 0 : 1)]]));
    return () => new Contact({ sensor: { io: Digital, pin: 4, ...(pull ? { pull } : {}) } });
  }
  const hour = Date.UTC(2026, 10, 25, 9);

  it("reports 1 while the door is open and 0 once it is closed", () => {
    for (const [minute, position] of [[0, 1], [4, 1], [5, 0], [30, 0], [60, 1]] as const) {
      const time = new FakeTime(hour + minute * 60_000);
      assert.deepEqual(sampleWith(time, contactOn(time)).sample, { switch: { position } }, `minute ${minute}`);
    }
  });

  it("means the same with the other wiring (pull-down, inverted)", () => {
    const options = { pull: "down", invert: true };
    const open = new FakeTime(hour + 60_000);
    const closed = new FakeTime(hour + 600_000);
    assert.deepEqual(sampleWith(open, contactOn(open, options), options).sample, { switch: { position: 1 } });
    assert.deepEqual(sampleWith(closed, contactOn(closed, options), options).sample, { switch: { position: 0 } });
  });

  it("opens the pin with the ECMA-419 mode of its pull", () => {
    const modes: number[] = [];
    const io = class {
      static readonly Input = 0;
      static readonly InputPullUp = 1;
      static readonly InputPullDown = 2;
      constructor(options: { mode: number }) {
        modes.push(options.mode);
      }
      read(): number {
        return 0;
      }
      close(): void {}
    };
    for (const pull of ["up", "down", "none"] as const) new Contact({ sensor: { io, pin: 4, pull } }).close();
    assert.deepEqual(modes, [1, 2, 0]);
  });

  it("accepts wake: true as a wake-source mark, and refuses a non-boolean", () => {
    assert.deepEqual(parseContactOptions({ wake: true }), { wake: true });
    assert.throws(() => parseContactOptions({ wake: "yes" }), /options\.wake: expected one of true, false, got "yes"/);
  });
});
