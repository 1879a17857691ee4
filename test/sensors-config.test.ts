// Sensor entries and `sim` settings as an operator writes them: what boots, and for what does not,
// an error at boot that names the entry and says what is wrong.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseConfig } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { parseSim } from "../hosts/virtual/faults";

function rejects(raw: Record<string, unknown>, key: string, message: RegExp): void {
  assert.throws(
    () => parseConfig(raw),
    (e: unknown) => e instanceof ConfigError && e.key === key && message.test(e.message),
  );
}

describe("sensor entries", () => {
  it("accepts every type with its channels, SenML units and resolutions", () => {
    const config = parseConfig({
      sensors: [
        { type: "sht3x", address: 0x44 },
        { type: "sht4x", address: 0x45, id: "outdoor", options: { repeatability: "medium", serialNumber: true } },
        { type: "bme280", address: 0x76, options: { oversampling: { pressure: 16 } } },
        { type: "battery", pin: 34, options: { divider: 2, calibration: { scale: 1.02, offset: -0.01 } } },
        { type: "contact", pin: 4, id: "door", options: { wake: true, pull: "up" } },
      ],
    });
    assert.deepEqual(
      channelsOf(config.sensors).map((c) => [c.name, c.unit, c.resolution]),
      [
        ["sht3x/temperature", "Cel", 0.01], ["sht3x/humidity", "%RH", 0.01],
        ["outdoor/temperature", "Cel", 0.01], ["outdoor/humidity", "%RH", 0.01],
        ["bme280/temperature", "Cel", 0.01], ["bme280/humidity", "%RH", 0.01], ["bme280/pressure", "Pa", 1],
        ["battery/voltage", "V", 0.001],
        ["door/position", "/", 1],
      ],
    );
  });

  it("keeps working with mcconfig's command-line string for the whole list", () => {
    const config = parseConfig({ sensors: '[{"type":"bme280","address":"119","options":{"oversampling":{"humidity":2}}},{"type":"battery","pin":"35"}]' });
    assert.deepEqual(config.sensors.map((s) => [s.type, s.address ?? s.pin]), [["bme280", 119], ["battery", 35]]);
  });

  const bad: [string, Record<string, unknown>[], string, RegExp][] = [
    ["an unknown type", [{ type: "dht22", pin: 4 }], "sensors[0].type", /unknown sensor type "dht22" \(known: sht3x, sht4x, bme280, battery, contact\)/],
    ["an I2C sensor given a pin", [{ type: "bme280", pin: 4 }], "sensors[0].address", /bme280 is an I2C sensor: give its "address", 0x76 \(118\) or 0x77 \(119\)/],
    ["an I2C sensor given a pin too", [{ type: "sht4x", address: 0x44, pin: 4 }], "sensors[0].pin", /sht4x is an I2C sensor and takes no pin/],
    ["a pin sensor given an address", [{ type: "battery", address: 0x44 }], "sensors[0].pin", /battery is connected to a pin: give its "pin"/],
    ["a pin sensor given an address too", [{ type: "contact", pin: 4, address: 0x44 }], "sensors[0].address", /takes no I2C address/],
    ["an address the chip cannot have", [{ type: "bme280", address: 0x44 }], "sensors[0].address", /a bme280 answers at 0x76 \(118\) or 0x77 \(119\), not at 0x44 \(68\)/],
    [
      "a duplicate I2C address",
      [{ type: "sht3x", address: 0x44 }, { type: "bme280", address: 0x76 }, { type: "sht4x", address: 0x44 }],
      "sensors[2].address",
      /I2C address 0x44 is already used by sensors\[0\] \(sht3x\)/,
    ],
    ["a duplicate pin", [{ type: "battery", pin: 34 }, { type: "contact", pin: 34 }], "sensors[1].pin", /pin 34 is already used by sensors\[0\] \(battery\)/],
    ["an unknown option", [{ type: "sht3x", address: 0x44, options: { repeatibility: "low" } }], "sensors[0].options.repeatibility", /unknown option \(known: repeatability\)$/],
    ["a bad option value", [{ type: "bme280", address: 0x77, options: { oversampling: { pressure: 32 } } }], "sensors[0].options.oversampling.pressure", /expected one of 1, 2, 4, 8, 16, got 32/],
    ["a bad nested option", [{ type: "battery", pin: 34, options: { calibration: { scale: 3 } } }], "sensors[0].options.calibration.scale", /expected a number from 0.5 to 1.5, got 3/],
    ["a non-boolean wake", [{ type: "contact", pin: 4, options: { wake: 1 } }], "sensors[0].options.wake", /expected one of true, false, got 1/],
    ["serialNumber on a chip without one", [{ type: "sht3x", address: 0x44, options: { serialNumber: true } }], "sensors[0].options.serialNumber", /unknown option/],
  ];
  for (const [what, sensors, key, message] of bad) {
    it(`rejects ${what}, naming ${key}`, () => rejects({ sensors }, key, message));
  }

  it("finds no sensor type on Object.prototype: constructor, toString and the like are unknown types", () => {
    for (const type of ["constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf"]) {
      rejects({ sensors: [{ type, pin: 4 }] }, "sensors[0].type", new RegExp(`^config sensors\\[0\\]\\.type: unknown sensor type "${type}" \\(known: sht3x, sht4x, bme280, battery, contact\\)$`));
    }
  });

  it("takes only the keys an entry has, refusing a misspelt one", () => {
    rejects({ sensors: [{ type: "sht3x", adress: 0x45, address: 0x44 }] }, "sensors[0].adress", /unknown key \(known: type, address, pin, id, options\)$/);
    rejects({ sensors: '[{"type": "sht3x", "address": 68, "__proto__": {"id": "x"}}]' }, "sensors[0].__proto__", /unknown key/);
    rejects({ sensors: [{ type: "battery", pin: 34, options: JSON.parse('{"__proto__": {"divider": 2}}') as unknown }] }, "sensors[0].options.__proto__", /unknown option/);
  });

  it("allows 32 channels and names the entry that goes beyond", () => {
    const contacts = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "contact", pin: i, id: `door${i}` }));
    assert.equal(channelsOf(parseConfig({ sensors: contacts(32) }).sensors).length, 32);
    rejects({ sensors: [{ type: "bme280", address: 0x76 }, ...contacts(30)] }, "sensors[30]", /brings the node to 33 channels; it keeps at most 32/);
  });
});

