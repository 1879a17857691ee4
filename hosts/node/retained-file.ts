// Retained memory kept in a file under the node's state directory: the Node host's stand-in for
// ESP32 RTC slow memory. A commit writes the changed range in place and syncs it, so a process killed
// at any moment leaves the file as a real power cut would leave the memory: possibly half-written,
// which is what the retained-state slots are built to survive.

import * as fs from "node:fs";
import type { RetainedMemory } from "../../src/host";

export const RETAINED_SIZE = 8192;

export class RetainedFile implements RetainedMemory {
  readonly bytes: Uint8Array;
  #fd: number;

  constructor(readonly path: string, size = RETAINED_SIZE) {
    this.#fd = fs.openSync(path, fs.existsSync(path) ? "r+" : "w+");
    this.bytes = new Uint8Array(size);
    // A short or missing file reads as zeros beyond its end, like memory never written.
    fs.readSync(this.#fd, this.bytes, 0, size, 0);
  }

  commit(offset: number, length: number): void {
    fs.writeSync(this.#fd, this.bytes, offset, length, offset);
    fs.fdatasyncSync(this.#fd);
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}
