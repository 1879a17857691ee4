// `npm run power`'s boot and Wi-Fi options (tools/power-options): each moves the figure it names
// from its published "off" to its "on", and so is worth battery days on any schedule; every one
// names its source; and the report prints them.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultAssumptions, project } from "../src/power/projection";
import { optionEffects, optionLines, wakeOptions } from "../tools/power-options";

const measured = { xsCompute: undefined, awakeMs: 30, sampleMs: 15, radioMs: 60, bytesUp: 300, bytesDown: 20 };
const schedule = { sampleInterval: 60, batchSize: 60, maxLatency: 3600 };

describe("npm run power: boot and Wi-Fi options", () => {
  it("each option on is worth days, exactly what the model gives with its figure set", () => {
    const effects = optionEffects(schedule, measured, defaultAssumptions);
    assert.equal(effects.length, wakeOptions.length);
    for (const { option, offDays, onDays } of effects) {
      assert.ok(option.on < option.off, option.name);
      assert.ok(onDays > offDays, `${option.name}: ${offDays} → ${onDays}`);
      assert.equal(onDays, project(schedule, measured, { ...defaultAssumptions, [option.key]: option.on }).batteryDays);
      assert.match(option.source, /\w+\.\w+|\//, `${option.name} names a published source`);
    }
  });

  it("the report gives each option its off and on figures, days and source", () => {
    const lines = optionLines(optionEffects(schedule, measured, defaultAssumptions), (d) => `${d.toFixed(0)} days`).join("\n");
    for (const option of wakeOptions) {
      assert.ok(lines.includes(`${option.key} ${option.off} → ${option.on} ms`), option.name);
      assert.ok(lines.includes(option.source));
    }
  });
});
