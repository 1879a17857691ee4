// The Moddable targets. With $MODDABLE set (the SDK, its tools built): the builds a Moddable
// developer runs from the repository root, and a headless simulator run that must publish to
// mosquitto (tools/check-moddable runs the same checks). Without it they are skipped: CI has no SDK.
// The ESP32 host's logic that needs no SDK is tested here either way.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NetCache } from "../hosts/esp32/net-cache";
import { buildEsp32, buildSimulator, findSdk, simulatorPublishes, SKIP_MESSAGE } from "../tools/check-moddable";

const sdk = findSdk();

describe("Moddable SDK builds", { skip: sdk ? false : SKIP_MESSAGE }, () => {
  const minutes = (n: number) => ({ timeout: n * 60_000 });

  it("mcconfig -d -m -p lin -t build builds the simulator app", minutes(5), async () => {
    const r = await buildSimulator(sdk!, "debug");
    assert.ok(r.ok, r.detail);
  });

  it("mcconfig -m -p lin -t build builds the release simulator app", minutes(5), async () => {
    const r = await buildSimulator(sdk!, "release");
    assert.ok(r.ok, r.detail);
  });

  it("mcconfig -m -p esp32 gets through manifest, TypeScript, xsc and xsl", minutes(10), async () => {
    const r = await buildEsp32(sdk!, "esp32", "release");
    assert.ok(r.ok, r.detail);
  });

  it("mcconfig -d -m -p esp32/nodemcu gets as far too (a board target, debug)", minutes(10), async () => {
    const r = await buildEsp32(sdk!, "esp32/nodemcu", "debug");
    assert.ok(r.ok, r.detail);
  });

  it("the app in mcsim publishes SenML telemetry that a subscriber receives", minutes(3), async (t) => {
    const r = await simulatorPublishes(sdk!);
    if (r.skipped !== undefined) return t.skip(r.skipped);
    // ok means a subscriber resolved a SenML temperature in Cel from the node (tools/check-moddable).
    assert.ok(r.ok, r.detail);
  });
});

describe("ESP32 host: the network cache in RTC memory", () => {
  it("reads nothing from memory never written (ESP-IDF leaves RTC no-init memory as it finds it)", () => {
    const noise = Uint8Array.from({ length: 64 }, (_, i) => (i * 151 + 7) & 255);
    assert.deepEqual(new NetCache(noise).read("home"), { channel: 0, bssid: "", syncedAt: 0 });
    assert.deepEqual(new NetCache(new Uint8Array(64)).read("home"), { channel: 0, bssid: "", syncedAt: 0 });
  });

  it("keeps channel, BSSID and the last sync, for the SSID they were learnt on", () => {
    const bytes = new Uint8Array(64);
    new NetCache(bytes).write("home", { channel: 11, bssid: "a4:cf:12:0b:ee:5f", syncedAt: 1_790_000_000 });
    // A new object on the same bytes: what the next wake finds.
    assert.deepEqual(new NetCache(bytes).read("home"), { channel: 11, bssid: "a4:cf:12:0b:ee:5f", syncedAt: 1_790_000_000 });
    assert.deepEqual(new NetCache(bytes).read("office"), { channel: 0, bssid: "", syncedAt: 1_790_000_000 });
  });

  it("rejects a cache whose CRC fails, and one cut short", () => {
    const bytes = new Uint8Array(64);
    new NetCache(bytes).write("home", { channel: 6, bssid: "", syncedAt: 5 });
    bytes[8] = 7;
    assert.equal(new NetCache(bytes).read("home").channel, 0);
    assert.throws(() => new NetCache(new Uint8Array(32)), RangeError);
  });

  it("drops a BSSID it cannot store and a channel out of range", () => {
    const bytes = new Uint8Array(64);
    new NetCache(bytes).write("home", { channel: 99, bssid: "not a mac", syncedAt: 0 });
    assert.deepEqual(new NetCache(bytes).read("home"), { channel: 0, bssid: "", syncedAt: 0 });
  });

  it("works on a window into a larger region, as the host area is", () => {
    const region = new Uint8Array(7680 + 64);
    new NetCache(region.subarray(7680)).write("home", { channel: 1, bssid: "00:11:22:33:44:55", syncedAt: 9 });
    assert.equal(region.subarray(0, 7680).some((b) => b !== 0), false);
    assert.equal(new NetCache(region.subarray(7680)).read("home").bssid, "00:11:22:33:44:55");
  });
});
