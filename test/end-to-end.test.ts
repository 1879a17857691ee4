// The walking skeleton, end to end: a simulated node (Node host, virtual SHT3x, one process per
// wake) publishes three batches to a real broker, and a subscriber that is not part of torpor
// (MQTT.js) receives exactly the readings the node says it sampled, in order, as valid SenML.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ResolvedRecord } from "../tools/senml";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { runSimulatedNode } from "./support/simulated-node";

interface Sampled {
  temperature: number;
  humidity: number;
}

async function runNodeAgainst(url: string): Promise<{ sampled: Sampled[]; received: ResolvedRecord[]; lines: string[] }> {
  const { received, lines } = await runSimulatedNode(url, { batchSize: 2, sampleInterval: 60 });
  const sampled = lines
    .map((l) => /woke \(\w[\w-]*\); sht3x\/temperature=(-?[\d.]+) Cel sht3x\/humidity=([\d.]+) %RH/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ temperature: Number(m[1]), humidity: Number(m[2]) }));
  return { sampled, received, lines };
}

function check({ sampled, received, lines }: Awaited<ReturnType<typeof runNodeAgainst>>): void {
  assert.ok(lines.filter((l) => /published \d+ readings?/.test(l)).length >= 3, lines.join("\n"));
  const temperatures = received.filter((r) => r.name === "urn:dev:torpor:node-1:sht3x/temperature");
  const humidities = received.filter((r) => r.name === "urn:dev:torpor:node-1:sht3x/humidity");
  assert.ok(temperatures.every((r) => r.unit === "Cel") && humidities.every((r) => r.unit === "%RH"));
  // Exactly the sampled readings, in order, nothing more.
  assert.deepEqual(
    temperatures.map((r, i) => ({ temperature: r.value, humidity: humidities[i]?.value })),
    sampled,
    lines.join("\n"),
  );
  assert.equal(temperatures.length, humidities.length);
  // Absolute times, one per wake: after the power-on wake, on the 60 s sampling grid.
  assert.ok(temperatures[1]!.time - temperatures[0]!.time <= 60);
  for (let i = 1; i < temperatures.length; i++) {
    assert.equal(temperatures[i]!.time % 60, 0);
    if (i > 1) assert.equal(temperatures[i]!.time - temperatures[i - 1]!.time, 60);
  }
  const now = Date.now() / 1000;
  assert.ok(Math.abs(temperatures[0]!.time - now) < 86400, "base time is an absolute Unix time");
  for (const r of temperatures) assert.ok(r.value! > -10 && r.value! < 50, `plausible temperature ${r.value}`);
  for (const r of humidities) assert.ok(r.value! >= 0 && r.value! <= 100, `plausible humidity ${r.value}`);
}

describe("a simulated node publishes three batches end to end", () => {
  describe("to mosquitto", { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    before(async () => (broker = await startMosquitto()));
    after(() => broker.stop());
    it("delivers exactly the sampled readings, in order", async () => check(await runNodeAgainst(broker.url)));
  });

  describe("to aedes", () => {
    let broker: EmbeddedBroker;
    before(async () => (broker = await startEmbeddedBroker()));
    after(() => broker.close());
    it("delivers exactly the sampled readings, in order", async () => check(await runNodeAgainst(broker.url)));
  });
});
