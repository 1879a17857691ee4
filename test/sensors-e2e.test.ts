// Sensors end to end: `npm start -- --config` with the shipped example (SHT3x + BME280 + battery)
// publishes every channel with its SenML unit; with the BME280 made absent by `sim.faults` it keeps
// publishing the healthy sensors, and the BME280's error is in the batch for anyone to see.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import type { ResolvedRecord } from "../tools/senml";
import { repoRoot } from "./support/bundle";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { runSimulatedNode } from "./support/simulated-node";

const example = JSON.parse(fs.readFileSync(path.join(repoRoot, "examples", "three-sensors.json"), "utf8")) as Record<string, unknown>;
const base = "urn:dev:torpor:node-1:";
const run = (url: string, config: Record<string, unknown>) => runSimulatedNode(url, { ...config, batchSize: 2 });

function named(received: ResolvedRecord[], name: string): ResolvedRecord[] {
  return received.filter((r) => r.name === base + name);
}

describe("the three-sensor example end to end", () => {
  let broker: EmbeddedBroker;
  before(async () => (broker = await startEmbeddedBroker()));
  after(() => broker.close());

  it("publishes temperature, humidity, pressure and battery voltage with their SenML units", async () => {
    const { received, lines } = await run(broker.url, example);
    const units: [string, string, number, number][] = [
      ["sht3x/temperature", "Cel", -10, 50],
      ["sht3x/humidity", "%RH", 0, 100],
      ["bme280/temperature", "Cel", -10, 50],
      ["bme280/humidity", "%RH", 0, 100],
      ["bme280/pressure", "Pa", 95_000, 106_000],
      ["battery/voltage", "V", 3.0, 4.2],
    ];
    for (const [name, unit, min, max] of units) {
      const records = named(received, name);
      assert.ok(records.length >= 3, `${name}: ${records.length} records\n${lines.join("\n")}`);
      for (const r of records) {
        assert.equal(r.unit, unit, name);
        assert.ok(r.value! >= min && r.value! <= max, `${name} = ${r.value}`);
      }
    }
    assert.equal(received.filter((r) => r.name.endsWith("/error")).length, 0);
  });
});

describe("a node with its BME280 absent, through mosquitto", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  before(async () => (broker = await startMosquitto()));
  after(() => broker.stop());

  it("keeps publishing the SHT3x and the battery, and the BME280's error is visible", async () => {
    const { received, lines } = await run(broker.url, { ...example, sim: { faults: { "bme280@118": "absent" } } });
    const temperatures = named(received, "sht3x/temperature");
    assert.ok(temperatures.length >= 3, lines.join("\n"));
    assert.equal(named(received, "sht3x/humidity").length, temperatures.length);
    assert.equal(named(received, "battery/voltage").length, temperatures.length);
    for (const name of ["bme280/temperature", "bme280/humidity", "bme280/pressure"]) assert.deepEqual(named(received, name), [], `${name} is never invented`);
    // One error record per wake, at the time of the reading it is missing from.
    const errors = named(received, "bme280/error");
    assert.deepEqual(errors.map((e) => e.stringValue), temperatures.map(() => "absent"));
    assert.deepEqual(errors.map((e) => e.time), temperatures.map((t) => t.time));
    assert.ok(lines.some((l) => /bme280 failed \(absent\): bme280: no answer/.test(l)), "the node's log says why");
    assert.ok(!lines.some((l) => /wake failed|died/.test(l)), "every wake completes");
  });
});
