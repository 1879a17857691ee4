import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Timers } from "../src/host";
import { sensirionCrc } from "../src/sensors/sensirion-crc";
import SHT3x, { sht3x } from "../src/sensors/sht3x";
import { SensorError, type Sample } from "../src/sensors/sensor";
import { SyntheticEnvironment, type Environment } from "../hosts/virtual/environment";
import { VirtualI2CBus, type I2CTarget } from "../hosts/virtual/i2c-bus";
import { VirtualSHT3x } from "../hosts/virtual/sht3x";
import { virtualI2C } from "../hosts/virtual/virtual-i2c";

const timer: Timers = { set: (cb, ms) => setTimeout(cb, ms), clear: (id) => clearTimeout(id as NodeJS.Timeout) };
const clock = { now: () => Date.UTC(2026, 10, 25, 12), ticks: () => performance.now() };
const fixed: Environment = { at: () => ({ temperature: 23.45, humidity: 41.2, pressure: 101325 }) };

function sample(bus: VirtualI2CBus, address = 0x44): Promise<{ error?: SensorError; sample?: Sample }> {
  const sensor = new SHT3x({ sensor: { io: virtualI2C(bus), data: 21, clock: 22, hz: 100_000, address }, timer });
  return new Promise((resolve) =>
    sensor.sample((error, sample) => {
      sensor.close();
      resolve(error ? { error } : { sample: sample! });
    }),
  );
}

describe("SHT3x driver against the virtual SHT3x", () => {
  it("computes the datasheet's CRC check value", () => {
    assert.equal(sensirionCrc(Uint8Array.of(0xbe, 0xef)), 0x92);
  });

  it("reads temperature and humidity within the chip's resolution", async () => {
    const bus = new VirtualI2CBus();
    bus.attach(0x44, new VirtualSHT3x(0x44, fixed, clock));
    const { sample: s, error } = await sample(bus);
    assert.equal(error, undefined);
    assert.ok(Math.abs(s!.thermometer!.temperature! - 23.45) < 0.003);
    assert.ok(Math.abs(s!.hygrometer!.humidity! - 41.2) < 0.002);
  });

  it("follows the environment model over time", async () => {
    const environment = new SyntheticEnvironment(7);
    let now = Date.UTC(2026, 10, 25, 3);
    const bus = new VirtualI2CBus();
    bus.attach(0x45, new VirtualSHT3x(0x45, environment, { now: () => now, ticks: clock.ticks }));
    for (let hour = 0; hour < 24; hour += 6) {
      now = Date.UTC(2026, 10, 25, hour);
      const { sample: s } = await sample(bus, 0x45);
      assert.ok(Math.abs(s!.thermometer!.temperature! - environment.at(now).temperature) < 0.003);
    }
  });

  it("reports a bad CRC as a crc fault and no value", async () => {
    const bus = new VirtualI2CBus();
    const device = new VirtualSHT3x(0x44, fixed, clock);
    const corrupt: I2CTarget = {
      write: (bytes) => device.write(bytes),
      read: (n) => {
        const bytes = device.read(n);
        bytes[4]! ^= 0x01;
        return bytes;
      },
    };
    bus.attach(0x44, corrupt);
    const { sample: s, error } = await sample(bus);
    assert.equal(s, undefined);
    assert.ok(error instanceof SensorError);
    assert.equal(error.fault, "crc");
  });

  it("reports a missing device as absent, not a crash", async () => {
    const { sample: s, error } = await sample(new VirtualI2CBus());
    assert.equal(s, undefined);
    assert.equal(error?.fault, "absent");
    assert.match(error!.message, /NACK from 0x44/);
  });

  it("converts the datasheet's extremes", () => {
    assert.deepEqual(sht3x.convert(0xffff, 0), { temperature: 130, humidity: 0 });
    assert.deepEqual(sht3x.convert(0, 0xffff), { temperature: -45, humidity: 100 });
  });

  it("reports a temperature beyond -40..125 °C as a range fault, not a reading", async () => {
    const bus = new VirtualI2CBus();
    bus.attach(0x44, new VirtualSHT3x(0x44, { at: () => ({ temperature: 128, humidity: 41.2, pressure: 101325 }) }, clock));
    const { sample: s, error } = await sample(bus);
    assert.equal(s, undefined);
    assert.equal(error?.fault, "range");
    assert.match(error!.message, /128 °C is outside the sensor's range -40\.\.125 °C/);
  });
});
