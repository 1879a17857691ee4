// A decoded reading as the JSON outputs (the bridge, the Node-RED node) name it: its channel
// ("sht3x/temperature", its SenML name less the node's base name) and its value.

import type { Reading } from "./monitor/events";

export function channelOf(reading: Reading): string {
  const base = `urn:dev:torpor:${reading.node}:`;
  return reading.name.startsWith(base) ? reading.name.slice(base.length) : reading.name;
}

/** A reading's value, or undefined for a record that is not one (a sensor's fault). */
export function valueOf(reading: Reading): number | boolean | undefined {
  return reading.value ?? reading.boolValue;
}
