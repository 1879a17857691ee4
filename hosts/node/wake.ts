// One wake of a Node-hosted node, as one process: build the host from the state directory, run the
// firmware's wake cycle, exit when it sleeps. A process killed mid-wake is a power cut; the runner
// (tools/start) starts the next wake after the sleep, in scaled time. With `mode: "always-connected"`
// the process stays up instead, napping between samples, and reports each cycle to the runner.
//
//   node dist/hosts/node/wake.js --state DIR [--config FILE] [--time-scale X] [--replay CSV]

import * as path from "node:path";
import { parseArgs } from "node:util";
import type { Environment } from "../virtual/environment";
import { nodeEnvironment } from "../virtual/environment";
import { layeredConfig, manifestConfig, readConfigFile, tlsPem } from "./config-file";
import { bootFirmware } from "./firmware";
import { fileFirmwareStore } from "./firmware-store";
import { createNodeHost } from "./host";
import { readRecording } from "./recording";

export interface WakeOptions {
  state: string;
  config?: string;
  timeScale: number;
  replay?: string;
}

/** What a wake process reports to its runner: after a deep-sleep wake, or each always-connected cycle
 *  (then without sleepMs). */
export interface WakeReport {
  sleepMs?: number;
  delivered: number;
  error?: string;
}

function nodeHost(options: WakeOptions, log?: (line: string) => void) {
  const { config, raw } = layeredConfig(manifestConfig(), options.config ? readConfigFile(options.config) : {});
  // Checked at boot, so a missing CA file is exit 2 naming the key, not a TLS failure at every wake.
  tlsPem(config);
  // Each node its own phase of the synthetic day, from its name, as in the fleet (hosts/node/fleet).
  const environment: Environment = options.replay ? readRecording(options.replay) : nodeEnvironment(config.node || path.basename(path.resolve(options.state)));
  const write = log ?? ((line: string) => process.stdout.write(`${line}\n`));
  // The image in the state directory runs, not necessarily the firmware built into this program.
  const { firmware, update } = bootFirmware(fileFirmwareStore(path.join(options.state, "firmware")), config.updateTries, write);
  const host = createNodeHost({ stateDir: options.state, timeScale: options.timeScale, config, sim: raw.sim, environment, update, ...(log ? { log } : {}) });
  return { config, host, firmware };
}

/** Always-connected mode: runs until the process ends, reporting every cycle. */
export function runAlwaysConnected(options: WakeOptions, report: (report: WakeReport) => void, log?: (line: string) => void): Promise<void> {
  const { config, host, firmware } = nodeHost(options, log);
  return firmware.runConnected(host, config, ({ outcome }) => {
    const r: WakeReport = { delivered: outcome?.delivered ?? 0 };
    if (outcome?.error !== undefined) r.error = outcome.error;
    report(r);
  });
}

export async function wakeOnce(options: WakeOptions, log?: (line: string) => void): Promise<WakeReport> {
  const { config, host, firmware } = nodeHost(options, log);
  if (config.mode === "always-connected") throw new Error(`mode "always-connected" runs with runAlwaysConnected, not one wake at a time`);
  try {
    const summary = await firmware.run(host, config);
    const report: WakeReport = { sleepMs: await host.asleep, delivered: summary?.outcome?.delivered ?? 0 };
    const error = summary ? summary.outcome?.error : "wake failed";
    if (error !== undefined) report.error = error;
    return report;
  } finally {
    host.close();
  }
}

if (require.main === module) {
  const fail = (e: unknown) => {
    process.stderr.write(`wake: ${(e as Error).message}\n`);
    process.exit(2);
  };
  try {
    const { values } = parseArgs({
      options: {
        state: { type: "string" },
        config: { type: "string" },
        "time-scale": { type: "string", default: "1" },
        replay: { type: "string" },
      },
      strict: true,
    });
    if (!values.state) throw new Error("--state DIR is required");
    const timeScale = Number(values["time-scale"]);
    if (!(timeScale > 0)) throw new Error(`--time-scale must be a positive number, got "${values["time-scale"]}"`);
    const options: WakeOptions = { state: values.state, timeScale, ...(values.config ? { config: values.config } : {}), ...(values.replay ? { replay: values.replay } : {}) };
    const { config } = layeredConfig(manifestConfig(), options.config ? readConfigFile(options.config) : {});
    if (config.mode === "always-connected") {
      runAlwaysConnected(options, (report) => process.send?.(report)).catch(fail);
    } else {
      wakeOnce(options).then((report) => {
        process.send?.(report);
        process.disconnect?.();
      }, fail);
    }
  } catch (e) {
    fail(e);
  }
}
