// The node's configuration: defaults, parsing and validation. mcconfig passes command-line values
// (`mcconfig … broker=mqtt://10.0.0.2:1883 batchSize=12`) as strings, and manifest values as JSON, so
// every key accepts both; anything wrong is a ConfigError naming the key, thrown at boot, before the
// node touches a bus or the radio.

import { ConfigError } from "./config-error";
import { channelsOf, checkSensors } from "./sensors/registry";

export type PayloadFormat = "senml-json" | "senml-cbor" | "compact";

/** deep-sleep: one short connection per publish, deep sleep between wakes. always-connected: the
 *  connection stays open and the node naps (light sleep) between samples. */
export type PowerMode = "deep-sleep" | "always-connected";

export interface SensorConfig {
  type: string;
  /** I2C address for bus sensors. */
  address?: number;
  /** GPIO/ADC pin for pin sensors. */
  pin?: number;
  /** A short name used in SenML names; defaults to the type. */
  id: string;
  options: Record<string, unknown>;
}

export interface BrokerAddress {
  secure: boolean;
  host: string;
  port: number;
}

export interface Config {
  node: string;
  broker: BrokerAddress;
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
  sensors: SensorConfig[];
  i2c: { data: number; clock: number; hz: number } | undefined;
  /** Broker CA, client certificate and key for mqtts://: what they name is the host's business
   *  (a PEM file path or PEM text on the Node host, a resource name on a device). */
  tlsCa: string;
  tlsCert: string;
  tlsKey: string;
  ssid: string;
  password: string;
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
  sensors: [{ type: "sht3x", address: 0x44 }],
  i2c: undefined,
  tlsCa: "",
  tlsCert: "",
  tlsKey: "",
  ssid: "",
  password: "",
} as const;

const knownKeys = new Set<string>([...Object.keys(defaults), "sim", "payloadFormat"]);

type Raw = Record<string, unknown>;

/**
 * Builds a validated Config from raw values (manifest config, command line, a JSON file), with
 * `defaults` filling the gaps. Keys it does not know are errors too: a misspelt key that silently
 * keeps its default is the worst kind of config bug on a device you cannot see.
 * `hostKeys` are keys a host consumes itself (Moddable's own build keys, for instance).
 */
export function parseConfig(raw: Raw, hostKeys: readonly string[] = []): Config {
  for (const key of Object.keys(raw)) {
    if (!knownKeys.has(key) && !hostKeys.includes(key)) throw new ConfigError(key, "unknown key");
  }
  const get = (key: keyof typeof defaults): unknown => (raw[key] === undefined ? defaults[key] : raw[key]);
  const config: Config = {
    node: name("node", get("node"), true),
    broker: brokerUrl("broker", get("broker")),
    brokerUser: text("brokerUser", get("brokerUser")),
    brokerPassword: text("brokerPassword", get("brokerPassword")),
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
    maxInflight: integer("maxInflight", get("maxInflight"), 1, 16),
    maxPacketSize: packetLimit("maxPacketSize", get("maxPacketSize")),
    minSampleInterval: integer("minSampleInterval", get("minSampleInterval"), 1, 86400),
    minBatchSize: integer("minBatchSize", get("minBatchSize"), 1, 1000),
    awakeBudget: integer("awakeBudget", get("awakeBudget"), 0, 86400),
    sensors: checkSensors(sensors("sensors", get("sensors"))),
    i2c: raw.i2c === undefined ? undefined : bus("i2c", raw.i2c),
    tlsCa: text("tlsCa", get("tlsCa")),
    tlsCert: text("tlsCert", get("tlsCert")),
    tlsKey: text("tlsKey", get("tlsKey")),
    ssid: text("ssid", get("ssid")),
    password: text("password", get("password")),
  };
  config.thresholds = thresholds("thresholds", get("thresholds"), channelsOf(config.sensors).map((c) => c.name));
  return config;
}

/**
 * The payload format is `format` (the name the docs use) or `payloadFormat`: mcconfig owns `format`
 * for the display's pixel format, so Moddable builds must use `payloadFormat`.
 */
function payloadFormat(raw: Raw, format: unknown): PayloadFormat {
  const formats = ["senml-json", "senml-cbor", "compact"] as const;
  if (raw.payloadFormat === undefined) return oneOf("format", text("format", format), formats);
  const value = oneOf("payloadFormat", text("payloadFormat", raw.payloadFormat), formats);
  if (raw.format !== undefined && raw.format !== value) throw new ConfigError("payloadFormat", `conflicts with format "${String(raw.format)}"; set one of them`);
  return value;
}

