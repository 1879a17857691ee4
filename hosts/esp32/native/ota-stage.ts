// JavaScript face of the ESP32 host's update staging (the xs_torpor_ota_* functions) as the
// `OtaSlot` that `otaUpdate` writes through. Every call is native: none may run while the module is preloaded.

import type { OtaSlot } from "./ota-slot";

/** The next OTA partition, or undefined when the partition table has none (no two OTA slots). */
export function otaSlot(this: unknown): OtaSlot | undefined {
  const size: number | undefined = native("xs_torpor_ota_slot_size").call(this);
  if (size === undefined) return undefined;
  const self = this;
  return {
    size,
    address: native("xs_torpor_ota_slot_address").call(self),
    running: native("xs_torpor_ota_running_address").call(self),
    erase: (offset, length) => native("xs_torpor_ota_erase").call(self, offset, length),
    write: (offset, bytes) => native("xs_torpor_ota_write").call(self, offset, bytes),
    read: (offset, length) => new Uint8Array(native("xs_torpor_ota_read").call(self, offset, length)),
    setBoot: (staged) => native("xs_torpor_ota_set_boot").call(self, staged),
    pending: native("xs_torpor_ota_pending").call(self),
    slotGivenUp: native("xs_torpor_ota_slot_given_up").call(self),
    markValid: () => native("xs_torpor_ota_mark_valid").call(self),
    rollBack: () => native("xs_torpor_ota_roll_back").call(self),
    pendingWakes: new Uint8Array(native("xs_torpor_ota_pending_wakes").call(self)),
  };
}

/** A software reset: the bootloader picks the boot partition anew (a deep-sleep wake would not). */
export function restart(this: unknown): void {
  native("xs_torpor_restart").call(this);
}
