// Epochs kept in flash. A state that did not come from retained memory — a clean start, or the
// flash tier's older copy after a power loss — numbers what it sends again from where it starts:
// the telemetry tag's counters (sequence numbers) and encryption's nonces come round again. Their
// epoch moves on then, and it is kept in flash, written before any message goes out, so a power
// loss never brings back one that was used.

import type { Flash } from "../host";
import type { LinkMemory } from "./link-memory";

/** The flash key of the telemetry tag's epoch (telemetry-tag.ts): a little-endian u16. */
const EPOCH_FLASH_KEY = "epoch";

/**
 * One more than the higher of the epoch in flash under `key` (little-endian, `bytes` long) and
 * `kept` (the retained state's), modulo 2^(8·bytes); written to flash before it is returned.
 */
export function moveOn(flash: Flash | undefined, key: string, bytes: 2 | 4, kept: number): number {
  const stored = flash?.read(key);
  const view = stored?.byteLength === bytes ? new DataView(stored) : undefined;
  const was = !view ? 0 : bytes === 2 ? view.getUint16(0, true) : view.getUint32(0, true);
  const epoch = (Math.max(was, kept) + 1) % 2 ** (8 * bytes);
  if (flash) {
    const out = new DataView(new ArrayBuffer(bytes));
    if (bytes === 2) out.setUint16(0, epoch, true);
    else out.setUint32(0, epoch, true);
    flash.write(key, out.buffer);
  }
  return epoch;
}

export function nextEpoch(link: LinkMemory, flash: Flash | undefined): void {
  link.epoch = moveOn(flash, EPOCH_FLASH_KEY, 2, link.epoch ?? 0);
}
