// The Node.js host: the same virtual sensor devices as the Moddable simulator, ECMA-419 TCP over
// node:net, retained memory and an RTC-like clock in files under the node's state directory, and
// deep sleep as the end of the process (the runner in tools/ starts the next wake after the sleep).

import * as dns from "node:dns";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import type { Config } from "../../src/config";
import type { Host, WakeCause } from "../../src/host";
import type { Environment } from "../sim/devices/environment";
import { virtualBoard } from "../sim/devices/board";
import { ScaledClock } from "./clock";
import { FlashFiles } from "./flash-file";
import { RetainedFile } from "./retained-file";
import { NodeTCP, NodeTLS } from "./tcp";

export interface NodeHostOptions {
  /** Directory holding this node's retained memory, clock and sleep marker. */
  stateDir: string;
  /** Simulated seconds per real second. */
  timeScale: number;
  config: Config;
  /** The config's `sim` value: simulation settings for the virtual board. */
  sim?: unknown;
  environment: Environment;
  /** Where log lines go (default: stdout). */
  log?: (line: string) => void;
}

export interface NodeHost extends Host {
  /** Resolves with the sleep duration (simulated ms) when the firmware goes to sleep. */
  readonly asleep: Promise<number>;
  close(): void;
}

export function createNodeHost(options: NodeHostOptions): NodeHost {
  fs.mkdirSync(options.stateDir, { recursive: true });
  const file = (name: string) => path.join(options.stateDir, name);
  const { cause: wakeCause, until } = takeWakeCause(file("sleep.json"), file("retained.bin"));
  const clock = new ScaledClock(file("clock.json"), options.timeScale, until);
  const retained = new RetainedFile(file("retained.bin"));

  const board = virtualBoard(options.config, options.sim, options.environment, clock);

  let wakeUp: (ms: number) => void = () => {};
  const asleep = new Promise<number>((resolve) => (wakeUp = resolve));
  // Lines carry the node's own (simulated) time: that is the time its readings are stamped with.
  const log = options.log ?? ((line: string) => process.stdout.write(`${new Date(clock.now()).toISOString().slice(11, 19)} ${line}\n`));

  return {
    name: "node",
    id: path.basename(path.resolve(options.stateDir)),
    io: board.io,
    i2c: { data: 21, clock: 22, hz: 100_000 },
    network: {
      up: (_timeoutMs, callback) => setImmediate(callback),
      resolve(host, callback) {
        if (net.isIP(host)) return callback(undefined, host);
        dns.lookup(host, { family: 4 }, (error, address) => callback(error ?? undefined, address));
      },
      down: () => {},
      TCP: NodeTCP,
      TLS: NodeTLS,
    },
    clock,
    timer: {
      set: (callback, ms) => setTimeout(callback, ms),
      clear: (id) => clearTimeout(id as NodeJS.Timeout),
    },
    retained,
    flash: new FlashFiles(options.stateDir),
    wakeCause,
    log,
    sleep(ms) {
      fs.writeFileSync(file("sleep.json"), JSON.stringify({ until: clock.now() + ms }));
      clock.sleep();
      wakeUp(ms);
    },
    nap: (ms, callback) => clock.nap(ms, callback),
    asleep,
    close: () => retained.close(),
  };
}

/**
 * A sleep marker means the last process ended in deep sleep and says when the timer was due; its
 * absence after a run means the process died (a reset).
 */
function takeWakeCause(marker: string, retained: string): { cause: WakeCause; until?: number } {
  try {
    const { until } = JSON.parse(fs.readFileSync(marker, "utf8")) as { until?: unknown };
    fs.rmSync(marker);
    if (typeof until === "number") return { cause: "timer", until };
  } catch {
    // No marker: not a timer wake.
  }
  return { cause: fs.existsSync(retained) ? "reset" : "power-on" };
}
