// The flash tier (Host.flash) in files through the SDK's `file` module: the simulator's stand-in for
// NVS, as the Node host's flash-<key>.bin files are. A write goes to a temporary file renamed over
// the old one, so that, as with NVS, a write happens whole or not at all. What a file holds is
// checked by the firmware (a retained slot's image and its CRC); a file that cannot be read at all
// (empty, or damaged on disk) is no copy, never an exception at every wake.

import { File } from "file";
import type { Flash } from "../../src/host";

/** @param prefix path every key's file starts with, e.g. "/tmp/torpor-node.flash-" */
export function flashFiles(prefix: string): Flash {
  const path = (key: string): string => {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(key)) throw new RangeError(`flash: "${key}" is not a usable key`);
    return prefix + key;
  };
  const read = (file: string): ArrayBuffer | undefined => {
    if (!File.exists(file)) return undefined;
    try {
      const f = new File(file);
      try {
        return f.length > 0 ? f.read(ArrayBuffer) : undefined;
      } finally {
        f.close();
      }
    } catch {
      return undefined;
    }
  };
  return {
    read(key) {
      const file = path(key);
      // Where rename cannot replace a file (Windows), write() removes the old one first: a power
      // cut between the two leaves only the new copy, under its temporary name.
      return read(file) ?? read(`${file}.new`);
    },
    write(key, bytes) {
      const file = path(key);
      const temporary = `${file}.new`;
      if (File.exists(temporary)) File.delete(temporary);
      const f = new File(temporary, true);
      try {
        f.write(bytes);
      } finally {
        f.close();
      }
      if (File.rename(temporary, file)) return;
      File.delete(file);
      if (!File.rename(temporary, file)) throw new Error(`flash: cannot replace ${file}`);
    },
    delete(key) {
      const file = path(key);
      if (File.exists(file)) File.delete(file);
      if (File.exists(`${file}.new`)) File.delete(`${file}.new`);
    },
  };
}
