// A reading as the buffer keeps it and the payload formats encode it, and the arithmetic of its
// sequence numbers: they count up from 0 and wrap at 2^32, so two of them compare by their
// distance as a signed 32-bit number (serial number arithmetic, RFC 1982), never by < alone.

/** A sensor that failed at a reading: its index in the config and the fault's index in sensorFaults. */
export interface ReadingFault {
  sensor: number;
  fault: number;
}

/** One wake's sample: a time and, per channel, an integer in units of the channel's resolution. */
export interface Reading {
  seq: number;
  /** Unix time, seconds. */
  time: number;
  /** null where the sensor failed: a missing value is never invented. */
  values: (number | null)[];
  /** Why values are missing: published with the reading, so a monitor can show it. */
  faults: ReadingFault[];
}

/** How far `a` is past `b` (negative: before it), for sequence numbers less than 2^31 apart. */
export function seqDistance(a: number, b: number): number {
  return (a - b) | 0;
}

/** Whether sequence number `a` comes before `b`. */
export function seqBefore(a: number, b: number): boolean {
  return seqDistance(a, b) < 0;
}
