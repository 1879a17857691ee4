// The ESP32 host's UpdateHost (docs/updates.md, "On a real ESP32"): the image is staged in the next
// OTA partition (the slot), written at each chunk's offset in whatever order the chunks come; the
// progress record and what this module knows of the slot live in NVS, so they survive power loss
// as well as deep sleep, each written whole by NVS or not at all. No Moddable module in here (the
// slot, NVS and the digest are passed in), so that the suite runs it on Node over a fake slot.
//
// Erasing: flash is erased in 4 KB sectors and a chunk is 256..3,072 bytes, so a chunk cannot be
// erased alone without wiping its neighbours. The erase mark, kept with the slot's address in the
// one NVS record that holds the progress too, says: below it, everything was erased in this
// transfer (and written only since); above it, nothing is known. A chunk that ends past the mark
// first erases from the mark up to the next ERASE_STEP boundary, then rewrites the record with the
// mark moved: each sector is erased once per transfer, and a cut between the two only repeats an
// erase. `discard` and `stage` set the mark back to 0 in memory only: the agent's next
// writeProgress stores it with the progress that no longer holds those chunks, so no record ever
// pairs chunks held with a mark below them.
//
// Rollback: ESP-IDF's bootloader starts a staged image once as PENDING_VERIFY and, on any later
// boot through it without esp_ota_mark_app_valid_cancel_rollback, returns to the previous image.
// A wake from deep sleep does not go through that choice (CONFIG_BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP
// starts the image that went to sleep), so `updateTries` counts here: the wakes a pending image
// has run, in RTC memory, and past `tries` the image is marked invalid, which restarts into the
// previous one. A pending image never runs after a power-on or a crash (the bootloader has
// rolled it back), so any boot but a deep-sleep wake starts the count anew. A pending image whose
// version is not the staged one (an offer that named the wrong version) is rolled back at once:
// kept, it would report a version the offer does not match, and the offer would be fetched again
// for ever; rolled back, the previous image reports the offer's version rolled back and refuses it.

import type { Flash } from "../../src/host";
import type { UpdateHost } from "../../src/update/capability";
import { utf8Decode, utf8Encode } from "../../src/encoding/utf8";
import type { OtaSlot } from "./native/ota-slot";

export interface Digest {
  write(bytes: Uint8Array): void;
  close(): Uint8Array;
}

export interface OtaUpdateOptions {
  slot: OtaSlot;
  /** NVS, the update's own namespace. */
  flash: Flash;
  crypto: Pick<UpdateHost, "verify" | "sha256">;
  /** A fresh SHA-256: the staged image is hashed a block at a time, never held whole in RAM. */
  digest: () => Digest;
  version: string;
  /** This boot is a wake from deep sleep (else a power-on, a reset or a software restart). */
  deepSleepWake: boolean;
  /** `updateTries`: the wakes a pending image may run without completing a publishing one. */
  tries: number;
  log: (line: string) => void;
}

export interface OtaUpdate {
  update: UpdateHost;
  /** An image was staged: the wake ends in a restart, not a deep sleep, so that the bootloader
   *  starts it (a deep-sleep wake would start the running image again). */
  readonly restart: boolean;
}

/** Erased ahead of the chunks 64 KB at a time: a flash block, one erase command on most chips. */
const ERASE_STEP = 65_536;
/** Bytes of the slot read per digest step in stagedSha256. */
const READ_BLOCK = 4_096;

/** Flash's erase unit: the first sector of a dropped image is erased so that nothing starts it. */
const SECTOR = 4_096;

const PROGRESS_KEY = "progress";
const STAGED_KEY = "staged";

/** What was staged, in which slot; or, once it gave way at a boot, the version rolled back from. */
type Staged = { version: string; slot: number } | { rolledBack: string };

