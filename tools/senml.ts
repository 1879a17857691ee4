// Reads SenML JSON packs (RFC 8428) into resolved records: base name + name, base time + time,
// base unit where a record has none, base value + value. Rejects what RFC 8428 §4.5.4 says a
// reader must not accept, with the reason.

export interface ResolvedRecord {
  name: string;
  /** Unix seconds. */
  time: number;
  unit?: string;
  value?: number;
  stringValue?: string;
  boolValue?: boolean;
}

export class SenmlError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9\-:./_]*$/;

export function resolveSenml(pack: unknown, nowS = Date.now() / 1000): ResolvedRecord[] {
  if (!Array.isArray(pack)) throw new SenmlError("a SenML pack is a JSON array");
  let bn = "";
  let bt = 0;
  let bu: string | undefined;
  let bv = 0;
  return pack.map((record: unknown, i) => {
    if (typeof record !== "object" || record === null || Array.isArray(record)) throw new SenmlError(`record ${i} is not an object`);
    const r = record as Record<string, unknown>;
    if (r.bver !== undefined && r.bver !== 10) throw new SenmlError(`record ${i}: unsupported version ${String(r.bver)}`);
    for (const key of Object.keys(r)) if (key.endsWith("_")) throw new SenmlError(`record ${i}: must-understand field "${key}"`);
    if (r.bn !== undefined) bn = str(r.bn, i, "bn");
    if (r.bt !== undefined) bt = num(r.bt, i, "bt");
    if (r.bu !== undefined) bu = str(r.bu, i, "bu");
    if (r.bv !== undefined) bv = num(r.bv, i, "bv");
    const name = bn + (r.n === undefined ? "" : str(r.n, i, "n"));
    if (!name || !NAME.test(name)) throw new SenmlError(`record ${i}: invalid name "${name}"`);
    let time = bt + (r.t === undefined ? 0 : num(r.t, i, "t"));
    // RFC 8428 §4.5.3: values below 2^28 are relative to now.
    if (time < 2 ** 28) time += nowS;
    const out: ResolvedRecord = { name, time };
    const unit = r.u === undefined ? bu : str(r.u, i, "u");
    if (unit !== undefined) out.unit = unit;
    const kinds = ["v", "vs", "vb", "vd"].filter((k) => r[k] !== undefined);
    if (kinds.length > 1) throw new SenmlError(`record ${i}: more than one value field`);
    if (r.v !== undefined) out.value = bv + num(r.v, i, "v");
    else if (r.vs !== undefined) out.stringValue = str(r.vs, i, "vs");
    else if (r.vb !== undefined) {
      if (typeof r.vb !== "boolean") throw new SenmlError(`record ${i}: vb is not a boolean`);
      out.boolValue = r.vb;
    } else if (r.s === undefined && r.bv === undefined) throw new SenmlError(`record ${i}: no value`);
    return out;
  });
}

function str(v: unknown, i: number, key: string): string {
  if (typeof v !== "string") throw new SenmlError(`record ${i}: ${key} is not a string`);
  return v;
}

function num(v: unknown, i: number, key: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new SenmlError(`record ${i}: ${key} is not a number`);
  return v;
}
