// The flash tier: a real power loss wipes RTC memory, and the node comes back from its flash copy
// having lost at most flashEvery wakes' readings.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../src/config";
import type { Flash, Host } from "../src/host";
import { channelsOf } from "../src/sensors/registry";
import { FLASH_KEY, RetainedStore } from "../src/retained/store";
import { storeHost } from "./support/store-host";

const config = parseConfig({});
const channels = channelsOf(config.sensors);

function fakeHost(): Host & { lines: string[]; flashed: Map<string, ArrayBuffer>; wipe(fill?: number): void } {
  const bytes = new Uint8Array(8192);
  const flashed = new Map<string, ArrayBuffer>();
  const flash: Flash = {
    read: (key) => flashed.get(key)?.slice(0),
    write: (key, data) => void flashed.set(key, data.slice(0)),
    delete: (key) => void flashed.delete(key),
  };
  const lines: string[] = [];
  // A real power loss wakes the node as a power-on; a timer wake would find the memory it expects.
  return {
    ...storeHost(bytes, "power-on", (line) => void lines.push(line), flash),
    lines,
    flashed,
    wipe: (fill = 0) => void bytes.fill(fill),
  };
}

/** One wake as far as the store sees it: load, a reading, the wake's end. */
function wake(host: Host, i: number, settings: Record<string, unknown> = {}): RetainedStore {
  const store = new RetainedStore(host, channels, config.sensors.length);
  store.state.counters.wakes++;
  store.state.buffer.append(1_700_000_000 + 60 * i, [2000 + i, 4000 - i]);
  store.commit();
  store.endWake(parseConfig(settings));
  return store;
}

describe("flash tier", () => {
  it("copies the state every flashEvery wakes and restores it after a power loss, counted", () => {
    const host = fakeHost();
    for (let i = 0; i < 7; i++) wake(host, i, { flashEvery: 3 });
    assert.ok(host.flashed.has(FLASH_KEY));
    host.wipe(); // RTC memory after a real power loss (zeros here; the next test has garbage)
    const store = new RetainedStore(host, channels, config.sensors.length);
    assert.equal(store.state.counters.restored, 1);
    assert.equal(store.state.counters.cold, 0);
    // Copies were made at wakes 3 and 6: the readings of wakes 1..6 are back, the 7th is lost.
    assert.deepEqual(store.state.buffer.range(0, 100).map((r) => r.values[0]), [2000, 2001, 2002, 2003, 2004, 2005]);
    assert.match(host.lines.join("\n"), /retained state empty: restored from flash \(6 readings\)/);
  });

  it("never loses more than flashEvery wakes' readings, wherever the power loss falls", () => {
    for (const every of [1, 4, 10]) {
      for (let lossAt = 1; lossAt <= 25; lossAt++) {
        const host = fakeHost();
        for (let i = 0; i < lossAt; i++) wake(host, i, { flashEvery: every });
        host.wipe(0xa5); // garbage: reads as foreign
        const kept = new RetainedStore(host, channels, config.sensors.length).state.buffer.length;
        assert.ok(lossAt - kept <= every, `every ${every}, loss after ${lossAt} wakes: ${kept} readings kept`);
        if (lossAt >= every) assert.ok(kept > 0);
      }
    }
  });

  it("copies at every wake while the buffer is flashFill percent full", () => {
    const host = fakeHost();
    const settings = { flashEvery: 0, flashFill: 1 };
    let writes = 0;
    const write = host.flash!.write.bind(host.flash);
    host.flash!.write = (key, data) => (writes++, write(key, data));
    let i = 0;
    for (; writes === 0; i++) wake(host, i, settings);
    const store = new RetainedStore(host, channels, config.sensors.length);
    assert.ok(store.state.buffer.bytesUsed * 100 >= store.state.buffer.capacity, "not before 1 %");
    for (let k = 0; k < 5; k++) wake(host, i + k, settings);
    assert.equal(writes, 6);
    wake(host, 0, { flashEvery: 0, flashFill: 0 });
    assert.equal(writes, 6, "off");
  });

  it("starts clean, counting a cold start, when neither memory nor flash holds a usable state", () => {
    const host = fakeHost();
    for (let i = 0; i < 3; i++) wake(host, i, { flashEvery: 1 });
    host.wipe(0xff);
    const image = new Uint8Array(host.flashed.get(FLASH_KEY)!);
    image[image.length - 1]! ^= 1;
    host.flashed.set(FLASH_KEY, image.buffer);
    const store = new RetainedStore(host, channels, config.sensors.length);
    assert.equal(store.state.counters.cold, 1);
    assert.equal(store.state.buffer.length, 0);
    assert.match(host.lines.join("\n"), /flash copy of the state corrupt[\s\S]*starting clean \(cold start counted\)/);
  });

  it("resets its wake count only after the copy is written, so a cut in between costs a copy, not a gap", () => {
    const host = fakeHost();
    const write = host.flash!.write.bind(host.flash);
    host.flash!.write = () => {
      throw new Error("power cut while writing flash");
    };
    for (let i = 0; i < 2; i++) wake(host, i, { flashEvery: 3 });
    assert.throws(() => wake(host, 2, { flashEvery: 3 }), /power cut/);
    host.flash!.write = write;
    const store = wake(host, 3, { flashEvery: 3 });
    assert.equal(store.state.sinceSpill, 0, "copied at the very next wake");
    assert.equal(new RetainedStore(host, channels, 1).state.buffer.length, 4);
  });
});
