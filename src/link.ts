// What a node learns about its broker and its downlink, kept across deep sleep (as JSON in the
// retained state), and the small command set a sleeping node takes from `<prefix>/<node>/cmd`.
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

import { parseConfig, type Config } from "./config";
import { nestedDeeperThan } from "./encoding/json-depth";
import { utf8Decode, utf8Encode } from "./encoding/utf8";

export interface LinkMemory {
  /** Which of the config's brokers (an index into `brokers`) the node dials first: the one that
   *  answered last, or after a wake none answered, the one after the last tried. */
  broker?: number;
  /** 4 once a broker refused MQTT 5; the node then stays on 3.1.1 until it starts clean, or until
   *  `v5RetryAt` (a wake count) comes, when it tries 5 once more. */
  version?: 4 | 5;
  v5RetryAt?: number;
  /** Wakes in a row whose MQTT 5 CONNECT the broker closed without any CONNACK. */
  v5Closed?: number;
  /** The broker's limits from its last CONNACK (MQTT 5), applied before the next one arrives. */
  receiveMaximum?: number;
  maximumPacketSize?: number;
  /** Below the smallest packet a broker refused as too large (0x95) though it announced no such
   *  limit: kept across CONNACKs, which cannot tell it. */
  refusedSize?: number;
  /** The largest packet the broker is known to have read past: a connection it closes without a
   *  word never teaches a limit below it (`BrokerLimits.closedByBroker`). */
  provenSize?: number;
  /** The largest packet sent before a broker last closed the connection without a word: a second
   *  such close over a packet as large makes it the limit. */
  suspectSize?: number;
  maximumQoS?: 0 | 1 | 2;
  /** False once a broker said it keeps no retained messages (Retain Available 0, or refused a Will
   *  with retain): the status and the Will then go out without the retain flag. */
  retainAvailable?: boolean;
  /** The broker answered a QoS 2 message with PUBACK: it gives at-least-once, not exactly-once. */
  qos2AsPuback?: boolean;
  /** The broker's session holds the node's command subscription. */
  subscribed?: boolean;
  /** Settings changed by commands, applied over the config at every wake. */
  overrides?: Overrides;
  /** Results of the commands taken in the last connected wake, published in the status. */
  results?: string[];
  /** When the status last went out (Unix seconds), and a fingerprint of what it said that does not
   *  change at every wake: the next is sent when that changes or its heartbeat is due. */
  statusAt?: number;
  statusPrint?: number;
  /** Seconds of "awake" granted on `day` (Unix days): the daily budget's meter. */
  awake?: { day: number; seconds: number };
  /** Fingerprint of the Home Assistant discovery messages last sent (`discoveryFingerprint`). */
  discovery?: number;
}

export interface Overrides {
  sampleInterval?: number;
  batchSize?: number;
}

/** Room the link memory has in the retained layout (src/power/state.ts). */
export const MAX_LINK_BYTES = 384;

/** Longest result line kept: a command cannot make its answer large. */
const MAX_RESULT_CHARS = 80;

/** Arrays and objects inside one another that a command may have; none needs more than one. */
const MAX_NESTING = 4;

/** The most "awake" a single wake can be given, whatever the daily budget still holds. */
export const MAX_AWAKE_PER_WAKE_S = 600;

/** The config with the commanded changes applied. */
export function withOverrides(config: Config, overrides: Overrides | undefined): Config {
  return overrides ? { ...config, ...overrides } : config;
}

/** Bytes the link memory takes as retained JSON. */
export function linkBytes(link: LinkMemory): number {
  return utf8Encode(JSON.stringify(link)).length;
}

/** Drops the oldest command results until the link memory fits its room; the newest are the news. */
export function fitLink(link: LinkMemory): void {
  while (link.results?.length && linkBytes(link) > MAX_LINK_BYTES) link.results.shift();
  if (link.results?.length === 0) delete link.results;
}

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
