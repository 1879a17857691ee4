// Home Assistant MQTT discovery: what a node with `homeAssistant` configured publishes must be
// configs Home Assistant takes, with entities that stay available while the node sleeps.
//
// The schema below is Home Assistant's documented MQTT sensor and binary sensor options
// (home-assistant.io/integrations/sensor.mqtt, binary_sensor.mqtt, mqtt/#discovery-messages), the
// sensor device classes and their units (integrations/sensor/#device-class) and the binary sensor
// device classes (integrations/binary_sensor/#device-class), written down from those pages: only
// the options torpor could use, with their types; an unknown key, a wrong type, a device class
// or a unit the docs do not allow fails.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { connectAsync, type MqttClient } from "mqtt";
import { parseConfig, type Config } from "../src/config";
import { discoveryFingerprint, discoveryMessages, latestValues, type DiscoveryMessage } from "../src/uplink/discovery";
import { channelsOf } from "../src/sensors/registry";
import { HomeAssistant } from "../src/uplink/home-assistant";
import { topics } from "../src/uplink/topics";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { start } from "../tools/start";
import { mosquittoMissing, startMosquitto } from "./support/mosquitto";

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === "string" && v.length > 0;
const template: Check = (v) => str(v) && /\{\{.*\}\}/s.test(v as string);
const positiveInt: Check = (v) => Number.isInteger(v) && (v as number) > 0;
const nonNegativeInt: Check = (v) => Number.isInteger(v) && (v as number) >= 0;
/** MQTT topic to publish to or subscribe from: no wildcards in a state topic. */
const topic: Check = (v) => str(v) && !/[+#]/.test(v as string);
const object = (keys: Record<string, Check>, required: string[] = []): Check => (v) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const record = v as Record<string, unknown>;
  return required.every((k) => k in record) && Object.entries(record).every(([k, value]) => k in keys && keys[k]!(value));
};
const strOrList: Check = (v) => str(v) || (Array.isArray(v) && v.length > 0 && v.every(str));

// Device and origin: mqtt/#discovery-messages, "device" and "origin" (origin needs a name).
const device = object({ identifiers: strOrList, connections: Array.isArray, name: str, manufacturer: str, model: str, model_id: str, sw_version: str, hw_version: str, serial_number: str, suggested_area: str, via_device: str, configuration_url: str });
const origin = object({ name: str, sw_version: str, support_url: str }, ["name"]);

/** Options both platforms share (the MQTT entity options of both pages). */
const common: Record<string, Check> = {
  availability_topic: topic,
  availability_template: template,
  payload_available: str,
  payload_not_available: str,
  device: (v) => device(v) && ["identifiers", "connections"].some((k) => k in (v as object)),
  origin,
  enabled_by_default: (v) => typeof v === "boolean",
  entity_category: (v) => v === "diagnostic",
  expire_after: positiveInt,
  force_update: (v) => typeof v === "boolean",
  icon: str,
  json_attributes_topic: topic,
  json_attributes_template: template,
  name: (v) => v === null || str(v),
  qos: (v) => v === 0 || v === 1 || v === 2,
  state_topic: topic,
  unique_id: str,
  value_template: template,
};

/** Sensor device classes torpor's channels could be, with the units the sensor page allows. */
const sensorUnits: Record<string, string[]> = {
  temperature: ["°C", "°F", "K"],
  humidity: ["%"],
  pressure: ["cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"],
  atmospheric_pressure: ["cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"],
  voltage: ["V", "mV", "µV", "kV", "MV"],
  battery: ["%"],
};
const sensorSchema = object(
  {
    ...common,
    device_class: (v) => typeof v === "string" && v in sensorUnits,
    state_class: (v) => ["measurement", "measurement_angle", "total", "total_increasing"].includes(v as string),
    unit_of_measurement: str,
    suggested_display_precision: nonNegativeInt,
  },
  ["state_topic"],
);

