// The compact payload (docs/compact-format.md): every batch the buffer can hold comes back exactly —
// times, values at their resolution, missing values, faults, the dropped count and the layout — the
// committed test vectors decode to what they say and the encoder still produces them, and a payload
// that is not well formed is a RangeError saying what, never a hang or another exception.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { COMPACT_V1, decodeCompact, encodeCompact, MAX_READINGS } from "../src/telemetry/compact";
import { layoutOf, type LayoutSensor } from "../src/telemetry/compact-layout";
import { parseConfig } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { repoRoot } from "./support/bundle";

interface Vector {
  name: string;
  hex: string;
  decoded: { dropped: number; sensors: LayoutSensor[]; readings: { time: number; values: (number | null)[]; faults: { sensor: number; fault: number }[] }[] };
}

const vectors = (JSON.parse(fs.readFileSync(path.join(repoRoot, "test", "fixtures", "compact-vectors.json"), "utf8")) as { vectors: Vector[] }).vectors;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const withSeq = (readings: Vector["decoded"]["readings"]) => readings.map((r, seq) => ({ seq, ...r }));

const sht3x: LayoutSensor = { id: "sht3x", channels: [{ name: "sht3x/temperature", unit: "Cel", resolution: 0.01 }, { name: "sht3x/humidity", unit: "%RH", resolution: 0.01 }] };

describe("compact payload", () => {
  it("decodes every committed test vector to its readings, and encodes them to the same bytes", () => {
    assert.ok(vectors.length >= 5);
    for (const v of vectors) {
      assert.deepEqual(decodeCompact(Buffer.from(v.hex, "hex")), { version: 1, ...v.decoded }, v.name);
      assert.equal(hex(encodeCompact(v.decoded.sensors, withSeq(v.decoded.readings), v.decoded.dropped)), v.hex, v.name);
    }
  });

  it("round-trips any batch: irregular times, int32 values, missing values, faults, dropped counts", () => {
    const channels = 5;
    const layout: LayoutSensor[] = [sht3x, { id: "outside", channels: ["temperature", "humidity", "pressure"].map((q, i) => ({ name: `outside/${q}`, unit: ["Cel", "%RH", "Pa"][i]!, resolution: [0.01, 0.01, 1][i]! })) }];
    const value = fc.oneof(fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }), fc.integer({ min: -20, max: 20 }), fc.constant(null));
    const reading = fc.record({
      step: fc.oneof(fc.constant(60), fc.integer({ min: 0, max: 0xffffffff })),
      values: fc.array(value, { minLength: channels, maxLength: channels }),
      faults: fc.array(fc.record({ sensor: fc.integer({ min: 0, max: 1 }), fault: fc.integer({ min: 0, max: 255 }) }), { maxLength: 2 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(reading, { maxLength: 40 }), fc.nat(), (start, steps, dropped) => {
        let time = start;
        const readings = steps.map((r, seq) => {
          time = (time + r.step) >>> 0;
          return { seq, time, values: r.values, faults: r.faults.map((f) => ({ sensor: f.sensor, fault: f.fault })) };
        });
        const decoded = decodeCompact(encodeCompact(layout, readings, dropped));
        assert.deepEqual(decoded.readings, readings.map(({ time, values, faults }) => ({ time, values, faults })));
        assert.equal(decoded.dropped, dropped);
        assert.deepEqual(decoded.sensors, layout);
      }),
      { numRuns: 300 },
    );
  });

  it("carries every sensor type's layout, by code for a type's own id, spelt out for any other", () => {
    const config = parseConfig({
      sensors: [
        { type: "sht3x", address: 0x44 },
        { type: "sht4x", address: 0x46 },
        { type: "bme280", address: 0x76 },
        { type: "bme280", address: 0x77, id: "attic" },
        { type: "battery", pin: 34 },
        { type: "contact", pin: 4, id: "door" },
      ],
    });
    const channels = channelsOf(config.sensors);
    const layout = layoutOf(channels, config.sensors.map((s) => s.id));
    const payload = encodeCompact(layout, [{ seq: 0, time: 1_764_000_000, values: channels.map((_, i) => i), faults: [] }], 0);
    assert.deepEqual(decodeCompact(payload).sensors, layout);
    assert.deepEqual(layout.flatMap((s) => s.channels), channels.map(({ name, unit, resolution }) => ({ name, unit, resolution })));
    // The four sensors with their type's id take a byte each; "attic" and "door" spell themselves out.
    const spelt = (id: string, quantities: string[]) => 1 + 1 + id.length + quantities.length;
    const header = 1 + 1 + 1 + 4 + 1 + 4 + spelt("attic", ["t", "h", "p"]) + spelt("door", ["p"]) + channels.length;
    assert.ok(payload.length >= header && payload.length <= header + 1, `${payload.length} bytes`);
  });

  it("starts with its version byte, outside what SenML JSON ('[') and a CBOR array (0x80..0x9f) start with", () => {
    const payload = encodeCompact([sht3x], [{ seq: 0, time: 1_764_000_000, values: [2200, 4000], faults: [] }], 0);
    assert.equal(payload[0], COMPACT_V1);
    const first: number = payload[0]!;
    assert.ok(first !== 0x5b && (first < 0x80 || first > 0x9f));
  });

  it("refuses what it cannot read, saying what", () => {
    const good = Buffer.from(vectors[0]!.hex, "hex");
    assert.throws(() => decodeCompact(Uint8Array.of(0xf2, ...good.subarray(1))), /compact payload version 2 is not supported/);
    assert.throws(() => decodeCompact(Buffer.from("[]")), /not a compact payload/);
    assert.throws(() => decodeCompact(good.subarray(0, 5)), /compact payload ends in its time/);
    assert.throws(() => decodeCompact(good.subarray(0, good.length - 6)), /compact payload ends early/);
    assert.throws(() => decodeCompact(Uint8Array.of(0xf1, 0x08, 0xff, 0xff, 0x04)), new RegExp(`readings \\(at most ${MAX_READINGS}\\)`));
    assert.throws(() => decodeCompact(Uint8Array.of(0xf1, 0x08, 0x01, 0, 0, 0, 0, 0, 0x1f)), /unknown sensor code 31/);
  });

  it("reads any bytes without hanging or throwing anything but a RangeError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, prefixed) => {
        const payload = prefixed ? Uint8Array.of(COMPACT_V1, ...bytes) : bytes;
        try {
          decodeCompact(payload);
        } catch (e) {
          assert.ok(e instanceof RangeError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses to encode what the format cannot say, naming it", () => {
    const reading = { seq: 0, time: 0, values: [1], faults: [] };
    assert.throws(() => encodeCompact([{ id: "x", channels: [{ name: "x/level", unit: "m", resolution: 0.25 }] }], [reading], 0), /resolution 0.25 is not a power of ten/);
    assert.throws(() => encodeCompact([{ id: "x", channels: [{ name: "y/level", unit: "m", resolution: 1 }] }], [reading], 0), /does not belong to sensor "x"/);
    assert.throws(() => encodeCompact([sht3x], [reading], 0), /a reading has 1 values for 2 channels/);
  });
});
