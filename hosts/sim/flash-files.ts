// The flash tier (Host.flash) in files through the SDK's `file` module: the simulator's stand-in for
// NVS, as the Node host's flash-state.bin is. A write goes to a temporary file renamed over the old
// one, so that, as with NVS, a write happens whole or not at all.

import { File } from "file";
import type { Flash } from "../../src/host";

/** @param prefix path every key's file starts with, e.g. "/tmp/torpor-node.flash-" */
export function flashFiles(prefix: string): Flash {
  const path = (key: string): string => {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(key)) throw new RangeError(`flash: "${key}" is not a usable key`);
    return prefix + key;
  };
  return {
    read(key) {
      const file = path(key);
      if (!File.exists(file)) return undefined;
      const f = new File(file);
      try {
        return f.read(ArrayBuffer);
      } finally {
        f.close();
      }
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
      if (!File.rename(temporary, file)) throw new Error(`flash: cannot replace ${file}`);
    },
    delete(key) {
      const file = path(key);
      if (File.exists(file)) File.delete(file);
    },
  };
}
