// An ECMA-419 I2C class (§10.4) over a VirtualI2CBus, so drivers run unchanged against the virtual
// devices. Like Moddable's I2C, a NACK throws; a bus that a device holds stuck costs the
// connection's `timeout` and then throws an error named "TimeoutError".

import type { BufferSource, I2C, I2CConstructor, I2COptions } from "../../src/host";
import { BusStuck, type VirtualI2CBus } from "./i2c-bus";

/** Timeout of a connection that names none (ms). */
const DEFAULT_TIMEOUT_MS = 50;

export interface VirtualI2COptions {
  /** Blocks for ms, as a real I2C call on a stuck bus does (default: blockFor). */
  stall?: (ms: number) => void;
}

/**
 * Blocks the thread for ms without spinning, where the engine allows it (Atomics.wait: Node's main
 * thread does, browsers' do not); elsewhere the timeout error comes at once.
 */
export function blockFor(ms: number): void {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  } catch {
    // No blocking wait here: the timeout is reported without its delay.
  }
}

class I2CTimeout extends Error {
  // A field, not `this.name = …`: Moddable freezes Error.prototype in ROM, where assigning throws.
  override readonly name = "TimeoutError";
}

export function virtualI2C(bus: VirtualI2CBus, options: VirtualI2COptions = {}): I2CConstructor {
  const stall = options.stall ?? blockFor;
  return class VirtualI2C implements I2C {
    #address: number;
    #timeout: number;
    #closed = false;

    constructor(options: I2COptions) {
      if (!Number.isInteger(options.address) || options.address < 0 || options.address > 0x7f) {
        throw new RangeError(`invalid I2C address ${options.address}`);
      }
      this.#address = options.address;
      this.#timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    }

    read(byteLength: number, stop = true): ArrayBuffer {
      this.#check();
      const copy = new Uint8Array(byteLength);
      copy.set(this.#bounded(() => bus.read(this.#address, byteLength, stop)));
      return copy.buffer;
    }

    write(buffer: BufferSource, stop = true): void {
      this.#check();
      const bytes = ArrayBuffer.isView(buffer)
        ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
        : new Uint8Array(buffer);
      this.#bounded(() => bus.write(this.#address, bytes, stop));
    }

    close(): void {
      this.#closed = true;
    }

    #check(): void {
      if (this.#closed) throw new Error("I2C: closed");
    }

    #bounded<T>(transfer: () => T): T {
      try {
        return transfer();
      } catch (e) {
        if (!(e instanceof BusStuck)) throw e;
        stall(this.#timeout);
        throw new I2CTimeout(`I2C bus timeout after ${this.#timeout} ms (${e.message})`);
      }
    }
  };
}
