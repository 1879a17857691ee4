// bench/xs.ts bundles the XS wake with this module in place of src/power/crc32.ts: the same
// functions, each call timed on XS's own meter (xsnap's resetMeter global: it returns the meter
// and sets it), so that a wake reports how much of its compute went to CRCs. The meter is put back
// after each call, so the wake's total is what it would be without the timing but for a few units.

import * as crc from "../src/power/crc32";

declare const resetMeter: (limit: number, index: number) => number;

let spent = 0;

/** XS compute spent in CRC functions since the last call. */
export function crcCompute(): number {
  const total = spent;
  spent = 0;
  return total;
}

function metered<A extends unknown[]>(f: (...args: A) => number): (...args: A) => number {
  return (...args: A) => {
    const before = resetMeter(0, 0);
    const result = f(...args);
    const used = resetMeter(0, 0);
    resetMeter(0, before + used);
    spent += used;
    return result;
  };
}

export const CRC_ONE = crc.CRC_ONE;
export const crc32 = metered(crc.crc32);
export const crcMultiply = metered(crc.crcMultiply);
export const crcPower = metered(crc.crcPower);
export const crc32Combine = metered(crc.crc32Combine);
