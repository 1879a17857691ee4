// The ESP32 host's UpdateHost (hosts/esp32/ota-update) over a fake OTA slot that behaves as NOR
// flash does (a write only clears bits, an erase sets a whole 4 KB sector to 0xFF) and a fake NVS:
// the image staged from chunks in any order, across wakes that rebuild the host from NVS alone,
// over a slot still holding an old image, hashes to the image; and the pending image is counted
// over its wakes and rolled back after `updateTries`, which the previous image then reports. The
// fake keeps each partition's otadata state and plays the bootloader's choice at a power-on or a
// crash (`powerOn`), so that power cuts in staging and dropping are followed to the image started.

import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { describe, it } from "node:test";
import type { Flash } from "../src/host";
import type { OtaSlot } from "../hosts/esp32/native/ota-slot";
import { otaUpdate, type OtaUpdateOptions } from "../hosts/esp32/ota-update";

const SECTOR = 4096;
const SLOT_SIZE = 256 * 1024;
const A = 0x10000;
const B = A + SLOT_SIZE;

type OtaState = "new" | "pending" | "valid" | "invalid" | "aborted";

class PowerCut extends Error {}

class FakeSlot implements OtaSlot {
  readonly size = SLOT_SIZE;
  /** The slot's (`address`) flash. */
  readonly flash: Uint8Array;
  /** Erases per sector. */
  readonly erases = new Map<number, number>();
  boot: number;
  pending = false;
  rollBacks = 0;
  /** Otadata states by partition (the running image's from before any staging is VALID). */
  readonly state = new Map<number, OtaState>();
  /** setBoot(staged) for this `staged` fails with `why`, or a power cut comes before or after its otadata write. */
  fault: { staged: boolean; why?: string; cut?: "before" | "after" } | undefined;
  readonly pendingWakes = new Uint8Array(4);
  constructor(
    public running: number,
    old: Uint8Array,
  ) {
    this.flash = old.slice();
    this.boot = running;
    this.state.set(running, "valid");
  }
  get address(): number {
    return this.running === A ? B : A;
  }
  erase(offset: number, length: number): void {
    assert.equal(offset % SECTOR, 0, "erase at a sector boundary");
    assert.equal(length % SECTOR, 0, "erase of whole sectors");
    assert.ok(offset + length <= this.size);
    for (let s = offset; s < offset + length; s += SECTOR) this.erases.set(s, (this.erases.get(s) ?? 0) + 1);
    this.flash.fill(0xff, offset, offset + length);
  }
  write(offset: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.flash[offset + i]! &= bytes[i]!;
  }
  read(offset: number, length: number): Uint8Array {
    return this.flash.slice(offset, offset + length);
  }
  setBoot(staged: boolean): string | undefined {
    const fault = this.fault?.staged === staged ? this.fault : undefined;
    if (fault?.why !== undefined) return fault.why;
    if (fault?.cut === "before") throw new PowerCut();
    this.boot = staged ? this.address : this.running;
    this.state.set(this.boot, "new");
    if (fault?.cut === "after") throw new PowerCut();
    return undefined;
  }
  get slotGivenUp(): boolean {
    const s = this.state.get(this.address);
    return s === "aborted" || s === "invalid";
  }
  markValid(): string | undefined {
    this.pending = false;
    this.state.set(this.running, "valid");
    return undefined;
  }
  rollBack(): string {
    this.rollBacks++;
    this.state.set(this.running, "invalid");
    return "restarting";
  }
  /** ESP-IDF's bootloader at a power-on, a crash or a restart, rollback enabled: a boot partition
   *  left PENDING_VERIFY is ABORTED and the other starts, as for one INVALID or whose image does not
   *  load (an erased header); a NEW one starts PENDING_VERIFY. */
  powerOn(): void {
    const other = this.boot === A ? B : A;
    const s = this.state.get(this.boot);
    if (s === "pending") this.state.set(this.boot, "aborted");
    else if (s === "new") this.state.set(this.boot, "pending");
    const loads = this.boot !== this.address || this.flash[0] !== 0xff;
    if (s === "pending" || s === "invalid" || !loads) this.boot = other;
    this.running = this.boot;
    this.pending = this.state.get(this.running) === "pending";
  }
}

