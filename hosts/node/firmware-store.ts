// Where a Node-hosted node keeps its firmware images, staging and update progress: files under its
// state directory (process-per-wake), or memory (the in-process fleet, FleetMemory.firmware).

import * as fs from "node:fs";
import * as path from "node:path";

export interface FirmwareStore {
  has(name: string): boolean;
  read(name: string): Uint8Array | undefined;
  /** Replaces `name` whole: a cut leaves the old bytes or the new. */
  write(name: string, bytes: Uint8Array): void;
  /** Writes into `name` at `offset`, making it as long as it must be. */
  writeAt(name: string, offset: number, bytes: Uint8Array): void;
  /** Moves `from` over `to`. */
  rename(from: string, to: string): void;
  remove(name: string): void;
}

export function fileFirmwareStore(dir: string): FirmwareStore {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, name);
  return {
    has: (name) => fs.existsSync(file(name)),
    read(name) {
      try {
        return new Uint8Array(fs.readFileSync(file(name)));
      } catch {
        return undefined;
      }
    },
    write(name, bytes) {
      fs.writeFileSync(file(`${name}.tmp`), bytes);
      fs.renameSync(file(`${name}.tmp`), file(name));
    },
    writeAt(name, offset, bytes) {
      const fd = fs.openSync(file(name), fs.existsSync(file(name)) ? "r+" : "w");
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, offset);
      } finally {
        fs.closeSync(fd);
      }
    },
    rename: (from, to) => fs.renameSync(file(from), file(to)),
    remove: (name) => fs.rmSync(file(name), { force: true }),
  };
}