describe("sim settings", () => {
  const sensors = parseConfig({ sensors: [{ type: "sht3x", address: 0x44 }, { type: "bme280", address: 0x76 }, { type: "battery", pin: 34 }] }).sensors;
  const simRejects = (sim: unknown, key: string, message: RegExp) =>
    assert.throws(() => parseSim(sim, sensors), (e: unknown) => e instanceof ConfigError && e.key === key && message.test(e.message));

  it("maps each fault to its sensor, by decimal or hex address and by pin", () => {
    const { faults } = parseSim({ faults: { "bme280@118": "absent", "sht3x@0x44": "intermittent:4", "battery@34": "range" } }, sensors);
    assert.deepEqual([...faults].sort(), [[0, { kind: "intermittent", every: 4 }], [1, { kind: "absent" }], [2, { kind: "range" }]]);
  });

  it("takes mcconfig's JSON string, and no sim at all", () => {
    assert.equal(parseSim('{"faults":{"bme280@118":"nack"}}', sensors).faults.get(1)?.kind, "nack");
    assert.equal(parseSim(undefined, sensors).faults.size, 0);
    assert.equal(parseSim({}, sensors).faults.size, 0);
  });

  it("rejects what it cannot simulate, naming the entry", () => {
    simRejects([], "sim", /expected an object/);
    simRejects({ fault: {} }, "sim.fault", /unknown key \(known: faults\)/);
    simRejects({ faults: ["absent"] }, "sim.faults", /expected an object mapping/);
    simRejects({ faults: { bme280: "absent" } }, 'sim.faults["bme280"]', /expected a key "<type>@<address or pin>"/);
    simRejects({ faults: { "bme280@119": "absent" } }, 'sim.faults["bme280@119"]', /no bme280 at address or pin 119 among "sensors"/);
    simRejects({ faults: { "bme280@118": "broken" } }, 'sim.faults["bme280@118"]', /expected one of "absent", "nack", "stuck", "chip-id", "crc", "range" or "intermittent:<k>", got "broken"/);
    simRejects({ faults: { "bme280@118": "crc" } }, 'sim.faults["bme280@118"]', /a bme280 cannot show "crc"/);
    simRejects({ faults: { "battery@34": "stuck" } }, 'sim.faults["battery@34"]', /a battery cannot show "stuck" \(it can: absent, range, intermittent\)/);
    simRejects({ faults: { "sht3x@68": "intermittent:1" } }, 'sim.faults["sht3x@68"]', /k from 2 to 1000/);
    simRejects({ faults: { "sht3x@68": "absent", "sht3x@0x44": "nack" } }, 'sim.faults["sht3x@0x44"]', /already has a fault/);
    simRejects("{nope", "sim", /expected JSON/);
  });
});