function fakeNvs(): Flash & { map: Map<string, ArrayBuffer> } {
  const map = new Map<string, ArrayBuffer>();
  return { map, read: (k) => map.get(k), write: (k, b) => void map.set(k, b.slice(0)), delete: (k) => void map.delete(k) };
}

const sha256 = (bytes: Uint8Array) => new Uint8Array(crypto.createHash("sha256").update(bytes).digest());

function boot(slot: FakeSlot, nvs: Flash, log: string[], over: Partial<OtaUpdateOptions> = {}) {
  return otaUpdate({
    slot,
    flash: nvs,
    crypto: { sha256, verify: () => false },
    digest: () => {
      const h = crypto.createHash("sha256");
      return { write: (b) => void h.update(b), close: () => new Uint8Array(h.digest()) };
    },
    version: "0.1.0",
    deepSleepWake: true,
    tries: 3,
    log: (l) => log.push(l),
    ...over,
  });
}

/** A deterministic shuffle. */
function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

describe("the ESP32 host's update staging (OTA slot, NVS records)", () => {
  const image = crypto.randomBytes(150_000);
  const CHUNK = 2048;
  const chunks = Math.ceil(image.length / CHUNK);
  const chunk = (i: number) => image.subarray(i * CHUNK, Math.min(image.length, (i + 1) * CHUNK));

  it("stages chunks taken in any order over wakes, on a slot holding an old image, and hashes to the image", () => {
    // The slot still holds the image before the last: bits a write alone cannot set again.
    const slot = new FakeSlot(A, crypto.randomBytes(SLOT_SIZE));
    const nvs = fakeNvs();
    const log: string[] = [];
    let ota = boot(slot, nvs, log);
    const order = shuffled(chunks, 7);
    order.forEach((i, n) => {
      // A wake every five chunks: the host knows only what NVS kept.
      if (n % 5 === 0) ota = boot(slot, nvs, log);
      ota.update.writeChunk(i * CHUNK, chunk(i));
    });
    assert.deepEqual(ota.update.stagedSha256(image.length), sha256(image));
    // Each sector the image covers erased once, none past it by more than the erase step.
    for (const [sector, count] of slot.erases) assert.equal(count, 1, `sector ${sector} erased ${count} times`);
    assert.ok(slot.erases.size >= Math.ceil(image.length / SECTOR));
    assert.equal(ota.restart, false);
    ota.update.stage("0.2.0");
    assert.equal(slot.boot, B, "the slot is the boot partition");
    assert.equal(ota.restart, true, "the wake ends in a restart, not a deep sleep");
  });

  it("a discarded transfer leaves nothing a new one could be written over", () => {
    const slot = new FakeSlot(A, new Uint8Array(SLOT_SIZE).fill(0xff));
    const nvs = fakeNvs();
    const log: string[] = [];
    const other = crypto.randomBytes(image.length);
    let ota = boot(slot, nvs, log);
    for (let i = 0; i < chunks; i++) ota.update.writeChunk(i * CHUNK, other.subarray(i * CHUNK, Math.min(other.length, (i + 1) * CHUNK)));
    ota.update.discard();
    // The new offer's first chunks in the same wake, the rest after a wake.
    shuffled(chunks, 3).forEach((i, n) => {
      if (n === 10) ota = boot(slot, nvs, log);
      ota.update.writeChunk(i * CHUNK, chunk(i));
    });
    assert.deepEqual(ota.update.stagedSha256(image.length), sha256(image));
  });

  it("keeps the progress record across wakes, and refuses a chunk past the slot", () => {
    const slot = new FakeSlot(A, new Uint8Array(SLOT_SIZE));
    const nvs = fakeNvs();
    boot(slot, nvs, []).update.writeProgress('{"transfer":"x"}');
    assert.equal(boot(slot, nvs, []).update.readProgress(), '{"transfer":"x"}');
    assert.throws(() => boot(slot, nvs, []).update.writeChunk(SLOT_SIZE - 100, new Uint8Array(200)), /past the OTA slot/);
  });

  /** Image 0.2.0 written whole and staged from slot A, then the restart: the bootloader starts slot B, pending. */
  function stagedAndRestarted() {
    const slot = new FakeSlot(A, new Uint8Array(SLOT_SIZE).fill(0xff));
    const nvs = fakeNvs();
    const log: string[] = [];
    const ota = boot(slot, nvs, log);
    for (let i = 0; i < chunks; i++) ota.update.writeChunk(i * CHUNK, chunk(i));
    ota.update.stage("0.2.0");
    slot.powerOn();
    assert.equal(slot.running, B);
    assert.equal(slot.pending, true);
    return { slot, nvs, log };
  }

  it("counts a pending image's wakes and rolls back after updateTries; the previous image reports it", () => {
    const { slot, nvs, log } = stagedAndRestarted();
    // RTC memory after a software restart: whatever the last image left there.
    slot.pendingWakes[0] = 7;
    let next = boot(slot, nvs, log, { version: "0.2.0", deepSleepWake: false });
    assert.equal(next.update.pending, true);
    assert.equal(slot.pendingWakes[0], 1, "the restart is the pending image's first wake");
    boot(slot, nvs, log, { version: "0.2.0" });
    boot(slot, nvs, log, { version: "0.2.0" });
    assert.equal(slot.rollBacks, 0, "three wakes are within updateTries");
    next = boot(slot, nvs, log, { version: "0.2.0" });
    assert.equal(slot.rollBacks, 1, "the fourth wake rolls back");
    assert.match(log.join("\n"), /0\.2\.0 did not complete a publishing wake in 3 wakes/);
    // ESP-IDF restarts into the previous image.
    slot.powerOn();
    assert.equal(slot.running, A);
    const back = boot(slot, nvs, log, { deepSleepWake: false });
    assert.equal(back.update.rolledBack, "0.2.0");
    assert.equal(back.update.pending, false);
    assert.equal(boot(slot, nvs, log).update.rolledBack, "0.2.0", "said at every wake until the next update");
  });

  it("a pending image that completes a publishing wake is kept, and nothing is said rolled back", () => {
    const { slot, nvs, log } = stagedAndRestarted();
    const next = boot(slot, nvs, log, { version: "0.2.0", deepSleepWake: false });
    next.update.markValid();
    assert.equal(next.update.pending, false);
    for (let w = 0; w < 5; w++) {
      const later = boot(slot, nvs, log, { version: "0.2.0" });
      assert.equal(later.update.rolledBack, undefined);
    }
    assert.equal(slot.rollBacks, 0);
  });

  /** Image 0.2.0 written whole in the slot of a node running from A, not yet staged. */
  function written() {
    const slot = new FakeSlot(A, new Uint8Array(SLOT_SIZE).fill(0xff));
    const nvs = fakeNvs();
    const log: string[] = [];
    const ota = boot(slot, nvs, log);
    for (let i = 0; i < chunks; i++) ota.update.writeChunk(i * CHUNK, chunk(i));
    return { slot, nvs, log, ota };
  }

  it("an image staged and dropped in the same wake is never started, whatever the power-ons and crashes after", () => {
    const { slot, nvs, ota } = written();
    ota.update.stage("0.2.0");
    ota.update.discard();
    assert.equal(slot.boot, A);
    assert.equal(ota.restart, false);
    assert.ok(slot.flash.subarray(0, 4096).every((b) => b === 0xff), "the dropped image's first sector is erased");
    // A power-on, then a crash before any publishing wake: the running image was kept, not left NEW.
    slot.powerOn();
    assert.equal(slot.pending, false);
    slot.powerOn();
    assert.equal(slot.running, A);
    assert.equal(boot(slot, nvs, [], { deepSleepWake: false }).update.rolledBack, undefined);
  });

  it("an image dropped when the running partition cannot be made the boot partition again is not started", () => {
    const { slot, nvs, log, ota } = written();
    ota.update.stage("0.2.0");
    slot.fault = { staged: false, why: "esp_ota_set_boot_partition failed (ESP_FAIL)" };
    ota.update.discard();
    assert.equal(ota.restart, false);
    assert.match(log.join("\n"), /not dropped \(its image is erased\): esp_ota_set_boot_partition failed/);
    slot.powerOn();
    assert.equal(slot.running, A, "the bootloader cannot load the dropped image and starts the running one");
    assert.equal(boot(slot, nvs, [], { deepSleepWake: false }).update.rolledBack, undefined);
  });

  it("a power cut right after the slot became the boot partition, then a failing image: the rollback is reported", () => {
    const { slot, nvs } = written();
    slot.fault = { staged: true, cut: "after" };
    const ota = boot(slot, nvs, []);
    assert.throws(() => ota.update.stage("0.2.0"), PowerCut);
    slot.fault = undefined;
    slot.powerOn();
    assert.equal(boot(slot, nvs, [], { version: "0.2.0", deepSleepWake: false }).update.pending, true);
    // It crashes before its first publishing wake.
    slot.powerOn();
    assert.equal(slot.running, A);
    assert.equal(boot(slot, nvs, [], { deepSleepWake: false }).update.rolledBack, "0.2.0");
  });

  it("a staged record whose slot never ran (a cut before the slot became the boot partition, or a refusal) is no rollback", () => {
    for (const fault of [{ staged: true, cut: "before" as const }, { staged: true, why: "esp_ota_set_boot_partition failed (ESP_ERR_OTA_VALIDATE_FAILED)" }]) {
      const { slot, nvs } = written();
      // The slot's otadata entry from an image kept there long ago.
      slot.state.set(B, "valid");
      slot.fault = fault;
      assert.throws(() => boot(slot, nvs, []).update.stage("0.2.0"));
      slot.fault = undefined;
      slot.powerOn();
      assert.equal(slot.running, A);
      assert.equal(boot(slot, nvs, [], { deepSleepWake: false }).update.rolledBack, undefined);
      assert.equal(nvs.map.has("staged"), false, "the stale record is dropped");
    }
  });

  it("an image whose version is not the offer's is rolled back at its first boot, and the offer's version reported", () => {
    const { slot, nvs, log } = stagedAndRestarted();
    boot(slot, nvs, log, { version: "0.3.0", deepSleepWake: false });
    assert.equal(slot.rollBacks, 1);
    assert.match(log.join("\n"), /firmware 0\.3\.0 booted where 0\.2\.0 was offered/);
    slot.powerOn();
    assert.equal(slot.running, A);
    assert.equal(boot(slot, nvs, log, { deepSleepWake: false }).update.rolledBack, "0.2.0");
  });

  it("a cut after a discard, before the progress is written again, loses none of the chunks that progress holds", () => {
    const slot = new FakeSlot(A, crypto.randomBytes(SLOT_SIZE));
    const nvs = fakeNvs();
    const ota = boot(slot, nvs, []);
    const order = shuffled(chunks, 11);
    for (const i of order.slice(0, chunks - 3)) ota.update.writeChunk(i * CHUNK, chunk(i));
    ota.update.writeProgress("fetching, all but three held");
    // A newer offer: the staging is dropped, and the power goes before its record is written.
    ota.update.discard();
    const next = boot(slot, nvs, []);
    assert.equal(next.update.readProgress(), "fetching, all but three held");
    for (const i of order.slice(chunks - 3)) next.update.writeChunk(i * CHUNK, chunk(i));
    assert.deepEqual(next.update.stagedSha256(image.length), sha256(image));
  });
});
