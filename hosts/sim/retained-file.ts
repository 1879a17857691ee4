// Retained memory kept in a file through the SDK's `file` module: the simulator's stand-in for ESP32
// RTC slow memory, as hosts/node/retained-file.ts is the Node host's. A commit rewrites the changed
// range in place, so a simulator killed mid-wake leaves the file as a power cut leaves the memory.

import { File } from "file";
import type { RetainedMemory } from "../../src/host";

/** The size of the Node host's region (hosts/node/retained-file.ts), so a state file means the same on both. */
export const RETAINED_SIZE = 8192;

export function retainedFile(path: string, size = RETAINED_SIZE): RetainedMemory {
  const bytes = new Uint8Array(size);
  if (File.exists(path)) {
    const file = new File(path);
    try {
      // A short file reads as zeros beyond its end, like memory never written.
      const length = Math.min(file.length, size);
      if (length > 0) bytes.set(new Uint8Array(file.read(ArrayBuffer, length)));
    } finally {
      file.close();
    }
  }
  return {
    bytes,
    commit(offset, length) {
      const file = new File(path, true);
      try {
        file.position = offset;
        file.write(bytes.slice(offset, offset + length).buffer);
      } finally {
        file.close();
      }
    },
  };
}
