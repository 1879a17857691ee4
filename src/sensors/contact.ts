// A dry contact (reed switch, door or window contact, float switch) on an ECMA-419 Digital input
// (§10.3). ECMA-419's Switch sensor class names the sample: `{switch: {position}}`; torpor reports
// position 1 for an open contact and 0 for a closed one. With the default wiring — contact between
// the pin and ground, the pin's pull-up on — an open contact reads high, so position is the level;
// `invert` flips it for the other wiring (contact to 3.3 V, pull-down).
// `wake: true` marks the contact as a deep-sleep wake source; arming the pin is the host's job.

import type { Digital, DigitalConstructor } from "../host";
import { knownOptions, optionOneOf, SensorError, type SampleCallback, type Sensor } from "./sensor";

export type Pull = "up" | "down" | "none";

export interface ContactOptions {
  pull: Pull;
  invert: boolean;
  wake: boolean;
}

export const contactDefaults: ContactOptions = { pull: "up", invert: false, wake: false };

/** ECMA-419 puts the input modes on the Digital class itself. */
const modes = { up: "InputPullUp", down: "InputPullDown", none: "Input" } as const satisfies Record<Pull, keyof DigitalConstructor>;

/** Checks `options`; `pull` is fixed when the input opens, so the registry reads it from the config. */
export function parseContactOptions(options: Record<string, unknown>): Partial<ContactOptions> {
  knownOptions(options, ["pull", "invert", "wake"]);
  const parsed: Partial<ContactOptions> = {};
  const pull = optionOneOf(options, "pull", ["up", "down", "none"] as const);
  if (pull !== undefined) parsed.pull = pull;
  const invert = optionOneOf(options, "invert", [true, false]);
  if (invert !== undefined) parsed.invert = invert;
  const wake = optionOneOf(options, "wake", [true, false]);
  if (wake !== undefined) parsed.wake = wake;
  return parsed;
}

export interface ContactSensorOptions {
  sensor: { io: DigitalConstructor; pin: number; pull?: Pull };
}

export default class Contact implements Sensor {
  #input: Digital;
  #invert = contactDefaults.invert;

  constructor(options: ContactSensorOptions) {
    const { io, pin, pull = contactDefaults.pull } = options.sensor;
    const mode = io[modes[pull]];
    if (typeof mode !== "number") throw new SensorError("absent", `contact: this host's Digital class has no ${modes[pull]} mode`);
    try {
      this.#input = new io({ pin, mode });
    } catch (e) {
      throw new SensorError("absent", `contact: no digital input on pin ${pin} (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  configure(options: Record<string, unknown>): void {
    this.#invert = parseContactOptions(options).invert ?? this.#invert;
  }

  sample(callback: SampleCallback): void {
    let level: number;
    try {
      level = this.#input.read();
    } catch (e) {
      callback(new SensorError("io", `contact: read failed (${e instanceof Error ? e.message : String(e)})`));
      return;
    }
    callback(undefined, { switch: { position: level ^ (this.#invert ? 1 : 0) } });
  }

  close(): void {
    this.#input.close();
  }
}
