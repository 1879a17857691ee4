// The node's configuration: defaults, parsing and validation. mcconfig passes command-line values
// (`mcconfig … broker=mqtt://10.0.0.2:1883 batchSize=12`) as strings, and manifest values as JSON, so
// every key accepts both; anything wrong is a ConfigError naming the key, thrown at boot, before the
// node touches a bus or the radio.

import { ConfigError } from "./config-error";
import { describe, integer, isRecord, knownKeysOf, mqttText, oneOf, own, plainTree, type Raw, sized, structured, text } from "./config-values";
import { utf8Length } from "./encoding/utf8";
import { IN_FLIGHT_TABLE_SIZE } from "./mqtt/session";
import { channelsOf, checkSensors, type SensorConfig } from "./sensors/registry";
import { KEY_PREFIX, parseUpdateKey } from "./update/key";
import { MAX_CHUNK_BYTES } from "./update/offer";

export type PayloadFormat = "senml-json" | "senml-cbor" | "compact";

/** deep-sleep: one short connection per publish, deep sleep between wakes. always-connected: the
 *  connection stays open and the node naps (light sleep) between samples. */
export type PowerMode = "deep-sleep" | "always-connected";

export interface BrokerAddress {
  secure: boolean;
  host: string;
  port: number;
}

export interface Config {
  node: string;
  /** The first of `brokers`: the one a connection dials unless the node fails over (`connect`). */
  broker: BrokerAddress;
  /** Every broker the node may use, in the order it tries them: members of one cluster. */
  brokers: BrokerAddress[];
  brokerUser: string;
  brokerPassword: string;
  prefix: string;
  mqttVersion: 4 | 5;
  qos: 0 | 1 | 2;
  format: PayloadFormat;
  mode: PowerMode;
  /** Seconds between samples; wakes are aligned to this grid. */
  sampleInterval: number;
  /** Samples per publish (one sample is every channel read at one wake). */
  batchSize: number;
  /** Seconds the oldest unpublished sample may wait before a publish is forced. */
  maxLatency: number;
  /** Seconds the node may stay awake waiting for the network, the broker and its acknowledgements. */
  awakeTimeout: number;
  /** MQTT 5 session expiry and Will Delay, in sleep periods (publish intervals). */
  sessionPeriods: number;
  /** Per channel name, a change (in the channel's unit) since the last published value that
   *  publishes at once, e.g. {"sht3x/temperature": 0.5}. */
  thresholds: Record<string, number>;
  /** Copy the retained state to flash every this many wakes (0: never), so a real power loss loses
   *  at most that many wakes' readings (docs/power.md has the flash-wear arithmetic). */
  flashEvery: number;
  /** Also copy it at every wake while the reading buffer is at least this full, in percent (0: off). */
  flashFill: number;
  /** QoS 1/2 messages in flight at once where the broker does not announce a Receive Maximum
   *  (MQTT 3.1.1 brokers cannot): more saves round trips on a backlog, but a broker configured below
   *  it (mosquitto's max_inflight_messages) may drop the excess silently. */
  maxInflight: number;
  /** The broker's largest accepted packet, bytes, where it does not announce one (0: no limit known);
   *  over MQTT 5 the smaller of this and the broker's Maximum Packet Size applies. */
  maxPacketSize: number;
  /** The shortest sampling interval, seconds, and the smallest batch a remote "set" command may set. */
  minSampleInterval: number;
  minBatchSize: number;
  /** Seconds per day that "awake" commands may keep the node connected, all wakes together. */
  awakeBudget: number;
  /** The status goes out when what it says changes, and at least this often, seconds (0: at every
   *  connected wake). */
  statusEvery: number;
  sensors: SensorConfig[];
  i2c: { data: number; clock: number; hz: number } | undefined;
  /** Broker CA, client certificate and key for mqtts://: what they name is the host's business
   *  (a PEM file path or PEM text on the Node host, a resource name on a device). */
  tlsCa: string;
  tlsCert: string;
  tlsKey: string;
  ssid: string;
  password: string;
  /** The secret commands must be signed with (HMAC-SHA-256, docs/security.md), as text; "" for
   *  none: the node then obeys whoever the broker lets publish on its command topic. */
  commandKey: string;
  /** A second key also accepted while keys are being rotated ("" for none). */
  commandKeyNext: string;
  /** The secret telemetry is tagged with (telemetry-tag.ts), as text; "" for untagged telemetry. */
  telemetryKey: string;
  /** The secret telemetry is encrypted under (payload-seal.ts), as text; "" for readable telemetry. */
  payloadKey: string;
  /** Home Assistant MQTT discovery (`discoveryMessages`): the discovery prefix, or undefined for off. */
  homeAssistant: HomeAssistant | undefined;
  /** The operator's update key (update.pub's line; "": the node takes no update) and the update's
   *  budgets: chunk bytes per wake and per day, seconds per wake; boots a new image may take to
   *  complete a publishing wake before the host rolls back (docs/updates.md). */
  updateKey: string;
  updateBytesPerWake: number;
  updateBytesPerDay: number;
  updateSecondsPerWake: number;
  updateTries: number;
}

