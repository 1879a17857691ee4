// Versions are semver strings (MAJOR.MINOR.PATCH, an optional pre-release): an update must be newer
// than what runs. Build metadata is not accepted: it would make two different images equal.

const SEMVER = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

export function isSemver(v: string): boolean {
  return v.length <= 64 && SEMVER.test(v);
}

/** Negative, zero or positive as `a` is older than, the same as or newer than `b` (both semver). */
export function compareSemver(a: string, b: string): number {
  const pa = SEMVER.exec(a)!;
  const pb = SEMVER.exec(b)!;
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  const ra = pa[4];
  const rb = pb[4];
  // A pre-release comes before its release.
  if (ra === undefined || rb === undefined) return ra === rb ? 0 : ra === undefined ? 1 : -1;
  const xa = ra.split(".");
  const xb = rb.split(".");
  for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
    const d = identifier(xa[i]!, xb[i]!);
    if (d !== 0) return d;
  }
  return xa.length - xb.length;
}

function identifier(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
