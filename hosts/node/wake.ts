// One wake of a Node-hosted node, as one process: build the host from the state directory, run the
// firmware's wake cycle, exit when it sleeps. A process killed mid-wake is a power cut; the runner
// (tools/start) starts the next wake after the sleep, in scaled time.
//
//   node dist/hosts/node/wake.js --state DIR [--config FILE] [--time-scale X] [--replay CSV]

import { parseArgs } from "node:util";
import { run } from "../../src/app";
import type { Environment } from "../sim/devices/environment";
import { SyntheticEnvironment } from "../sim/devices/environment";
import { layeredConfig, manifestConfig, readConfigFile } from "./config-file";
import { createNodeHost } from "./host";
import { readRecording } from "./recording";

export interface WakeOptions {
  state: string;
  config?: string;
  timeScale: number;
  replay?: string;
}

/** What a wake process reports to its runner. */
export interface WakeReport {
  sleepMs: number;
  delivered: number;
  error?: string;
}

export async function wakeOnce(options: WakeOptions, log?: (line: string) => void): Promise<WakeReport> {
  const { config, raw } = layeredConfig(manifestConfig(), options.config ? readConfigFile(options.config) : {});
  const environment: Environment = options.replay ? readRecording(options.replay) : new SyntheticEnvironment(1);
  const host = createNodeHost({ stateDir: options.state, timeScale: options.timeScale, config, sim: raw.sim, environment, ...(log ? { log } : {}) });
  try {
    const summary = await run(host, config);
    const report: WakeReport = { sleepMs: await host.asleep, delivered: summary?.outcome?.delivered ?? 0 };
    const error = summary ? summary.outcome?.error : "wake failed";
    if (error !== undefined) report.error = error;
    return report;
  } finally {
    host.close();
  }
}

if (require.main === module) {
  let options: WakeOptions;
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
    options = { state: values.state, timeScale, ...(values.config ? { config: values.config } : {}), ...(values.replay ? { replay: values.replay } : {}) };
  } catch (e) {
    process.stderr.write(`wake: ${(e as Error).message}\n`);
    process.exit(2);
  }
  wakeOnce(options).then(
    (report) => {
      process.send?.(report);
      process.exitCode = 0;
      process.disconnect?.();
    },
    (e: unknown) => {
      process.stderr.write(`wake: ${(e as Error).message}\n`);
      process.exit(2);
    },
  );
}
