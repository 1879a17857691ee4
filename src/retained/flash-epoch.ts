// The epoch telemetry counters carry (telemetry-tag.ts). A state that did not come from retained
// memory — a clean start, or the flash tier's older copy after a power loss — numbers its readings
// again from where it starts, so sequence numbers that already went out in tagged messages come
// round again for other readings: the epoch moves on then, and it is kept in flash, written before
// any message goes out, so a power loss never brings back one that was used.

import type { Flash } from "../host";
import type { LinkMemory } from "./link-memory";

/** The flash key: the epoch as a little-endian u16. */
const EPOCH_FLASH_KEY = "epoch";

export function nextEpoch(link: LinkMemory, flash: Flash | undefined): void {
  const stored = flash?.read(EPOCH_FLASH_KEY);
  const kept = stored?.byteLength === 2 ? new DataView(stored).getUint16(0, true) : 0;
  const epoch = (Math.max(kept, link.epoch ?? 0) + 1) & 0xffff;
  if (flash) {
    const bytes = new ArrayBuffer(2);
    new DataView(bytes).setUint16(0, epoch, true);
    flash.write(EPOCH_FLASH_KEY, bytes);
  }
  link.epoch = epoch;
}
