// Loads a recording in the CSV layouts of shared/data as a replayable environment: a time column
// ("date" as local "YYYY-MM-DD HH:MM:SS", or "timestamp" in ns since the epoch) and the quantities
// the file has (Temperature/temperature1, Humidity/humidity, pressure in hPa).

import * as fs from "node:fs";
import { RecordedEnvironment, type RecordedRow } from "../sim/devices/environment";

export function readRecording(file: string): RecordedEnvironment {
  const lines = fs.readFileSync(file, "utf8").trim().split(/\r?\n/);
  const header = lines[0]!.split(",").map((h) => h.trim().toLowerCase());
  const column = (...names: string[]) => header.findIndex((h) => names.includes(h));
  const time = column("date", "timestamp");
  const temperature = column("temperature", "temperature1");
  const humidity = column("humidity");
  const pressure = column("pressure");
  if (time < 0) throw new Error(`${file}: no "date" or "timestamp" column`);
  const rows: RecordedRow[] = lines.slice(1).map((line, i) => {
    const cells = line.split(",");
    const t = cells[time]!;
    const timeMs = header[time] === "timestamp" ? Number(BigInt(t) / 1_000_000n) : Date.parse(t.replace(" ", "T") + "Z");
    if (!Number.isFinite(timeMs)) throw new Error(`${file}:${i + 2}: bad time "${t}"`);
    const row: RecordedRow = { timeMs };
    if (temperature >= 0) row.temperature = Number(cells[temperature]);
    if (humidity >= 0) row.humidity = Number(cells[humidity]);
    if (pressure >= 0) row.pressure = Number(cells[pressure]) * 100;
    return row;
  });
  return new RecordedEnvironment(rows);
}
