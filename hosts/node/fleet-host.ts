// The host of one wake of one node in an in-process fleet: built fresh for every wake, as a chip
// boots fresh from deep sleep, around what survives the sleep (fleet-memory.ts: retained memory and
// flash) and the time the RTC says the wake starts at. Virtual devices as on every simulated host;
// real TCP (or TLS) to a real broker; the wake's clock and timers from fleet-time.ts.

import * as dns from "node:dns";
import * as net from "node:net";
import type { Config } from "../../src/config";
import type { Host, WakeCause } from "../../src/host";
import type { UpdateHost } from "../../src/update/capability";
import type { Environment } from "../virtual/environment";
import { virtualBoard } from "../virtual/board";
import type { FleetMemory } from "./fleet-memory";
import { WakeTime } from "./fleet-time";
import { keepingTLS, NodeTCP } from "./tcp";

export interface FleetWake {
  memory: FleetMemory;
  /** The node's index in the fleet (its memory's slot). */
  index: number;
  config: Config;
  /** The config's `sim` value. */
  sim?: unknown;
  environment: Environment;
  /** Simulated ms the RTC reads when the wake starts. */
  startMs: number;
  cause: WakeCause;
  /** The update capability of the image booted (bootFirmware). */
  update: UpdateHost;
  log: (line: string, nowMs: number) => void;
}

export interface FleetHost extends Host {
  /** Resolves when the firmware goes to deep sleep, with the simulated time its sleep ends at. */
  readonly asleep: Promise<number>;
  readonly time: WakeTime;
}

export function createFleetHost(wake: FleetWake): FleetHost {
  const time = new WakeTime(wake.startMs);
  const board = virtualBoard(wake.config, wake.sim, wake.environment, time);
  const bytes = wake.memory.retained(wake.index);
  let wakeUp: (ms: number) => void = () => {};
  const asleep = new Promise<number>((resolve) => (wakeUp = resolve));
  return {
    name: "node",
    id: wake.config.node,
    io: board.io,
    i2c: { data: 21, clock: 22, hz: 100_000 },
    network: {
      up(_timeoutMs, callback) {
        time.goReal();
        setImmediate(callback);
      },
      resolve(host, callback) {
        if (net.isIP(host)) return callback(undefined, host);
        dns.lookup(host, { family: 4 }, (error, address) => callback(error ?? undefined, address));
      },
      down: () => time.goVirtual(),
      TCP: NodeTCP,
      TLS: keepingTLS({ memory: wake.memory.tlsSession(wake.index), now: () => time.now() }),
    },
    clock: time,
    timer: time,
    // RTC memory: the write is the commit.
    retained: { bytes, commit: () => {} },
    flash: wake.memory.flash(wake.index),
    wakeCause: wake.cause,
    update: wake.update,
    log: (line) => wake.log(line, time.now()),
    sleep(ms) {
      time.stop();
      wake.memory.markWoken(wake.index);
      wakeUp(time.now() + ms);
    },
    nap: (ms, callback) => time.set(callback, ms),
    asleep,
    time,
  };
}
