import assert from "node:assert/strict";
import * as vm from "node:vm";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { ConfigError, defaults, parseConfig } from "../src/config";
import { repoRoot } from "../hosts/node/config-file";
import { topics } from "../src/uplink/topics";

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

describe("config that validates, runs", () => {
  const rejects = (raw: Record<string, unknown>, key: string, message: RegExp) =>
    assert.throws(
      () => parseConfig(raw),
      (e: unknown) => e instanceof ConfigError && e.key === key && message.test(e.message),
      `${JSON.stringify(raw).slice(0, 80)} → ${key}`,
    );
  const bytes = (s: string) => Buffer.byteLength(s, "utf8");

  it("refuses a password without a user name, whatever mqttVersion says (3.1.1 forbids it; 5 falls back to 3.1.1)", () => {
    for (const mqttVersion of [4, 5]) rejects({ brokerPassword: "s3cret", mqttVersion }, "brokerPassword", /needs a brokerUser/);
    assert.equal(parseConfig({ brokerUser: "node", brokerPassword: "s3cret" }).brokerPassword, "s3cret");
    assert.equal(parseConfig({ brokerUser: "node" }).brokerPassword, "");
  });

  it("keeps the user name and password within MQTT's 65,535 bytes of UTF-8, not characters", () => {
    const atLimit = "é".repeat(32767) + "a";
    assert.equal(bytes(atLimit), 65535);
    assert.equal(parseConfig({ brokerUser: atLimit, brokerPassword: atLimit }).brokerUser, atLimit);
    rejects({ brokerUser: "é".repeat(32768) }, "brokerUser", /is 65536 bytes of UTF-8; at most 65535 fit$/);
    rejects({ brokerUser: "u", brokerPassword: "€".repeat(21846) }, "brokerPassword", /is 65538 bytes of UTF-8; at most 65535 fit$/);
  });

  it("keeps the prefix to 1 KB of UTF-8, so that the node's topics fit what it sends and what it takes", () => {
    const longest = "ü".repeat(512);
    const config = parseConfig({ prefix: longest, node: "n".repeat(64) });
    assert.equal(bytes(config.prefix), 1024);
    for (const topic of Object.values(topics(config, config.node))) assert.ok(bytes(topic) <= 1024 + 75, `${bytes(topic)} bytes`);
    rejects({ prefix: `${longest}a` }, "prefix", /is 1025 bytes of UTF-8; at most 1024 fit$/);
    rejects({ prefix: "a".repeat(65460) }, "prefix", /is 65460 bytes/);
  });

  it("refuses what MQTT bans from strings in the user name and the prefix, and takes the rest of Unicode", () => {
    const banned: [string, string][] = [["\u0000", "0000"], ["\u0001", "0001"], ["\u001f", "001F"], ["\u007f", "007F"], ["\u009f", "009F"], ["\ufdd0", "FDD0"], ["\uffff", "FFFF"], ["\ud83f\udffe", "1FFFE"]];
    for (const [c, code] of banned) {
      const message = new RegExp(`has U\\+${code} at index 1: MQTT strings may not carry control characters or non-characters$`);
      rejects({ brokerUser: `a${c}b` }, "brokerUser", message);
      rejects({ prefix: `a${c}b` }, "prefix", message);
    }
    const unicode = "ünï/cødé €😀 \u00a0";
    assert.equal(parseConfig({ prefix: unicode, brokerUser: unicode }).prefix, unicode);
    // The password is binary data: any bytes.
    assert.equal(parseConfig({ brokerUser: "u", brokerPassword: "\u0000\u0001\uffff" }).brokerPassword, "\u0000\u0001\uffff");
  });

  it("refuses a prefix that is no place to publish", () => {
    for (const prefix of ["", "a/+", "#", "/a", "a/", "$SYS", "$share/x"]) rejects({ prefix }, "prefix", /is not a usable topic prefix/);
    assert.equal(parseConfig({ prefix: "site/a$b" }).prefix, "site/a$b");
  });

  it("refuses a lone surrogate in every string key, naming the key", () => {
    const keys = ["node", "broker", "brokerUser", "brokerPassword", "prefix", "format", "mode", "tlsCa", "tlsCert", "tlsKey", "ssid", "password"];
    for (const key of keys) {
      for (const s of ["a\ud800", "\udc00b", "x\udbff\udbffy"]) {
        assert.throws(() => parseConfig({ brokerUser: "u", [key]: s }), (e: unknown) => e instanceof ConfigError && e.key === key, `${key}: ${JSON.stringify(s)}`);
      }
    }
    rejects({ tlsCa: "-----BEGIN \ud800" }, "tlsCa", /^config tlsCa: is not well-formed Unicode \(utf8: lone surrogate U\+D800 at index 11\)$/);
    assert.equal(parseConfig({ ssid: "caf\u00e9 \ud83d\ude00" }).ssid, "caf\u00e9 \ud83d\ude00");
  });

  it("keeps the Wi-Fi SSID to 32 bytes and its password to 64 (IEEE 802.11, WPA2)", () => {
    assert.equal(parseConfig({ ssid: "s".repeat(32), password: "p".repeat(64) }).ssid.length, 32);
    rejects({ ssid: "é".repeat(17) }, "ssid", /is 34 bytes of UTF-8; at most 32 fit$/);
    rejects({ password: "p".repeat(65) }, "password", /is 65 bytes of UTF-8; at most 64 fit$/);
  });

  it("never echoes a secret, whatever its type", () => {
    const secrets: [string, unknown, string][] = [
      ["brokerPassword", 1234, "a number"], ["brokerPassword", true, "a boolean"], ["brokerPassword", ["hunter2"], "a list"], ["brokerPassword", { p: "hunter2" }, "an object"],
      ["password", 5678, "a number"], ["tlsKey", 42, "a number"], ["tlsKey", null, "null"],
    ];
    for (const [key, value, kind] of secrets) {
      assert.throws(() => parseConfig({ [key]: value }), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.message, `config ${key}: expected a string, got ${kind}`);
        return true;
      });
    }
    for (const key of ["brokerPassword", "password", "tlsKey"]) {
      assert.throws(() => parseConfig({ brokerUser: "u", [key]: "hunter2\ud800" }), (e: unknown) => e instanceof ConfigError && !e.message.includes("hunter2"));
    }
    // Other values are echoed, as a hint.
    rejects({ brokerUser: 1234 }, "brokerUser", /expected a string, got 1234$/);
  });

  it("keeps every error on one line, escaping control characters, and short", () => {
    const cases: Record<string, unknown>[] = [
      { "evil\nkey": 1 }, { "a\u2028b": 1 }, { "\u001b[31mred": 1 }, { prefix: "a\n#" }, { node: "a\r\nb" }, { broker: "mqtt://x\n" },
      { mode: "\u0085" }, { sensors: [{ type: "sht3x", address: 68, id: "a\nb" }] }, { thresholds: { "x\ny": 1 } }, { "\ud800": 1 },
      { ["k".repeat(100000)]: 1 }, { sensors: [{ type: "bme280", address: 0x76, options: { oversampling: { pressure: "x".repeat(100000) } } }] },
    ];
    for (const raw of cases) {
      assert.throws(() => parseConfig(raw), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.doesNotMatch(e.message, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
        assert.doesNotMatch(e.message, /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
        assert.ok(e.message.length <= 401, `${e.message.length} characters`);
        return true;
      });
    }
    assert.throws(() => parseConfig({ "evil\nkey": 1 }), { message: "config evil\\u000akey: unknown key" });
    // Cut where an escape would cross the limit, never inside one or inside a surrogate pair.
    for (const filler of ["\n", "😀"]) {
      assert.throws(() => parseConfig({ [filler.repeat(200)]: 1 }), (e: unknown) => e instanceof ConfigError && e.message.length <= 401 && /^config (\\u000a|😀)+…$/.test(e.message));
    }
  });

  it("reads own keys only: names from Object.prototype are plain unknown keys, never inherited values", () => {
    for (const key of ["constructor", "toString", "hasOwnProperty", "__proto__", "valueOf"]) {
      rejects(JSON.parse(`{${JSON.stringify(key)}: 1}`) as Record<string, unknown>, key, /^config \S+: unknown key$/);
      rejects({ i2c: JSON.parse(`{"data": 21, "clock": 22, ${JSON.stringify(key)}: 1}`) as unknown }, `i2c.${key}`, /unknown key \(known: data, clock, hz\)$/);
      rejects({ thresholds: `{${JSON.stringify(key)}: 1}` }, `thresholds.${key}`, /no such channel/);
    }
    assert.deepEqual(Object.keys(Object.prototype), []);
  });

  it("refuses a __proto__ that replaced a prototype rather than read through it (Object.assign, object literals)", () => {
    // What layering a --config file over the manifest does with a "__proto__" key: the copy's
    // prototype becomes the value, and its keys would pass the unknown-key check unseen.
    const layered = Object.assign({}, { batchSize: 1 }, JSON.parse('{"__proto__": {"brokerUser": "u", "brokerPassword": "p", "prefix": "evil"}}') as object) as Record<string, unknown>;
    assert.equal(layered.prefix, "evil");
    rejects(layered, "__proto__", /^config __proto__: is not a config key: it replaced the object's prototype; remove it$/);
    rejects({ sensors: [{ type: "sht3x", address: 0x44, options: { __proto__: { repeatability: "low" } } }] }, "sensors[0].options.__proto__", /replaced the object's prototype/);
    rejects({ i2c: { __proto__: { data: 1, clock: 2 } } }, "i2c.__proto__", /replaced the object's prototype/);
    rejects({ sim: { faults: { __proto__: { "sht3x@68": "absent" } } } }, "sim.faults.__proto__", /replaced the object's prototype/);
    const list: unknown[] = [{ type: "sht3x", address: 0x44 }];
    Object.setPrototypeOf(list, { length: 0 });
    rejects({ sensors: list }, "sensors.__proto__", /replaced the object's prototype/);
    // A prototype-less object (Object.create(null)) has nothing to inherit, and is fine.
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { batchSize: 2 });
    assert.equal(parseConfig(bare).batchSize, 2);
    // Plain objects and arrays of another realm (check:moddable evaluates a build's mc/config in one).
    const foreign = vm.runInNewContext('({ batchSize: 3, sensors: [{ type: "sht3x", address: 68, options: {} }], sim: { faults: {} } })') as Record<string, unknown>;
    assert.equal(parseConfig(foreign).batchSize, 3);
  });

  it("refuses junk nested deeper than any key's schema", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = { x: deep };
    assert.throws(() => parseConfig({ sim: deep }), (e: unknown) => e instanceof ConfigError && /is nested more than 16 levels deep$/.test(e.message));
    // As JSON text too (mcconfig's command line), measured before JSON.parse, which would recurse.
    for (const key of ["sensors", "thresholds", "i2c"]) {
      rejects({ [key]: "[".repeat(100_000) }, key, /^config \w+: is nested more than 16 levels deep$/);
    }
    assert.equal(parseConfig({ sensors: `[{"type":"sht3x","address":68}]`, thresholds: `{"sht3x/temperature": 1}` }).sensors.length, 1);
    // Brackets inside a string (an escaped quote too) are no nesting: the id is judged, not the depth.
    rejects({ sensors: `[{"type":"sht3x","address":68,"id":"${"[{".repeat(20)}\\"${"[".repeat(20)}"}]` }, "sensors[0].id", /must be 1-64 letters/);
  });

  it("validates the publisher's limits, the command floors and the awake budget, as strings too", () => {
    const config = parseConfig({ maxInflight: "16", maxPacketSize: "128", minSampleInterval: 30, minBatchSize: "5", awakeBudget: 0 });
    assert.deepEqual(
      [config.maxInflight, config.maxPacketSize, config.minSampleInterval, config.minBatchSize, config.awakeBudget],
      [16, 128, 30, 5, 0],
    );
    const d = parseConfig({});
    assert.deepEqual([d.maxInflight, d.maxPacketSize, d.minSampleInterval, d.minBatchSize, d.awakeBudget], [8, 0, 10, 1, 900]);
    assert.equal(parseConfig({ maxPacketSize: 268435460 }).maxPacketSize, 268435460);
    rejects({ maxInflight: 0 }, "maxInflight", /0 is out of range 1\.\.16$/);
    rejects({ maxInflight: 17 }, "maxInflight", /17 is out of range 1\.\.16$/);
    rejects({ maxInflight: 2.5 }, "maxInflight", /expected an integer, got 2\.5$/);
    rejects({ maxPacketSize: 127 }, "maxPacketSize", /127 is too small: 0 \(no limit known\) or 128\.\.268435460$/);
    rejects({ maxPacketSize: 268435461 }, "maxPacketSize", /out of range 0\.\.268435460$/);
    rejects({ maxPacketSize: "4k" }, "maxPacketSize", /expected an integer, got "4k"$/);
    rejects({ minSampleInterval: 0 }, "minSampleInterval", /0 is out of range 1\.\.86400$/);
    rejects({ minSampleInterval: 86401 }, "minSampleInterval", /out of range 1\.\.86400$/);
    rejects({ minBatchSize: 0 }, "minBatchSize", /0 is out of range 1\.\.1000$/);
    rejects({ minBatchSize: 1001 }, "minBatchSize", /out of range 1\.\.1000$/);
    rejects({ awakeBudget: -1 }, "awakeBudget", /-1 is out of range 0\.\.86400$/);
    rejects({ awakeBudget: 86401 }, "awakeBudget", /out of range 0\.\.86400$/);
    rejects({ awakeBudget: null }, "awakeBudget", /expected an integer, got null$/);
  });
});
