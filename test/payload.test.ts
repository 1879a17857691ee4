// The three payload formats carry the same batch: SenML CBOR read by an independent decoder
// (cbor2) has RFC 8428's integer labels and exactly the readings' values in the smallest exact
// number; the shipped decoder (tools/payload-decoder.ts) tells the formats apart by Content Type or
// by first byte and gives the same records for all three; the monitor shows them alike.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode } from "cbor2";
import { parseConfig } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { encodePayload, type Batch } from "../src/telemetry/payload";
import { encodeSenmlCbor } from "../src/telemetry/senml-cbor";
import { decodePayload, payloadFormatOf } from "../tools/payload-decoder";
import { TelemetryMonitor } from "../tools/monitor/events";

const config = parseConfig({ sensors: [{ type: "sht3x", address: 0x44 }, { type: "bme280", address: 0x76 }, { type: "battery", pin: 34 }] });
const channels = channelsOf(config.sensors);
const sensorIds = config.sensors.map((s) => s.id);

const batch: Batch = {
  baseName: "urn:dev:torpor:n1:",
  channels,
  sensorIds,
  dropped: 3,
  readings: [
    { seq: 0, time: 1_764_000_000, values: [2176, 3113, -50, 6150, 97_912, 4123], faults: [] },
    { seq: 1, time: 1_764_000_060, values: [2179, 3100, null, null, null, 4122], faults: [{ sensor: 1, fault: 0 }] },
    { seq: 2, time: 1_764_000_120, values: [2200, 3150, -51, 6149, 97_910, 4050], faults: [] },
  ],
};

const formats = ["senml-json", "senml-cbor", "compact"] as const;

describe("payload formats", () => {
  it("SenML CBOR: an array of maps with RFC 8428 integer labels, read back by cbor2", () => {
    const pack = decode(encodePayload("senml-cbor", batch).payload) as Map<number, unknown>[];
    assert.ok(Array.isArray(pack) && pack.every((r) => r instanceof Map));
    // The fault first, then channel by channel, each channel's first record naming it (bn -2, bu -4).
    assert.deepEqual([...pack[0]!], [[-2, "urn:dev:torpor:n1:"], [-3, 1_764_000_000], [0, "bme280/error"], [3, "absent"], [6, 60]]);
    assert.deepEqual([...pack[1]!], [[-2, "urn:dev:torpor:n1:sht3x/temperature"], [-4, "Cel"], [2, 21.76]]);
    assert.deepEqual([...pack[2]!], [[2, 21.79], [6, 60]]);
    const pressure = pack.findIndex((r) => r.get(-2) === "urn:dev:torpor:n1:bme280/pressure");
    assert.deepEqual([...pack[pressure]!], [[-2, "urn:dev:torpor:n1:bme280/pressure"], [-4, "Pa"], [2, 97_912]]);
  });

  it("SenML CBOR: integers as integers, else the smallest float that is exactly the value", () => {
    const one = (resolution: number, value: number) =>
      encodeSenmlCbor("n:", [{ ...channels[0]!, resolution }], ["sht3x"], [{ seq: 0, time: 0, values: [value], faults: [] }]);
    const valueBytes = (payload: Uint8Array) => Buffer.from(payload.subarray(payload.indexOf(0x02, payload.length - 10) + 1)).toString("hex");
    assert.equal(valueBytes(one(1, 97_912)), "1a00017e78"); // uint32
    assert.equal(valueBytes(one(0.5, 3)), "f93e00"); // 1.5, half
    assert.equal(valueBytes(one(0.5, 200_001)), "fa47c35040"); // 100000.5, single
    assert.equal(valueBytes(one(0.01, 2179)), "fb4035ca3d70a3d70a"); // 21.79 has no shorter exact form
    assert.equal(valueBytes(one(1, -40)), "3827"); // negative integer
    for (const payload of [one(0.5, 3), one(0.5, 200_001), one(0.01, 2179)]) {
      const value = (decode(payload) as Map<number, unknown>[])[0]!.get(2);
      assert.ok([1.5, 100_000.5, 21.79].includes(value as number), String(value));
    }
  });

  it("every format starts with a byte that names it, and decodes to the same records", () => {
    const expected = decodePayload(encodePayload("senml-json", batch).payload).records;
    assert.equal(expected.length, 1 + 3 * 2 + 2 * 3 + 3);
    for (const format of formats) {
      const { payload, contentType } = encodePayload(format, batch);
      assert.equal(payloadFormatOf(payload), format);
      assert.equal(payloadFormatOf(payload, contentType), format);
      const sniffed = decodePayload(payload, { baseName: batch.baseName });
      assert.deepEqual(sniffed.records, expected, format);
      assert.deepEqual(decodePayload(payload, { baseName: batch.baseName, contentType }).records, expected, format);
      if (format === "compact") assert.equal(sniffed.dropped, 3);
    }
  });

  it("names the SenML formats in their MQTT 5 Content Type; compact goes without (its first byte names it)", () => {
    assert.deepEqual(formats.map((f) => encodePayload(f, batch).contentType), ["application/senml+json", "application/senml+cbor", undefined]);
  });

  it("refuses what it cannot read with a message naming the format or the reason", () => {
    const compact = encodePayload("compact", batch).payload;
    assert.throws(() => decodePayload(compact, { contentType: "text/plain" }), /unknown Content Type "text\/plain"/);
    assert.throws(() => decodePayload(compact, { contentType: "application/senml+json" }), /^Error: senml-json: /);
    assert.throws(() => decodePayload(Uint8Array.of(0x41)), /not a torpor payload: first byte 0x41/);
    assert.throws(() => decodePayload(encodePayload("senml-cbor", batch).payload.subarray(0, 20)), /^Error: senml-cbor: /);
    assert.throws(() => decodePayload(compact.subarray(0, 4)), /^Error: compact: compact payload ends in its time/);
  });

  it("accepts compact and senml-cbor (and only known formats) as payloadFormat", () => {
    for (const format of formats) assert.equal(parseConfig({ payloadFormat: format }).format, format);
    assert.throws(() => parseConfig({ payloadFormat: "cbor" }), /payloadFormat.*"cbor" is not one of "senml-json", "senml-cbor", "compact"/);
  });

  it("the monitor shows a batch alike in every format, over 3.1.1 (first byte) and 5 (Content Type)", () => {
    const seen = formats.map((format) => {
      const { payload, contentType } = encodePayload(format, batch);
      const sniffed = new TelemetryMonitor().handle("torpor/n1/telemetry", payload);
      assert.deepEqual(new TelemetryMonitor().handle("torpor/n1/telemetry", payload, contentType), sniffed);
      assert.ok(sniffed.every((e) => e.kind === "reading"), JSON.stringify(sniffed));
      return sniffed;
    });
    assert.deepEqual(seen[1], seen[0]);
    assert.deepEqual(seen[2], seen[0]);
    const [bad] = new TelemetryMonitor().handle("torpor/n1/telemetry", Uint8Array.of(0xf7, 0));
    assert.deepEqual(bad, { kind: "error", topic: "torpor/n1/telemetry", message: "compact: compact payload version 7 is not supported (only 1)" });
  });
});
