// Readings are kept as integers in units of their channel's resolution: exact, compact, and
// printed back with no spurious digits (21.76, never 21.759999999999998).

/** value × resolution, printed with no more decimals than the resolution has (0.01 → 2). */
export function scale(value: number, resolution: number): number {
  const decimals = Math.max(0, Math.ceil(-Math.log10(resolution) - 1e-9));
  return Number((value * resolution).toFixed(decimals));
}

/** The integer a reading keeps for a measured value. */
export function quantise(value: number, resolution: number): number {
  return Math.round(value / resolution);
}
