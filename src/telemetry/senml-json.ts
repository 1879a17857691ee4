// SenML JSON (RFC 8428 §5) for a batch of readings: one array, the first record carrying the base
// time (the first reading, absolute Unix seconds), every record a channel's value at a time relative
// to it. The encoding is deterministic, so a batch re-sent after a lost PUBACK is byte for byte the
// message the broker may already hold.

import { utf8Encode } from "../encoding/utf8";
import type { Channel } from "../sensors/channel";
import { scale } from "../sensors/resolution";
import { sensorFaults } from "../sensors/sensor";
import type { Reading } from "./reading";

export const contentType = "application/senml+json";

/** One SenML record with the fields torpor writes, named as in JSON (senml-cbor.ts maps them to
 *  RFC 8428 §6's integer labels). */
export interface SenmlRecord {
  bn?: string;
  bt?: number;
  bu?: string;
  n?: string;
  v?: number;
  vs?: string;
  t?: number;
}

/**
 * Records go channel by channel: the first record of a channel sets the base name to the channel's
 * full name and the base unit to its unit, so every further value of that channel is only
 * {"t":…,"v":…} — less than half the bytes of repeating name and unit in each record, and radio time
 * is the budget. Readers resolve it per RFC 8428 §4.6 like any pack (base fields hold until changed).
 *
 * A failed sensor appears first, as a string record "<sensor id>/error" naming the fault, at the time
 * of the reading it is missing from, so any SenML reader can show what went wrong and when.
 */
export function senmlRecords(baseName: string, channels: readonly Channel[], sensorIds: readonly string[], readings: readonly Reading[]): SenmlRecord[] {
  const records: SenmlRecord[] = [];
  const baseTime = readings.length ? readings[0]!.time : 0;
  const push = (record: SenmlRecord, time: number) => {
    if (time !== baseTime) record.t = time - baseTime;
    records.push(record);
  };
  for (const reading of readings) {
    for (const { sensor, fault } of reading.faults) {
      push({ n: `${sensorIds[sensor] ?? `sensor${sensor}`}/error`, vs: sensorFaults[fault] ?? "unknown" }, reading.time);
    }
  }
  if (records.length) records[0] = { bn: baseName, ...records[0]! };
  channels.forEach((channel, i) => {
    let first = true;
    for (const reading of readings) {
      const value = reading.values[i];
      if (value === null || value === undefined) continue;
      const record: SenmlRecord = { v: scale(value, channel.resolution) };
      push(first ? { bn: baseName + channel.name, bu: channel.unit, ...record } : record, reading.time);
      first = false;
    }
  });
  // The base time leads the first record (RFC 8428 §4.1 puts no order on keys, but readers like it).
  if (records.length) records[0] = { bt: baseTime, ...records[0]! };
  return records;
}

export function encodeSenmlJson(baseName: string, channels: readonly Channel[], sensorIds: readonly string[], readings: readonly Reading[]): Uint8Array {
  return utf8Encode(JSON.stringify(senmlRecords(baseName, channels, sensorIds, readings)));
}
