// Bytes per reading in the retained reading buffer, for the recordings in ../shared/data, against
// named baselines measured in the same run:
//   fixed     — the version 1 layout: 4 sequence + 4 time + 4 mask + 4 per value + 1 fault count
//   varint    — delta of delta for time, delta for values, zigzag, LEB128 bytes (byte-aligned deltas,
//               the shape of the "compact" payload)
//   sprintz   — the buffer itself (delta, zigzag, 8-reading blocks bit-packed at their own width,
//               zero runs), as stored: ReadingBuffer.bytesUsed
//   fire      — the same blocks with Sprintz's FIRE forecaster instead of delta (an estimate from
//               the residual widths, to show why the buffer predicts by delta)
// Temperature and humidity are quantised to 0.01 as the SHT3x channels are. The recordings have no
// battery voltage; a battery channel (1 mV, as the battery sensor's) is synthesised from the
// simulator's discharge curve with ±2 mV of ADC noise. Times are the recording's own, and also
// snapped to the sampling grid as a node stamps them. Also: how many hours of one-minute readings
// of temperature + humidity + battery fit the retained budget.
//
//   npm run bench   (all benchmarks)   node dist/bench/buffer.js   (this one)

import * as fs from "node:fs";
import * as path from "node:path";
import { dischargeVoltage } from "../hosts/virtual/battery";
import { RetainedSlots } from "../src/retained/slots";
import { bufferCapacity, STATE_VERSION } from "../src/retained/state";
import { ReadingBuffer } from "../src/telemetry/reading-buffer";
import { BLOCK, headerBytes, zigzag } from "../src/telemetry/sprintz";
import { repoRoot } from "../test/support/bundle";

export const dataDir = path.join(repoRoot, "..", "shared", "data");

interface Series {
  name: string;
  channels: string[];
  times: number[];
  rows: number[][];
}

function readCsv(file: string): { header: string[]; rows: string[][] } {
  const lines = fs.readFileSync(path.join(dataDir, file), "utf8").trim().split(/\r?\n/);
  return { header: lines[0]!.split(",").map((h) => h.trim()), rows: lines.slice(1).map((l) => l.split(",")) };
}

/** ±2 mV of deterministic noise on the simulator's discharge curve, at 1 mV. */
function battery(timeS: number, i: number): number {
  const noise = (Math.imul(i + 1, 2654435761) >>> 29) % 5 - 2;
  return Math.round(dischargeVoltage(timeS * 1000) * 1000) + noise;
}

export function recordings(): Series[] {
  const out: Series[] = [];
  if (fs.existsSync(path.join(dataDir, "candanedo-office-occupancy-1min.csv"))) {
    const { rows } = readCsv("candanedo-office-occupancy-1min.csv");
    const times = rows.map((r) => Date.parse(r[0]!.replace(" ", "T") + "Z") / 1000);
    out.push({
      name: "candanedo office, 1 min (T, RH, battery)",
      channels: ["temperature 0.01", "humidity 0.01", "battery 0.001"],
      times,
      rows: rows.map((r, i) => [Math.round(Number(r[1]) / 0.01), Math.round(Number(r[2]) / 0.01), battery(times[i]!, i)]),
    });
  }
  if (fs.existsSync(path.join(dataDir, "tablog-dataset1-tph-2s.csv"))) {
    const { header, rows } = readCsv("tablog-dataset1-tph-2s.csv");
    const col = (name: string) => header.indexOf(name);
    const times = rows.map((r) => Math.round(Number(BigInt(r[col("timestamp")]!) / 1_000_000n) / 1000));
    out.push({
      name: "tablog, 2 s (T, RH, pressure)",
      channels: ["temperature 0.01", "humidity 0.01", "pressure 1 Pa"],
      times,
      rows: rows.map((r) => [Math.round(Number(r[col("temperature1")]) / 0.01), Math.round(Number(r[col("humidity")]) / 0.01), Math.round(Number(r[col("pressure")]) * 100)]),
    });
  }
  return out;
}

/** Times as a node stamps them: on its interval's grid. */
function onGrid(times: number[]): number[] {
  const steps = times.slice(1).map((t, i) => t - times[i]!).sort((a, b) => a - b);
  const interval = Math.max(1, Math.round(steps[steps.length >> 1]!));
  return times.map((_, i) => Math.round(times[0]! / interval) * interval + i * interval);
}

function fixedBytes(channels: number, readings: number): number {
  return readings * (13 + 4 * channels);
}

