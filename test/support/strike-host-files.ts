// Preloaded into a wake process (NODE_OPTIONS=--require …) by the host-file torture test: a power
// cut that lands inside the host's own file writes, wherever the host happens to make them. Every
// write to, rename onto and removal of a clock or sleep file (temporary files included) is one
// operation; at operation N (TORPOR_STRIKE="N:F") the process writes the first F of that write's
// bytes, or none of a rename or removal, says which on stderr, and kills itself with SIGKILL. It
// patches node:fs, not the host, so it strikes any host code alike, as a power cut does.

import fs = require("node:fs");
import path = require("node:path");

const spec = process.env["TORPOR_STRIKE"];
if (spec) {
  const [at, fraction] = spec.split(":").map(Number) as [number, number];
  const target = (file: unknown): file is string => typeof file === "string" && /^(clock|sleep)/.test(path.basename(file));
  const names = new Map<number, string>();
  let operations = 0;
  let inside = false;
  /** Counts an operation on `file`; at the chosen one, does `partly` and dies. */
  const operation = (what: string, file: string, partly?: () => void) => {
    if (++operations !== at) return;
    partly?.();
    process.stderr.write(`strike: ${what} ${path.basename(file)}\n`);
    process.kill(process.pid, "SIGKILL");
  };
  const bytesOf = (data: unknown): Uint8Array => (typeof data === "string" ? Buffer.from(data, "utf8") : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(0));
  const cut = (bytes: Uint8Array) => bytes.subarray(0, Math.floor(bytes.length * fraction));

  const { openSync, writeSync, writeFileSync, renameSync, rmSync, unlinkSync } = fs;
  fs.openSync = ((file: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...args: unknown[]) => number)(file, ...rest);
    if (target(file)) names.set(fd, file);
    else names.delete(fd);
    return fd;
  }) as typeof fs.openSync;
  fs.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    const file = names.get(fd);
    if (file !== undefined && !inside) operation(`write ${cut(bytesOf(data)).length}/${bytesOf(data).length} bytes of`, file, () => void writeSync(fd, cut(bytesOf(data))));
    return (writeSync as (...args: unknown[]) => number)(fd, data, ...rest);
  }) as typeof fs.writeSync;
  fs.writeFileSync = ((file: fs.PathOrFileDescriptor, data: unknown, ...rest: unknown[]) => {
    if (target(file)) operation(`write ${cut(bytesOf(data)).length}/${bytesOf(data).length} bytes of`, file, () => void writeFileSync(file, cut(bytesOf(data))));
    inside = true;
    try {
      (writeFileSync as (...args: unknown[]) => void)(file, data, ...rest);
    } finally {
      inside = false;
    }
  }) as typeof fs.writeFileSync;
  fs.renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
    if (target(to)) operation("rename onto", to);
    renameSync(from, to);
  }) as typeof fs.renameSync;
  fs.rmSync = ((file: fs.PathLike, options?: fs.RmOptions) => {
    if (target(file)) operation("remove", file);
    rmSync(file, options);
  }) as typeof fs.rmSync;
  fs.unlinkSync = ((file: fs.PathLike) => {
    if (target(file)) operation("remove", file);
    unlinkSync(file);
  }) as typeof fs.unlinkSync;
}
