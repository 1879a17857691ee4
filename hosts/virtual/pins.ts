// ECMA-419 Analog (§10.2) and Digital (§10.3) classes over virtual inputs keyed by pin, so the
// battery and contact drivers run unchanged in the simulators. A pin with nothing on it throws in
// the constructor, as a real host's does for a pin that cannot be an input.

import type { Analog, AnalogConstructor, AnalogOptions, Digital, DigitalConstructor, DigitalOptions } from "../../src/host";

export interface AnalogInput {
  /** Bits of the reading (ECMA-419 `resolution`). */
  readonly resolution: number;
  read(): number;
}

export interface DigitalInput {
  read(): number;
}

export function virtualAnalog(inputs: ReadonlyMap<number, AnalogInput>): AnalogConstructor {
  return class VirtualAnalog implements Analog {
    #input: AnalogInput;
    #closed = false;

    constructor(options: AnalogOptions) {
      const input = inputs.get(options.pin);
      if (!input) throw new RangeError(`no analog input on pin ${options.pin}`);
      this.#input = input;
    }

    get resolution(): number {
      return this.#input.resolution;
    }

    read(): number {
      if (this.#closed) throw new Error("Analog: closed");
      return this.#input.read();
    }

    close(): void {
      this.#closed = true;
    }
  };
}

/** Moddable's numbers for ECMA-419's input modes; output modes are refused (nothing here drives a pin). */
const inputModes = { Input: 0, InputPullUp: 1, InputPullDown: 2, InputPullUpDown: 3 } as const;

export function virtualDigital(inputs: ReadonlyMap<number, DigitalInput>): DigitalConstructor {
  return class VirtualDigital implements Digital {
    static readonly Input = inputModes.Input;
    static readonly InputPullUp = inputModes.InputPullUp;
    static readonly InputPullDown = inputModes.InputPullDown;
    static readonly InputPullUpDown = inputModes.InputPullUpDown;
    #input: DigitalInput;
    #closed = false;

    constructor(options: DigitalOptions) {
      if (!Object.values(inputModes).some((mode) => mode === options.mode)) throw new RangeError(`invalid mode ${options.mode}: only inputs are simulated`);
      const input = inputs.get(options.pin);
      if (!input) throw new RangeError(`no digital input on pin ${options.pin}`);
      this.#input = input;
    }

    read(): number {
      if (this.#closed) throw new Error("Digital: closed");
      return this.#input.read();
    }

    close(): void {
      this.#closed = true;
    }
  };
}
