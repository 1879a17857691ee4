// What a node learns about its broker and its downlink, kept across deep sleep (as JSON in the
// retained state), and the small command set a sleeping node takes from `<prefix>/<node>/cmd`.
//
// Commands are JSON objects; `id` is optional and echoed in the result:
//   {"cmd": "set", "sampleInterval": 30, "batchSize": 12}   change the schedule (kept across sleeps)
//   {"cmd": "reset"}                                        drop every change made by "set"
//   {"cmd": "status"}                                       answer with the status now
//   {"cmd": "awake", "seconds": 60}                         stay connected that long to take more commands

import { parseConfig, type Config } from "./config";
import { utf8Decode } from "./encoding/utf8";

export interface LinkMemory {
  /** 4 once a broker refused MQTT 5; the node then stays on 3.1.1 until it starts clean. */
  version?: 4 | 5;
  /** The broker's limits from its last CONNACK (MQTT 5), applied before the next one arrives. */
  receiveMaximum?: number;
  maximumPacketSize?: number;
  maximumQoS?: 0 | 1 | 2;
  /** The broker's session holds the node's command subscription. */
  subscribed?: boolean;
  /** Settings changed by commands, applied over the config at every wake. */
  overrides?: Overrides;
  /** Results of the commands taken in the last connected wake, published in the status. */
  results?: string[];
}

export interface Overrides {
  sampleInterval?: number;
  batchSize?: number;
}

/** The config with the commanded changes applied. */
export function withOverrides(config: Config, overrides: Overrides | undefined): Config {
  return overrides ? { ...config, ...overrides } : config;
}

export interface CommandEffect {
  /** One line for the status: "<id>: ok" or "<id>: error: …". */
  result: string;
  /** Seconds to stay connected for more commands. */
  awake?: number;
}

/** Longest a command may keep a node awake: a mistyped "awake" must not drain the battery. */
const MAX_AWAKE_S = 600;

/** Applies one command to the link memory; never throws (a bad command is a result, not a crash). */
export function applyCommand(payload: Uint8Array, link: LinkMemory): CommandEffect {
  let command: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(utf8Decode(payload));
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    command = value as Record<string, unknown>;
  } catch (e) {
    return { result: `?: error: ${e instanceof Error ? e.message : String(e)}` };
  }
  const id = typeof command.id === "string" || typeof command.id === "number" ? String(command.id).slice(0, 32) : "?";
  const cmd = command.cmd;
  const args = Object.fromEntries(Object.entries(command).filter(([key]) => key !== "cmd" && key !== "id"));
  try {
    switch (cmd) {
      case "set": {
        const keys = Object.keys(args);
        const allowed = ["sampleInterval", "batchSize"];
        const unknown = keys.find((k) => !allowed.includes(k));
        if (unknown !== undefined || keys.length === 0) throw new Error(`"set" takes ${allowed.join(", ")}${unknown ? `, not "${unknown}"` : ""}`);
        // The config's own validation: the same ranges and messages as at boot.
        const checked = parseConfig(args);
        const overrides: Overrides = { ...link.overrides };
        if (args.sampleInterval !== undefined) overrides.sampleInterval = checked.sampleInterval;
        if (args.batchSize !== undefined) overrides.batchSize = checked.batchSize;
        link.overrides = overrides;
        return { result: `${id}: ok` };
      }
      case "reset":
        delete link.overrides;
        return { result: `${id}: ok` };
      case "status":
        return { result: `${id}: ok` };
      case "awake": {
        const seconds = args.seconds;
        if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_AWAKE_S) {
          throw new Error(`"awake" takes "seconds", a whole number from 1 to ${MAX_AWAKE_S}`);
        }
        return { result: `${id}: ok`, awake: seconds };
      }
      default:
        throw new Error(`unknown command ${JSON.stringify(cmd)} (known: set, reset, status, awake)`);
    }
  } catch (e) {
    return { result: `${id}: error: ${e instanceof Error ? e.message : String(e)}` };
  }
}
