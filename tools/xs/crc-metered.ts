// The XS benchmark bundles the XS wake with this module in place of src/encoding/crc32.ts: the same
// functions, each call timed on XS's own meter (xsnap's resetMeter global: it returns the meter
// and sets it), so that a wake reports how much of its compute went to CRCs. The meter is put back
// after each call, so the wake's total is what it would be without the timing but for a few units.

import * as crc from "../../src/encoding/crc32";

declare const resetMeter: (limit: number, index: number) => number;

let spent = 0;

/** XS compute spent in CRC functions since the last call. */
export function crcCompute(): number {
  const total = spent;
  spent = 0;
  return total;
}

/** Passed through: the host's CRC would be timed inside crc32's wrapper. */
export const useHostCrc32 = crc.useHostCrc32;

// Each wrapper takes its function's parameters as they are (no rest and spread, which would be
// counted as CRC work) and reads the meter just around the call.
export const CRC_ONE = crc.CRC_ONE;

export function crc32(bytes: Uint8Array, start?: number, end?: number, previous?: number): number {
  const before = resetMeter(0, 0);
  const result = crc.crc32(bytes, start, end, previous);
  return settle(before, result);
}

export function crcMultiply(a: number, b: number): number {
  const before = resetMeter(0, 0);
  const result = crc.crcMultiply(a, b);
  return settle(before, result);
}

export function crcPower(length: number): number {
  const before = resetMeter(0, 0);
  const result = crc.crcPower(length);
  return settle(before, result);
}

export function crc32Combine(first: number, second: number, power: number): number {
  const before = resetMeter(0, 0);
  const result = crc.crc32Combine(first, second, power);
  return settle(before, result);
}

/** Adds what the meter counted since `before` was read to `spent`, and puts the meter back. */
function settle(before: number, result: number): number {
  const used = resetMeter(0, 0);
  resetMeter(0, before + used);
  spent += used;
  return result;
}
