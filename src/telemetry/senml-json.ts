// SenML JSON (RFC 8428 §5) for a batch of readings: one array, the first record carrying the base
// name (the node) and base time (the first reading, absolute Unix seconds), every record a channel's
// value at a time relative to it. The encoding is deterministic, so a batch re-sent after a lost
// PUBACK is byte for byte the message the broker may already hold.

import type { Channel } from "../sensors/registry";
import { sensorFaults } from "../sensors/sensor";
import { utf8Encode } from "../encoding/utf8";
import type { Reading } from "./reading-buffer";
import { scale } from "./resolution";

export const contentType = "application/senml+json";

interface SenmlRecord {
  bn?: string;
  bt?: number;
  n: string;
  u?: string;
  v?: number;
  vs?: string;
  t?: number;
}

/**
 * A failed sensor appears as a string record "<sensor id>/error" naming the fault, at the time of
 * the reading it is missing from, so any SenML reader can show what went wrong and when.
 */
export function encodeSenmlJson(baseName: string, channels: readonly Channel[], sensorIds: readonly string[], readings: readonly Reading[]): Uint8Array {
  const records: SenmlRecord[] = [];
  const baseTime = readings.length ? readings[0]!.time : 0;
  const at = (record: SenmlRecord, time: number) => {
    if (time !== baseTime) record.t = time - baseTime;
    records.push(record);
  };
  for (const reading of readings) {
    reading.values.forEach((value, i) => {
      if (value === null) return;
      const channel = channels[i]!;
      at({ n: channel.name, u: channel.unit, v: scale(value, channel.resolution) }, reading.time);
    });
    for (const { sensor, fault } of reading.faults) {
      at({ n: `${sensorIds[sensor] ?? `sensor${sensor}`}/error`, vs: sensorFaults[fault] ?? "unknown" }, reading.time);
    }
  }
  if (records.length) {
    // Base fields lead the first record (RFC 8428 §4.1 puts no order on keys, but readers like it).
    records[0] = { bn: baseName, bt: baseTime, ...records[0]! };
  }
  return utf8Encode(JSON.stringify(records));
}
