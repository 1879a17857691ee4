// Moddable preloads the engine's built-ins into ROM, frozen: there `this.name = …` in an Error
// subclass throws "set name: not writable", and a bad config or a sensor fault crashes the node
// instead of being reported. On the real XS engine, with the prototypes frozen the same way, every
// error torpor throws must still be made, with its name.

import assert from "node:assert/strict";
import { test } from "node:test";
import { bundle, xsFixture } from "./support/bundle";
import { findXsnapWorker, runOnXS } from "./support/xsnap";

test("torpor's errors on XS with frozen built-ins, as on Moddable", async (t) => {
  if (!findXsnapWorker()) return t.skip("xsnap-worker is not built (npm ci builds it)");
  const { result } = await runOnXS(bundle(xsFixture("frozen-errors.entry.ts")), {});
  assert.deepEqual(result, {
    names: ["ConfigError", "ProtocolError", "SensorError", "OptionError", "I2CNack"],
    config: 'config batchSize: expected an integer, got "x"',
  });
});
