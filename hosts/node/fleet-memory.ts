// What survives a deep sleep for every node of an in-process fleet, and nothing else: the RTC's
// retained memory (one region per node, cut from one allocation, so 100,000 nodes are one buffer
// and no per-node garbage), the flash tier (a map per node, made when a node first writes it), and
// the RTC's notion of when the node is due. The firmware instance, its host and every socket are
// gone between wakes, as on a chip.

import { createHash } from "node:crypto";
import type { Flash } from "../../src/host";
import type { SavedSession, SessionMemory } from "./tls-session";
import type { FirmwareStore } from "./firmware-store";

/** Retained bytes per node: ESP32 RTC slow memory as the Node host models it (retained-file.ts). */
export const FLEET_RETAINED_BYTES = 8192;

/** Flash keys are NVS keys (at most 15 characters): the same rule as the file-backed flash. */
const FLASH_KEY = /^[A-Za-z0-9_.-]{1,15}$/;

export class FleetMemory {
  readonly #retained: Uint8Array;
  readonly #flash: (Map<string, Uint8Array> | undefined)[];
  /** Per node: true once the node has woken (its retained memory holds what it wrote). */
  readonly #woken: Uint8Array;
  /** Per node: the TLS session kept for its next wake (host state beside the retained region). */
  readonly #tls: (SavedSession | undefined)[];
  /** Flash writes, all nodes: for wear figures. */
  flashWrites = 0;
  /** Per node, its firmware store's entries (made when a node first takes an update): bytes and
   *  the length used, so that staging grows by doubling, not by a copy per chunk. */
  readonly #firmware: (Map<string, { bytes: Uint8Array; length: number }> | undefined)[];
  /** Firmware images by SHA-256: a fleet on one image holds it once. */
  readonly #images = new Map<string, Uint8Array>();

  constructor(readonly nodes: number, readonly retainedBytes = FLEET_RETAINED_BYTES) {
    this.#retained = new Uint8Array(nodes * retainedBytes);
    this.#flash = new Array<Map<string, Uint8Array> | undefined>(nodes);
    this.#woken = new Uint8Array(nodes);
    this.#tls = new Array<SavedSession | undefined>(nodes);
    this.#firmware = new Array<Map<string, { bytes: Uint8Array; length: number }> | undefined>(nodes);
  }

  /** Bytes a fleet of `nodes` holds in memory between wakes, before any flash copy. */
  static bytesFor(nodes: number, retainedBytes = FLEET_RETAINED_BYTES): number {
    return nodes * (retainedBytes + 1);
  }

  retained(node: number): Uint8Array {
    return this.#retained.subarray(node * this.retainedBytes, (node + 1) * this.retainedBytes);
  }

  hasWoken(node: number): boolean {
    return this.#woken[node] === 1;
  }

  markWoken(node: number): void {
    this.#woken[node] = 1;
  }

  tlsSession(node: number): SessionMemory {
    return {
      load: () => this.#tls[node],
      save: (session) => void (this.#tls[node] = session),
    };
  }

  flash(node: number): Flash {
    const memory = this;
    const check = (key: string) => {
      if (!FLASH_KEY.test(key)) throw new RangeError(`flash key "${key}" is not 1-15 letters, digits, '_', '.' or '-' (NVS limits keys to 15)`);
    };
    return {
      read(key) {
        check(key);
        const bytes = memory.#flash[node]?.get(key);
        return bytes ? (bytes.slice().buffer as ArrayBuffer) : undefined;
      },
      write(key, bytes) {
        check(key);
        (memory.#flash[node] ??= new Map()).set(key, new Uint8Array(bytes.slice(0)));
        memory.flashWrites++;
      },
      delete(key) {
        check(key);
        memory.#flash[node]?.delete(key);
      },
    };
  }

  firmware(node: number): FirmwareStore {
    const entries = () => (this.#firmware[node] ??= new Map());
    const images = this.#images;
    return {
      has: (name) => this.#firmware[node]?.has(name) ?? false,
      read(name) {
        const e = entries().get(name);
        return e?.bytes.subarray(0, e.length);
      },
      write: (name, bytes) => void entries().set(name, { bytes: bytes.slice(), length: bytes.length }),
      writeAt(name, offset, bytes) {
        const map = entries();
        let e = map.get(name) ?? { bytes: new Uint8Array(0), length: 0 };
        const end = offset + bytes.length;
        if (end > e.bytes.length) {
          const grown = new Uint8Array(Math.max(end, 2 * e.bytes.length));
          grown.set(e.bytes.subarray(0, e.length));
          e = { bytes: grown, length: e.length };
        }
        e.bytes.set(bytes, offset);
        e.length = Math.max(e.length, end);
        map.set(name, e);
      },
      rename(from, to) {
        const map = entries();
        const e = map.get(from);
        if (!e) throw new Error(`no ${from}`);
        map.delete(from);
        if (!to.endsWith(".img")) return void map.set(to, e);
        const bytes = e.bytes.subarray(0, e.length);
        const key = createHash("sha256").update(bytes).digest("hex");
        const image = images.get(key) ?? bytes.slice();
        images.set(key, image);
        map.set(to, { bytes: image, length: image.length });
      },
      remove: (name) => void this.#firmware[node]?.delete(name),
    };
  }
}
