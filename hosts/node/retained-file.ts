// Retained memory kept in a file under the node's state directory: the Node host's stand-in for
// ESP32 RTC slow memory. A commit writes the changed range in place, in small chunks, each its own
// write, and syncs it, so a process killed at any moment leaves the file as a real power cut would
// leave the memory: possibly half-written, which is what the retained-state slots are built to
// survive. For the torture tests: TORPOR_RETAINED_CHUNK_MS stretches each chunk's write, so that
// kills at random moments often land inside a commit, and TORPOR_RETAINED_BYTES models a board with
// less RTC memory, so that a buffer overflow takes hours rather than days of simulated outage.

import * as fs from "node:fs";
import type { RetainedMemory } from "../../src/host";

export const RETAINED_SIZE = Number(process.env["TORPOR_RETAINED_BYTES"] ?? 0) || 8192;

/** Bytes per write: a torn commit is torn at one of these boundaries. */
const CHUNK = 64;

export class RetainedFile implements RetainedMemory {
  readonly bytes: Uint8Array;
  #fd: number;
  readonly #chunkMs = Number(process.env["TORPOR_RETAINED_CHUNK_MS"] ?? 0) || 0;
  readonly #pause = new Int32Array(new SharedArrayBuffer(4));

  constructor(readonly path: string, size = RETAINED_SIZE) {
    this.#fd = fs.openSync(path, fs.existsSync(path) ? "r+" : "w+");
    this.bytes = new Uint8Array(size);
    // A short or missing file reads as zeros beyond its end, like memory never written.
    fs.readSync(this.#fd, this.bytes, 0, size, 0);
  }

  commit(offset: number, length: number): void {
    for (let at = offset; at < offset + length; at += CHUNK) {
      fs.writeSync(this.#fd, this.bytes, at, Math.min(CHUNK, offset + length - at), at);
      if (this.#chunkMs > 0) Atomics.wait(this.#pause, 0, 0, this.#chunkMs);
    }
    fs.fdatasyncSync(this.#fd);
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}
