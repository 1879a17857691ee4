// The retained status as it goes on the wire. With `senml-json`, and whenever Home Assistant reads
// it, it is JSON text, as it always was. With `compact` and `senml-cbor` it is a CBOR map with small
// integer keys (docs/payloads.md lists them), about 30 bytes where the JSON takes 400: at batch 60
// the hourly heartbeat goes out at every publishing wake, and as JSON it cost more than the readings.
//
// Always the whole status, never a delta: it is retained, and a retained message replaces the one
// before, so a subscriber arriving late reads only the newest one and must find everything in it.
// It stays small by leaving out what a subscriber does not use (the host's name, the energy
// totals: `npm run power` reads those from the node's state) and every count that is zero (a decoder
// puts the zeros back), and by saying the next wake as seconds after `at`.
//
// Home Assistant reads availability from the status topic and cannot read CBOR (it drops a payload
// that is not UTF-8 before any template sees it): a node with homeAssistant on keeps the JSON status
// and the JSON Will, whatever its payload format.

import type { Config } from "../config";
import { utf8Encode } from "../encoding/utf8";
import { CborWriter } from "../telemetry/senml-cbor";

export type StatusEncoding = "json" | "cbor";

export function statusEncoding(config: Config): StatusEncoding {
  return config.format === "senml-json" || config.homeAssistant ? "json" : "cbor";
}

/** The compact status's keys: a field's key is its index here. Appending keeps old decoders right. */
export const statusKeys = [
  "state",
  "at",
  "nextWake",
  "every",
  "buffered",
  "dropped",
  "wakes",
  "delivered",
  "refused",
  "skipped",
  "commandErrors",
  "publishFailures",
  "cold",
  "restored",
  "clockBack",
  "sensorErrors",
  "batteryDays",
  "mqtt",
  "qos",
  "qos2",
  "overrides",
  "commands",
  "tlsResumed",
  "tlsRefused",
  "network",
] as const;

/** `state` values by their code in the compact status. */
export const statusStates = ["asleep", "online", "offline"] as const;

/** Counts a compact status leaves out when zero. */
export const zeroCounts: ReadonlySet<string> = new Set(["buffered", "dropped", "wakes", "delivered", "refused", "skipped", "commandErrors", "publishFailures", "cold", "restored", "clockBack", "tlsResumed", "tlsRefused"]);

/** MQTT versions by their code in the compact status (the protocol level of CONNECT). */
export const mqttLevels: Readonly<Record<string, number>> = { "3.1.1": 4, "5": 5 };

/** The status (or the Will's {state: "offline"}) in the encoding given. */
export function encodeStatus(status: Readonly<Record<string, unknown>>, encoding: StatusEncoding): Uint8Array {
  if (encoding === "json") return utf8Encode(JSON.stringify(status));
  const fields: [number, unknown][] = [];
  statusKeys.forEach((name, key) => {
    let value = status[name];
    if (value === undefined || (zeroCounts.has(name) && value === 0)) return;
    if (name === "state") value = statusStates.indexOf(value as (typeof statusStates)[number]);
    else if (name === "nextWake" && typeof status.at === "number") value = (value as number) - status.at;
    else if (name === "mqtt") value = mqttLevels[value as string];
    else if (name === "sensorErrors") {
      const failing = Object.entries(value as Record<string, number>).filter(([, n]) => n !== 0);
      if (!failing.length) return;
      value = Object.fromEntries(failing);
    }
    fields.push([key, value]);
  });
  const w = new CborWriter();
  w.head(5, fields.length);
  for (const [key, value] of fields) {
    w.head(0, key);
    write(w, value);
  }
  return w.bytes;
}

/** What a status holds: numbers, text, booleans, and lists and records of them. */
function write(w: CborWriter, value: unknown): void {
  if (typeof value === "number") w.number(value);
  else if (typeof value === "string") w.text(value);
  else if (typeof value === "boolean") w.head(7, value ? 21 : 20);
  else if (Array.isArray(value)) {
    w.head(4, value.length);
    for (const item of value) write(w, item);
  } else if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    w.head(5, entries.length);
    for (const [k, v] of entries) {
      w.text(k);
      write(w, v);
    }
  } else w.head(7, 22); // null
}
