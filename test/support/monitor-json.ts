// `npm run monitor -- --json` as a child process, its events collected as they come: for tests of
// what a user of the monitor sees. Ready once it says it is watching; stop() ends it.

import { spawn } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";

export interface MonitorEvent {
  kind: string;
  message?: string;
  reading?: { name: string; value?: number };
}

export interface JsonMonitor {
  readonly events: MonitorEvent[];
  /** Resolves once `test` holds of the events; throws with them after `ms`. */
  until(test: (events: MonitorEvent[]) => boolean, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

const main = path.join(__dirname, "..", "..", "tools", "monitor", "main.js");

export async function watchJson(broker: string, flags: readonly string[]): Promise<JsonMonitor> {
  const child = spawn(process.execPath, [main, "--broker", broker, ...flags, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const events: MonitorEvent[] = [];
  readline.createInterface({ input: child.stdout! }).on("line", (line) => events.push(JSON.parse(line) as MonitorEvent));
  const stop = async () => {
    child.kill();
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the monitor never subscribed")), 10_000);
      child.stderr!.on("data", (d: Buffer) => d.toString().includes("watching") && (clearTimeout(timer), resolve()));
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    events,
    async until(test, ms = 10_000) {
      const end = Date.now() + ms;
      while (!test(events)) {
        if (Date.now() > end) throw new Error(`events: ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop,
  };
}
