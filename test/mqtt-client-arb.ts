// Interleavings for the client's scenario (mqtt-client-scenario.ts): writes at QoS 1 and 2, bytes
// moving each way, and now and then a dropped connection, with or without the broker's session.

import fc from "fast-check";
import type { ScenarioOp } from "./mqtt-client-scenario";

export const arbScenario: fc.Arbitrary<ScenarioOp[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(1 as const, 2 as const).map((qos): ScenarioOp => ({ type: "write", qos })) },
    { weight: 5, arbitrary: fc.constant<ScenarioOp>({ type: "up" }) },
    { weight: 5, arbitrary: fc.constant<ScenarioOp>({ type: "down" }) },
    { weight: 1, arbitrary: fc.boolean().map((lose): ScenarioOp => ({ type: "drop", lose })) },
  ),
  { maxLength: 80 },
);
