// The small command set a sleeping node takes from `<prefix>/<node>/cmd`, applied to what it
// remembers of its link (LinkMemory).
//
// Commands are JSON objects; `id` is optional and echoed in the result:
//   {"cmd": "set", "sampleInterval": 30, "batchSize": 12}   change the schedule (kept across sleeps)
//   {"cmd": "reset"}                                        drop every change made by "set"
//   {"cmd": "status"}                                       answer with the status now
//   {"cmd": "awake", "seconds": 60}                         stay connected that long to take more commands
//
// The command topic is untrusted input: anyone who may publish there can send anything, any number
// of times. A command is judged, answered with one bounded result line and consumed, whatever it
// holds; nothing it says can make the retained state outgrow its slot, push the schedule past the
// operator's floors, or keep the radio on beyond a daily budget.

import { parseConfig } from "../config";
import { nestedDeeperThan } from "../encoding/json-depth";
import { utf8Decode } from "../encoding/utf8";
import { fitLink, type LinkMemory, type Overrides } from "../retained/link-memory";

/** Longest result line kept: a command cannot make its answer large. */
const MAX_RESULT_CHARS = 80;

/** Arrays and objects inside one another that a command may have; none needs more than one. */
const MAX_NESTING = 4;

/** The most "awake" a single wake can be given, whatever the daily budget still holds. */
export const MAX_AWAKE_PER_WAKE_S = 600;

/** Keeps one command result for the status: shortened, newest kept, within the link memory's room. */
export function noteResult(link: LinkMemory, result: string): void {
  (link.results ??= []).push(result.length > MAX_RESULT_CHARS ? `${result.slice(0, MAX_RESULT_CHARS - 1)}…` : result);
  if (link.results.length > 8) link.results.shift();
  fitLink(link);
}

export interface CommandEffect {
  /** One line for the status: "<id>: ok" or "<id>: error: …". */
  result: string;
  ok: boolean;
  /** Seconds to stay connected for more commands, within the budgets. */
  awake?: number;
}

/** What a command may not exceed: the operator's floors and the awake budgets left. */
export interface CommandLimits {
  minSampleInterval: number;
  minBatchSize: number;
  /** Seconds per day all "awake" commands together may keep the node connected. */
  awakeBudget: number;
  /** Seconds of "awake" this wake has been given so far. */
  awakeThisWake: number;
  /** Unix seconds now, for the daily budget. */
  nowS: number;
}

/** Applies one command to the link memory; never throws (a bad command is a result, not a crash). */
export function applyCommand(payload: Uint8Array, link: LinkMemory, limits: CommandLimits): CommandEffect {
  let command: Record<string, unknown>;
  try {
    const text = utf8Decode(payload);
    // JSON.parse recurses per level: a deeply nested payload would overflow XS's native stack,
    // which no catch survives. No command nests at all.
    if (nestedDeeperThan(text, MAX_NESTING)) throw new Error(`nested deeper than ${MAX_NESTING} levels`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // The engine's own message differs from host to host and may quote the payload.
      throw new Error("not JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    command = value as Record<string, unknown>;
  } catch (e) {
    return failed("?", e);
  }
  const id = typeof command.id === "string" || typeof command.id === "number" ? printable(String(command.id), 32) : "?";
  const cmd = command.cmd;
  const args = Object.fromEntries(Object.entries(command).filter(([key]) => key !== "cmd" && key !== "id"));
  try {
    switch (cmd) {
      case "set": {
        const keys = Object.keys(args);
        const allowed = ["sampleInterval", "batchSize"];
        const unknown = keys.find((k) => !allowed.includes(k));
        if (unknown !== undefined || keys.length === 0) throw new Error(`"set" takes ${allowed.join(", ")}${unknown ? `, not "${printable(unknown, 24)}"` : ""}`);
        // The config's own validation: the same ranges and messages as at boot.
        const checked = parseConfig(args);
        const overrides: Overrides = { ...link.overrides };
        if (args.sampleInterval !== undefined) {
          if (checked.sampleInterval < limits.minSampleInterval) throw new Error(`sampleInterval ${checked.sampleInterval} is below this node's floor of ${limits.minSampleInterval} s`);
          overrides.sampleInterval = checked.sampleInterval;
        }
        if (args.batchSize !== undefined) {
          if (checked.batchSize < limits.minBatchSize) throw new Error(`batchSize ${checked.batchSize} is below this node's floor of ${limits.minBatchSize}`);
          overrides.batchSize = checked.batchSize;
        }
        link.overrides = overrides;
        return done(id);
      }
      case "reset":
        delete link.overrides;
        return done(id);
      case "status":
        return done(id);
      case "awake":
        return awake(id, args.seconds, link, limits);
      default:
        throw new Error(`unknown command ${printable(typeof cmd === "string" ? JSON.stringify(cmd) : describe(cmd), 24)} (known: set, reset, status, awake)`);
    }
  } catch (e) {
    return failed(id, e);
  }
}

/** "awake" within both budgets: what is left of this wake's cap and of today's allowance. */
function awake(id: string, seconds: unknown, link: LinkMemory, limits: CommandLimits): CommandEffect {
  if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_AWAKE_PER_WAKE_S) {
    throw new Error(`"awake" takes "seconds", a whole number from 1 to ${MAX_AWAKE_PER_WAKE_S}`);
  }
  const day = Math.floor(limits.nowS / 86400);
  const used = link.awake?.day === day ? link.awake.seconds : 0;
  const granted = Math.min(seconds, MAX_AWAKE_PER_WAKE_S - limits.awakeThisWake, limits.awakeBudget - used);
  if (granted <= 0) throw new Error(`awake budget used up (${limits.awakeBudget} s a day, ${MAX_AWAKE_PER_WAKE_S} s a wake)`);
  link.awake = { day, seconds: used + granted };
  return { result: `${id}: ok${granted < seconds ? ` (${granted} s: budget)` : ""}`, ok: true, awake: granted };
}

/** The result for a PUBLISH on the command topic too large to read. */
export function oversizedCommand(size: number, limit: number): CommandEffect {
  return { result: `?: error: command of ${size} bytes exceeds this node's limit of ${limit}`, ok: false };
}

function done(id: string): CommandEffect {
  return { result: `${id}: ok`, ok: true };
}

function failed(id: string, e: unknown): CommandEffect {
  return { result: `${id}: error: ${printable(e instanceof Error ? e.message : String(e), MAX_RESULT_CHARS)}`, ok: false };
}

/** A value from a command as it may appear in a log line: printable ASCII, bounded. */
function printable(s: string, max: number): string {
  const clean = s.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

function describe(v: unknown): string {
  if (v === undefined) return "(none)";
  if (v === null || typeof v !== "object") return String(v);
  return Array.isArray(v) ? "a list" : "an object";
}
