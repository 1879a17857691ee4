// The compressed reading buffer against a plain model: whatever is appended, released, dropped,
// written to retained memory and read back, the buffer hands out exactly the readings it was given
// that are neither acknowledged nor counted as dropped, and it drops only when it is full. The CRC
// it keeps of its sealed blocks (which a commit uses instead of hashing them) is always theirs.

import { ByteReader, ByteWriter } from "../src/encoding/bytes";
import { crc32, crcPower } from "../src/encoding/crc32";
import type { Reading, ReadingFault } from "../src/telemetry/reading";
import { ReadingBuffer } from "../src/telemetry/reading-buffer";
import { maxBlockBytes } from "../src/telemetry/sprintz";
import fc from "fast-check";
import assert from "node:assert/strict";
import { describe, it } from "node:test";

type Op =
  | { kind: "append"; step: number; values: (number | null)[]; faults: ReadingFault[] }
  | { kind: "release"; ahead: number }
  | { kind: "reload" }
  | { kind: "range"; from: number; count: number }
  | { kind: "retime"; back: number; seconds: number };

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });

/** A value: mostly a small step from a drifting level, sometimes anything, sometimes missing. */
function arbValue(): fc.Arbitrary<number | null> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: -40, max: 40 }).map((d) => 2000 + d) },
    { weight: 1, arbitrary: int32 },
    { weight: 1, arbitrary: fc.constant(null) },
  );
}

function arbOps(channels: number): fc.Arbitrary<Op[]> {
  const append = fc.record({
    kind: fc.constant("append" as const),
    // On the grid most of the time; power-on wakes, clock jumps (also backwards) now and then.
    step: fc.oneof({ weight: 12, arbitrary: fc.constant(60) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 200 }) }, { weight: 1, arbitrary: fc.integer({ min: -100_000, max: 10_000_000 }) }),
    values: fc.array(arbValue(), { minLength: channels, maxLength: channels }),
    faults: fc.array(fc.record({ sensor: fc.integer({ min: 0, max: 255 }), fault: fc.integer({ min: 0, max: 255 }) }), { maxLength: Math.min(channels, 2) }),
  });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 30, arbitrary: append },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("release" as const), ahead: fc.oneof(fc.integer({ min: -3, max: 12 }), fc.integer({ min: 0, max: 300 })) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("reload" as const) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("range" as const), from: fc.integer({ min: -5, max: 200 }), count: fc.integer({ min: 0, max: 50 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("retime" as const), back: fc.integer({ min: 0, max: 30 }), seconds: fc.integer({ min: -1000, max: 1_000_000_000 }) }) },
  );
  return fc.array(op, { minLength: 1, maxLength: 600, size: "max" });
}

function roundTrip(buffer: ReadingBuffer, channels: number): ReadingBuffer {
  const bytes = new Uint8Array(buffer.capacity + ReadingBuffer.overhead(channels));
  const w = new ByteWriter(bytes);
  buffer.write(w);
  const back = ReadingBuffer.read(new ByteReader(bytes.subarray(0, w.offset)), channels, buffer.capacity);
  // As the retained store does, from the CRC of what was read (here: hashed afresh).
  back.adoptCrc((start, end, power) => {
    assert.equal(power, crcPower(end - start));
    return crc32(bytes, start, end);
  });
  const again = new Uint8Array(bytes.length);
  const w2 = new ByteWriter(again);
  back.write(w2);
  assert.deepEqual(again.subarray(0, w2.offset), bytes.subarray(0, w.offset), "a buffer read back writes the same bytes");
  return back;
}

/** The CRC the buffer would hand a commit is that of the sealed bytes where write() put them. */
function checkCrc(buffer: ReadingBuffer, channels: number): void {
  const bytes = new Uint8Array(buffer.capacity + ReadingBuffer.overhead(channels));
  const w = new ByteWriter(bytes);
  buffer.write(w);
  const known = buffer.writtenCrc();
  if (!known) return;
  assert.equal(known.end, w.offset - (buffer.bytesUsed - (known.end - known.start)), "the range is the sealed blocks");
  assert.equal(known.crc, crc32(bytes, known.start, known.end), "the kept CRC is the sealed blocks'");
  assert.equal(known.power, crcPower(known.end - known.start));
}