export interface HomeAssistant {
  /** Home Assistant's discovery prefix: its MQTT integration's setting, `homeassistant` unless changed. */
  prefix: string;
}

export { ConfigError };

export const defaults = {
  node: "",
  broker: "mqtt://127.0.0.1:1883",
  brokerUser: "",
  brokerPassword: "",
  prefix: "torpor",
  mqttVersion: 4,
  qos: 1,
  format: "senml-json",
  mode: "deep-sleep",
  sampleInterval: 60,
  batchSize: 5,
  maxLatency: 900,
  awakeTimeout: 10,
  sessionPeriods: 4,
  thresholds: {},
  flashEvery: 60,
  flashFill: 0,
  maxInflight: 8,
  maxPacketSize: 0,
  minSampleInterval: 10,
  minBatchSize: 1,
  awakeBudget: 900,
  statusEvery: 3600,
  sensors: [{ type: "sht3x", address: 0x44 }],
  i2c: undefined,
  tlsCa: "",
  tlsCert: "",
  tlsKey: "",
  ssid: "",
  password: "",
  commandKey: "",
  commandKeyNext: "",
  telemetryKey: "",
  payloadKey: "",
  homeAssistant: false,
  updateKey: "",
  updateBytesPerWake: 16384,
  updateBytesPerDay: 262144,
  updateSecondsPerWake: 5,
  updateTries: 3,
} as const;

const knownKeys = new Set<string>([...Object.keys(defaults), "sim", "payloadFormat"]);

/** MQTT's UTF-8 strings and binary data carry a two-byte length (3.1.1 §1.5.3, 5.0 §1.5.4, §1.5.6). */
const MQTT_STRING_BYTES = 65535;

/** The longest node id: the `node` key's own limit, which host ids keep to as well. */
const NODE_ID_CHARS = 64;

/**
 * The prefix's limit. MQTT alone would allow 65,460 bytes (`<prefix>/<node>/telemetry`, the longest
 * topic, within 65,535), but the node must also take PUBLISHes on its own `<prefix>/<node>/cmd`,
 * and it accepts packets of 4 KB at most (`MAXIMUM_PACKET_SIZE`): with a longer prefix its commands (and the
 * marker that ends each wake) could never arrive, and every wake would fail. 1 KB leaves a command
 * about 3 KB.
 */
const PREFIX_BYTES = 1024;

/** IEEE 802.11: an SSID is 0-32 octets; WPA2: a passphrase of 8-63 characters or 64 hex digits. */
const SSID_BYTES = 32;
const WIFI_PASSWORD_BYTES = 64;

/**
 * Builds a validated Config from raw values (manifest config, command line, a JSON file), with
 * `defaults` filling the gaps. Keys it does not know are errors too: a misspelt key that silently
 * keeps its default is the worst kind of config bug on a device you cannot see.
 * `hostKeys` are keys a host consumes itself (Moddable's own build keys, for instance).
 */
