// The contract of the Moddable "host" module that main.ts imports. manifest.json "platforms" maps
// the name to hosts/esp32/host or hosts/sim/host; under mcconfig, tsc resolves it the same way (its
// generated `paths`), so each build checks main.ts against the real host. tsconfig.json, which checks
// every host at once, maps "host" here instead, and each host declares that it implements this.

import type { Config } from "../src/config";
import type { Host } from "../src/host";

export interface HostOptions {
  /** mc/config as the build made it: the manifest's values, the command line's strings, the SDK's keys. */
  raw: Readonly<Record<string, unknown>>;
  /** The validated config; undefined when it did not validate (the host then builds from defaults,
   *  and the firmware only reports the error and sleeps). */
  config: Config | undefined;
  /** Starts the next wake in this process: the simulator's deep sleep ends by calling it. A device
   *  never calls it, because a real deep sleep ends in a reboot into main. */
  wake: () => void;
}

export type MakeHost = (options: HostOptions) => Host;

/** Keys of mc/config the host or the SDK's own manifests put there, which parseConfig must accept. */
export declare const configKeys: readonly string[];
/** Checks the keys only the host reads; throws a ConfigError naming the key, like parseConfig. */
export type CheckHostConfig = (raw: Readonly<Record<string, unknown>>, config: Config) => void;
export declare const checkHostConfig: CheckHostConfig;
declare const makeHost: MakeHost;
export default makeHost;
