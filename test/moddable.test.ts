// The Moddable targets. With $MODDABLE set (the SDK, its tools built): the builds a Moddable
// developer runs from the repository root, and a headless simulator run that must publish to
// mosquitto (tools/check-moddable runs the same checks). Without it they are skipped: CI has no SDK.
// The ESP32 host's logic that needs no SDK is tested here either way.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { NetCache } from "../hosts/esp32/net-cache";
import { acceptedKeys, BOARD_KEYS_END } from "../hosts/esp32/sdk-config";
import { ConfigError, parseConfig } from "../src/config";
import { boardConfigBoots, buildEsp32, buildSimulator, findSdk, memoryLimits, removeOutput, simulatorFitsMemory, simulatorPublishes, SKIP_MESSAGE } from "../tools/check-moddable";

const sdk = findSdk();

describe("Moddable SDK builds", { skip: sdk ? false : SKIP_MESSAGE }, () => {
  const minutes = (n: number) => ({ timeout: n * 60_000 });
  // Every build goes to a private folder (mcconfig -o), not the developer's $MODDABLE/build.
  after(() => removeOutput(sdk!));

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

  for (const board of ["moddable_two", "wt32_eth01"]) {
    it(`esp32/${board}'s own config keys pass the host's check at boot, a misspelt one does not`, minutes(2), async () => {
      const r = await boardConfigBoots(sdk!, board);
      assert.ok(r.ok, r.detail);
    });
  }

  it("the app in mcsim wakes and publishes a batch of 60 within 75 % of the S3/C6 fixed heap", minutes(5), async (t) => {
    const r = await simulatorFitsMemory(sdk!, memoryLimits[0]!);
    if (r.skipped !== undefined) return t.skip(r.skipped);
    assert.ok(r.ok, r.detail);
  });

  it("the app in mcsim publishes SenML telemetry that a subscriber receives", minutes(3), async (t) => {
    const r = await simulatorPublishes(sdk!);
    if (r.skipped !== undefined) return t.skip(r.skipped);
    // ok means a subscriber resolved a SenML temperature in Cel from the node (tools/check-moddable).
    assert.ok(r.ok, r.detail);
  });
});

describe("ESP32 host: config keys a board target defines", () => {
  // mc/config as mcconfig 8.2 writes it for `-p esp32/moddable_two ssid=…` (and wt32_eth01 below):
  // the SDK's and the board's keys, hosts/esp32's marker, the app manifest's, the command line's,
  // then mcconfig's rotation. Screen and Touch are the driver classes mcconfig imports.
  class Screen {}
  class Touch {}
  const sdk = { Screen, Touch, format: "RGB565BE", backlight: 18, sntp: "pool.ntp.org", tls: { DHE_RSA: true, ECDHE_RSA: true } };
  const app = { node: "", broker: "mqtt://127.0.0.1:1883", sampleInterval: 60, batchSize: 5, sensors: [{ type: "sht3x", address: 68 }] };
  const mcConfig = (board: Record<string, unknown>, commandLine: Record<string, unknown> = {}) => ({
    ...board,
    [BOARD_KEYS_END]: "…",
    ...app,
    ...commandLine,
    rotation: 0,
  });
  /** What main.ts does with it on the ESP32. */
  const boot = (config: Record<string, unknown>) => {
    const { format: _pixels, ...raw } = config;
    return parseConfig(raw, acceptedKeys(config));
  };

  it("accepts moddable_two's Touch and Screen, and wt32_eth01's ethernet", () => {
    assert.equal(boot(mcConfig(sdk, { ssid: "home" })).ssid, "home");
    assert.equal(boot(mcConfig({ ethernet: true, sntp: "pool.ntp.org" }, { ssid: "home", batchSize: "12" })).batchSize, 12);
  });

  it("still rejects a misspelt key from the command line or the app's manifest, naming it", () => {
    assert.throws(() => boot(mcConfig(sdk, { batchsize: "12" })), (e: unknown) => e instanceof ConfigError && e.message.includes("batchsize") && e.message.includes("unknown key"));
    assert.throws(() => boot({ ...mcConfig(sdk), sampelInterval: 30 }), /sampelInterval: unknown key/);
  });

  it("still validates torpor's own keys where a board sets them (m5nanoc6's i2c)", () => {
    assert.throws(() => boot(mcConfig({ i2c: { sda_pin: 2, scl_pin: 1 } })), /i2c/);
  });

  it("accepts only mcconfig's and the host's keys when the marker is missing", () => {
    assert.deepEqual(acceptedKeys({ Touch, node: "" }), ["format", "rotation", "staticIP"]);
    assert.throws(() => boot({ Touch, ...app }), /Touch: unknown key/);
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