export function parseConfig(raw: Raw, hostKeys: readonly string[] = []): Config {
  plainTree("", raw, 0);
  for (const key of Object.keys(raw)) {
    if (!knownKeys.has(key) && !hostKeys.includes(key)) throw new ConfigError(key, "unknown key");
  }
  const get = (key: keyof typeof defaults): unknown => {
    const value = own(raw, key);
    return value === undefined ? defaults[key] : value;
  };
  const brokerUser = mqttText("brokerUser", get("brokerUser"), MQTT_STRING_BYTES);
  const brokers = brokerList("broker", get("broker"));
  const config: Config = {
    node: name("node", get("node"), true),
    broker: brokers[0]!,
    brokers,
    brokerUser,
    brokerPassword: brokerPassword("brokerPassword", get("brokerPassword"), brokerUser),
    prefix: topicLevel("prefix", get("prefix")),
    mqttVersion: oneOf("mqttVersion", integer("mqttVersion", get("mqttVersion"), 4, 5), [4, 5] as const),
    qos: oneOf("qos", integer("qos", get("qos"), 0, 2), [0, 1, 2] as const),
    format: payloadFormat(raw, get("format")),
    mode: oneOf("mode", text("mode", get("mode")), ["deep-sleep", "always-connected"] as const),
    sampleInterval: integer("sampleInterval", get("sampleInterval"), 1, 86400),
    batchSize: integer("batchSize", get("batchSize"), 1, 1000),
    maxLatency: integer("maxLatency", get("maxLatency"), 0, 7 * 86400),
    awakeTimeout: integer("awakeTimeout", get("awakeTimeout"), 1, 600),
    sessionPeriods: integer("sessionPeriods", get("sessionPeriods"), 1, 1000),
    thresholds: {},
    flashEvery: integer("flashEvery", get("flashEvery"), 0, 65535),
    flashFill: integer("flashFill", get("flashFill"), 0, 100),
    maxInflight: integer("maxInflight", get("maxInflight"), 1, IN_FLIGHT_TABLE_SIZE),
    maxPacketSize: packetLimit("maxPacketSize", get("maxPacketSize")),
    minSampleInterval: integer("minSampleInterval", get("minSampleInterval"), 1, 86400),
    minBatchSize: integer("minBatchSize", get("minBatchSize"), 1, 1000),
    awakeBudget: integer("awakeBudget", get("awakeBudget"), 0, 86400),
    statusEvery: integer("statusEvery", get("statusEvery"), 0, 7 * 86400),
    sensors: checkSensors(sensors("sensors", get("sensors"))),
    i2c: own(raw, "i2c") === undefined ? undefined : bus("i2c", own(raw, "i2c")),
    tlsCa: text("tlsCa", get("tlsCa")),
    tlsCert: text("tlsCert", get("tlsCert")),
    tlsKey: text("tlsKey", get("tlsKey")),
    ssid: sized("ssid", text("ssid", get("ssid")), SSID_BYTES),
    password: sized("password", text("password", get("password")), WIFI_PASSWORD_BYTES),
    commandKey: secretKey("commandKey", get("commandKey")),
    commandKeyNext: secretKey("commandKeyNext", get("commandKeyNext")),
    telemetryKey: secretKey("telemetryKey", get("telemetryKey")),
    payloadKey: secretKey("payloadKey", get("payloadKey")),
    homeAssistant: homeAssistant("homeAssistant", get("homeAssistant")),
    updateKey: updateKey("updateKey", get("updateKey")),
    updateBytesPerWake: integer("updateBytesPerWake", get("updateBytesPerWake"), MAX_CHUNK_BYTES, 16 * 1024 * 1024),
    updateBytesPerDay: integer("updateBytesPerDay", get("updateBytesPerDay"), MAX_CHUNK_BYTES, 256 * 1024 * 1024),
    updateSecondsPerWake: integer("updateSecondsPerWake", get("updateSecondsPerWake"), 1, 600),
    updateTries: integer("updateTries", get("updateTries"), 1, 100),
  };
  if (config.commandKeyNext !== "" && config.commandKey === "") throw new ConfigError("commandKeyNext", "needs a commandKey: it is the second key of a rotation, not a key of its own");
  if (config.payloadKey !== "" && config.homeAssistant) throw new ConfigError("payloadKey", "cannot go with homeAssistant: its latest values would go out unencrypted");
  config.thresholds = thresholds("thresholds", get("thresholds"), channelsOf(config.sensors).map((c) => c.name));
  return config;
}

/**
 * The payload format is `format` (the name the docs use) or `payloadFormat`: mcconfig owns `format`
 * for the display's pixel format, so Moddable builds must use `payloadFormat`.
 */
function payloadFormat(raw: Raw, format: unknown): PayloadFormat {
  const formats = ["senml-json", "senml-cbor", "compact"] as const;
  const payload = own(raw, "payloadFormat");
  if (payload === undefined) return oneOf("format", text("format", format), formats);
  const value = oneOf("payloadFormat", text("payloadFormat", payload), formats);
  const given = own(raw, "format");
  if (given !== undefined && given !== value) throw new ConfigError("payloadFormat", `conflicts with format ${describe(given)}; set one of them`);
  return value;
}

