// Bytes per value of each payload format, batch by batch, on the recordings in ../shared/data,
// against baselines measured in the same run, and the XS cost of encoding a batch:
//   varint     — delta of delta for time, delta for values, zigzag, LEB128 (byte-aligned deltas);
//                per batch a 4-byte time and each channel's first value
//   sprintz    — plain Sprintz-style delta (Blalock et al., IMWUT 2018): the same anchors, then
//                blocks of 8 residuals, each column bit-packed at its block's width (5-bit code)
//   buffer     — torpor's retained buffer blocks for the batch alone (ReadingBuffer.bytesUsed)
//   senml-json, senml-cbor, compact — src/telemetry/payload.ts, as the node publishes them
//   mqtt.js    — one JSON object per reading ({"time":…,"temperature":…}), one PUBLISH each
// Values are the recordings' own, quantised to each channel's resolution (temperature and
// humidity 0.01, pressure 1 Pa); times are stamped on the sampling grid as a node stamps them
// (compact is also given with the recordings' own times). "payload" counts the payload bytes,
// "publish" the whole MQTT PUBLISH packets (QoS 1, topic torpor/node-1/telemetry) that carry them.
// Targets (issue 11): compact ≤ 0.55 B/value at batch 60 and ≤ 0.45 at 240 on Candanedo T+RH;
// encoding 60 compact readings on XS ≤ 100k compute and ≤ 2k slots.
// With a telemetryKey (issue 20) each message carries a tag: the bytes it adds per message, and the XS
// cost of encoding and tagging a batch of 60 and of checking one signed command, with the harness's
// script SHA-256 (tools/xs/sha256.ts) — a device hashes with the SDK's native digest, so these are
// the most it can cost, not what it costs there.
//
//   npm run bench   (all benchmarks)   node dist/bench/formats.js   (this one)

import { parseConfig } from "../src/config";
import type { Channel } from "../src/sensors/channel";
import { channelsOf } from "../src/sensors/registry";
import { utf8Encode } from "../src/encoding/utf8";
import { encodePayload, type Batch } from "../src/telemetry/payload";
import { tagBytes } from "../src/telemetry/telemetry-tag";
import { SEAL_BYTES } from "../src/telemetry/payload-seal";
import { sealCommand } from "../src/uplink/signed-command";
import { scriptCrypto } from "../tools/xs/sha256";
import type { Reading } from "../src/telemetry/reading";
import { ReadingBuffer } from "../src/telemetry/reading-buffer";
import { BLOCK, zigzag } from "../src/telemetry/sprintz";
import { bundle, repoRoot, xsFixture } from "../test/support/bundle";
import { findXsnapWorker, XsWorker } from "../tools/xs/worker";
import { generate } from "mqtt-packet";
import * as fs from "node:fs";
import * as path from "node:path";

const dataDir = path.join(repoRoot, "..", "shared", "data");
const TOPIC = "torpor/node-1/telemetry";
const BATCHES = [12, 60, 240];

interface Recording {
  name: string;
  channels: Channel[];
  times: number[];
  rows: number[][];
}

function csv(file: string): { header: string[]; rows: string[][] } | undefined {
  const at = path.join(dataDir, file);
  if (!fs.existsSync(at)) return undefined;
  const lines = fs.readFileSync(at, "utf8").trim().split(/\r?\n/);
  return { header: lines[0]!.split(",").map((h) => h.trim()), rows: lines.slice(1).map((l) => l.split(",")) };
}

