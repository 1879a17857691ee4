import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { channelsOf } from "../src/sensors/registry";
import { ReadingBuffer } from "../src/telemetry/reading-buffer";
import { encodeSenmlJson } from "../src/telemetry/senml-json";
import { scale } from "../src/sensors/resolution";
import { resolveSenml, SenmlError } from "../tools/senml";

const channels = channelsOf([{ type: "sht3x", id: "sht3x", address: 0x44, options: {} }]);

function batch(...rows: [number, number | null, number | null][]) {
  const buffer = new ReadingBuffer(2, 100);
  for (const [t, a, b] of rows) buffer.append(t, [a, b]);
  return buffer.range(0, rows.length);
}

describe("SenML JSON batches (RFC 8428)", () => {
  it("carries the absolute base time once, and each channel's name and unit once", () => {
    const bytes = encodeSenmlJson("urn:dev:torpor:node-1:", channels, ["sht3x"], batch([1_764_000_000, 2176, 3113], [1_764_000_060, 2179, 3100]));
    const pack = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>[];
    assert.deepEqual(pack, [
      { bt: 1_764_000_000, bn: "urn:dev:torpor:node-1:sht3x/temperature", bu: "Cel", v: 21.76 },
      { v: 21.79, t: 60 },
      { bn: "urn:dev:torpor:node-1:sht3x/humidity", bu: "%RH", v: 31.13 },
      { v: 31, t: 60 },
    ]);
  });

  it("resolves every record to a full name, an absolute time, a unit and a value", () => {
    const bytes = encodeSenmlJson("urn:dev:torpor:n:", channels, ["sht3x"], batch([1_764_000_000, 2176, 3113], [1_764_000_060, null, 3100]));
    const records = resolveSenml(JSON.parse(new TextDecoder().decode(bytes)));
    assert.deepEqual(records, [
      { name: "urn:dev:torpor:n:sht3x/temperature", time: 1_764_000_000, unit: "Cel", value: 21.76 },
      { name: "urn:dev:torpor:n:sht3x/humidity", time: 1_764_000_000, unit: "%RH", value: 31.13 },
      { name: "urn:dev:torpor:n:sht3x/humidity", time: 1_764_000_060, unit: "%RH", value: 31 },
    ]);
  });

  it("leaves a failed sensor's values out rather than inventing them, and says why", () => {
    const buffer = new ReadingBuffer(2, 10);
    buffer.append(1_764_000_000, [2176, 3113]);
    buffer.append(1_764_000_060, [null, null], [{ sensor: 0, fault: 2 }]);
    const bytes = encodeSenmlJson("urn:dev:torpor:n:", channels, ["sht3x"], buffer.range(0, 2));
    const records = resolveSenml(JSON.parse(new TextDecoder().decode(bytes)));
    assert.deepEqual(records, [
      { name: "urn:dev:torpor:n:sht3x/error", time: 1_764_000_060, stringValue: "crc" },
      { name: "urn:dev:torpor:n:sht3x/temperature", time: 1_764_000_000, unit: "Cel", value: 21.76 },
      { name: "urn:dev:torpor:n:sht3x/humidity", time: 1_764_000_000, unit: "%RH", value: 31.13 },
    ]);
  });

  it("encodes the same readings to the same bytes (a re-sent batch is identical)", () => {
    const a = encodeSenmlJson("urn:dev:torpor:n:", channels, ["sht3x"], batch([1_764_000_000, -512, 10000]));
    const b = encodeSenmlJson("urn:dev:torpor:n:", channels, ["sht3x"], batch([1_764_000_000, -512, 10000]));
    assert.deepEqual(a, b);
  });

  it("prints values with no more digits than their resolution", () => {
    assert.equal(scale(2176, 0.01), 21.76);
    assert.equal(scale(-1, 0.01), -0.01);
    assert.equal(scale(101325, 1), 101325);
    assert.equal(scale(3301, 0.001), 3.301);
  });

  it("the reader rejects what RFC 8428 forbids", () => {
    assert.throws(() => resolveSenml({}), SenmlError);
    assert.throws(() => resolveSenml([{ n: "a", v: 1, vs: "x" }]), /more than one value/);
    assert.throws(() => resolveSenml([{ n: "a", v: 1, foo_: 1 }]), /must-understand/);
    assert.throws(() => resolveSenml([{ n: " bad", v: 1 }]), /invalid name/);
    assert.throws(() => resolveSenml([{ bver: 11, n: "a", v: 1 }]), /unsupported version/);
  });
});
