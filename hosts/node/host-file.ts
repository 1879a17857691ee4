// The small files a Node host keeps beside its retained memory (the clock's anchor, the sleep marker,
// the flash tier, the runner's per-node config): written so that a process killed at any moment
// leaves either the old file or the new one, never a mix, and read so that a file that is not what
// a host wrote (empty, cut short, a flipped bit, edited by hand) is reported as such, never trusted.
//
// Writes go to a temporary file, are synced, and renamed over the old one; the directory is synced
// too, so the rename itself survives a power cut. A record is one line of JSON followed by a line
// with its CRC-32, so a flipped bit in a number that still parses is caught as well.

import * as fs from "node:fs";
import * as path from "node:path";
import { crc32 } from "../../src/encoding/crc32";

/** Replaces `file` with `data` all at once. */
export function writeFileAtomic(file: string, data: Uint8Array | string, mode = 0o644): void {
  const temporary = `${file}.tmp`;
  const fd = fs.openSync(temporary, "w", mode);
  try {
    // A temporary file left by a cut keeps the mode it was made with: set the one asked for.
    fs.fchmodSync(fd, mode);
    fs.writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, file);
  syncDirectory(path.dirname(file));
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Not every platform can sync a directory (Windows): the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes `value` as a checked record. */
export function writeRecord(file: string, value: Record<string, number | string>, mode?: number): void {
  const json = JSON.stringify(value);
  writeFileAtomic(file, `${json}\n${checksum(json)}\n`, mode);
}

export type RecordRead = { status: "ok"; value: Record<string, unknown> } | { status: "missing" } | { status: "bad"; why: string };

/** Reads a record writeRecord wrote; anything else is "bad", with what is wrong with it. */
export function readRecord(file: string): RecordRead {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { status: "missing" };
    return { status: "bad", why: `unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  if (text.length === 0) return { status: "bad", why: "empty" };
  const lines = text.split("\n");
  if (lines.length !== 3 || lines[2] !== "" || !/^[0-9a-f]{8}$/.test(lines[1]!)) return { status: "bad", why: "not a checked record (cut short or overwritten)" };
  if (checksum(lines[0]!) !== lines[1]) return { status: "bad", why: "checksum mismatch" };
  let value: unknown;
  try {
    value = JSON.parse(lines[0]!);
  } catch {
    return { status: "bad", why: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { status: "bad", why: "not a JSON object" };
  return { status: "ok", value: value as Record<string, unknown> };
}

function checksum(text: string): string {
  return crc32(Buffer.from(text, "utf8")).toString(16).padStart(8, "0");
}
