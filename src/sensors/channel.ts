// What a sensor's sample yields, channel by channel, and how many channels a node can keep. Here,
// not in the registry, so that the readings' side (telemetry, retained) can take it without the
// drivers: sensors/ imports nothing from telemetry/.

/** One measured quantity of one sensor: a SenML name, unit and the resolution readings keep. */
export interface Channel {
  /** The id of the sensor that measures it. */
  sensor: string;
  /** SenML name relative to the node's base name, e.g. "sht3x/temperature". */
  name: string;
  /** SenML unit (RFC 8428 §12.1). */
  unit: string;
  /** Readings are stored and published as integer multiples of this. */
  resolution: number;
  /** Where the value sits in the driver's sample object. */
  property: readonly [string, string];
}

/** Channels a node can have: a reading marks its missing values in a 32-bit mask (ReadingBuffer),
 *  and so does the retained state's last-sent values (writeState). */
export const MAX_CHANNELS = 32;