function varintBytes(times: number[], rows: number[][]): number {
  const leb = (z: number) => (z < 0x80 ? 1 : z < 0x4000 ? 2 : z < 0x200000 ? 3 : z < 0x10000000 ? 4 : 5);
  let bytes = 0;
  let delta = 0;
  rows.forEach((row, i) => {
    if (i === 0) {
      bytes += 4 + row.reduce((n, v) => n + leb(zigzag(v)), 0);
      return;
    }
    const d = times[i]! - times[i - 1]!;
    bytes += leb(zigzag(d - delta));
    delta = d;
    row.forEach((v, c) => (bytes += leb(zigzag(v - rows[i - 1]![c]!))));
  });
  return bytes;
}

function sprintzBytes(times: number[], rows: number[][]): number {
  const buffer = new ReadingBuffer(rows[0]!.length, 1 << 20);
  rows.forEach((row, i) => buffer.append(times[i]!, row));
  return buffer.bytesUsed;
}

/**
 * FIRE (Sprintz §4.2): predicts each delta from the previous one with a learned coefficient
 * (fixed point, 1/16 steps), adapting by the sign of the gradient. Bytes estimated as the buffer
 * packs them: a header per block and each column at its block's widest residual.
 */
function fireBytes(times: number[], rows: number[][]): number {
  const columns = rows[0]!.length;
  const width = (z: number) => (z === 0 ? 0 : 32 - Math.clz32(z));
  const residuals: number[][] = Array.from({ length: columns }, (_, c) => {
    let a = 0;
    return rows.map((row, i) => {
      if (i < 2) return 0;
      const d1 = rows[i - 1]![c]! - rows[i - 2]![c]!;
      const err = row[c]! - (rows[i - 1]![c]! + ((a * d1) >> 4));
      a = Math.max(-16, Math.min(16, a + Math.sign(err) * Math.sign(d1)));
      return zigzag(err);
    });
  });
  const timeResiduals = times.map((t, i) => (i < 2 ? 0 : zigzag(t - 2 * times[i - 1]! + times[i - 2]!)));
  let bits = 0;
  for (let b = 0; b < rows.length; b += BLOCK) {
    const n = Math.min(BLOCK, rows.length - b);
    for (const column of [timeResiduals, ...residuals]) bits += n * Math.max(...column.slice(b, b + n).map(width));
    bits = Math.ceil(bits / 8) * 8 + 8 * headerBytes(columns);
  }
  return bits / 8;
}

/** One-minute readings of temperature, humidity and battery that fit the retained budget. */
function dayCapacity(series: Series): { readings: number; hours: number; budgetBytes: number } {
  const slots = new RetainedSlots({ bytes: new Uint8Array(8192), commit: () => {} }, STATE_VERSION);
  const budget = bufferCapacity(slots, 3, 2);
  const buffer = new ReadingBuffer(3, budget);
  const times = onGrid(series.times);
  let i = 0;
  for (; buffer.dropped === 0; i++) buffer.append(times[i % times.length]! + 60 * times.length * Math.floor(i / times.length), series.rows[i % series.rows.length]!);
  const readings = i - 1; // held before the append that had to drop
  return { readings, hours: Math.round((readings / 60) * 10) / 10, budgetBytes: budget };
}

export function bufferBench() {
  const results = recordings().map((series) => {
    const n = series.rows.length;
    const per = (bytes: number) => Math.round((bytes / n) * 100) / 100;
    const grid = onGrid(series.times);
    return {
      recording: series.name,
      readings: n,
      channels: series.channels,
      bytesPerReading: {
        fixed: per(fixedBytes(series.channels.length, n)),
        varint: per(varintBytes(series.times, series.rows)),
        sprintz: per(sprintzBytes(series.times, series.rows)),
        fire: per(fireBytes(series.times, series.rows)),
      },
      bytesPerReadingOnGrid: {
        varint: per(varintBytes(grid, series.rows)),
        sprintz: per(sprintzBytes(grid, series.rows)),
      },
    };
  });
  const candanedo = recordings().find((s) => s.name.startsWith("candanedo"));
  return {
    benchmark: "reading buffer bytes per reading",
    baseline: "fixed (the version 1 layout)",
    skipped: results.length ? undefined : `no recordings in ${dataDir}`,
    results,
    oneMinuteTHBattery: candanedo ? dayCapacity(candanedo) : undefined,
  };
}

if (require.main === module) process.stdout.write(`${JSON.stringify(bufferBench(), null, 2)}\n`);