/** update.pub's one line, or "" for no updates. */
function updateKey(key: string, value: unknown): string {
  const line = text(key, value).trim();
  if (line !== "" && !parseUpdateKey(line)) throw new ConfigError(key, `expected the one line of update.pub ("${KEY_PREFIX}" and 130 hex digits), or "" for no updates`);
  return line;
}






/**
 * MQTT's password is binary data (any bytes, at most 65,535 of them). MQTT 3.1.1 forbids it without
 * a user name (MQTT-3.1.2-22); MQTT 5 allows that, but a node set to 5 falls back to 3.1.1 for good
 * when a broker refuses 5, and every CONNECT would then be one it must not send. So a password
 * always needs a user name, whatever `mqttVersion` says.
 */
function brokerPassword(key: string, value: unknown, user: string): string {
  const s = sized(key, text(key, value), MQTT_STRING_BYTES);
  if (s !== "" && user === "") {
    throw new ConfigError(key, "needs a brokerUser: MQTT 3.1.1 allows no password without a user name, and a node set to mqttVersion 5 falls back to 3.1.1 when a broker refuses 5");
  }
  return s;
}

function name(key: string, value: unknown, emptyOk = false): string {
  const s = text(key, value);
  if (s === "" && emptyOk) return s;
  // Names end up in topics and SenML names: keep to characters both allow (RFC 8428 §4.5.1).
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s)) {
    throw new ConfigError(key, `${describe(s)} must be 1-${NODE_ID_CHARS} letters, digits, '-', '_' or '.', starting with a letter or digit`);
  }
  return s;
}

/** A shared secret's shortest and longest text: shorter is guessable offline from one signed
 *  message; longer than SHA-256's block is hashed down to 32 bytes anyway (RFC 2104 §2). */
const SECRET_MIN_BYTES = 16;
const SECRET_MAX_BYTES = 64;

/** A key as text ("" for none); its errors say how long it is, never what it says. */
function secretKey(key: string, value: unknown): string {
  const s = text(key, value);
  const bytes = utf8Length(s);
  if (s !== "" && (bytes < SECRET_MIN_BYTES || bytes > SECRET_MAX_BYTES)) {
    throw new ConfigError(key, `is ${bytes} bytes of UTF-8; a key takes ${SECRET_MIN_BYTES}..${SECRET_MAX_BYTES} (docs/security.md: 32 random characters)`);
  }
  return s;
}

/** The first topic levels: at most PREFIX_BYTES, no wildcard (MQTT-3.3.2-2), and
 *  not `$…`, which brokers keep for themselves ($SYS; MQTT 4.7.2). */
