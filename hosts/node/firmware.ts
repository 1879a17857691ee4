// The Node host's firmware images and the update capability around them (docs/updates.md). An
// image is one header line, {"torpor": "image", "version": …, "board": "node"}, then the firmware
// (src/, entry hosts/node/image-entry) bundled as CommonJS. The node's FirmwareStore (files under
// its state directory's firmware/, or a fleet's memory) holds the running image (current.img; none: the firmware built into this program,
// at package.json's version), the one it replaced (previous.img), the staging area, the transfer's
// progress record and boot.json, which says whether the running image is still to prove itself.
//
// At every boot: a staged image becomes current, pending; a pending image booted more than `tries`
// times, or one that does not load, gives way to the previous one (rolled back).

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vm from "node:vm";
import type { UpdateHost } from "../../src/update/capability";
import type { FirmwareStore } from "./firmware-store";
import * as builtin from "./image-entry";

export type Firmware = typeof builtin;

export const IMAGE_MAGIC = "torpor";

export interface ImageHeader {
  version: string;
  board: string;
}

/** The header line of an image, or an error naming what is wrong. */
export function readImageHeader(bytes: Uint8Array): { header: ImageHeader; code: string } {
  const text = Buffer.from(bytes).toString("utf8");
  const end = text.indexOf("\n");
  let header: unknown;
  try {
    header = JSON.parse(end < 0 ? text : text.slice(0, end));
  } catch {
    throw new Error("not a torpor image (no header line)");
  }
  const h = header as Record<string, unknown>;
  if (typeof h !== "object" || h === null || h.torpor !== "image" || typeof h.version !== "string" || typeof h.board !== "string") throw new Error("not a torpor image (header)");
  return { header: { version: h.version, board: h.board }, code: text.slice(end + 1) };
}

export function imageText(header: ImageHeader, code: string): string {
  return `${JSON.stringify({ torpor: "image", version: header.version, board: header.board })}\n${code}`;
}

let builtinVersionRead: string | undefined;

/** The version of the firmware built into this program: package.json's (read once: a fleet boots
 *  at every wake of every node). */
export function builtinVersion(): string {
  // dist/hosts/node/ → the repository's root.
  const file = path.join(__dirname, "..", "..", "..", "package.json");
  return (builtinVersionRead ??= (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version);
}

/** Images loaded by this process, by content: a fleet of nodes on one image evaluates it once. */
const loaded = new Map<string, Firmware>();

function evaluate(code: string): Firmware {
  const key = crypto.createHash("sha256").update(code).digest("hex");
  let firmware = loaded.get(key);
  if (!firmware) {
    const module = { exports: {} as Firmware };
    const fn = vm.runInThisContext(`(function (module, exports) {${code}\n})`) as (m: { exports: Firmware }, e: Firmware) => void;
    fn(module, module.exports);
    if (typeof module.exports.run !== "function") throw new Error("image exports no run()");
    firmware = module.exports;
    loaded.set(key, firmware);
  }
  return firmware;
}

/** boot.json: the running image is pending (booted `tries` times without completing a publishing
 *  wake), or the version the host rolled back from. */
interface Boot {
  pending?: boolean;
  tries?: number;
  rolledBack?: string;
}

export interface Booted {
  firmware: Firmware;
  update: UpdateHost;
}

/** Boots the node's firmware from its store: applies a staged image, rolls back one that did not
 *  prove itself, and returns what to run and the update capability around it. */
export function bootFirmware(store: FirmwareStore, tries: number, log: (line: string) => void): Booted {
  const text = (name: string) => (store.has(name) ? Buffer.from(store.read(name)!).toString("utf8") : undefined);
  const readBoot = (): Boot => {
    try {
      return JSON.parse(text("boot.json") ?? "{}") as Boot;
    } catch {
      return {};
    }
  };
  const writeBoot = () => store.write("boot.json", Buffer.from(JSON.stringify(boot)));
  let boot = readBoot();
  if (store.has("staged.img")) {
    if (store.has("current.img")) store.rename("current.img", "previous.img");
    else store.remove("previous.img");
    store.rename("staged.img", "current.img");
    boot = { pending: true, tries: 0 };
    writeBoot();
  }
  const rollBack = (version: string, why: string) => {
    log(`firmware ${version} ${why}: rolled back`);
    if (store.has("previous.img")) store.rename("previous.img", "current.img");
    else store.remove("current.img");
    boot = { rolledBack: version };
    writeBoot();
  };
  const load = (): { firmware: Firmware; version: string } => {
    const image = store.read("current.img");
    if (!image) return { firmware: builtin, version: builtinVersion() };
    const { header, code } = readImageHeader(image);
    return { firmware: evaluate(code), version: header.version };
  };
  let running: { firmware: Firmware; version: string };
  if (boot.pending) {
    boot.tries = (boot.tries ?? 0) + 1;
    writeBoot();
  }
  try {
    running = load();
    if (boot.pending && boot.tries! > tries) {
      rollBack(running.version, `did not complete a publishing wake in ${tries} boots`);
      running = load();
    }
  } catch (e) {
    if (!boot.pending) throw e;
    rollBack("image", `does not load (${e instanceof Error ? e.message : String(e)})`);
    running = load();
  }
  if (boot.pending) log(`firmware ${running.version} booted, pending its first publishing wake (boot ${boot.tries} of ${tries})`);

  const sha256 = (bytes: Uint8Array) => new Uint8Array(crypto.createHash("sha256").update(bytes).digest());
  const update: UpdateHost = {
    version: running.version,
    board: "node",
    verify(publicKey, message, signature) {
      const b64 = (from: number) => Buffer.from(publicKey.subarray(from, from + 32)).toString("base64url");
      try {
        const key = crypto.createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64(1), y: b64(33) }, format: "jwk" });
        return crypto.verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
      } catch {
        // A point not on the curve verifies nothing.
        return false;
      }
    },
    sha256,
    readProgress: () => text("progress.json"),
    writeProgress: (progress) => store.write("progress.json", Buffer.from(progress)),
    writeChunk: (offset, bytes) => store.writeAt("staging.bin", offset, bytes),
    stagedSha256(size) {
      const bytes = store.read("staging.bin") ?? new Uint8Array(0);
      return bytes.length === size ? sha256(bytes) : new Uint8Array(32);
    },
    discard: () => store.remove("staging.bin"),
    stage(version) {
      log(`firmware ${version} staged: boots at the next wake`);
      store.rename("staging.bin", "staged.img");
    },
    get pending() {
      return boot.pending === true;
    },
    markValid() {
      log(`firmware ${running.version} completed a publishing wake: kept`);
      boot = {};
      writeBoot();
    },
    get rolledBack() {
      return boot.rolledBack;
    },
  };
  return { firmware: running.firmware, update };
}
