// The Moddable desktop-simulator host (mcconfig -p lin, mac or win): the virtual sensor devices
// behind ECMA-419 IO classes (the simulator has no I2C and no `device` global), TCP through the
// SDK's embedded:io/socket/tcp, retained memory, the flash tier and an update's staging in files,
// output through trace.
// Deep sleep is emulated: sleep(ms) schedules the next wake in this same process, so the simulator
// runs wake after wake, in real time, until it is closed.

import { File } from "file";
import Timer from "timer";
import config from "mc/config";
import type { Config } from "../../src/config";
import { parseConfig } from "../../src/config";
import type { Host, WakeCause } from "../../src/host";
import type { CheckHostConfig, HostOptions, MakeHost } from "../../types/host";
import { virtualBoard } from "../virtual/board";
import { SyntheticEnvironment } from "../virtual/environment";
import { SDKTCP } from "../moddable/sdk-tcp";
import { sdkTLS } from "../moddable/sdk-tls";
import { TLS_CACHE_SIZE } from "../moddable/tls-cache";
import { clock as hostClock, crypto, log, resolve, timers } from "../moddable/runtime";
import { flashFiles } from "./flash-files";
import { retainedFile } from "./retained-file";
import { simUpdate } from "./sim-update";

/** Keys the simulator build adds to mc/config: the `file` module's root, the display rotation, the
 *  SNTP server and the SSL module's key exchanges (modules/crypt/tls_common.json). */
export const configKeys: readonly string[] = ["file", "rotation", "sntp", "tls"];

/** `sim` is checked where it is used, by the virtual board, when the host is built. */
export const checkHostConfig: CheckHostConfig = () => {};

/** Wakes since the simulator started: only the first can be a power-on or a reset. */
let wakes = 0;

const makeHost: MakeHost = (options: HostOptions): Host => {
  const parsed: Config = options.config ?? parseConfig({});
  const id = "moddable-sim";
  const clock = hostClock();
  const base = `${config.file.root}torpor-${parsed.node || id}`;
  const path = `${base}.retained`;
  const wakeCause: WakeCause = wakes++ > 0 ? "timer" : File.exists(path) ? "reset" : "power-on";
  const board = virtualBoard(parsed, options.raw.sim, new SyntheticEnvironment(1), clock, {
    // A stuck virtual bus blocks for the I2C timeout, as a real one does.
    stall: (ms) => Timer.delay(ms),
  });
  const host: Host = {
    name: "sim",
    id,
    io: board.io,
    i2c: parsed.i2c ?? { data: 21, clock: 22, hz: 100_000 },
    network: {
      up: (_timeoutMs, callback) => void Timer.set(() => callback(), 0),
      resolve,
      down: () => {},
      TCP: SDKTCP,
      // The TLS session in a file of its own beside the retained one, as a board keeps it in RTC
      // memory beside the state region: only what that file carries survives the emulated sleep.
      TLS: sdkTLS({ memory: retainedFile(`${base}.tls`, TLS_CACHE_SIZE), now: () => Date.now() }),
    },
    clock,
    timer: timers(),
    retained: retainedFile(path),
    flash: flashFiles(`${base}.flash-`),
    crypto,
    // Staging and the transfer's progress beside the retained file, kept as it is kept.
    update: simUpdate(`${base}.update-`, log),
    wakeCause,
    log,
    sleep(ms) {
      // The emulated deep sleep: nothing of this wake survives but the retained file.
      Timer.set(() => options.wake(), Math.max(0, ms));
    },
    nap: (ms, callback) => void Timer.set(() => callback(), Math.max(0, ms)),
  };
  return host;
};

export default makeHost;