function recordings(): Recording[] {
  const out: Recording[] = [];
  const candanedo = csv("candanedo-office-occupancy-1min.csv");
  if (candanedo) {
    out.push({
      name: "candanedo office, 1 min (T, RH)",
      channels: channelsOf(parseConfig({ sensors: [{ type: "sht3x", address: 0x44 }] }).sensors),
      times: candanedo.rows.map((r) => Date.parse(r[0]!.replace(" ", "T") + "Z") / 1000),
      rows: candanedo.rows.map((r) => [Math.round(Number(r[1]) / 0.01), Math.round(Number(r[2]) / 0.01)]),
    });
  }
  const tablog = csv("tablog-dataset1-tph-2s.csv");
  if (tablog) {
    const col = (name: string) => tablog.header.indexOf(name);
    out.push({
      name: "tablog, 2 s (T, RH, pressure)",
      channels: channelsOf(parseConfig({ sensors: [{ type: "bme280", address: 0x76 }] }).sensors),
      times: tablog.rows.map((r) => Math.round(Number(BigInt(r[col("timestamp")]!) / 1_000_000n) / 1000)),
      rows: tablog.rows.map((r) => [Math.round(Number(r[col("temperature1")]) / 0.01), Math.round(Number(r[col("humidity")]) / 0.01), Math.round(Number(r[col("pressure")]) * 100)]),
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

const leb = (z: number) => (z < 0x80 ? 1 : z < 0x4000 ? 2 : z < 0x200000 ? 3 : z < 0x10000000 ? 4 : 5);
const widthOf = (z: number) => 32 - Math.clz32(z);

/** Residuals of a batch, column by column: time by delta of delta, values by delta (first: 0). */
function residuals(readings: Reading[]): number[][] {
  const columns = [readings.map((r, i) => (i < 2 ? 0 : zigzag(r.time - 2 * readings[i - 1]!.time + readings[i - 2]!.time)))];
  for (let c = 0; c < readings[0]!.values.length; c++) columns.push(readings.map((r, i) => (i ? zigzag(r.values[c]! - readings[i - 1]!.values[c]!) : 0)));
  return columns;
}

function anchorBytes(readings: Reading[]): number {
  return 4 + leb(zigzag(readings.length > 1 ? readings[1]!.time - readings[0]!.time : 0)) + readings[0]!.values.reduce((n: number, v) => n + leb(zigzag(v!)), 0);
}

function varintBytes(readings: Reading[]): number {
  return anchorBytes(readings) + residuals(readings).reduce((n, column) => n + column.slice(1).reduce((m, z) => m + leb(z), 0), 0);
}

function sprintzBytes(readings: Reading[]): number {
  const columns = residuals(readings).map((column) => column.slice(1));
  let bits = 0;
  for (let b = 0; b < columns[0]!.length; b += BLOCK) {
    let block = 5 * columns.length;
    for (const column of columns) {
      const slice = column.slice(b, b + BLOCK);
      block += slice.length * Math.max(...slice.map(widthOf));
    }
    bits += Math.ceil(block / 8) * 8;
  }
  return anchorBytes(readings) + bits / 8;
}

function bufferBytes(readings: Reading[]): number {
  const buffer = new ReadingBuffer(readings[0]!.values.length, 1 << 20);
  for (const r of readings) buffer.append(r.time, r.values);
  return buffer.bytesUsed;
}

const publishBytes = (payload: Uint8Array, messageId = 1) => generate({ cmd: "publish", topic: TOPIC, payload: Buffer.from(payload), qos: 1, messageId, retain: false, dup: false }).length;

function mqttJsBytes(readings: Reading[], channels: Channel[]): { payload: number; publish: number } {
  let payload = 0;
  let publish = 0;
  readings.forEach((r, i) => {
    const object: Record<string, number> = { time: r.time };
    channels.forEach((c, k) => (object[c.property[1]] = Number((r.values[k]! * c.resolution).toFixed(6))));
    const bytes = Buffer.from(JSON.stringify(object));
    payload += bytes.length;
    publish += publishBytes(bytes, i + 1);
  });
  return { payload, publish };
}

function batchOf(recording: Recording, readings: Reading[]): Batch {
  return { baseName: "urn:dev:torpor:node-1:", channels: recording.channels, sensorIds: [recording.channels[0]!.sensor], readings, dropped: 0 };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function sizes(recording: Recording, batch: number) {
  const grid = onGrid(recording.times);
  const totals: Record<string, { payload: number; publish: number }> = {};
  const add = (name: string, payload: number, publish = payload) => {
    const t = (totals[name] ??= { payload: 0, publish: 0 });
    t.payload += payload;
    t.publish += publish;
  };
  let values = 0;
  for (let start = 0; start + batch <= recording.rows.length; start += batch) {
    const take = (times: number[]): Reading[] => recording.rows.slice(start, start + batch).map((values, i) => ({ seq: start + i, time: times[start + i]!, values, faults: [] }));
    const readings = take(grid);
    values += batch * recording.channels.length;
    const frame = (bytes: number) => publishBytes(new Uint8Array(bytes));
    for (const [name, bytes] of [["varint", varintBytes(readings)], ["sprintz", sprintzBytes(readings)], ["buffer", bufferBytes(readings)]] as const) add(name, bytes, frame(Math.ceil(bytes)));
    for (const format of ["compact", "senml-cbor", "senml-json"] as const) {
      const { payload } = encodePayload(format, batchOf(recording, readings));
      add(format, payload.length, publishBytes(payload));
    }
    const own = encodePayload("compact", batchOf(recording, take(recording.times))).payload;
    add("compact, recording's own times", own.length, publishBytes(own));
    const perReading = mqttJsBytes(readings, recording.channels);
    add("mqtt.js", perReading.payload, perReading.publish);
  }
  const perValue = (f: (t: { payload: number; publish: number }) => number) => Object.fromEntries(Object.entries(totals).map(([name, t]) => [name, round(f(t) / values)]));
  return { batch, batches: values / batch / recording.channels.length, payloadBytesPerValue: perValue((t) => t.payload), publishBytesPerValue: perValue((t) => t.publish) };
}

function target(what: string, measured: number, limit: number) {
  const met = measured <= limit;
  return { target: what, limit, measured, met, ...(met ? {} : { missedBy: round(measured - limit) }) };
}

async function xsCost(recording: Recording | undefined) {
  if (!findXsnapWorker()) return { skipped: "xsnap-worker is not built (npm ci builds it)" };
  if (!recording) return { skipped: `no Candanedo recording in ${dataDir}` };
  const readings = recording.rows.slice(0, 60).map((values, i) => ({ seq: i, time: 1_764_000_000 + 60 * i, values, faults: [] }));
  const worker = await XsWorker.start({ meteringLimit: 0, timeoutMs: 600_000 });
  try {
    await worker.evaluate(bundle(xsFixture("payload.entry.ts")));
    await worker.call({ op: "load", batch: batchOf(recording, readings) });
    const measure = async (request: unknown) => {
      const before = (await worker.call({ op: "gc" })).meter.currentHeapCount;
      const { meter } = await worker.call(request);
      return { compute: meter.compute, slots: meter.currentHeapCount - before };
    };
    const idle = await measure({ op: "idle" });
    const rows: Record<string, { compute: number; slots: number; computeNet: number; slotsNet: number }> = {};
    for (const format of ["compact", "senml-cbor", "senml-json"] as const) {
      await measure({ op: "encode", format }); // the first run also compiles and caches what it touches
      const m = await measure({ op: "encode", format });
      rows[format] = { ...m, computeNet: m.compute - idle.compute, slotsNet: m.slots - idle.slots };
    }
    const key = "a telemetry key of 32 characters";
    const tagged: Record<string, { compute: number; slots: number; computeOverEncode: number; slotsOverEncode: number }> = {};
    for (const format of ["compact", "senml-cbor", "senml-json"] as const) {
      const request = { op: "seal", format, key, topic: TOPIC };
      await measure(request);
      const m = await measure(request);
      tagged[format] = { ...m, computeOverEncode: m.compute - rows[format]!.compute, slotsOverEncode: m.slots - rows[format]!.slots };
    }
    const encrypted: Record<string, { compute: number; slots: number; computeOverTag: number; slotsOverTag: number }> = {};
    for (const format of ["compact", "senml-cbor", "senml-json"] as const) {
      const request = { op: "encrypt", format, key, payloadKey: key, topic: TOPIC, nonce: { epoch: 1, counter: 1 } };
      await measure(request);
      const m = await measure(request);
      encrypted[format] = { ...m, computeOverTag: m.compute - tagged[format]!.compute, slotsOverTag: m.slots - tagged[format]!.slots };
    }
    const envelope = sealCommand(scriptCrypto, key, "node-1", 1_733_500_000_000, utf8Encode('{"cmd":"set","sampleInterval":30,"id":"lq2x1c"}'));
    const open = { op: "open", key, node: "node-1", envelope };
    await measure(open);
    const verify = await measure(open);
    return {
      batch: 60,
      baseline: { op: "idle (the harness's own cost per command)", ...idle },
      encode: rows,
      encodeAndTag: tagged,
      encodeTagAndEncrypt: encrypted,
      verifyCommand: { ...verify, computeNet: verify.compute - idle.compute, slotsNet: verify.slots - idle.slots },
    };
  } finally {
    await worker.close();
  }
}

export async function formatsBench() {
  const all = recordings();
  if (!all.length) return { benchmark: "payload bytes per value", skipped: `no recordings in ${dataDir}` };
  const results = all.map((recording) => ({ recording: recording.name, readings: recording.rows.length, byBatch: BATCHES.map((b) => sizes(recording, b)) }));
  const candanedo = all.find((r) => r.name.startsWith("candanedo"));
  const xs = await xsCost(candanedo);
  const compactAt = (batch: number) => results.find((r) => r.recording.startsWith("candanedo"))?.byBatch.find((b) => b.batch === batch)?.payloadBytesPerValue.compact;
  const targets = [];
  for (const [batch, limit] of [[60, 0.55], [240, 0.45]] as const) {
    const measured = compactAt(batch);
    if (measured !== undefined) targets.push(target(`compact payload, Candanedo T+RH, batch ${batch}, bytes/value`, measured, limit));
  }
  const xsCompact = "encode" in xs ? xs.encode?.compact : undefined;
  if (xsCompact) {
    targets.push(target("XS compute to encode 60 compact readings (net of the harness)", xsCompact.computeNet, 100_000));
    targets.push(target("XS slots to encode 60 compact readings (net of the harness)", xsCompact.slotsNet, 2_000));
  }
  const tagBytesPerMessage = Object.fromEntries((["compact", "senml-cbor", "senml-json"] as const).map((f) => [f, tagBytes(f)]));
  return { benchmark: "payload bytes per value by format and batch size", baseline: "varint, sprintz (plain delta, 8-reading blocks), mqtt.js one object per reading", results, tagBytesPerMessage, encryptionBytesPerMessage: SEAL_BYTES, xs, targets };
}

if (require.main === module) void formatsBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
