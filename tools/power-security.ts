// `npm run power`'s rows for authenticated and encrypted telemetry (docs/security.md): what a
// telemetryKey's tag, or a payloadKey's sealing, costs in battery life on the config's schedule.
// The measured run has them when the config has the key and not when it has not; the other case is
// projected from it by the bytes added on each publish (one message a publish: a batch the broker's
// limit splits pays them per part). The CPU is left out: a device hashes and encrypts with the
// SDK's native digest and AES, a few milliseconds' worth at most (bench formats: the XS cost with
// the harness's script crypto is its upper bound).

import type { Config } from "../src/config";
import { project, type Assumptions, type Measured } from "../src/power/projection";
import { tagBytes } from "../src/telemetry/telemetry-tag";
import { SEAL_BYTES } from "../src/telemetry/payload-seal";

export type CostedKey = "telemetryKey" | "payloadKey";

export interface TagCost {
  key: CostedKey;
  bytesPerMessage: number;
  batteryDaysWithout: number;
  batteryDaysWith: number;
}

export function tagCost(config: Config, measured: Measured, a: Assumptions, key: CostedKey = "telemetryKey"): TagCost {
  const bytes = key === "telemetryKey" ? tagBytes(config.format) : SEAL_BYTES;
  const tagged = config[key] !== "";
  const other = { ...measured, bytesUp: Math.max(0, measured.bytesUp + (tagged ? -bytes : bytes)) };
  const here = project(config, measured, a).batteryDays;
  const there = project(config, other, a).batteryDays;
  return { key, bytesPerMessage: bytes, batteryDaysWithout: tagged ? there : here, batteryDaysWith: tagged ? here : there };
}

export function tagCostLine(cost: TagCost): string {
  const change = (100 * (cost.batteryDaysWith - cost.batteryDaysWithout)) / cost.batteryDaysWithout;
  const [yes, no] = cost.key === "telemetryKey" ? ["tagged", "untagged"] : ["encrypted", "in the clear"];
  return `${cost.key}: +${cost.bytesPerMessage} B a message: ${cost.batteryDaysWith.toFixed(0)} days ${yes}, ${cost.batteryDaysWithout.toFixed(0)} ${no} (${change.toFixed(2)} %)`;
}