/** Runs ops on a buffer and on a model (every reading ever appended, by sequence number). */
function check(channels: number, capacity: number, ops: Op[]): void {
  let buffer = new ReadingBuffer(channels, capacity);
  const all: Reading[] = [];
  let first = 0;
  let dropped = 0;
  let time = 1_700_000_000;
  const kept = () => all.slice(first);
  for (const op of ops) {
    switch (op.kind) {
      case "append": {
        time = (time + op.step) >>> 0;
        const fullBefore = buffer.bytesUsed;
        const seq = buffer.append(time, op.values, op.faults);
        assert.equal(seq, all.length);
        all.push({ seq, time, values: [...op.values], faults: op.faults.map((f) => ({ ...f })) });
        if (buffer.first > first) {
          // Dropped: only when the next encoding could not fit, and every lost unacknowledged reading counted.
          assert.ok(fullBefore + maxBlockBytes(channels) > buffer.capacity, `dropped at ${fullBefore} of ${buffer.capacity} bytes`);
          dropped += buffer.first - first;
          first = buffer.first;
        }
        break;
      }
      case "release": {
        const seq = Math.max(0, first + op.ahead);
        buffer.release(seq);
        first = Math.max(first, Math.min(seq, all.length));
        break;
      }
      case "reload":
        buffer = roundTrip(buffer, channels);
        break;
      case "range": {
        const from = first + op.from;
        assert.deepEqual(buffer.range(from, op.count), all.slice(Math.max(first, from), Math.max(first, Math.min(all.length, from + op.count))));
        break;
      }
      case "retime": {
        const from = Math.max(0, all.length - op.back);
        buffer.retime(from, op.seconds);
        for (const r of all.slice(from)) r.time = (r.time + op.seconds) >>> 0;
        time = all.length ? all[all.length - 1]!.time : time;
        if (buffer.first > first) {
          dropped += buffer.first - first;
          first = buffer.first;
        }
        break;
      }
    }
    assert.equal(buffer.next, all.length);
    assert.equal(buffer.first, first);
    assert.equal(buffer.length, all.length - first);
    assert.equal(buffer.dropped, dropped);
    assert.ok(buffer.bytesUsed <= buffer.capacity);
    checkCrc(buffer, channels);
  }
  assert.deepEqual(buffer.range(0, 2 ** 32 - 1), kept());
  assert.deepEqual(roundTrip(buffer, channels).range(0, 2 ** 32 - 1), kept());
}