function text(key: string, value: unknown): string {
  if (typeof value !== "string") throw new ConfigError(key, `expected a string, got ${describe(value)}`);
  return value;
}

function name(key: string, value: unknown, emptyOk = false): string {
  const s = text(key, value);
  if (s === "" && emptyOk) return s;
  // Names end up in topics and SenML names: keep to characters both allow (RFC 8428 §4.5.1).
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s)) {
    throw new ConfigError(key, `"${s}" must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit`);
  }
  return s;
}

function topicLevel(key: string, value: unknown): string {
  const s = text(key, value);
  if (s === "" || /[+#\u0000]/.test(s) || s.startsWith("/") || s.endsWith("/")) {
    throw new ConfigError(key, `"${s}" is not a usable topic prefix (no '+', '#', leading or trailing '/')`);
  }
  return s;
}

function integer(key: string, value: unknown, min: number, max: number): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new ConfigError(key, `expected an integer, got ${describe(value)}`);
  if (n < min || n > max) throw new ConfigError(key, `${n} is out of range ${min}..${max}`);
  return n;
}

/** 0 (no limit known), or a size a broker could sensibly set: below 128 bytes not even a status fits. */
function packetLimit(key: string, value: unknown): number {
  const n = integer(key, value, 0, 268435460);
  if (n !== 0 && n < 128) throw new ConfigError(key, `${n} is too small: 0 (no limit known) or 128..268435460`);
  return n;
}

function oneOf<T extends string | number>(key: string, value: string | number, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) throw new ConfigError(key, `${JSON.stringify(value)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
  return found;
}

function brokerUrl(key: string, value: unknown): BrokerAddress {
  const s = text(key, value);
  const m = /^(mqtts?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(s);
  if (!m) throw new ConfigError(key, `"${s}" is not an mqtt://host:port or mqtts://host:port URL`);
  const secure = m[1] === "mqtts";
  const port = m[3] === undefined ? (secure ? 8883 : 1883) : Number(m[3]);
  if (port < 1 || port > 65535) throw new ConfigError(key, `port ${port} is out of range 1..65535`);
  const host = m[2]!.startsWith("[") ? m[2]!.slice(1, -1) : m[2]!;
  return { secure, host, port };
}

function structured(key: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ConfigError(key, `expected JSON, got ${describe(value)}`);
  }
}

function bus(key: string, value: unknown): { data: number; clock: number; hz: number } {
  const v = structured(key, value);
  if (!isRecord(v)) throw new ConfigError(key, `expected {"data": pin, "clock": pin, "hz": n}, got ${describe(value)}`);
  return {
    data: integer(`${key}.data`, v.data, 0, 255),
    clock: integer(`${key}.clock`, v.clock, 0, 255),
    hz: integer(`${key}.hz`, v.hz ?? 100000, 1000, 3400000),
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

function sensors(key: string, value: unknown): SensorConfig[] {
  const v = structured(key, value);
  if (!Array.isArray(v)) throw new ConfigError(key, `expected a list like [{"type": "sht3x", "address": 68}], got ${describe(value)}`);
  const seen = new Set<string>();
  return v.map((entry: unknown, i: number) => {
    const at = `${key}[${i}]`;
    if (!isRecord(entry)) throw new ConfigError(at, `expected an object, got ${describe(entry)}`);
    const type = name(`${at}.type`, entry.type);
    const address = entry.address === undefined ? undefined : integer(`${at}.address`, entry.address, 0x03, 0x77);
    const pin = entry.pin === undefined ? undefined : integer(`${at}.pin`, entry.pin, 0, 255);
    if (address === undefined && pin === undefined) throw new ConfigError(at, `needs an "address" (I2C) or a "pin"`);
    const id = entry.id === undefined ? type : name(`${at}.id`, entry.id);
    if (seen.has(id)) throw new ConfigError(at, `id "${id}" is used twice; give one of them an "id"`);
    seen.add(id);
    const options = entry.options === undefined ? {} : entry.options;
    if (!isRecord(options)) throw new ConfigError(`${at}.options`, `expected an object, got ${describe(options)}`);
    const sensor: SensorConfig = { type, id, options };
    if (address !== undefined) sensor.address = address;
    if (pin !== undefined) sensor.pin = pin;
    return sensor;
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : String(v);
}
