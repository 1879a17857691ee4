// Flash (ESP32 NVS) on the Node host: one file per key in the node's state directory. Unlike the
// retained file, which a kill may leave half-written as a power cut leaves RTC memory, a flash write
// is all or nothing — NVS keeps the old value until the new one is complete — so it is written as
// every host file is (host-file.ts: a temporary file, synced, renamed over the old one). What it
// holds is checked by the firmware (a retained slot's image, CRC and all). Writes are counted, for
// wear figures.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Flash } from "../../src/host";
import { writeFileAtomic } from "./host-file";

export class FlashFiles implements Flash {
  /** Writes made by this process. */
  writes = 0;

  constructor(readonly dir: string) {}

  #file(key: string): string {
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(key)) throw new RangeError(`flash key "${key}" is not 1-15 letters, digits, '_', '.' or '-' (NVS limits keys to 15)`);
    return path.join(this.dir, `flash-${key}.bin`);
  }

  read(key: string): ArrayBuffer | undefined {
    try {
      const bytes = fs.readFileSync(this.#file(key));
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  write(key: string, bytes: ArrayBuffer): void {
    writeFileAtomic(this.#file(key), new Uint8Array(bytes));
    this.writes++;
  }

  delete(key: string): void {
    fs.rmSync(this.#file(key), { force: true });
  }
}
