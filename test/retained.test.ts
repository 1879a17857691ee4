import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RetainedMemory } from "../src/host";
import { crc32, crc32Combine, crcPower } from "../src/encoding/crc32";
import { RetainedSlots } from "../src/retained/slots";
import { bufferCapacity, freshState, readState, STATE_VERSION, writeState } from "../src/retained/state";

function memory(size = 8192): RetainedMemory & { commits: [number, number][] } {
  const commits: [number, number][] = [];
  return { bytes: new Uint8Array(size), commit: (offset, length) => void commits.push([offset, length]), commits };
}

function commit(slots: RetainedSlots, text: string): void {
  const payload = new TextEncoder().encode(text);
  slots.next.set(payload);
  slots.commit(payload.length);
}

describe("retained state slots", () => {
  it("computes the standard CRC-32 check value", () => {
    assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  });

  it("reads zeroed memory as empty, then what was committed last", () => {
    const m = memory();
    const slots = new RetainedSlots(m, 1);
    assert.equal(slots.load().status, "empty");
    commit(slots, "first");
    commit(slots, "second");
    const again = new RetainedSlots(m, 1).load();
    assert.equal(again.status, "ok");
    assert.equal(new TextDecoder().decode(again.payload), "second");
  });

  it("keeps the last good state when a commit is cut at any byte", () => {
    const m = memory(1024);
    const slots = new RetainedSlots(m, 1);
    commit(slots, "good state");
    const before = m.bytes.slice();
    commit(slots, "new state that is being written");
    const after = m.bytes.slice();
    // A cut leaves some prefix of the changed bytes written: try every such prefix.
    const changed = [...after.keys()].filter((i) => before[i] !== after[i]);
    for (let k = 0; k < changed.length; k++) {
      const torn = before.slice();
      for (const i of changed.slice(0, k)) torn[i] = after[i]!;
      const loaded = new RetainedSlots({ bytes: torn, commit: () => {} }, 1).load();
      assert.equal(loaded.status, "ok", `cut after ${k} bytes`);
      assert.equal(new TextDecoder().decode(loaded.payload), "good state", `cut after ${k} bytes`);
    }
  });

  it("reports a bit flip as corrupt and another layout version as foreign", () => {
    const m = memory(1024);
    commit(new RetainedSlots(m, 1), "state");
    assert.equal(new RetainedSlots(m, 2).load().status, "foreign");
    m.bytes[20]! ^= 0x10;
    assert.equal(new RetainedSlots(m, 1).load().status, "corrupt");
  });

  it("round-trips the node state and sizes the buffer to the slot", () => {
    const slots = new RetainedSlots(memory(), STATE_VERSION);
    const capacity = bufferCapacity(slots, 2, 1);
    assert.ok(capacity > 3000, `capacity ${capacity} bytes`);
    const state = freshState(2, capacity, 0xdeadbeef, 1, 1);
    state.sensorErrors[0] = 3;
    // Noisy values, so the buffer fills and drops.
    let x = 1;
    for (let i = 0; state.buffer.dropped === 0; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      state.buffer.append(1_700_000_000 + 60 * i, [2176 + (x % 4000), i % 3 ? 3100 + (x % 513) : null], i % 3 ? [] : [{ sensor: 0, fault: 2 }]);
    }
    state.session.inflight.push({ packetId: 7, kind: 0, first: 10, count: 5, qos: 1, state: "sent" }, { packetId: 8, kind: 0, first: 15, count: 2, qos: 2, state: "released" });
    state.unsent = 15;
    state.energy = { awakeMs: 123_456, sampleMs: 7_890, radioMs: 45_678, radioWakes: 12, bytesUp: 99_999, bytesDown: 4_321 };
    state.lastSent = [2190, null];
    state.sinceSpill = 17;
    state.unsyncedFrom = 42;
    state.counters.restored = 2;
    const length = writeState(state, slots.next);
    slots.commit(length);
    const loaded = slots.load();
    assert.equal(loaded.status, "ok");
    const back = readState(loaded.payload!, 2, capacity, 1);
    assert.deepEqual(back.sensorErrors, [3]);
    assert.deepEqual(back.session, state.session);
    assert.equal(back.buffer.dropped, state.buffer.dropped);
    assert.deepEqual(back.buffer.range(0, 1e9), state.buffer.range(0, 1e9));
    assert.equal(back.layout, 0xdeadbeef);
    for (const key of ["counters", "energy", "lastSent", "sinceSpill", "unsyncedFrom"] as const) assert.deepEqual(back[key], state[key], key);
  });

  it("checks an image of the current slot as it checks the slot, for the flash copy", () => {
    const m = memory(1024);
    const slots = new RetainedSlots(m, 1);
    assert.equal(slots.image().length, 0);
    commit(slots, "first");
    commit(slots, "second state");
    const image = slots.image();
    assert.equal(image.length, 16 + 12);
    const ok = RetainedSlots.verify(image, 1);
    assert.equal(ok.status, "ok");
    assert.equal(new TextDecoder().decode(ok.payload), "second state");
    assert.equal(RetainedSlots.verify(image, 2).status, "foreign");
    assert.equal(RetainedSlots.verify(image.subarray(0, 20), 1).status, "corrupt");
    const flipped = image.slice();
    flipped[18]! ^= 4;
    assert.equal(RetainedSlots.verify(flipped, 1).status, "corrupt");
    assert.equal(RetainedSlots.verify(new Uint8Array(0), 1).status, "empty");
  });

  it("holds a day of one-minute readings of three channels in the 8 KB region", () => {
    const slots = new RetainedSlots(memory(8192), STATE_VERSION);
    const state = freshState(3, bufferCapacity(slots, 3, 2), 1, 0, 2);
    // Slowly varying values on the grid, as indoor temperature, humidity and a battery give.
    for (let i = 0; i < 1440; i++) {
      const t = Math.round(2150 + 300 * Math.sin(i / 229) + ((i * 7919) % 13) - 6);
      const h = Math.round(4000 - 500 * Math.sin(i / 229) + ((i * 104729) % 41) - 20);
      state.buffer.append(1_700_000_000 + 60 * i, [t, h, 4100 - (i >> 6)]);
    }
    assert.equal(state.buffer.dropped, 0);
    const length = writeState(state, slots.next);
    slots.commit(length);
    assert.ok(16 + length <= 4096, `${length} bytes`);
  });

  it("combines CRCs of adjacent ranges as if hashed as one", () => {
    const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 131 + 7) & 255);
    for (const [a, b] of [[0, 0], [3, 0], [0, 9], [13, 23], [100, 24], [700, 3500], [1, 4999]] as const) {
      assert.equal(crc32Combine(crc32(bytes, 0, a), crc32(bytes, a, a + b), crcPower(b)), crc32(bytes, 0, a + b), `${a} + ${b}`);
    }
  });

  it("gives the CRC of any range of the payload it loaded, and commits with a range's CRC given", () => {
    const m = memory();
    const slots = new RetainedSlots(m, 1);
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 17 + 3) & 255);
    slots.next.set(payload);
    slots.commit(payload.length);
    const loaded = new RetainedSlots(m, 1);
    assert.equal(loaded.load().status, "ok");
    for (const [start, end] of [[0, 0], [0, 3000], [5, 64], [64, 128], [63, 2999], [1000, 2000], [2999, 3000]] as const) {
      assert.equal(loaded.loadedCrc(start, end), crc32(payload, start, end), `[${start}, ${end})`);
    }
    assert.equal(loaded.loadedCrc(0, 3001), undefined, "nothing past the payload");
    const known = { start: 100, end: 2900, crc: crc32(payload, 100, 2900), power: crcPower(2800) };
    payload[0] = 99;
    loaded.next.set(payload);
    loaded.commit(payload.length, known);
    assert.equal(loaded.loadedCrc(0, 1), undefined, "the loaded slot is no longer the current one");
    const back = new RetainedSlots(m, 1).load();
    assert.equal(back.status, "ok");
    assert.deepEqual(back.payload, payload);
    // The given CRC is taken, not checked: a wrong one makes a slot that fails, and the last good
    // one is loaded instead.
    payload[0] = 98;
    const third = new RetainedSlots(m, 1);
    third.load();
    third.next.set(payload);
    third.commit(payload.length, { ...known, crc: known.crc ^ 1 });
    assert.equal(new RetainedSlots(m, 1).load().payload?.[0], 99);
  });
});
