import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RetainedMemory } from "../src/host";
import { crc32 } from "../src/power/crc32";
import { RetainedSlots } from "../src/power/retained";
import { bufferCapacity, freshState, readState, STATE_VERSION, writeState } from "../src/power/state";

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
    assert.ok(capacity > 100, `capacity ${capacity}`);
    const state = freshState(2, capacity, 0xdeadbeef, 1, 1);
    state.sensorErrors[0] = 3;
    for (let i = 0; i < capacity + 5; i++) state.buffer.append(1_700_000_000 + 60 * i, [2176 + i, i % 3 ? 3100 : null], i % 3 ? [] : [{ sensor: 0, fault: 2 }]);
    state.session.inflight.push({ packetId: 7, kind: 0, first: 10, count: 5, qos: 1, released: false }, { packetId: 8, kind: 0, first: 15, count: 2, qos: 2, released: true });
    state.unsent = 15;
    const length = writeState(state, slots.next);
    slots.commit(length);
    const loaded = slots.load();
    assert.equal(loaded.status, "ok");
    const back = readState(loaded.payload!, 2, capacity, 1);
    assert.deepEqual(back.sensorErrors, [3]);
    assert.deepEqual(back.session, state.session);
    assert.equal(back.buffer.dropped, 5);
    assert.deepEqual(back.buffer.range(0, 1e9), state.buffer.range(0, 1e9));
    assert.equal(back.layout, 0xdeadbeef);
  });
});
