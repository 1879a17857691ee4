// The highest signed-command counter the node accepted (signed-command.ts): in the link memory,
// which deep sleep keeps, and under a flash key of its own, written at each accepted command before
// the command acts. The flash tier's copy of the whole state is made only every flashEvery wakes; a
// power loss restoring that copy would otherwise bring back a lower counter, and with it every
// command sent since — a replay of each would be accepted again.

import type { Flash } from "../host";
import type { LinkMemory } from "./link-memory";

/** The flash key: eight bytes, the counter as a little-endian float64 (an integer below 2^53). */
const COUNTER_FLASH_KEY = "cmdctr";

/** The highest counter accepted, retained memory and flash taken together (0: none yet). */
export function acceptedCounter(link: LinkMemory, flash: Flash | undefined): number {
  return Math.max(link.commandCounter ?? 0, flashCounter(flash));
}

function flashCounter(flash: Flash | undefined): number {
  const bytes = flash?.read(COUNTER_FLASH_KEY);
  if (bytes?.byteLength !== 8) return 0;
  const n = new DataView(bytes).getFloat64(0, true);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** Books `counter` as accepted: flash first, so no command acts before its counter is durable. */
export function acceptCounter(link: LinkMemory, flash: Flash | undefined, counter: number): void {
  if (flash) {
    const bytes = new ArrayBuffer(8);
    new DataView(bytes).setFloat64(0, counter, true);
    flash.write(COUNTER_FLASH_KEY, bytes);
  }
  link.commandCounter = counter;
}
