// Every driver with every fault `sim.faults` can inject, through the path a wake takes (config →
// registry → driver → virtual board → sampleSensors): the right fault, no value for the failing
// sensor, the others unharmed, bounded time, and recovery with a new driver at the next sample.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SensorFault } from "../src/sensors/sensor";
import { I2C_TIMEOUT_MS } from "../src/sensors/registry";
import { handle } from "./fixtures/xs/sensors-ops";

const sensors = {
  sht3x: { type: "sht3x", address: 0x44 },
  sht4x: { type: "sht4x", address: 0x44 },
  bme280: { type: "bme280", address: 0x76 },
  battery: { type: "battery", pin: 34 },
  contact: { type: "contact", pin: 4 },
} as const;
type Type = keyof typeof sensors;

/** What each injected fault must end in, per driver. */
const expected: Record<Type, Record<string, SensorFault>> = {
  sht3x: { absent: "absent", nack: "io", stuck: "timeout", crc: "crc", range: "range", "intermittent:2": "absent" },
  sht4x: { absent: "absent", nack: "io", stuck: "timeout", crc: "crc", range: "range", "intermittent:2": "absent" },
  bme280: { absent: "absent", nack: "io", stuck: "timeout", "chip-id": "chip-id", range: "range", "intermittent:2": "absent" },
  battery: { absent: "absent", range: "range", "intermittent:2": "io" },
  contact: { absent: "absent", "intermittent:2": "io" },
};

function where(type: Type): number {
  const sensor: { address?: number; pin?: number } = sensors[type];
  return sensor.address ?? sensor.pin!;
}
/** A healthy neighbour on the other kind of connection. */
const neighbour = (type: Type) => ("address" in sensors[type] ? sensors.battery : sensors.sht3x);

describe("injected faults end in the right fault, and only for that sensor", () => {
  for (const type of Object.keys(expected) as Type[]) {
    for (const [fault, want] of Object.entries(expected[type])) {
      it(`${type} with "${fault}" → ${want}`, async () => {
        // Period 1 of intermittent:2 fails (n mod 2 = 1).
        const [result] = await handle({
          op: "sample",
          config: { sensors: [sensors[type], neighbour(type)], sampleInterval: 60 },
          sim: { faults: { [`${type}@${where(type)}`]: fault } },
          times: [Date.UTC(2026, 10, 25, 12, 1)],
        });
        assert.deepEqual(result!.errors.map((e) => [e.sensor, e.fault]), [[0, want]], result!.errors[0]?.message);
        const own = { sht3x: 2, sht4x: 2, bme280: 3, battery: 1, contact: 1 }[type];
        assert.ok(result!.values.slice(0, own).every((v) => v === null), "no value from a failing sensor");
        assert.ok(result!.values.slice(own).every((v) => v !== null), "the neighbour keeps sampling");
      });
    }
  }
});

describe("a failing sensor costs bounded time, measured", () => {
  const config = { sensors: [sensors.sht3x, sensors.bme280, sensors.battery] };
  const at = [Date.UTC(2026, 10, 25, 12)];

  it("a healthy wake takes the conversions' time: SHT3x 16 ms + BME280 10 ms + battery 0", async () => {
    const [result] = await handle({ op: "sample", config, times: at });
    assert.deepEqual(result!.errors, []);
    assert.equal(result!.durationMs, 26);
  });

  it("a stuck bus costs one bus timeout, not the wake", async () => {
    const [result] = await handle({ op: "sample", config, sim: { faults: { "bme280@118": "stuck" } }, times: at });
    assert.equal(result!.errors[0]?.fault, "timeout");
    assert.match(result!.errors[0]!.message, /I2C bus timeout after 50 ms/);
    assert.equal(result!.durationMs, 16 + I2C_TIMEOUT_MS);
  });

  it("an absent chip costs nothing at all", async () => {
    const [result] = await handle({ op: "sample", config, sim: { faults: { "bme280@0x76": "absent" } }, times: at });
    assert.equal(result!.durationMs, 16);
  });
});

describe("an intermittent sensor", () => {
  it("fails in every k-th sampling period and works again at the next, with a new driver", async () => {
    const start = Date.UTC(2026, 10, 25, 12);
    const times = Array.from({ length: 9 }, (_, n) => start + n * 300_000);
    const results = await handle({
      op: "sample",
      config: { sensors: [sensors.bme280, sensors.sht3x], sampleInterval: 300 },
      sim: { faults: { "bme280@118": "intermittent:3" } },
      times,
    });
    const failed = results.map((r) => r.errors.map((e) => e.fault).join());
    const period = (t: number) => Math.floor(t / 300_000);
    assert.deepEqual(failed, times.map((t) => (period(t) % 3 === 2 ? "absent" : "")));
    for (const r of results) {
      if (r.errors.length) assert.deepEqual(r.values.slice(0, 3), [null, null, null]);
      else assert.ok(r.values.every((v) => v !== null), "all channels back after a failure");
    }
  });
});