function topicLevel(key: string, value: unknown): string {
  const s = mqttText(key, value, PREFIX_BYTES);
  if (s === "" || /[+#]/.test(s) || s.startsWith("/") || s.endsWith("/") || s.startsWith("$")) {
    throw new ConfigError(key, `${describe(s)} is not a usable topic prefix (no '+', '#', leading '$', leading or trailing '/')`);
  }
  return s;
}


/** 0 (no limit known), or a size a broker could sensibly set: below 128 bytes not even a status fits. */
function packetLimit(key: string, value: unknown): number {
  const n = integer(key, value, 0, 268435460);
  if (n !== 0 && n < 128) throw new ConfigError(key, `${n} is too small: 0 (no limit known) or 128..268435460`);
  return n;
}


/** Most brokers a node fails over between: a cluster's members, not a directory of them. */
export const MAX_BROKERS = 8;

/** One broker URL, or several (a JSON array of URLs, or URLs separated by commas): a cluster's
 *  members, tried in order when one cannot be reached. */
function brokerList(key: string, value: unknown): BrokerAddress[] {
  const list = typeof value === "string" && !value.trimStart().startsWith("[") ? value.split(",").map((s) => s.replace(/^ +| +$/g, "")) : structured(key, value);
  if (!Array.isArray(list)) return [brokerUrl(key, list)];
  if (list.length === 0) throw new ConfigError(key, "is an empty list: name at least one broker");
  if (list.length > MAX_BROKERS) throw new ConfigError(key, `lists ${list.length} brokers; at most ${MAX_BROKERS}`);
  return list.map((url, i) => brokerUrl(list.length === 1 ? key : `${key}[${i}]`, url));
}

function brokerUrl(key: string, value: unknown): BrokerAddress {
  const s = text(key, value);
  const m = /^(mqtts?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(s);
  if (!m) throw new ConfigError(key, `${describe(s)} is not an mqtt://host:port or mqtts://host:port URL`);
  const secure = m[1] === "mqtts";
  const port = m[3] === undefined ? (secure ? 8883 : 1883) : Number(m[3]);
  if (port < 1 || port > 65535) throw new ConfigError(key, `port ${port} is out of range 1..65535`);
  const host = m[2]!.startsWith("[") ? m[2]!.slice(1, -1) : m[2]!;
  return { secure, host, port };
}


function bus(key: string, value: unknown): { data: number; clock: number; hz: number } {
  const v = structured(key, value);
  if (!isRecord(v)) throw new ConfigError(key, `expected {"data": pin, "clock": pin, "hz": n}, got ${describe(value)}`);
  knownKeysOf(key, v, ["data", "clock", "hz"]);
  return {
    data: integer(`${key}.data`, own(v, "data"), 0, 255),
    clock: integer(`${key}.clock`, own(v, "clock"), 0, 255),
    hz: integer(`${key}.hz`, own(v, "hz") ?? 100000, 1000, 3400000),
  };
}


function thresholds(key: string, value: unknown, channels: readonly string[]): Record<string, number> {
  const v = structured(key, value);
  if (!isRecord(v)) throw new ConfigError(key, `expected {"<channel>": change, …}, got ${describe(value)}`);
  const out: Record<string, number> = {};
  for (const [channel, limit] of Object.entries(v)) {
    if (!channels.includes(channel)) throw new ConfigError(`${key}.${channel}`, `no such channel (channels: ${channels.join(", ")})`);
    const n = typeof limit === "string" && limit.trim() !== "" ? Number(limit) : limit;
    if (typeof n !== "number" || !(n > 0) || !Number.isFinite(n)) throw new ConfigError(`${key}.${channel}`, `expected a positive number, got ${describe(limit)}`);
    out[channel] = n;
  }
  return out;
}

/** `true` (the default prefix), `false`, or `{"prefix": "…"}`; as strings too, as mcconfig passes them. */
function homeAssistant(key: string, value: unknown): HomeAssistant | undefined {
  const v = value === "true" ? true : value === "false" ? false : structured(key, value);
  if (v === false) return undefined;
  if (v === true) return { prefix: "homeassistant" };
  if (!isRecord(v)) throw new ConfigError(key, `expected true, false or {"prefix": "homeassistant"}, got ${describe(value)}`);
  knownKeysOf(key, v, ["prefix"]);
  const prefix = own(v, "prefix");
  return { prefix: prefix === undefined ? "homeassistant" : topicLevel(`${key}.prefix`, prefix) };
}

function sensors(key: string, value: unknown): SensorConfig[] {
  const v = structured(key, value);
  if (!Array.isArray(v)) throw new ConfigError(key, `expected a list like [{"type": "sht3x", "address": 68}], got ${describe(value)}`);
  const seen = new Set<string>();
  return v.map((entry: unknown, i: number) => {
    const at = `${key}[${i}]`;
    if (!isRecord(entry)) throw new ConfigError(at, `expected an object, got ${describe(entry)}`);
    knownKeysOf(at, entry, ["type", "address", "pin", "id", "options"]);
    const type = name(`${at}.type`, own(entry, "type"));
    const given = { address: own(entry, "address"), pin: own(entry, "pin"), id: own(entry, "id"), options: own(entry, "options") };
    const address = given.address === undefined ? undefined : integer(`${at}.address`, given.address, 0x03, 0x77);
    const pin = given.pin === undefined ? undefined : integer(`${at}.pin`, given.pin, 0, 255);
    if (address === undefined && pin === undefined) throw new ConfigError(at, `needs an "address" (I2C) or a "pin"`);
    const id = given.id === undefined ? type : name(`${at}.id`, given.id);
    if (seen.has(id)) throw new ConfigError(at, `id "${id}" is used twice; give one of them an "id"`);
    seen.add(id);
    const options = given.options === undefined ? {} : given.options;
    if (!isRecord(options)) throw new ConfigError(`${at}.options`, `expected an object, got ${describe(options)}`);
    const sensor: SensorConfig = { type, id, options };
    if (address !== undefined) sensor.address = address;
    if (pin !== undefined) sensor.pin = pin;
    return sensor;
  });
}



