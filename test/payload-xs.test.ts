// The payload encoders on the XS engine itself (XS 13 via @agoric/xsnap): a batch encoded on XS in
// each format is byte for byte what Node encodes, and decodes on Node, with the shipped decoder, to
// exactly the readings that went in — faults, missing values and odd times included. Tagged
// (a telemetryKey) it is what Node tags, and verifies; encrypted too (a payloadKey), what Node
// encrypts, and opens; a command Node signed opens on XS.

import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { parseConfig, type PayloadFormat } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { decodeCompact } from "../src/telemetry/compact";
import { encodePayload, type Batch } from "../src/telemetry/payload";
import type { Reading } from "../src/telemetry/reading";
import { nodeCrypto } from "../hosts/node/host";
import { sealTelemetry } from "../src/telemetry/telemetry-tag";
import { sealPayload } from "../src/telemetry/payload-seal";
import { sealCommand } from "../src/uplink/signed-command";
import { decodePayload } from "../tools/payload-decoder";
import { TelemetryVerifier } from "../tools/telemetry-verifier";
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

describe("tagged and encrypted telemetry and signed commands on XS", () => {
  const key = "a telemetry key of 32 characters";
  const topic = "torpor/xs-1/telemetry";
  for (const format of ["compact", "senml-cbor", "senml-json"] as const satisfies readonly PayloadFormat[]) {
    it(`${format}: XS tags what Node tags, and the verifier opens it to the same readings`, async (t: TestContext) => {
      if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
      const batch = batchOf(readings(), 17);
      const worker = await XsWorker.start({ meteringLimit: 0 });
      try {
        await worker.evaluate(code);
        await worker.call({ op: "load", batch });
        await worker.call({ op: "seal", format, key, topic });
        const onXs = (await worker.call({ op: "payload" })).result as { payload: Uint8Array };
        const onNode = sealTelemetry(nodeCrypto, key, format, topic, { epoch: 1, first: 0, kind: 0 }, encodePayload(format, batch).payload);
        assert.equal(Buffer.from(onXs.payload).toString("hex"), Buffer.from(onNode).toString("hex"));
        const verifier = new TelemetryVerifier({ keys: [key] });
        const decoded = decodePayload(onXs.payload, { baseName: batch.baseName, verify: (f, m) => verifier.open(topic, "xs-1", f, m) });
        assert.deepEqual(decoded.records, decodePayload(encodePayload("senml-json", batch).payload).records);
      } finally {
        await worker.close();
      }
    });
  }

  for (const format of ["compact", "senml-cbor", "senml-json"] as const satisfies readonly PayloadFormat[]) {
    it(`${format}: XS encrypts what Node encrypts, byte for byte, and the verifier opens it to the same readings`, async (t: TestContext) => {
      if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
      const batch = batchOf(readings(), 17);
      const payloadKey = "a payload key, not the tag's one";
      const nonce = { epoch: 70_000, counter: 0xfffffffe };
      const worker = await XsWorker.start({ meteringLimit: 0 });
      try {
        await worker.evaluate(code);
        await worker.call({ op: "load", batch });
        await worker.call({ op: "encrypt", format, key, payloadKey, topic, nonce });
        const onXs = (await worker.call({ op: "payload" })).result as { payload: Uint8Array };
        const tagged = sealTelemetry(nodeCrypto, key, format, topic, { epoch: 1, first: 0, kind: 0 }, encodePayload(format, batch).payload);
        const onNode = sealPayload(nodeCrypto, payloadKey, topic, nonce, tagged);
        assert.equal(Buffer.from(onXs.payload).toString("hex"), Buffer.from(onNode).toString("hex"));
        const verifier = new TelemetryVerifier({ keys: [key] }, { keys: [payloadKey] });
        const decoded = decodePayload(onXs.payload, { baseName: batch.baseName, unseal: (m) => verifier.unseal(topic, "xs-1", m), verify: (f, m) => verifier.open(topic, "xs-1", f, m) });
        assert.deepEqual(decoded.records, decodePayload(encodePayload("senml-json", batch).payload).records);
      } finally {
        await worker.close();
      }
    });
  }

  it("XS opens a command Node signed, and refuses it for another node", async (t: TestContext) => {
    if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
    const envelope = sealCommand(nodeCrypto, key, "xs-1", 1_733_500_000_000, new TextEncoder().encode('{"cmd":"status"}'));
    const worker = await XsWorker.start({ meteringLimit: 0 });
    try {
      await worker.evaluate(code);
      assert.equal((await worker.call({ op: "open", key, node: "xs-1", envelope })).result, 1_733_500_000_000);
      assert.equal((await worker.call({ op: "open", key, node: "xs-2", envelope })).result, "wrong signature");
    } finally {
      await worker.close();
    }
  });
});
