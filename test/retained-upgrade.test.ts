// A firmware update must not cost the readings the old firmware buffered: a state retained in an
// older layout (here v3, recorded from that firmware) loads in the new one, in RTC memory and from
// the flash copy, and the next commit writes it in the new layout. The new layout leaves the
// buffer less room (a larger link memory, more counters): a full buffer loses only its oldest
// blocks, counted as dropped, the rest kept. A layout older than the oldest the firmware reads
// starts clean, counted, as any foreign block does.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parseConfig } from "../src/config";
import type { Flash } from "../src/host";
import { channelsOf } from "../src/sensors/registry";
import { RetainedSlots } from "../src/retained/slots";
import { counterFields, OLDEST_STATE_VERSION, STATE_VERSION } from "../src/retained/state";
import { FLASH_KEY, RetainedStore } from "../src/retained/store";
import { storeHost } from "./support/store-host";

interface Held {
  image: string;
  held: { counters: Record<string, number>; dropped: number; readings: { time: number; values: number[] }[] };
}

const repoRoot = path.join(__dirname, "..", "..");
const v3 = JSON.parse(fs.readFileSync(path.join(repoRoot, "test", "fixtures", "retained-v3.json"), "utf8")) as { layout: number; partial: Held; full: Held };
const config = parseConfig({});
const channels = channelsOf(config.sensors);

function held(store: RetainedStore) {
  return store.state.buffer.range(0, 100_000).map((r) => ({ time: r.time, values: r.values }));
}

describe("retained state across a firmware update that changed its layout", () => {
  it("keeps every reading and counter an older layout held, and writes the new layout from then on", () => {
    assert.ok(v3.layout >= OLDEST_STATE_VERSION && v3.layout < STATE_VERSION, "the fixture is an older layout the firmware still reads");
    const { image, held: was } = v3.partial;
    const bytes = new Uint8Array(Buffer.from(image, "base64"));
    const lines: string[] = [];
    const store = new RetainedStore(storeHost(bytes, "timer", (l) => void lines.push(l)), channels, config.sensors.length);
    assert.deepEqual(held(store), was.readings);
    for (const key of counterFields) assert.equal(store.state.counters[key], was.counters[key] ?? 0, key);
    assert.deepEqual(lines, [], "no cold start, nothing lost");

    const next = { time: was.readings.at(-1)!.time + 60, values: [1, 2] };
    store.state.buffer.append(next.time, next.values);
    store.commit();
    const loaded = new RetainedSlots({ bytes, commit: () => {} }, STATE_VERSION).load();
    assert.equal(loaded.status === "ok" && loaded.version, STATE_VERSION);
    const again = new RetainedStore(storeHost(bytes, "timer", () => {}), channels, config.sensors.length);
    assert.deepEqual(held(again), [...was.readings, next]);
  });

  it("keeps the newest readings of a full buffer, counting the oldest it has no room for as dropped", () => {
    const { image, held: was } = v3.full;
    const bytes = new Uint8Array(Buffer.from(image, "base64"));
    const lines: string[] = [];
    const store = new RetainedStore(storeHost(bytes, "timer", (l) => void lines.push(l)), channels, config.sensors.length);
    const kept = held(store);
    assert.deepEqual(lines, [], "no cold start");
    assert.ok(kept.length > 0 && kept.length < was.readings.length, `${kept.length} of ${was.readings.length} kept`);
    assert.deepEqual(kept, was.readings.slice(was.readings.length - kept.length), "the newest, unchanged");
    assert.equal(store.state.buffer.dropped, was.dropped + (was.readings.length - kept.length), "every reading cut off is counted");
    assert.ok(store.state.buffer.bytesUsed <= store.state.buffer.capacity);
    // The state is whole again: it commits (in the new layout, within the slot) and loads as it was.
    const next = { time: was.readings.at(-1)!.time + 60, values: [1, 2] };
    store.state.buffer.append(next.time, next.values);
    store.commit();
    const after = held(new RetainedStore(storeHost(bytes, "timer", () => {}), channels, config.sensors.length));
    assert.deepEqual(after, [...kept.slice(kept.length - (after.length - 1)), next]);
  });

  it("restores an older layout's flash copy after a power loss", () => {
    const old = new Uint8Array(Buffer.from(v3.partial.image, "base64"));
    const slots = new RetainedSlots({ bytes: old, commit: () => {} }, v3.layout);
    assert.equal(slots.load().status, "ok");
    const flashed = new Map<string, ArrayBuffer>([[FLASH_KEY, slots.image().buffer]]);
    const flash: Flash = { read: (key) => flashed.get(key)?.slice(0), write: (key, data) => void flashed.set(key, data.slice(0)), delete: (key) => void flashed.delete(key) };
    const store = new RetainedStore(storeHost(new Uint8Array(old.length), "power-on", () => {}, flash), channels, config.sensors.length);
    assert.equal(store.state.counters.restored, 1);
    assert.equal(store.state.counters.cold, 0);
    assert.deepEqual(held(store), v3.partial.held.readings);
  });

  it("starts clean, counted, from a layout older than the oldest it reads", () => {
    const bytes = new Uint8Array(Buffer.from(v3.partial.image, "base64"));
    // Both slots say they are one layout older than the firmware reads.
    const size = bytes.length / 2;
    for (const base of [0, size]) new DataView(bytes.buffer, base).setUint16(4, OLDEST_STATE_VERSION - 1, true);
    const lines: string[] = [];
    const store = new RetainedStore(storeHost(bytes, "timer", (l) => void lines.push(l)), channels, config.sensors.length);
    assert.equal(store.state.buffer.length, 0);
    assert.equal(store.state.counters.cold, 1);
    assert.match(lines.join("\n"), /retained state foreign: starting clean/);
  });
});
