// What the bridge republishes for a node's readings: plain JSON any tool reads, made only from
// what the readings are (node, channel, sample time, value, unit), never from when or how often
// they arrived, so a reading republished again is the same message, byte for byte.
//
//   <prefix>/<node>/json/<sensor>/<quantity>   {"t":<unix s>,"v":<value>,"u":"<unit>"}   one per reading
//   <prefix>/<node>/json                       {"ts":<unix ms>,"values":{"<channel>":<value>,…}}   one per sample time

import type { Reading } from "../monitor/events";
import { channelOf, valueOf } from "../readings";

export interface Output {
  topic: string;
  payload: string;
}

/** The messages for one node's fresh readings (those of one input message, in its order). */
export function outputsOf(prefix: string, node: string, readings: Reading[]): Output[] {
  const perReading: Output[] = [];
  const byTime = new Map<number, Record<string, number | boolean>>();
  for (const reading of readings) {
    const value = valueOf(reading);
    if (value === undefined) continue;
    const channel = channelOf(reading);
    perReading.push({ topic: `${prefix}/${node}/json/${channel}`, payload: JSON.stringify({ t: reading.time, v: value, u: reading.unit ?? "" }) });
    const values = byTime.get(reading.time) ?? {};
    values[channel] = value;
    byTime.set(reading.time, values);
  }
  const perTime = [...byTime].sort(([a], [b]) => a - b).map(([t, values]) => ({ topic: `${prefix}/${node}/json`, payload: JSON.stringify({ ts: Math.round(t * 1000), values }) }));
  return [...perReading, ...perTime];
}