/** The UpdateHost over `slot`, after this boot's rollback decision (which may not return). */
export function otaUpdate(o: OtaUpdateOptions): OtaUpdate {
  const { slot, flash } = o;
  const readText = (key: string): string | undefined => {
    const bytes = flash.read(key);
    return bytes === undefined ? undefined : utf8Decode(new Uint8Array(bytes));
  };
  const writeText = (key: string, text: string) => flash.write(key, utf8Encode(text).slice().buffer);
  const readJSON = (key: string): unknown => {
    try {
      return JSON.parse(readText(key) ?? "null");
    } catch {
      return null;
    }
  };

  let staged = parseStaged(readJSON(STAGED_KEY));
  let restart = false;
  let pending = slot.pending;

  // The rollback decision, before the firmware runs. `tries` is at most 100: a byte holds the count.
  const wakes = slot.pendingWakes;
  if (pending) {
    const count = Math.min(255, (o.deepSleepWake ? wakes[0]! : 0) + 1);
    wakes[0] = count;
    if (staged && "slot" in staged && staged.slot === slot.running && staged.version !== o.version) {
      o.log(`firmware ${o.version} booted where ${staged.version} was offered: the offer named the wrong version, rolled back`);
      o.log(slot.rollBack());
    } else if (count > o.tries) {
      o.log(`firmware ${o.version} did not complete a publishing wake in ${o.tries} wakes: rolled back`);
      o.log(slot.rollBack());
    } else o.log(`firmware ${o.version} booted, pending its first publishing wake (wake ${count} of ${o.tries})`);
  } else {
    wakes[0] = 0;
    if (staged && "slot" in staged && staged.slot === slot.address && slot.slotGivenUp) {
      // Staged, and given up: the bootloader went back (a crash, a power loss or a restart while
      // it was pending), or rollBack above did.
      o.log(`firmware ${staged.version} rolled back`);
      staged = { rolledBack: staged.version };
      writeText(STAGED_KEY, JSON.stringify(staged));
    } else if (staged && "slot" in staged) {
      // Kept, and a cut came before the record went; or a cut came between the record and making
      // the slot the boot partition, so that it never ran.
      flash.delete(STAGED_KEY);
      staged = undefined;
    }
  }

  // The progress record with the erase mark of the slot (0 for a mark left by another slot).
  const kept = readJSON(PROGRESS_KEY) as { progress?: unknown; slot?: unknown; erased?: unknown } | null;
  const record = kept !== null && typeof kept === "object" ? kept : {};
  let progress = typeof record.progress === "string" ? record.progress : undefined;
  let erased = record.slot === slot.address && typeof record.erased === "number" ? record.erased : 0;
  const save = () => writeText(PROGRESS_KEY, JSON.stringify({ progress, slot: slot.address, erased }));

  const update: UpdateHost = {
    version: o.version,
    board: "esp32",
    verify: o.crypto.verify,
    sha256: o.crypto.sha256,
    readProgress: () => progress,
    writeProgress(text) {
      progress = text;
      save();
    },
    writeChunk(offset, bytes) {
      const end = offset + bytes.length;
      if (!(offset >= 0) || end > slot.size) throw new RangeError(`chunk at ${offset} (${bytes.length} bytes) is past the OTA slot's ${slot.size} bytes`);
      if (end > erased) {
        const to = Math.min(slot.size, Math.ceil(end / ERASE_STEP) * ERASE_STEP);
        slot.erase(erased, to - erased);
        erased = to;
        save();
      }
      slot.write(offset, bytes);
    },
    stagedSha256(size) {
      // Only what this transfer erased and wrote can be the image.
      if (size > erased) return new Uint8Array(32);
      const digest = o.digest();
      for (let at = 0; at < size; at += READ_BLOCK) digest.write(slot.read(at, Math.min(READ_BLOCK, size - at)));
      return digest.close();
    },
    discard() {
      if (staged && "slot" in staged && staged.slot === slot.address) {
        // Staged this wake and dropped again: the bootloader must never start it. Its first sector
        // goes first, so that no image is there to start whatever a cut or a failure leaves
        // (the bootloader then starts the running image, the other slot, itself); no restart is
        // needed, then, even when the slot stays the boot partition.
        slot.erase(0, SECTOR);
        const why = slot.setBoot(false);
        if (why !== undefined) o.log(`update staging not dropped (its image is erased): ${why}`);
        else {
          // Setting the running partition back writes it a NEW otadata entry, which the next
          // power-on would make PENDING_VERIFY and a crash then give up for the slot: it is kept
          // now, as it was before the staging (nothing is staged while the running image is pending).
          const invalid = slot.markValid();
          if (invalid !== undefined) o.log(`firmware ${o.version} not kept again after the staging was dropped: ${invalid}`);
        }
        flash.delete(STAGED_KEY);
        staged = undefined;
        restart = false;
      }
      erased = 0;
    },
    stage(version) {
      // The record first: a cut after the slot became the boot partition must leave what was staged.
      staged = { version, slot: slot.address };
      writeText(STAGED_KEY, JSON.stringify(staged));
      const why = slot.setBoot(true);
      if (why !== undefined) {
        flash.delete(STAGED_KEY);
        staged = undefined;
        throw new Error(`firmware ${version} not staged: ${why}`);
      }
      erased = 0;
      restart = true;
      o.log(`firmware ${version} staged: the node restarts into it at the end of this wake`);
    },
    get pending() {
      return pending;
    },
    markValid() {
      const why = slot.markValid();
      if (why !== undefined) return o.log(`firmware ${o.version} not marked valid: ${why}`);
      pending = false;
      wakes[0] = 0;
      flash.delete(STAGED_KEY);
      staged = undefined;
      o.log(`firmware ${o.version} completed a publishing wake: kept`);
    },
    get rolledBack() {
      return staged && "rolledBack" in staged ? staged.rolledBack : undefined;
    },
  };
  return {
    update,
    get restart() {
      return restart;
    },
  };
}

function parseStaged(v: unknown): Staged | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.version === "string" && typeof r.slot === "number") return { version: r.version, slot: r.slot };
  if (typeof r.rolledBack === "string") return { rolledBack: r.rolledBack };
  return undefined;
}
