// `npm run power`'s row for authenticated telemetry (docs/security.md): what a telemetryKey's tag
// costs in battery life on the config's schedule. The measured run has tags when the config has a
// key and none when it has not; the other case is projected from it by the tag's bytes on each
// publish (one message a publish: a batch the broker's limit splits pays it per part). The HMAC's
// CPU is left out: a device hashes with the SDK's native digest, a few milliseconds' worth at most
// (bench formats: the XS cost with the script SHA-256 is its upper bound).

import type { Config } from "../src/config";
import { project, type Assumptions, type Measured } from "../src/power/projection";
import { tagBytes } from "../src/telemetry/telemetry-tag";

export interface TagCost {
  bytesPerMessage: number;
  batteryDaysWithout: number;
  batteryDaysWith: number;
}

export function tagCost(config: Config, measured: Measured, a: Assumptions): TagCost {
  const bytes = tagBytes(config.format);
  const tagged = config.telemetryKey !== "";
  const other = { ...measured, bytesUp: Math.max(0, measured.bytesUp + (tagged ? -bytes : bytes)) };
  const here = project(config, measured, a).batteryDays;
  const there = project(config, other, a).batteryDays;
  return { bytesPerMessage: bytes, batteryDaysWithout: tagged ? there : here, batteryDaysWith: tagged ? here : there };
}

export function tagCostLine(cost: TagCost): string {
  const change = (100 * (cost.batteryDaysWith - cost.batteryDaysWithout)) / cost.batteryDaysWithout;
  return `telemetryKey: +${cost.bytesPerMessage} B a message: ${cost.batteryDaysWith.toFixed(0)} days tagged, ${cost.batteryDaysWithout.toFixed(0)} untagged (${change.toFixed(2)} %)`;
}
