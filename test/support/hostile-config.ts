// Config files as a careless or hostile operator writes them, for the property that whatever
// parseConfig accepts runs a wake (test/config-property.test.ts on Node, test/config-xs.test.ts on
// XS). Each is JSON text, as the Node host reads a --config file: only text can carry a "__proto__"
// key as a key, and a lone surrogate survives in it as an escape. A few of the real keys per file,
// each with a value that is valid about half the time, so that a good share of them is accepted.

import fc from "fast-check";

/** A JSON value; objects as key/value lists, so that any key (even "__proto__") stays a key. */
type Json = null | boolean | number | string | Json[] | { entries: [string, Json][] };

function jsonText(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`;
  if (value !== null && typeof value === "object") return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(",")}}`;
  // JSON.stringify writes a lone surrogate as \udXXX: the file stays UTF-8, the parsed string keeps it.
  return JSON.stringify(value);
}

const object = (entries: [string, Json][]): Json => ({ entries });

const prototypeKeys = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Strings that have broken something: controls, surrogates, non-characters, wildcards, prototype names. */
const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("", "x", "\u0000", "a\nb", "\r\n", "\u0085", "\u2028", "\ufffe", "\uffff", "\ud83f\udfff", "$SYS", "+", "#", "a/+/b", "/", "a//b", "é€😀", ...prototypeKeys),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom("a", "\u0001", "😀")), maxLength: 6 }),
  // Around MQTT's 65,535-byte limit, in 1- to 4-byte characters.
  fc.tuple(fc.constantFrom("a", "é", "€", "😀"), fc.constantFrom(32, 33, 64, 65, 1024, 1025, 65535, 65536)).map(([c, bytes]) => c.repeat(Math.ceil(bytes / new TextEncoder().encode(c).length))),
);

const hostileNumber = fc.oneof(fc.constantFrom(-1, 0, 0.5, 1e21, -0, 2 ** 31, Number.MAX_SAFE_INTEGER), fc.integer({ min: -10, max: 100_000 }));

/** Junk of any shape, a few levels deep. */
const junk: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    hostileNumber,
    hostileString,
    hostileNumber.map(String),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...prototypeKeys), hostileString), tie("value")), { maxLength: 3 }).map(object),
  ),
})).value;

/** Mostly `valid`, sometimes a number as a string, sometimes junk. */
function biased(valid: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  return fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: valid.map((v) => (typeof v === "number" ? String(v) : v)) }, { weight: 2, arbitrary: junk });
}

const ints = (...values: number[]) => fc.constantFrom(...values);

const goodSensor = fc.oneof(
  fc.constant(object([["type", "sht3x"], ["address", 0x44]])),
  fc.constant(object([["type", "sht4x"], ["address", 0x45], ["options", object([["serialNumber", true]])]])),
  fc.constant(object([["type", "bme280"], ["address", 0x76]])),
  fc.constant(object([["type", "battery"], ["pin", 34], ["options", object([["divider", 2]])]])),
  fc.constant(object([["type", "contact"], ["pin", 4], ["id", "door"]])),
);
const hostileSensor = fc.oneof(
  fc.constantFrom(...prototypeKeys, "dht22").map((type) => object([["type", type], ["pin", 5]])),
  fc.tuple(fc.constantFrom(...prototypeKeys), junk).map(([key, v]) => object([["type", "sht3x"], ["address", 0x44], [key, v]])),
  fc.tuple(fc.constantFrom(...prototypeKeys), junk).map(([key, v]) => object([["type", "battery"], ["pin", 34], ["options", object([[key, v]])]])),
  fc.tuple(hostileString, junk).map(([id, address]) => object([["type", "sht3x"], ["id", id], ["address", address]])),
);
const sensorList = fc.array(fc.oneof({ weight: 4, arbitrary: goodSensor }, { weight: 1, arbitrary: hostileSensor }), { minLength: 1, maxLength: 3 });

/** Each real key with values that pass and values that must not (broker: loopback only, see `broker`). */
function keyValues(broker: fc.Arbitrary<string>): fc.Arbitrary<[string, Json]> {
  const key = (name: string, value: fc.Arbitrary<Json>) => value.map((v): [string, Json] => [name, v]);
  const someString = fc.oneof({ weight: 2, arbitrary: fc.constantFrom("", "node-7", "s3cret", "user@site", "ünïcødé") }, { weight: 3, arbitrary: hostileString });
  return fc.oneof(
    key("node", biased(fc.constantFrom("n1", "garden.shed-2", "a".repeat(64)))),
    key("broker", fc.oneof({ weight: 4, arbitrary: broker }, { weight: 1, arbitrary: junk })),
    key("brokerUser", biased(someString)),
    key("brokerPassword", biased(someString)),
    key("prefix", biased(fc.oneof(fc.constantFrom("torpor", "site/a", "ü/€"), hostileString))),
    key("mqttVersion", biased(ints(4, 5))),
    key("qos", biased(ints(0, 1, 2))),
    key("format", biased(fc.constant("senml-json"))),
    key("payloadFormat", biased(fc.constant("senml-json"))),
    key("mode", biased(fc.constantFrom("deep-sleep", "always-connected"))),
    key("sampleInterval", biased(ints(1, 30, 60, 86400))),
    key("batchSize", biased(ints(1, 2, 1000))),
    key("maxLatency", biased(ints(0, 60, 7 * 86400))),
    // Short ones only: a wake may wait this long for a broker (the value's range has its own test).
    key("awakeTimeout", biased(ints(1, 2))),
    key("sessionPeriods", biased(ints(1, 1000))),
    key("thresholds", biased(fc.constantFrom(object([["sht3x/temperature", 0.5]]), object([["sht3x/humidity", "2"]]), object([])))),
    key("flashEvery", biased(ints(0, 1, 65535))),
    key("flashFill", biased(ints(0, 50, 100))),
    key("maxInflight", biased(ints(1, 16))),
    key("maxPacketSize", biased(ints(0, 128, 4096, 268435460))),
    key("minSampleInterval", biased(ints(1, 86400))),
    key("minBatchSize", biased(ints(1, 1000))),
    key("awakeBudget", biased(ints(0, 900, 86400))),
    key("sensors", fc.oneof({ weight: 4, arbitrary: sensorList }, { weight: 1, arbitrary: sensorList.map((list) => jsonText(list)) }, { weight: 1, arbitrary: junk })),
    key("i2c", biased(fc.constant(object([["data", 21], ["clock", 22], ["hz", 400000]])))),
    key("tlsCa", biased(fc.constantFrom("", "/nonexistent/ca.pem", "-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n"))),
    key("tlsCert", biased(fc.constantFrom("", "/nonexistent/cert.pem"))),
    key("tlsKey", biased(fc.constantFrom("", "/nonexistent/key.pem"))),
    key("ssid", biased(someString)),
    key("password", biased(someString)),
    key("sim", biased(fc.constantFrom(object([["faults", object([["sht3x@68", "absent"]])]]), object([["faults", object([["sht3x@0x44", "intermittent:2"]])]]), object([])))),
    // Keys that are no config key, with values that would be read as config if they were applied.
    fc.tuple(fc.constantFrom(...prototypeKeys, "sampleIntervall"), fc.oneof(junk, fc.constant(object([["brokerPassword", "x"], ["prefix", "evil"]])))),
  );
}

/**
 * JSON texts of config files. `broker` gives the broker URLs to use: every one must be loopback
 * (or, on XS, fake), since an accepted config's wake connects to it.
 */
export function hostileConfigText(broker: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.array(keyValues(broker), { maxLength: 5 }).map((entries) => jsonText(object(entries)));
}