const binaryDeviceClasses = ["battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window"];
const binarySchema = object({ ...common, device_class: (v) => binaryDeviceClasses.includes(v as string), payload_on: str, payload_off: str }, ["state_topic"]);

/** `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`, ids of [a-zA-Z0-9_-]. */
const discoveryTopic = /^([^/+#]+(?:\/[^/+#]+)*)\/(sensor|binary_sensor)\/(?:[A-Za-z0-9_-]+\/)?[A-Za-z0-9_-]+\/config$/;

const threeSensors = {
  node: "shed.2",
  homeAssistant: true,
  sensors: [
    { type: "bme280", address: 0x76 },
    { type: "battery", pin: 34 },
    { type: "contact", pin: 4, id: "door" },
    { type: "sht3x", address: 0x44, id: "inside" },
  ],
};

function messagesFor(raw: Record<string, unknown>): { config: Config; messages: DiscoveryMessage[] } {
  const config = parseConfig(raw);
  return { config, messages: discoveryMessages(config, channelsOf(config.sensors), config.node, 1200, "1.2.3") };
}

/**
 * Home Assistant's abbreviations of discovery keys (its MQTT discovery's documented list, in
 * homeassistant/components/mqtt/abbreviations.py: ABBREVIATIONS, DEVICE_ABBREVIATIONS,
 * ORIGIN_ABBREVIATIONS), those of the options the schema above allows.
 */
const abbreviations: Record<string, string> = {
  avty_t: "availability_topic", avty_tpl: "availability_template", dev: "device", dev_cla: "device_class", en: "enabled_by_default",
  ent_cat: "entity_category", exp_aft: "expire_after", frc_upd: "force_update", ic: "icon", json_attr_t: "json_attributes_topic",
  json_attr_tpl: "json_attributes_template", o: "origin", pl_avail: "payload_available", pl_not_avail: "payload_not_available",
  pl_off: "payload_off", pl_on: "payload_on", stat_cla: "state_class", stat_t: "state_topic", sug_dsp_prc: "suggested_display_precision",
  uniq_id: "unique_id", unit_of_meas: "unit_of_measurement", val_tpl: "value_template",
};
const deviceAbbreviations: Record<string, string> = {
  cns: "connections", cu: "configuration_url", hw: "hw_version", ids: "identifiers", mdl: "model", mdl_id: "model_id", mf: "manufacturer",
  sa: "suggested_area", sn: "serial_number", sw: "sw_version",
};
const originAbbreviations: Record<string, string> = { sw: "sw_version", url: "support_url" };

/** A config as Home Assistant reads it: abbreviations written out, and `~` put back at the start or
 *  the end of each topic. */
function expand(payload: Record<string, unknown>): Record<string, unknown> {
  const full = (record: Record<string, unknown>, keys: Record<string, string>) => Object.fromEntries(Object.entries(record).map(([k, v]) => [keys[k] ?? k, v]));
  const { "~": base, ...rest } = payload;
  const config = full(rest, abbreviations);
  if (typeof config.device === "object" && config.device !== null) config.device = full(config.device as Record<string, unknown>, deviceAbbreviations);
  if (typeof config.origin === "object" && config.origin !== null) config.origin = full(config.origin as Record<string, unknown>, originAbbreviations);
  if (typeof base === "string") {
    for (const [key, value] of Object.entries(config)) {
      if (key.endsWith("_topic") && typeof value === "string") config[key] = value.startsWith("~") ? base + value.slice(1) : value.endsWith("~") ? value.slice(0, -1) + base : value;
    }
  }
  return config;
}

const parsed = (m: DiscoveryMessage) => expand(JSON.parse(m.payload) as Record<string, unknown>);

describe("Home Assistant discovery", () => {
  describe("config key", () => {
    it("is off by default, and true means the prefix homeassistant", () => {
      assert.equal(parseConfig({}).homeAssistant, undefined);
      assert.deepEqual(parseConfig({ homeAssistant: true }).homeAssistant, { prefix: "homeassistant" });
      assert.deepEqual(parseConfig({ homeAssistant: "true" }).homeAssistant, { prefix: "homeassistant" });
      assert.equal(parseConfig({ homeAssistant: "false" }).homeAssistant, undefined);
      assert.deepEqual(parseConfig({ homeAssistant: { prefix: "ha/discovery" } }).homeAssistant, { prefix: "ha/discovery" });
      assert.deepEqual(parseConfig({ homeAssistant: '{"prefix":"ha"}' }).homeAssistant, { prefix: "ha" });
    });

    it("refuses what is no discovery setting, naming the key", () => {
      assert.throws(() => parseConfig({ homeAssistant: 1 }), /homeAssistant: expected true, false or \{"prefix"/);
      assert.throws(() => parseConfig({ homeAssistant: { prefx: "ha" } }), /homeAssistant\.prefx: unknown key/);
      assert.throws(() => parseConfig({ homeAssistant: { prefix: "ha/#" } }), /homeAssistant\.prefix: .* is not a usable topic prefix/);
    });
  });

  describe("configs", () => {
    const { config, messages } = messagesFor(threeSensors);
    const channels = channelsOf(config.sensors);

    it("are none when the key is off", () => assert.deepEqual(messagesFor({}).messages, []));

    it("are one retained config per channel, on a discovery topic under the prefix", () => {
      assert.equal(messages.length, channels.length);
      for (const m of messages) {
        assert.equal(m.retain, true);
        const match = discoveryTopic.exec(m.topic);
        assert.ok(match, m.topic);
        assert.equal(match[1], "homeassistant");
      }
      assert.equal(new Set(messages.map((m) => m.topic)).size, messages.length, "one topic per entity");
      assert.equal(new Set(messages.map((m) => parsed(m).unique_id)).size, messages.length, "one unique_id per entity");
      const custom = messagesFor({ ...threeSensors, homeAssistant: { prefix: "ha/disc" } }).messages;
      assert.ok(custom.every((m) => discoveryTopic.exec(m.topic)?.[1] === "ha/disc"));
    });

    it("satisfy Home Assistant's documented sensor and binary sensor options", () => {
      for (const m of messages) {
        const payload = parsed(m);
        const schema = m.topic.includes("/binary_sensor/") ? binarySchema : sensorSchema;
        assert.ok(schema(payload), `${m.topic}: ${m.payload}`);
        if (schema === sensorSchema && payload.device_class !== undefined) {
          assert.ok(sensorUnits[payload.device_class as string]!.includes(payload.unit_of_measurement as string), `${m.topic}: unit ${payload.unit_of_measurement} for ${payload.device_class}`);
        }
      }
    });

    it("use Home Assistant's abbreviated keys, a `~` topic base and its default availability payloads: a quarter smaller", () => {
      const { messages } = messagesFor({ homeAssistant: true, sensors: [{ type: "bme280", address: 0x76 }, { type: "battery", pin: 34 }, { type: "contact", pin: 4 }] });
      let sent = 0;
      let written = 0;
      for (const m of messages) {
        const payload = JSON.parse(m.payload) as Record<string, unknown>;
        const inverse = (keys: Record<string, string>) => new Set(Object.values(keys));
        // No key written out where Home Assistant has an abbreviation for it.
        const longhand = (record: Record<string, unknown>, keys: Record<string, string>) => Object.keys(record).filter((k) => inverse(keys).has(k));
        assert.deepEqual(longhand(payload, abbreviations), [], m.payload);
        assert.deepEqual(longhand(payload.dev as Record<string, unknown>, deviceAbbreviations), [], m.payload);
        assert.deepEqual(longhand(payload.o as Record<string, unknown>, originAbbreviations), [], m.payload);
        sent += m.payload.length;
        // The config as it went out before: every key and topic written out, the payloads named.
        written += JSON.stringify({ ...expand(payload), payload_available: "online", payload_not_available: "offline" }).length;
      }
      const saved = 1 - sent / written;
      assert.ok(saved > 0.2, `${sent} B sent against ${written} B written out: ${Math.round(saved * 100)} % saved`);
    });

    it("map each channel to its device class, unit and platform", () => {
      const byChannel = Object.fromEntries(messages.map((m) => [parsed(m).unique_id, { topic: m.topic, ...parsed(m) }]));
      const entity = (channel: string) => byChannel[`torpor-shed.2-${channel}`] as Record<string, unknown>;
      assert.deepEqual(
        ["bme280/temperature", "bme280/humidity", "bme280/pressure", "battery/voltage", "inside/temperature"].map((c) => [entity(c).device_class, entity(c).unit_of_measurement, entity(c).state_class]),
        [["temperature", "°C", "measurement"], ["humidity", "%", "measurement"], ["pressure", "Pa", "measurement"], ["voltage", "V", "measurement"], ["temperature", "°C", "measurement"]],
      );
      assert.equal(entity("inside/temperature").suggested_display_precision, 2);
      assert.equal(entity("battery/voltage").suggested_display_precision, 3);
      const door = entity("door/position");
      assert.match(door.topic as string, /^homeassistant\/binary_sensor\/torpor_shed_2\/door_position\/config$/);
      assert.equal(door.device_class, "opening");
      assert.equal(door.unit_of_measurement, undefined);
    });

    it("name the device: node, model and firmware version, the same for every entity", () => {
      const devices = messages.map((m) => JSON.stringify(parsed(m).device));
      assert.equal(new Set(devices).size, 1);
      assert.deepEqual(parsed(messages[0]!).device, { identifiers: ["torpor-shed.2"], name: "shed.2", manufacturer: "torpor", model: "torpor node (bme280, battery, contact, sht3x)", sw_version: "1.2.3" });
      // A host that takes no updates cannot say which image runs: no version rather than a wrong one.
      const unknown = discoveryMessages(config, channels, config.node, 1200, undefined);
      assert.equal((parsed(unknown[0]!).device as Record<string, unknown>).sw_version, undefined);
    });

    it("go out again, with the new version, once an update has booted, though the broker kept the session", () => {
      const link = {};
      const sent: string[] = [];
      const ha = (version: string | undefined) =>
        new HomeAssistant({ config, channels, node: config.node, link, topics: topics(config, config.node), version, send: (m) => (sent.push(new TextDecoder().decode(m.payload)), true) });
      const before = ha("0.1.0");
      before.discover(false);
      before.settled();
      const first = sent.length;
      assert.ok(first > 0);
      // The same firmware's next connection to the same session: nothing new to say.
      ha("0.1.0").discover(true);
      assert.equal(sent.length, first);
      // Booted into 0.2.0: the device page must show it, so the configs go out again.
      ha("0.2.0").discover(true);
      assert.equal(sent.length, 2 * first);
      assert.equal(JSON.parse(sent.at(-1)!).dev.sw, "0.2.0");
    });

    it("read the state from the latest values, the availability from the retained status, and outlast its sleep", () => {
      for (const m of messages) {
        const p = parsed(m);
        assert.equal(p.state_topic, "torpor/shed.2/latest");
        assert.equal(p.availability_topic, "torpor/shed.2/status");
        // The Will is {"state":"offline"}: the availability template must map it, and only it, to unavailable.
        assert.match(p.availability_template as string, /value_json\.state == 'offline'/);
        // What it renders is what the entity takes as (un)available: Home Assistant's defaults,
        // "online" and "offline", where the config does not say.
        assert.equal(p.payload_available ?? "online", "online");
        assert.equal(p.payload_not_available ?? "offline", "offline");
        // Asleep for a session's length (the Will Delay) is still alive; a wake's awake window more too.
        assert.equal(p.expire_after, 1200 + config.awakeTimeout);
        // The template picks this entity's own channel out of the latest values, and renders None
        // (unknown) when the message has none for it.
        const channel = /torpor-shed\.2-(.*)$/.exec(p.unique_id as string)![1]!;
        assert.ok((p.value_template as string).includes(`value_json['${channel}']`), p.value_template as string);
        assert.match(p.value_template as string, new RegExp(`if '${channel.replace("/", "\\/")}' in value_json else None \\}\\}$`));
      }
    });

    it("match the latest-values message: the names the templates read, in the channels' units", () => {
      const values = channels.map((c, i) => (c.unit === "/" ? 1 : i === 0 ? null : 1000 + i));
      const latest = latestValues(channels, { seq: 0, time: 1_764_000_000, values, faults: [] });
      assert.equal(latest.t, 1_764_000_000, "the reading's time");
      assert.equal(latest["bme280/temperature"], undefined, "a failed channel is left out, never invented");
      assert.equal(latest["battery/voltage"], 1.003, "in the channel's unit, at its resolution");
      assert.equal(latest["door/position"], 1);
    });

    it("have a fingerprint that changes with what they say", () => {
      const same = messagesFor(threeSensors).messages;
      assert.equal(discoveryFingerprint(same), discoveryFingerprint(messages));
      assert.notEqual(discoveryFingerprint(messagesFor({ ...threeSensors, awakeTimeout: 20 }).messages), discoveryFingerprint(messages));
      assert.notEqual(discoveryFingerprint(messagesFor({ ...threeSensors, homeAssistant: { prefix: "ha" } }).messages), discoveryFingerprint(messages));
    });
  });

  describe("a simulated node with homeAssistant: true", () => {
    let broker: EmbeddedBroker;
    let dir: string;
    let watcher: MqttClient;
    const arrived: { topic: string; payload: string }[] = [];
    before(async () => {
      broker = await startEmbeddedBroker();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-ha-"));
      watcher = await connectAsync(broker.url, { clean: true });
      watcher.on("message", (t, payload) => arrived.push({ topic: t, payload: payload.toString() }));
      await watcher.subscribeAsync(["homeassistant/#", "torpor/+/latest"], { qos: 1 });
    });
    after(async () => {
      await watcher.endAsync();
      await broker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const run = async (config: Record<string, unknown>, cycles: number) => {
      const file = path.join(dir, "config.json");
      fs.writeFileSync(file, JSON.stringify({ homeAssistant: true, batchSize: 1, ...config }));
      const lines: string[] = [];
      await start({ broker: broker.url, nodes: 1, cycles, timeScale: 600, state: path.join(dir, "state"), config: file }, (l) => lines.push(l));
      // Let the last wake's messages reach the watcher: its latest values are the last thing sent.
      const sampled = lastSample(lines);
      const done = () => arrived.some((a) => a.topic.endsWith("/latest") && (JSON.parse(a.payload) as Record<string, number>)["sht3x/temperature"] === sampled.temperature);
      for (let i = 0; i < 40 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
      return lines;
    };
    const lastSample = (lines: string[]) => {
      const m = lines.map((l) => /woke .*sht3x\/temperature=(-?[\d.]+) Cel sht3x\/humidity=([\d.]+) %RH/.exec(l)).filter((x) => x !== null).at(-1)!;
      return { temperature: Number(m[1]), humidity: Number(m[2]) };
    };
    let lastLines: string[] = [];
    const configs = () => arrived.filter((a) => a.topic.startsWith("homeassistant/"));

    it("publishes its configs when its session is new, not at every wake, and again when they change", async () => {
      const lines = await run({}, 3);
      assert.equal(lines.filter((l) => /published 1 reading/.test(l)).length, 3, lines.join("\n"));
      assert.deepEqual(configs().map((a) => a.topic).sort(), ["homeassistant/sensor/torpor_node-1/sht3x_humidity/config", "homeassistant/sensor/torpor_node-1/sht3x_temperature/config"]);
      arrived.length = 0;
      await run({}, 1);
      assert.deepEqual(configs(), [], "same session, same configs: nothing sent");
      lastLines = await run({ sessionPeriods: 6 }, 1);
      assert.equal(configs().length, 2, "changed configs are sent again");
      assert.equal(expand(JSON.parse(configs()[0]!.payload) as Record<string, unknown>).expire_after, 6 * 60 + 10);
    });

    it("leaves the configs and the latest values retained, the values the node sampled last", async () => {
      const late = await connectAsync(broker.url, { clean: true });
      const retained: { topic: string; payload: string; retain: boolean }[] = [];
      late.on("message", (t, payload, packet) => retained.push({ topic: t, payload: payload.toString(), retain: packet.retain }));
      await late.subscribeAsync(["homeassistant/#", "torpor/node-1/latest"], { qos: 1 });
      for (let i = 0; i < 40 && retained.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
      await late.endAsync();
      assert.equal(retained.filter((r) => r.topic.startsWith("homeassistant/") && r.retain).length, 2);
      const latest = retained.find((r) => r.topic === "torpor/node-1/latest")!;
      assert.ok(latest.retain);
      const values = JSON.parse(latest.payload) as Record<string, number>;
      const sampled = lastSample(lastLines);
      assert.deepEqual(Object.keys(values).sort(), ["sht3x/humidity", "sht3x/temperature", "t"]);
      assert.deepEqual([values["sht3x/temperature"], values["sht3x/humidity"]], [sampled.temperature, sampled.humidity], "the newest reading sent");
      assert.equal(values.t! % 60, 0, "its sample time, on the grid");
    });
  });

  it("leaves out a config larger than the broker takes, says so, and the wake goes on", async () => {
    const broker = await startEmbeddedBroker();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-ha-small-"));
    try {
      // 3.1.1 brokers announce no limit: maxPacketSize is the operator's word for it.
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ homeAssistant: true, batchSize: 1, maxPacketSize: 512 }));
      const lines: string[] = [];
      await start({ broker: broker.url, nodes: 1, cycles: 2, timeScale: 600, state: path.join(dir, "state"), config: path.join(dir, "config.json") }, (l) => lines.push(l));
      const leftOut = lines.filter((l) => /discovery config homeassistant\/sensor\/torpor_node-1\/sht3x_\w+\/config left out: larger than the broker's packet limit of 512 bytes/.test(l));
      assert.equal(leftOut.length, 2, lines.join("\n"));
      assert.equal(lines.filter((l) => /published 1 reading/.test(l)).length, 2, lines.join("\n"));
    } finally {
      await broker.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("on a broker without retained messages (mosquitto, MQTT 5)", { skip: mosquittoMissing() }, () => {
    it("sends the configs unretained, which the broker takes", async () => {
      const broker = await startMosquitto(["retain_available false"]);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-ha-noretain-"));
      const watcher = await connectAsync(broker.url, { clean: true });
      const arrived: string[] = [];
      watcher.on("message", (t) => arrived.push(t));
      try {
        await watcher.subscribeAsync("homeassistant/#", { qos: 1 });
        fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ homeAssistant: true, mqttVersion: 5, batchSize: 1 }));
        const lines: string[] = [];
        await start({ broker: broker.url, nodes: 1, cycles: 2, timeScale: 600, state: path.join(dir, "state"), config: path.join(dir, "config.json") }, (l) => lines.push(l));
        for (let i = 0; i < 40 && arrived.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
        // A retained PUBLISH there is a protocol error (MQTT 5 §3.3.1.3): mosquitto would disconnect the node.
        assert.deepEqual(lines.filter((l) => /publish failed|disconnected/.test(l)), [], broker.log());
        assert.equal(arrived.length, 2, lines.join("\n"));
      } finally {
        await watcher.endAsync();
        await broker.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
