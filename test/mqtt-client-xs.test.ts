// The MQTT client on the XS engine itself (XS 13 via @agoric/xsnap): the same interleavings of
// writes, acknowledgements and dropped connections as the property test give the same outcome on
// XS as on Node — what was written, what the broker received, what stays in flight — so the
// no-loss property checked on Node holds for the firmware too.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { bundle, repoRoot } from "./support/bundle";
import { findXsnapWorker, XsWorker } from "./support/xsnap";
import { decodeJson, encodeJson } from "../tools/xs/json";
import { arbScenario } from "./mqtt-client-arb";
import { runScenario } from "./mqtt-client-scenario";

const available = findXsnapWorker() !== undefined;

describe("MQTTClient on XS", () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: loses no QoS 1/2 message, exactly as on Node`, async (t) => {
      if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
      const worker = await XsWorker.start({ meteringLimit: 0 });
      try {
        await worker.evaluate(bundle(join(repoRoot, "test", "mqtt-client-xs.entry.ts")));
        for (const ops of fc.sample(arbScenario, { numRuns: 40, seed: 0x24 + version })) {
          const { result } = await worker.call({ ops, version });
          const outcome = runScenario(ops, version);
          assert.deepEqual(result, decodeJson(encodeJson(outcome)));
          const received = new Set(outcome.received);
          assert.deepEqual(outcome.written.filter((m) => !received.has(m)), []);
        }
      } finally {
        await worker.close();
      }
    });
  }
});
