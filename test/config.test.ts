import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ConfigError, defaults, parseConfig } from "../src/config";
import { repoRoot } from "../hosts/node/config-file";

describe("config", () => {
  it("fills every key from the defaults", () => {
    const config = parseConfig({});
    assert.deepEqual(config.broker, { secure: false, host: "127.0.0.1", port: 1883 });
    assert.equal(config.prefix, "torpor");
    assert.equal(config.mqttVersion, 4);
    assert.equal(config.sampleInterval, defaults.sampleInterval);
    assert.deepEqual(config.sensors, [{ type: "sht3x", id: "sht3x", address: 0x44, options: {} }]);
  });

  it("accepts mcconfig's command-line strings for numbers and JSON values", () => {
    const config = parseConfig({
      sampleInterval: "30",
      batchSize: "12",
      mqttVersion: "5",
      qos: "0",
      broker: "mqtts://broker.example.com",
      sensors: '[{"type":"sht3x","address":"69","id":"outdoor"}]',
    });
    assert.equal(config.sampleInterval, 30);
    assert.equal(config.batchSize, 12);
    assert.equal(config.mqttVersion, 5);
    assert.equal(config.qos, 0);
    assert.deepEqual(config.broker, { secure: true, host: "broker.example.com", port: 8883 });
    assert.deepEqual(config.sensors, [{ type: "sht3x", id: "outdoor", address: 69, options: {} }]);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["unknown key", { sampleIntervall: 60 }, /^config sampleIntervall: unknown key$/],
    ["non-integer", { batchSize: "ten" }, /^config batchSize: expected an integer, got "ten"$/],
    ["out of range", { sampleInterval: 0 }, /^config sampleInterval: 0 is out of range 1\.\.86400$/],
    ["bad broker URL", { broker: "http://x:1883" }, /^config broker: "http:\/\/x:1883" is not an mqtt/],
    ["bad port", { broker: "mqtt://x:70000" }, /^config broker: port 70000 is out of range/],
    ["MQTT version", { mqttVersion: 3 }, /^config mqttVersion: 3 is out of range 4\.\.5$/],
    ["format", { format: "xml" }, /^config format: "xml" is not one of "senml-json", "senml-cbor", "compact"$/],
    ["prefix wildcard", { prefix: "a/#" }, /^config prefix: "a\/#" is not a usable topic prefix/],
    ["node name", { node: "a b" }, /^config node: "a b" must be 1-64 letters/],
    ["sensors not a list", { sensors: "{}" }, /^config sensors: expected a list/],
    ["sensors bad JSON", { sensors: "[{" }, /^config sensors: expected JSON/],
    ["sensor without address", { sensors: [{ type: "sht3x" }] }, /^config sensors\[0\]: needs an "address"/],
    ["sensor address", { sensors: [{ type: "sht3x", address: 200 }] }, /^config sensors\[0\]\.address: 200 is out of range/],
    ["unknown sensor type", { sensors: [{ type: "dht22", pin: 4 }] }, /^config sensors\[0\]\.type: unknown sensor type "dht22" \(known: sht3x, sht4x, bme280, battery, contact\)$/],
    ["duplicate sensor id", { sensors: [{ type: "sht3x", address: 68 }, { type: "sht3x", address: 69 }] }, /^config sensors\[1\]: id "sht3x" is used twice/],
    ["i2c pins", { i2c: { data: "x", clock: 22 } }, /^config i2c\.data: expected an integer/],
  ];
  for (const [what, raw, message] of bad) {
    it(`rejects ${what} with an error naming the key`, () => {
      assert.throws(() => parseConfig(raw), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    });
  }

  it("takes the payload format as format or payloadFormat (mcconfig owns format)", () => {
    assert.equal(parseConfig({ payloadFormat: "senml-json" }).format, "senml-json");
    assert.throws(() => parseConfig({ payloadFormat: "xml" }), /config payloadFormat: "xml" is not one of "senml-json", "senml-cbor", "compact"$/);
    assert.throws(() => parseConfig({ payloadFormat: "senml-json", format: "RGB565LE" }), /config payloadFormat: conflicts with format "RGB565LE"/);
  });

  it("lets a host name keys it consumes itself", () => {
    assert.doesNotThrow(() => parseConfig({ wifiChannel: "6" }, ["wifiChannel"]));
  });

  it("takes thresholds by channel name, and the flash tier's settings", () => {
    const config = parseConfig({ thresholds: '{"sht3x/temperature": "0.5"}', flashEvery: "30", flashFill: 80 });
    assert.deepEqual(config.thresholds, { "sht3x/temperature": 0.5 });
    assert.equal(config.flashEvery, 30);
    assert.equal(config.flashFill, 80);
    assert.deepEqual(parseConfig({}).thresholds, {});
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ thresholds: { "sht3x/pressure": 1 } }, /^config thresholds\.sht3x\/pressure: no such channel \(channels: sht3x\/temperature, sht3x\/humidity\)$/],
      [{ thresholds: { "sht3x/humidity": 0 } }, /^config thresholds\.sht3x\/humidity: expected a positive number, got 0$/],
      [{ thresholds: "[1]" }, /^config thresholds: expected \{/],
      [{ flashEvery: -1 }, /^config flashEvery: -1 is out of range 0\.\.65535$/],
      [{ flashFill: 101 }, /^config flashFill: 101 is out of range 0\.\.100$/],
    ];
    for (const [raw, message] of bad) assert.throws(() => parseConfig(raw), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(raw));
  });

  it("parses the manifest's own config", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "manifest.json"), "utf8")) as { config: Record<string, unknown> };
    assert.doesNotThrow(() => parseConfig(manifest.config));
  });
});
