// Many nodes in one process: each node's wakes run at their simulated times (fleet-scheduler.ts),
// each wake with a fresh host (fleet-host.ts) and a fresh firmware instance (src/app.ts run()),
// with only retained memory, flash and the RTC carried over (fleet-memory.ts). Deep-sleep mode only:
// an always-connected node never sleeps, so it is one process of its own (hosts/node/wake).

import type { Config } from "../../src/config";
import type { WakeCause } from "../../src/host";
import { nodeEnvironment, type Environment } from "../virtual/environment";
import { bootFirmware } from "./firmware";
import { createFleetHost } from "./fleet-host";
import { FleetMemory } from "./fleet-memory";
import { FleetScheduler, type SchedulerStats, type TimeScale } from "./fleet-scheduler";
import { heldState } from "./host";

export interface FleetOptions {
  /** The nodes' names; node i is names[i]. Each must be a valid config `node`. */
  names: readonly string[];
  /** The parsed config every node shares (its `node` is replaced by each node's name). */
  config: Config;
  /** The config's `sim` value. */
  sim?: unknown;
  scale: TimeScale;
  /** Simulated ms of every node's first wake (a power-on): default, the real time now. */
  startMs?: number;
  /** Stop a node after its n-th acknowledged publish; without it the fleet runs until `signal`. */
  cycles?: number;
  /** No wake starts after this simulated time (ms): a fleet run for a simulated span. */
  untilMs?: number;
  /** Wakes in flight at once (default 256). */
  concurrency?: number;
  /** What node i measures (default: the synthetic day, at the phase its name gives it). */
  environment?: (index: number) => Environment;
  /** Every log line of every node, with the node's simulated time. */
  log?: (index: number, line: string, nowMs: number) => void;
  /** Before each wake, which waits for it: the world changing at a simulated time (a broker
   *  stopped, say), with no wake at or after that time starting before the change is done. */
  beforeWake?: (index: number, dueMs: number) => Promise<void> | void;
  /** After each wake, with its outcome. */
  onWake?: (index: number, report: FleetWakeReport) => void;
  signal?: AbortSignal;
}

export interface FleetWakeReport {
  cause: WakeCause;
  startMs: number;
  /** The wake took a reading. */
  sampled: boolean;
  /** Readings the broker acknowledged in this wake. */
  delivered: number;
  error?: string;
  /** The node did its cycles. */
  done: boolean;
}

export interface FleetResult extends SchedulerStats {
  nodes: number;
  /** Wakes that took a reading. */
  sampled: number;
  /** Readings acknowledged by the broker, all wakes. */
  delivered: number;
  /** Wakes whose publish attempt failed. */
  failures: number;
  /** Readings still buffered in the nodes' retained memory at the end (not yet published). */
  buffered: number;
  /** Simulated ms from the first wake to the last wake's start. */
  simulatedMs: number;
}

export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const { names, config } = options;
  if (config.mode !== "deep-sleep") throw new Error(`mode "${config.mode}" keeps a node awake: run it one process per node (--process-per-wake), not in the fleet`);
  const memory = new FleetMemory(names.length);
  const acknowledged = new Uint32Array(names.length);
  const startMs = options.startMs ?? Date.now();
  const scheduler = new FleetScheduler({ scale: options.scale, startMs, concurrency: options.concurrency ?? 256 }, names.length);
  const environment = options.environment ?? ((i: number) => nodeEnvironment(names[i]!));
  const log = options.log ?? (() => {});
  const totals = { sampled: 0, delivered: 0, failures: 0 };
  for (let i = 0; i < names.length; i++) scheduler.schedule(i, startMs);

  const wake = async (index: number, dueMs: number): Promise<number | undefined> => {
    await options.beforeWake?.(index, dueMs);
    const nodeConfig: Config = { ...config, node: names[index]! };
    const cause: WakeCause = memory.hasWoken(index) ? "timer" : "power-on";
    // The node's own image runs, as on a chip: the built-in firmware until it takes an update.
    const { firmware, update } = bootFirmware(memory.firmware(index), nodeConfig.updateTries, (line) => log(index, line, dueMs));
    const host = createFleetHost({ memory, index, config: nodeConfig, sim: options.sim, environment: environment(index), startMs: dueMs, cause, update, log: (line, now) => log(index, line, now) });
    const summary = await firmware.run(host, nodeConfig);
    const until = await host.asleep;
    const outcome = summary?.outcome;
    const sampled = summary?.sampled.some((v) => v !== null) ?? false;
    const error = summary ? outcome?.error : "wake failed";
    if (sampled) totals.sampled++;
    totals.delivered += outcome?.delivered ?? 0;
    if (error !== undefined) totals.failures++;
    if (outcome && outcome.delivered > 0 && error === undefined) acknowledged[index]!++;
    const done = options.cycles !== undefined && acknowledged[index]! >= options.cycles;
    const report: FleetWakeReport = { cause, startMs: dueMs, sampled, delivered: outcome?.delivered ?? 0, done };
    if (error !== undefined) report.error = error;
    options.onWake?.(index, report);
    return done || until > (options.untilMs ?? Infinity) ? undefined : until;
  };

  const stats = await scheduler.run(wake, options.signal);
  let buffered = 0;
  for (let i = 0; i < names.length; i++) {
    if (!memory.hasWoken(i)) continue;
    buffered += heldState({ bytes: memory.retained(i), commit: () => {} }, { ...config, node: names[i]! })?.buffer.length ?? 0;
  }
  return { ...stats, nodes: names.length, ...totals, buffered, simulatedMs: stats.lastMs - startMs };
}
