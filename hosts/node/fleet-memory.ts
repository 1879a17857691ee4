// What survives a deep sleep for every node of an in-process fleet, and nothing else: the RTC's
// retained memory (one region per node, cut from one allocation, so 100,000 nodes are one buffer
// and no per-node garbage), the flash tier (a map per node, made when a node first writes it), and
// the RTC's notion of when the node is due. The firmware instance, its host and every socket are
// gone between wakes, as on a chip.

import type { Flash } from "../../src/host";
import type { SavedSession, SessionMemory } from "./tls-session";

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

  constructor(readonly nodes: number, readonly retainedBytes = FLEET_RETAINED_BYTES) {
    this.#retained = new Uint8Array(nodes * retainedBytes);
    this.#flash = new Array<Map<string, Uint8Array> | undefined>(nodes);
    this.#woken = new Uint8Array(nodes);
    this.#tls = new Array<SavedSession | undefined>(nodes);
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
}
