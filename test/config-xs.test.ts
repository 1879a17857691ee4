// Config that validates, runs — on the XS engine itself (XS 13 via @agoric/xsnap): hostile config
// files (test/support/hostile-config.ts) through parseConfig and, where accepted, one whole wake on
// a host of virtual sensors, simulated time and an in-memory broker (fixtures/xs/config-wake-ops.ts).
// No wake may throw, no packet the node sends may be malformed, and XS must judge and run every
// file exactly as Node does: a difference would be a firmware bug the Node tests cannot see.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { bundle, xsFixture } from "./support/bundle";
import { hostileConfigText } from "./support/hostile-config";
import { findXsnapWorker, XsWorker } from "./support/xsnap";
import { decodeJson, encodeJson } from "../tools/xs/json";
import { handle, type ConfigWakeReply, type ConfigWakeRequest } from "./fixtures/xs/config-wake-ops";

const available = findXsnapWorker() !== undefined;

/** The broker is in memory on both engines, so any valid URL is as good as another. */
const brokers = fc.constantFrom("mqtt://broker.example", "mqtts://10.0.0.2:8883", "mqtt://[fd00::1]:1884/");

const requests: ConfigWakeRequest[] = fc.sample(
  fc.record({ text: hostileConfigText(brokers), refuse5: fc.boolean() }),
  { numRuns: 200, seed: 0x105e },
);

describe("config that validates, runs (XS)", () => {
  it("refuses JSON text nested too deep before XS's JSON.parse would overflow the machine's stack", async (t) => {
    if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
    const worker = await XsWorker.start({ meteringLimit: 0 });
    try {
      await worker.evaluate(bundle(xsFixture("config-wake.entry.ts")));
      for (const key of ["sensors", "thresholds", "i2c"]) {
        const { result } = await worker.call({ text: JSON.stringify({ [key]: "[".repeat(20_000) }), refuse5: false });
        assert.deepEqual(result, { verdict: "rejected", error: `config ${key}: is nested more than 16 levels deep` });
      }
    } finally {
      await worker.close();
    }
  });

  it("judges every config file as Node does, and wakes without throwing on every one it accepts", async (t) => {
    if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
    const worker = await XsWorker.start({ meteringLimit: 0 });
    const verdicts = { rejected: 0, woke: 0, crashed: 0, delivered: 0 };
    try {
      await worker.evaluate(bundle(xsFixture("config-wake.entry.ts")));
      for (const request of requests) {
        const what = `config ${request.text.slice(0, 300)}${request.refuse5 ? " (broker refuses MQTT 5)" : ""}`;
        const { result } = await worker.call(request);
        const onXS = result as ConfigWakeReply;
        assert.notEqual(onXS.verdict, "crashed", `${what}: ${JSON.stringify(onXS)}`);
        if (onXS.verdict === "woke") {
          assert.deepEqual(onXS.thrown, [], `${what}: a callback into the firmware threw`);
          assert.deepEqual(onXS.malformed, [], `${what}: the broker refused what the node sent`);
          if (onXS.delivered > 0) verdicts.delivered++;
        }
        verdicts[onXS.verdict]++;
        // Through the harness's JSON both ways, so that Node's answer has the shape of the one that crossed the pipe.
        assert.deepEqual(onXS, decodeJson(encodeJson(await handle(request))), `${what}: XS and Node differ`);
      }
    } finally {
      await worker.close();
    }
    assert.ok(verdicts.woke >= 15, `only ${verdicts.woke} of ${requests.length} configs were accepted`);
    assert.ok(verdicts.delivered >= 10, `only ${verdicts.delivered} accepted configs delivered their reading`);
  });
});
