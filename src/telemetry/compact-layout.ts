// The channel layout a compact payload carries (docs/compact-format.md, "Layout"): which sensors,
// in config order (a fault names its sensor by that index), and each one's channels with their
// name, unit and resolution. The common cases cost one byte a sensor: a sensor whose id is a
// sensor type's name and whose channels are that type's own is named by a code from the table
// below. Anything else is spelt out, so a decoder never needs the node's config.
//
// The tables are part of format version 1: entries may be appended, never changed or reordered.

import type { HeaderReader, HeaderWriter } from "./leb128";

export interface LayoutChannel {
  /** "<sensor id>/<quantity>", as in the SenML names. */
  name: string;
  unit: string;
  /** A power of ten: 10^-8 .. 10^7. */
  resolution: number;
}

export interface LayoutSensor {
  id: string;
  channels: LayoutChannel[];
}

/** Quantity codes 1..15 (0: spelt out). */
const quantities: readonly (readonly [string, string])[] = [
  ["temperature", "Cel"],
  ["humidity", "%RH"],
  ["pressure", "Pa"],
  ["voltage", "V"],
  ["position", "/"],
];

/** Sensor name codes 1..31 (0: spelt out): each type's id and its channels as quantity code and
 *  decimal exponent of the resolution. */
const sensorTypes: readonly (readonly [string, readonly (readonly [number, number])[]])[] = [
  ["sht3x", [[1, -2], [2, -2]]],
  ["sht4x", [[1, -2], [2, -2]]],
  ["bme280", [[1, -2], [2, -2], [3, 0]]],
  ["battery", [[4, -3]]],
  ["contact", [[5, 0]]],
];

/** Channels a sensor entry can list (its 3-bit count). */
const MAX_SENSOR_CHANNELS = 7;

function exponentOf(resolution: number): number {
  const e = Math.round(Math.log10(resolution));
  if (e < -8 || e > 7 || Number(`1e${e}`) !== resolution) throw new RangeError(`compact payload: resolution ${resolution} is not a power of ten from 1e-8 to 1e7`);
  return e;
}

function channelCode(quantity: string, unit: string): number {
  return quantities.findIndex(([q, u]) => q === quantity && u === unit) + 1;
}

export function writeLayout(w: HeaderWriter, sensors: readonly LayoutSensor[]): void {
  for (const sensor of sensors) {
    const codes = sensor.channels.map((c) => {
      if (!c.name.startsWith(`${sensor.id}/`)) throw new RangeError(`compact payload: channel "${c.name}" does not belong to sensor "${sensor.id}"`);
      return [channelCode(c.name.slice(sensor.id.length + 1), c.unit), exponentOf(c.resolution)] as const;
    });
    const type = sensorTypes.findIndex(([id]) => id === sensor.id);
    const own = type >= 0 && sameChannels(sensorTypes[type]![1], codes);
    if (own) {
      w.byte(type + 1);
      continue;
    }
    if (!codes.length || codes.length > MAX_SENSOR_CHANNELS) throw new RangeError(`compact payload: sensor "${sensor.id}" has ${codes.length} channels (1..${MAX_SENSOR_CHANNELS})`);
    w.byte(((codes.length) << 5) | (type + 1));
    if (type < 0) w.text(sensor.id);
    codes.forEach(([code, exponent], i) => {
      w.byte(((exponent + 8) << 4) | code);
      if (!code) {
        const channel = sensor.channels[i]!;
        w.text(channel.name.slice(sensor.id.length + 1));
        w.text(channel.unit);
      }
    });
  }
}

function sameChannels(a: readonly (readonly [number, number])[], b: readonly (readonly [number, number])[]): boolean {
  return a.length === b.length && a.every(([q, e], i) => q === b[i]![0] && e === b[i]![1]);
}

export function readLayout(r: HeaderReader, count: number): LayoutSensor[] {
  const sensors: LayoutSensor[] = [];
  for (let s = 0; s < count; s++) {
    const head = r.byte("layout");
    const code = head & 31;
    const listed = head >> 5;
    const type = code ? sensorTypes[code - 1] : undefined;
    if (code && !type) throw new RangeError(`compact payload: unknown sensor code ${code}`);
    const id = type ? type[0] : r.text("sensor name");
    const channels: LayoutChannel[] = [];
    const channel = (quantity: number, exponent: number, name?: string, unit?: string) => {
      const known = quantities[quantity - 1];
      if (quantity && !known) throw new RangeError(`compact payload: unknown quantity code ${quantity}`);
      channels.push({ name: `${id}/${known ? known[0] : name!}`, unit: known ? known[1] : unit!, resolution: Number(`1e${exponent}`) });
    };
    if (!listed) {
      if (!type) throw new RangeError("compact payload: a spelt-out sensor lists no channels");
      for (const [quantity, exponent] of type[1]) channel(quantity, exponent);
    }
    for (let c = 0; c < listed; c++) {
      const b = r.byte("layout");
      const quantity = b & 15;
      if (quantity) channel(quantity, (b >> 4) - 8);
      else channel(0, (b >> 4) - 8, r.text("quantity name"), r.text("unit"));
    }
    sensors.push({ id, channels });
  }
  return sensors;
}

/** The layout of a node's channels (in config order, as channelsOf lists them) by sensor. */
export function layoutOf(channels: readonly { sensor: string; name: string; unit: string; resolution: number }[], sensorIds: readonly string[]): LayoutSensor[] {
  const sensors = sensorIds.map((id) => ({ id, channels: [] as LayoutChannel[] }));
  let s = 0;
  for (const { sensor, name, unit, resolution } of channels) {
    while (s < sensors.length && sensors[s]!.id !== sensor) s++;
    if (s === sensors.length) throw new RangeError(`compact payload: channel "${name}" is out of sensor order`);
    sensors[s]!.channels.push({ name, unit, resolution });
  }
  return sensors;
}
