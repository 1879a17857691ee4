// The sensor stack on the XS engine itself (XS 13 via @agoric/xsnap): config parsing, registry,
// every driver against its virtual device, injected faults and sampleSensors on simulated time must
// give exactly what they give on Node, so the Node tests hold for the firmware.

import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { bundle, xsFixture } from "./support/bundle";
import { findXsnapWorker, XsWorker } from "./support/xsnap";
import { decodeJson, encodeJson } from "../tools/xs/json";
import { handle, type SensorsRequest } from "./fixtures/xs/sensors-ops";

const available = findXsnapWorker() !== undefined;
const code = available ? bundle(xsFixture("sensors.entry.ts")) : "";

async function onXS(t: TestContext, body: (worker: XsWorker) => Promise<void>): Promise<void> {
  if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
  const worker = await XsWorker.start({ meteringLimit: 0 });
  try {
    await worker.evaluate(code);
    await body(worker);
  } finally {
    await worker.close();
  }
}

function sameOnXS(t: TestContext, requests: SensorsRequest[]): Promise<void> {
  return onXS(t, async (worker) => {
    for (const request of requests) {
      const { result } = await worker.call(request);
      // Through the harness's JSON both ways, so that Node's answer has the shape of the one that crossed the pipe.
      assert.deepEqual(result, decodeJson(encodeJson(await handle(request))));
    }
  });
}

const all = [
  { type: "sht3x", address: 0x44 },
  { type: "sht4x", address: 0x45, options: { serialNumber: true, repeatability: "low" } },
  { type: "bme280", address: 0x76, options: { oversampling: { temperature: 2, pressure: 16, humidity: 4 } } },
  { type: "battery", pin: 34, options: { calibration: { points: [{ raw: 2000, volts: 3.3 }, { raw: 2600, volts: 4.2 }] } } },
  { type: "contact", pin: 4, options: { wake: true } },
];
const day = Array.from({ length: 8 }, (_, i) => Date.UTC(2026, 10, 25, 3 * i, 2 * i));

describe("sensors on XS", () => {
  it("every driver reads its virtual device as on Node, over a day", (t) =>
    sameOnXS(t, [{ op: "sample", config: { sensors: all }, times: day }]));

  it("every injected fault ends in the same fault and message as on Node", (t) =>
    sameOnXS(t, [
      {
        op: "sample",
        config: { sensors: all },
        sim: { faults: { "sht3x@68": "stuck", "sht4x@69": "crc", "bme280@118": "chip-id", "battery@34": "range", "contact@4": "absent" } },
        times: day.slice(0, 2),
      },
      {
        op: "sample",
        config: { sensors: all },
        sim: { faults: { "sht3x@68": "range", "sht4x@69": "nack", "bme280@118": "range", "battery@34": "intermittent:2", "contact@4": "intermittent:3" } },
        times: day.slice(0, 2),
      },
      {
        op: "sample",
        config: { sensors: all, sampleInterval: 60 },
        sim: { faults: { "sht3x@68": "absent", "sht4x@69": "stuck", "bme280@118": "intermittent:2", "battery@34": "absent" } },
        times: [0, 60_000, 120_000, 180_000],
      },
    ]));

  it("rejects a bad config with the same ConfigError", (t) =>
    onXS(t, async (worker) => {
      const request: SensorsRequest = { op: "sample", config: { sensors: [{ type: "bme280", address: 0x44 }] }, times: [0] };
      const message = /config sensors\[0\]\.address: a bme280 answers at 0x76 \(118\) or 0x77 \(119\), not at 0x44 \(68\)/;
      await assert.rejects(worker.call(request), message);
      await assert.rejects(handle(request), message);
    }));
});
