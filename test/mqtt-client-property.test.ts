// The client's promise under any interleaving: a QoS 1 or 2 message the application wrote is never
// lost — not to a broken connection, a broker restarted without the session, or bytes lost on the
// way — and once every byte has moved, nothing is left in flight.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { arbScenario } from "./mqtt-client-arb";
import { runScenario, type ScenarioOp } from "./mqtt-client-scenario";

describe("MQTTClient: writes, acknowledgements and disconnects in any order", () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: no QoS 1/2 message is lost, and none stays in flight`, () => {
      fc.assert(
        fc.property(arbScenario, (ops) => {
          const outcome = runScenario(ops, version);
          const received = new Set(outcome.received);
          assert.deepEqual(outcome.written.filter((m) => !received.has(m)), []);
          assert.equal(outcome.inFlight, 0);
        }),
        { numRuns: 300 },
      );
    });
  }

  it("v5: the broker's Receive Maximum holds pipelined writes back", () => {
    const ops: ScenarioOp[] = Array.from({ length: 6 }, () => ({ type: "write", qos: 1 }));
    // Before any CONNACK the client does not know the limit; the store learns it for the next wake.
    const outcome = runScenario([{ type: "up" }, { type: "down" }, ...ops], 5);
    assert.deepEqual(outcome.written, ["m1", "m2", "m3"]);
    assert.deepEqual(outcome.received.slice(0, 3), ["m1", "m2", "m3"]);
  });
});
