// The payload encoders on the XS engine itself (XS 13 via @agoric/xsnap): a batch encoded on XS in
// each format is byte for byte what Node encodes, and decodes on Node, with the shipped decoder, to
// exactly the readings that went in — faults, missing values and odd times included.

import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { parseConfig, type PayloadFormat } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { decodeCompact } from "../src/telemetry/compact";
import { encodePayload, type Batch } from "../src/telemetry/payload";
import type { Reading } from "../src/telemetry/reading";
import { decodePayload } from "../tools/payload-decoder";
import { bundle, xsFixture } from "./support/bundle";
import { findXsnapWorker, XsWorker } from "./support/xsnap";

const available = findXsnapWorker() !== undefined;
const code = available ? bundle(xsFixture("payload.entry.ts")) : "";

const config = parseConfig({ sensors: [{ type: "sht3x", address: 0x44 }, { type: "bme280", address: 0x76, id: "outside" }, { type: "battery", pin: 34 }] });
const channels = channelsOf(config.sensors);

function batchOf(readings: Reading[], dropped = 0): Batch {
  return { baseName: "urn:dev:torpor:xs-1:", channels, sensorIds: config.sensors.map((s) => s.id), readings, dropped };
}

/** 60 readings on a 60 s grid, a power-on reading off it, a failed BME280 for three of them. */
function readings(): Reading[] {
  return Array.from({ length: 60 }, (_, i) => {
    const failed = i >= 20 && i < 23;
    return {
      seq: i,
      time: i === 0 ? 1_764_000_047 : 1_764_000_000 + 60 * i,
      values: [2176 + ((i * 7) % 5) - 2, 3113 - i, failed ? null : 2090 + (i % 3), failed ? null : 6100, failed ? null : 97_912 - i, 4100 - (i >> 3)],
      faults: failed ? [{ sensor: 1, fault: 3 }] : [],
    };
  });
}

describe("payload encoders on XS", () => {
  for (const format of ["compact", "senml-cbor", "senml-json"] as const satisfies readonly PayloadFormat[]) {
    it(`${format}: XS encodes what Node encodes, and Node decodes it back`, async (t: TestContext) => {
      if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
      const batch = batchOf(readings(), 17);
      const worker = await XsWorker.start({ meteringLimit: 0 });
      try {
        await worker.evaluate(code);
        await worker.call({ op: "load", batch });
        await worker.call({ op: "encode", format });
        const { result } = await worker.call({ op: "payload" });
        const onXs = result as { payload: Uint8Array; contentType: string | undefined };
        const onNode = encodePayload(format, batch);
        assert.equal(onXs.contentType, onNode.contentType);
        assert.deepEqual(Buffer.from(onXs.payload).toString("hex"), Buffer.from(onNode.payload).toString("hex"));
        const decoded = decodePayload(onXs.payload, { baseName: batch.baseName });
        assert.equal(decoded.format, format);
        assert.deepEqual(decoded.records, decodePayload(encodePayload("senml-json", batch).payload).records);
        if (format === "compact") {
          const back = decodeCompact(onXs.payload);
          assert.equal(back.dropped, 17);
          assert.deepEqual(back.readings, batch.readings.map(({ time, values, faults }) => ({ time, values, faults })));
        }
      } finally {
        await worker.close();
      }
    });
  }
});
