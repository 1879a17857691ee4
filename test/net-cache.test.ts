// The ESP32 host's 64 bytes of RTC memory (hosts/esp32/net-cache): what the last Wi-Fi connection
// learnt, and the counts of connections made straight to the remembered access point and of full
// scans after one failed, which the status reports as `network` and which a new network's
// channel and BSSID must not reset.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NetCache, parseMAC } from "../hosts/esp32/net-cache";

const AP = { channel: 6, bssid: "a4:cf:12:0b:ee:5f", syncedAt: 1_764_000_000 };

describe("the ESP32 network cache", () => {
  it("counts direct connections and fallback scans, and a new network's memory keeps the counts", () => {
    const cache = new NetCache(new Uint8Array(64));
    assert.deepEqual(cache.counters(), { direct: 0, fallbacks: 0 });
    cache.count("direct");
    cache.write("home", AP);
    cache.count("direct");
    cache.count("fallbacks");
    assert.deepEqual(cache.counters(), { direct: 2, fallbacks: 1 });
    assert.deepEqual(cache.read("home"), AP);
    cache.write("office", { channel: 11, bssid: "", syncedAt: AP.syncedAt });
    assert.deepEqual(cache.counters(), { direct: 2, fallbacks: 1 });
    assert.deepEqual(cache.read("home"), { channel: 0, bssid: "", syncedAt: AP.syncedAt }, "another SSID's channel and BSSID are not used");
  });

  it("trusts nothing from noise (RTC memory after a power-on) and counts from zero there", () => {
    const bytes = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 255);
    const cache = new NetCache(bytes);
    assert.deepEqual(cache.read("home"), { channel: 0, bssid: "", syncedAt: 0 });
    assert.deepEqual(cache.counters(), { direct: 0, fallbacks: 0 });
    cache.count("fallbacks");
    assert.deepEqual(cache.counters(), { direct: 0, fallbacks: 1 });
    bytes[21]! ^= 1;
    assert.deepEqual(cache.counters(), { direct: 0, fallbacks: 0 }, "a flipped counter bit fails the CRC");
  });

  it("reads a BSSID as the 6 bytes esp_wifi_set_config takes, and refuses what is not one", () => {
    assert.deepEqual(Array.from(parseMAC("A4:cf:12:0b:ee:5f")!), [0xa4, 0xcf, 0x12, 0x0b, 0xee, 0x5f]);
    assert.equal(parseMAC("a4:cf:12:0b:ee"), undefined);
    assert.equal(parseMAC(""), undefined);
  });
});
