// Loads a recording in the CSV layouts of shared/data as a replayable environment: a time column
// ("date" as "YYYY-MM-DD HH:MM:SS", read as UTC, or "timestamp" in ns since the epoch) and the
// quantities the file has (Temperature/temperature1, Humidity/humidity, pressure in hPa); other
// columns are carried but not used.
//
// The whole file is checked before anything runs, because every wake replays it: a bad cell found
// mid-run would fail every wake, for good. Every row has every column; times are well formed and
// strictly increasing; every cell the replay uses is a plain decimal number inside what the virtual
// sensors measure. A bad cell is an error naming its row (the file's line number) and column, never
// a value made up (Number("") is 0: a short row would replay as 0 %RH).

import * as fs from "node:fs";
import { RecordedEnvironment, type RecordedRow } from "../virtual/environment";

export class RecordingError extends Error {
  override readonly name = "RecordingError";
}

/** Each quantity the replay uses: its column names, and the range of the sensors that measure it. */
const quantities = [
  { key: "temperature", names: ["temperature", "temperature1"], min: -40, max: 125, unit: "°C" },
  { key: "humidity", names: ["humidity"], min: 0, max: 100, unit: "%RH" },
  { key: "pressure", names: ["pressure"], min: 300, max: 1100, unit: "hPa" },
] as const;

const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const DATE = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/;

export function readRecording(file: string): RecordedEnvironment {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RecordingError(`--replay ${file}: ${code === "ENOENT" ? "no such file" : `cannot read it (${code ?? (e as Error).message})`}`);
  }
  const fail = (where: string, message: string) => new RecordingError(`--replay ${file}: ${where}${message}`);
  const lines = text.replace(/^\uFEFF/, "").replace(/(\r?\n)+$/, "").split(/\r?\n/);
  const header = lines[0]!.split(",").map((h) => h.trim());
  const lower = header.map((h) => h.toLowerCase());
  const find = (names: readonly string[], what: string): number => {
    const found = lower.flatMap((h, i) => (names.includes(h) ? [i] : []));
    if (found.length > 1) throw fail("header: ", `${found.map((i) => `"${header[i]}"`).join(" and ")} are both ${what} columns`);
    return found[0] ?? -1;
  };
  const time = find(["date", "timestamp"], "time");
  if (time < 0) throw fail("header: ", `no "date" or "timestamp" column`);
  const used = quantities.map((q) => ({ ...q, column: find(q.names, q.key) })).filter((q) => q.column >= 0);
  if (used.length === 0) throw fail("header: ", `no temperature, humidity or pressure column to replay`);
  if (lines.length < 3) throw fail("", `needs at least two rows after the header, has ${lines.length - 1}`);

  const rows: RecordedRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const row = i + 1;
    const cells = lines[i]!.split(",");
    if (cells.length !== header.length) throw fail(`row ${row}: `, `${cells.length} cells for ${header.length} columns`);
    const cell = (column: number) => cells[column]!.trim();
    const at = (column: number) => `row ${row}, column "${header[column]}": `;
    const timeMs = lower[time] === "timestamp" ? nanoseconds(cell(time)) : date(cell(time));
    if (timeMs === undefined) {
      const expected = lower[time] === "timestamp" ? "nanoseconds since 1970 as a whole number" : "a YYYY-MM-DD HH:MM:SS time";
      throw fail(at(time), `${JSON.stringify(cell(time))} is not ${expected}`);
    }
    const previous = rows[rows.length - 1];
    if (previous && timeMs <= previous.timeMs) throw fail(at(time), `${JSON.stringify(cell(time))} is not after the row before it`);
    const recorded: RecordedRow = { timeMs };
    for (const q of used) {
      const text = cell(q.column);
      const value = DECIMAL.test(text) ? Number(text) : NaN;
      if (!Number.isFinite(value)) throw fail(at(q.column), `${JSON.stringify(text)} is not a number`);
      if (value < q.min || value > q.max) throw fail(at(q.column), `${text} is outside ${q.min}..${q.max} ${q.unit}`);
      recorded[q.key] = q.key === "pressure" ? value * 100 : value;
    }
    rows.push(recorded);
  }
  return new RecordedEnvironment(rows);
}

/** "YYYY-MM-DD HH:MM:SS" as UTC ms, if it is a real date and time. */
function date(text: string): number | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Date.UTC rolls 2015-02-30 over into March: a date that does not come back unchanged is not one.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return ms;
}

function nanoseconds(text: string): number | undefined {
  if (!/^\d{1,20}$/.test(text)) return undefined;
  const ms = Number(BigInt(text) / 1_000_000n);
  return ms <= Date.UTC(2100, 0, 1) ? ms : undefined;
}
