// One of torpor's Node programs (the bridge, the collector) as its own process, the way a user runs
// it: what it prints gathered in a log the test reads, ready once it prints the word that says it
// subscribed, and stopped by a signal.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { until } from "./until";

/** Starts `program` with `args`; resolves once it prints `ready` one more time than `log` holds
 *  already, so a restart over the same log waits for the new process's word, not the old one's. */
export async function runTool(program: string, args: readonly string[], log: string[], ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [program, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d: Buffer) => log.push(d.toString()));
  child.stderr!.on("data", (d: Buffer) => log.push(d.toString()));
  const said = () => log.join("").split(ready).length;
  const before = said();
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  try {
    await until(`${program} to say "${ready}"`, () => said() > before || ended());
    assert.ok(!ended(), log.join(""));
  } catch (e) {
    // Never ready: the test fails, and the process must not outlive it.
    await killed(child, "SIGKILL");
    throw e;
  }
  return child;
}

/** Sends `signal` and resolves once the process has exited. */
export async function killed(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}
