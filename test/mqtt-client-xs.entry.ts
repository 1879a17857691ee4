// XS-side half of test/mqtt-client-xs.test.ts.
import { serveJson } from "../tools/xs/serve";
import { runScenario, type ScenarioOp } from "./mqtt-client-scenario";
import type { Version } from "../src/mqtt/packets";

serveJson<{ ops: ScenarioOp[]; version: Version }>(({ ops, version }) => runScenario(ops, version));
