// The simulator's UpdateHost (docs/updates.md): it takes an update as a device does — the offer's
// signature and every hash checked with the SDK's crypt modules, the chunks written to a staging
// file, the progress record kept whole beside the retained file — but it cannot boot what it
// staged, nor roll back: mcsim runs the archive it was built with. So a verified image stays staged
// (keepsStaged: the status says so until a newer offer replaces it), the running image is never
// pending, and nothing is ever rolled back.

import { File } from "file";
import { utf8Decode, utf8Encode } from "../../src/encoding/utf8";
import type { UpdateHost } from "../../src/update/capability";
import { firmwareVersion } from "../moddable/firmware-version";
import { sha256Digest, updateCrypto } from "../moddable/update-crypto";
import { flashFiles } from "./flash-files";

/** Bytes of the staged image hashed at a time: the whole image never has to fit in the heap. */
const READ_BYTES = 4096;

/** @param prefix path every update file starts with, e.g. "/tmp/torpor-node.update-" */
export function simUpdate(prefix: string, log: (line: string) => void): UpdateHost {
  // The progress record as the flash tier keeps a key: a write is whole or not at all.
  const records = flashFiles(prefix);
  const staging = `${prefix}staging`;
  const staged = `${prefix}staged`;
  const remove = (path: string) => void (File.exists(path) && File.delete(path));
  return {
    version: firmwareVersion,
    board: "sim",
    ...updateCrypto,
    keepsStaged: true,
    pending: false,
    rolledBack: undefined,
    readProgress() {
      const bytes = records.read("progress");
      if (bytes === undefined) return undefined;
      try {
        return utf8Decode(new Uint8Array(bytes));
      } catch {
        // Not text: the agent finds it unreadable, says so and starts afresh.
        return "";
      }
    },
    writeProgress: (text) => records.write("progress", utf8Encode(text).slice().buffer),
    writeChunk(offset, bytes) {
      const file = new File(staging, true);
      try {
        file.position = offset;
        file.write(bytes.slice().buffer);
      } finally {
        file.close();
      }
    },
    stagedSha256(size) {
      const digest = sha256Digest();
      if (!File.exists(staging)) return new Uint8Array(32);
      const file = new File(staging);
      try {
        if (file.length !== size) return new Uint8Array(32);
        for (let at = 0; at < size; at += READ_BYTES) digest.write(new Uint8Array(file.read(ArrayBuffer, Math.min(READ_BYTES, size - at))));
      } finally {
        file.close();
      }
      return digest.close();
    },
    discard() {
      remove(staging);
      remove(staged);
    },
    stage(version) {
      remove(staged);
      if (!File.rename(staging, staged)) throw new Error(`update: cannot stage ${staging}`);
      log(`firmware ${version} staged in ${staged}: the simulator cannot boot it`);
    },
    markValid() {},
  };
}
