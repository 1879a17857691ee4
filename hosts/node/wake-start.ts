// Where a Node-hosted wake starts: its cause and its clock, from the files the last wake left. The
// sleep marker (written when the last process went to deep sleep) says when its timer was due: a
// timer wake, at exactly that time. Without one the process died, or this is the node's first
// start: a reset (or power-on), on a clock carried on from its anchor file. A file that is not what
// the host wrote (a kill mid-write cannot do that, a flipped bit can) is never trusted: a marker
// that does not check is no timer wake, and a lost clock restarts after the newest reading the node
// holds, never before it, so no grid point is sampled twice and nothing is stamped years away.
// Either way it is said in one log line.

import * as fs from "node:fs";
import * as path from "node:path";
import type { WakeCause } from "../../src/host";
import { fromAnchor, plausibleTime, readAnchor } from "./clock";
import { readRecord, writeRecord } from "./host-file";

/** Longest deep sleep a wake can ask for: a sampling interval (at most a day) and its tolerance. */
const MAX_SLEEP_MS = 2 * 86_400_000;
/** How far before the clock's anchor a marker may say: the anchor is saved just after it. */
const MARKER_SLACK_MS = 60_000;

export interface WakeFiles {
  /** The sleep marker (sleep.json). */
  marker: string;
  /** The clock's anchor (clock.json). */
  clock: string;
  scale: number;
  realNow: number;
  /** True when the node has retained memory from an earlier wake. */
  hasState: boolean;
  /** The earliest time a lost clock may restart at: just after the newest reading held, if any. */
  floor: () => number | undefined;
}

export interface WakeStart {
  cause: WakeCause;
  /** Simulated ms the clock reads at the start of the wake. */
  simMs: number;
  /** What was wrong with the files, in one line, or undefined when nothing was. */
  problem?: string;
}

export function writeMarker(file: string, until: number): void {
  writeRecord(file, { until });
}

/** Reads the files and consumes the marker: a wake that dies from here on is a reset. */
export function wakeStart(files: WakeFiles): WakeStart {
  const problems: string[] = [];
  const name = (file: string) => path.basename(file);
  const marker = readRecord(files.marker);
  fs.rmSync(files.marker, { force: true });
  const anchor = readAnchor(files.clock);
  if (anchor.status === "bad") problems.push(`${name(files.clock)} ${anchor.why}`);

  let until: number | undefined;
  if (marker.status === "bad") problems.push(`${name(files.marker)} ${marker.why}`);
  if (marker.status === "ok") {
    const due = marker.value["until"];
    if (!plausibleTime(due)) problems.push(`${name(files.marker)}: wake time ${JSON.stringify(due)} is not a time from 2000 to 2099`);
    else if (anchor.status === "ok" && (due < anchor.anchor.simMs - MARKER_SLACK_MS || due > anchor.anchor.simMs + MAX_SLEEP_MS)) {
      problems.push(`${name(files.marker)}: wake time ${iso(due)} does not follow the clock (${iso(anchor.anchor.simMs)})`);
    } else until = due;
  }
  if (until !== undefined) {
    const start: WakeStart = { cause: "timer", simMs: until };
    if (problems.length) start.problem = `${problems.join("; ")}: the timer wake's time stands`;
    return start;
  }

  const cause: WakeCause = files.hasState ? "reset" : "power-on";
  if (anchor.status === "ok") {
    const simMs = fromAnchor(anchor.anchor, files.scale, files.realNow);
    if (plausibleTime(simMs)) {
      const start: WakeStart = { cause, simMs };
      if (problems.length) start.problem = `${problems.join("; ")}: starting as after a ${cause}, clock at ${iso(simMs)} from ${name(files.clock)}`;
      return start;
    }
    problems.push(`${name(files.clock)}: carried on, the clock would read ${iso(simMs)}`);
  } else if (anchor.status === "missing" && files.hasState) {
    problems.push(`${name(files.clock)} missing`);
  }
  const floor = files.hasState ? files.floor() : undefined;
  const simMs = Math.max(files.realNow, floor ?? 0);
  const start: WakeStart = { cause, simMs };
  if (problems.length) {
    const from = floor !== undefined && floor >= files.realNow ? "after the newest reading held" : "the host's clock";
    start.problem = `${problems.join("; ")}: starting as after a ${cause}, clock at ${iso(simMs)} (${from})`;
  }
  return start;
}

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms);
}
