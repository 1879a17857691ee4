// An ECMA-419 I2C class (§10.4) over a VirtualI2CBus, so drivers run unchanged against the virtual
// devices. Like Moddable's I2C, a NACK throws.

import type { BufferSource, I2C, I2CConstructor, I2COptions } from "../../../src/host";
import type { VirtualI2CBus } from "./i2c-bus";

export function virtualI2C(bus: VirtualI2CBus): I2CConstructor {
  return class VirtualI2C implements I2C {
    #address: number;
    #closed = false;

    constructor(options: I2COptions) {
      if (!Number.isInteger(options.address) || options.address < 0 || options.address > 0x7f) {
        throw new RangeError(`invalid I2C address ${options.address}`);
      }
      this.#address = options.address;
    }

    read(byteLength: number, stop = true): ArrayBuffer {
      this.#check();
      const copy = new Uint8Array(byteLength);
      copy.set(bus.read(this.#address, byteLength, stop));
      return copy.buffer;
    }

    write(buffer: BufferSource, stop = true): void {
      this.#check();
      const bytes = ArrayBuffer.isView(buffer)
        ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
        : new Uint8Array(buffer);
      bus.write(this.#address, bytes, stop);
    }

    close(): void {
      this.#closed = true;
    }

    #check(): void {
      if (this.#closed) throw new Error("I2C: closed");
    }
  };
}
