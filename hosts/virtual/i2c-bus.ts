// A virtual I2C bus: devices answer at their addresses with register/command-level behaviour, and an
// address nobody answers at NACKs, as on a real bus. Portable: the Node host and the Moddable
// simulator host put the same bus behind their ECMA-419 I2C class.

/**
 * A device on the bus. Throwing I2CNack from write or read is the device not acknowledging;
 * throwing BusStuck is a device holding the bus (the I2C class then waits out its timeout).
 */
export interface I2CTarget {
  write(bytes: Uint8Array, stop: boolean): void;
  read(byteLength: number, stop: boolean): Uint8Array;
}

export class I2CNack extends Error {
  // A field, not `this.name = …`: Moddable freezes Error.prototype in ROM, where assigning throws.
  override readonly name = "I2CNack";

  constructor(address: number, what: string) {
    super(`I2C NACK from 0x${address.toString(16).padStart(2, "0")} (${what})`);
  }
}

export class BusStuck extends Error {
  // A field, not `this.name = …`: Moddable freezes Error.prototype in ROM, where assigning throws.
  override readonly name = "BusStuck";

  constructor(address: number) {
    super(`SDA held low by the device at 0x${address.toString(16).padStart(2, "0")}`);
  }
}

export class VirtualI2CBus {
  #targets = new Map<number, I2CTarget>();

  attach(address: number, target: I2CTarget): void {
    if (this.#targets.has(address)) throw new RangeError(`I2C address 0x${address.toString(16)} is taken`);
    this.#targets.set(address, target);
  }

  write(address: number, bytes: Uint8Array, stop: boolean): void {
    const target = this.#targets.get(address);
    if (!target) throw new I2CNack(address, "no device");
    target.write(bytes, stop);
  }

  read(address: number, byteLength: number, stop: boolean): Uint8Array {
    const target = this.#targets.get(address);
    if (!target) throw new I2CNack(address, "no device");
    const bytes = target.read(byteLength, stop);
    if (bytes.length !== byteLength) throw new RangeError(`device 0x${address.toString(16)} returned ${bytes.length} of ${byteLength} bytes`);
    return bytes;
  }
}