describe("compressed reading buffer", () => {
  it("keeps exactly the unacknowledged readings through appends, releases, reloads and retimes", () => {
    const scenario = fc
      .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1500 }))
      .chain(([channels, capacity]) => fc.tuple(fc.constant(channels), fc.constant(capacity), arbOps(channels)));
    fc.assert(fc.property(scenario, ([channels, capacity, ops]) => check(channels, capacity, ops)), { numRuns: 300 });
  });

  it("round-trips extreme values and times exactly", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), int32, fc.option(int32)), { minLength: 1, maxLength: 60 }), (rows) => {
        const buffer = new ReadingBuffer(2, 100_000);
        for (const [t, a, b] of rows) buffer.append(t, [a, b]);
        assert.deepEqual(
          roundTrip(buffer, 2).range(0, rows.length).map((r) => [r.time, ...r.values]),
          rows.map(([t, a, b]) => [t, a, b]),
        );
      }),
    );
  });

  it("stores constant readings on the grid in a few bytes, and counts none dropped", () => {
    const buffer = new ReadingBuffer(3, 4000);
    for (let i = 0; i < 24 * 60; i++) buffer.append(1_700_000_040 + 60 * i, [2150, 4012, 3301]);
    assert.equal(buffer.length, 1440);
    assert.equal(buffer.dropped, 0);
    assert.ok(buffer.bytesUsed < 40, `${buffer.bytesUsed} bytes`);
    assert.deepEqual(buffer.range(1439, 1)[0], { seq: 1439, time: 1_700_000_040 + 60 * 1439, values: [2150, 4012, 3301], faults: [] });
  });

  it("keeps its sealed blocks' CRC through runs of constant readings, drops and reloads", () => {
    // Runs of zero blocks grow and shrink in place; mixed with noisy stretches, in a buffer small
    // enough to drop, and read back now and then as at every wake.
    let buffer = new ReadingBuffer(2, 700);
    let x = 11;
    for (let i = 0; i < 3000; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      const calm = Math.floor(i / 100) % 2 === 0;
      buffer.append(1_700_000_000 + 60 * i, calm ? [2150, 4012] : [2150 + (x % 50), 4012 - (x % 7)]);
      if (i % 37 === 0) buffer.release(buffer.first + (x % 9));
      if (i % 53 === 0) buffer = roundTrip(buffer, 2);
      checkCrc(buffer, 2);
    }
    assert.ok(buffer.dropped > 0);
  });

  it("drops the oldest block when full, counts it, and keeps the newest", () => {
    const buffer = new ReadingBuffer(1, 300);
    let x = 7;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      buffer.append(1_700_000_000 + 60 * i, [x % 100_000]);
    }
    assert.ok(buffer.dropped > 0);
    assert.equal(buffer.first, buffer.dropped, "nothing was acknowledged, so every reading gone was counted");
    assert.equal(buffer.first % 8, 0, "whole blocks go");
    assert.equal(buffer.range(0, 1e9).at(-1)!.seq, 1999);
  });

  it("answers ranges asked out of order, and after the oldest readings go", () => {
    const buffer = new ReadingBuffer(2, 10_000);
    for (let i = 0; i < 100; i++) buffer.append(1_700_000_000 + 60 * i, [i * i, i % 7 === 0 ? null : -i], i % 7 === 0 ? [{ sensor: 0, fault: 3 }] : []);
    const expect = (seq: number) => ({ seq, time: 1_700_000_000 + 60 * seq, values: [seq * seq, seq % 7 === 0 ? null : -seq], faults: seq % 7 === 0 ? [{ sensor: 0, fault: 3 }] : [] });
    assert.deepEqual(buffer.range(60, 5), [60, 61, 62, 63, 64].map(expect));
    assert.deepEqual(buffer.range(10, 2), [10, 11].map(expect));
    assert.deepEqual(buffer.range(90, 20), [90, 91, 92, 93, 94, 95, 96, 97, 98, 99].map(expect));
    buffer.release(42);
    assert.deepEqual(buffer.range(0, 45), [42, 43, 44].map(expect));
    assert.deepEqual(buffer.oldest, expect(42));
    buffer.release(100);
    assert.equal(buffer.length, 0);
    assert.equal(buffer.bytesUsed, 0, "an empty buffer keeps no bytes");
    buffer.append(1_700_006_000, [1, 2]);
    assert.deepEqual(buffer.range(0, 1e9), [{ seq: 100, time: 1_700_006_000, values: [1, 2], faults: [] }]);
  });

  it("refuses readings it cannot store faithfully", () => {
    const buffer = new ReadingBuffer(2, 1000);
    assert.throws(() => buffer.append(1, [1]), RangeError);
    assert.throws(() => buffer.append(1, [1.5, 2]), RangeError);
    assert.throws(() => buffer.append(1, [2 ** 31, 2]), RangeError);
    assert.throws(() => buffer.append(-1, [1, 2]), RangeError);
    assert.throws(() => buffer.append(1, [1, 2], [{ sensor: 0, fault: 1 }, { sensor: 1, fault: 1 }, { sensor: 2, fault: 1 }]), RangeError);
    assert.equal(buffer.length, 0);
  });

  it("reads a damaged stream as an error, never as readings", () => {
    const buffer = new ReadingBuffer(2, 2000);
    for (let i = 0; i < 50; i++) buffer.append(1_700_000_000 + 60 * i, [2000 + ((i * 37) % 23), 4000 - i]);
    const bytes = new Uint8Array(3000);
    const w = new ByteWriter(bytes);
    buffer.write(w);
    // Claim one more sealed block than the stream holds.
    const bad = bytes.slice(0, w.offset);
    new DataView(bad.buffer).setUint16(12, new DataView(bad.buffer).getUint16(12, true) + 1, true);
    assert.throws(() => ReadingBuffer.read(new ByteReader(bad), 2, 2000), RangeError);
    assert.throws(() => ReadingBuffer.read(new ByteReader(bytes.slice(0, w.offset - 3)), 2, 2000), RangeError);
  });
});
