// What the ESP32 update host (`otaUpdate`) needs of the flash and the bootloader: the native
// module's face (`otaSlot`), a type of its own so that the suite can fake it on Node.

/** The next OTA partition (the slot an update is staged in) and ESP-IDF's app rollback. */
export interface OtaSlot {
  /** Bytes in the slot. */
  readonly size: number;
  /** Flash addresses of the slot and of the running image's partition. */
  readonly address: number;
  readonly running: number;
  /** Erases `length` bytes (a multiple of 4 KB) from `offset` (4 KB-aligned), both within the slot. */
  erase(offset: number, length: number): void;
  write(offset: number, bytes: Uint8Array): void;
  read(offset: number, length: number): Uint8Array;
  /** The slot (true) or the running partition (false) becomes the one the bootloader starts; why
   *  not, or undefined. ESP-IDF checks the slot's image first. */
  setBoot(staged: boolean): string | undefined;
  /** The running image is PENDING_VERIFY: started from the slot it was staged in, not yet kept. */
  readonly pending: boolean;
  /** The slot's otadata state is ABORTED or INVALID: its image was started and given up (a crash
   *  or a cut while it was pending, or `rollBack`), as opposed to never started. */
  readonly slotGivenUp: boolean;
  /** The running image's otadata entry VALID; why not, or undefined. */
  markValid(): string | undefined;
  /** Marks the running image invalid and restarts into the previous one; returns only if it cannot. */
  rollBack(): string;
  /** RTC memory (its first byte counts): the wakes a pending image has run. */
  readonly pendingWakes: Uint8Array;
}
