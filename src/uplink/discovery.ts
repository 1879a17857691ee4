// Home Assistant MQTT discovery: the retained config messages that make a node's channels appear in
// Home Assistant as entities by themselves (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery).
// A pure function of the config, the channels and the node's name; the exchange publishes the
// messages when the broker's session is new or the messages changed (`HomeAssistant`), not at
// every wake.
//
// The state comes from a small retained message the node publishes with every connection that sent
// readings, on `<prefix>/<node>/latest`: the newest value of each channel and its time
// ({"t": 1764065040, "sht3x/temperature": 21.76, …}); a value_template picks the channel out.
// (Not from the status, which goes out only with news.) Availability comes from the retained
// status: the Will's {"state":"offline"} makes the entities unavailable, any other status
// available. So a node with Home Assistant keeps the JSON status and Will whatever its payload
// format (statusEncoding): Home Assistant drops the compact formats' CBOR status unread. A sleeping node publishes nothing between wakes, so `expire_after` is the longest a
// live node stays silent (the session expiry, after which the broker sends the Will anyway) plus
// one awake window: never "unavailable" while merely asleep, and unavailable when it has stopped
// waking, even over MQTT 3.1.1, which has no Will Delay.
//
// The configs go out in Home Assistant's abbreviated keys (`stat_t` for `state_topic`, `dev` for
// `device`, …, its documented abbreviation list) with the node's topics written from a `~` base, as
// Home Assistant's discovery allows: about 40 % fewer bytes on the air (docs/watching.md).

import type { Config } from "../config";
import { fnv1a } from "../encoding/fnv";
import type { Channel } from "../sensors/channel";
import { scale } from "../sensors/resolution";
import type { Reading } from "../telemetry/reading";
import { topics } from "./topics";

export interface DiscoveryMessage {
  topic: string;
  /** JSON text. */
  payload: string;
  retain: boolean;
}

type Component = "sensor" | "binary_sensor";

/** How a SenML unit maps onto a Home Assistant entity: its platform, device class and unit. */
interface Mapping {
  component: Component;
  deviceClass: string;
  unit?: string;
}

const byUnit: Record<string, Mapping> = {
  Cel: { component: "sensor", deviceClass: "temperature", unit: "°C" },
  "%RH": { component: "sensor", deviceClass: "humidity", unit: "%" },
  Pa: { component: "sensor", deviceClass: "pressure", unit: "Pa" },
  V: { component: "sensor", deviceClass: "voltage", unit: "V" },
  // The contact's position: 1 open, 0 closed (src/sensors/contact.ts); "opening" is Home
  // Assistant's class for a door or window contact whose "on" means open.
  "/": { component: "binary_sensor", deviceClass: "opening" },
};

/** Home Assistant's abbreviations of the keys a config uses (its MQTT discovery's documented list),
 *  at the top level and in `device` and `origin`. */
const entityKeys: Readonly<Record<string, string>> = {
  unique_id: "uniq_id",
  state_topic: "stat_t",
  value_template: "val_tpl",
  device_class: "dev_cla",
  expire_after: "exp_aft",
  availability_topic: "avty_t",
  availability_template: "avty_tpl",
  device: "dev",
  origin: "o",
  state_class: "stat_cla",
  unit_of_measurement: "unit_of_meas",
  suggested_display_precision: "sug_dsp_prc",
  payload_on: "pl_on",
  payload_off: "pl_off",
};
const deviceKeys: Readonly<Record<string, string>> = { identifiers: "ids", manufacturer: "mf", model: "mdl", sw_version: "sw" };
const originKeys: Readonly<Record<string, string>> = { sw_version: "sw" };

const abbreviate = (record: Record<string, unknown>, keys: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(record).map(([k, v]) => [keys[k] ?? k, v]));

/** Topic levels Home Assistant accepts in a discovery topic's node and object ids. */
const topicId = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "_");

/**
 * One retained config per channel, on `<discovery prefix>/<component>/torpor_<node>/<channel>/config`.
 * `sessionExpiryS` is the MQTT session expiry (and Will Delay) the exchange asks for; `version` the
 * running firmware's (UpdateHost.version), so an update changes the messages and they go out again;
 * undefined on a host that cannot say (it takes no updates), and then not shown.
 */
export function discoveryMessages(config: Config, channels: readonly Channel[], node: string, sessionExpiryS: number, version: string | undefined): DiscoveryMessage[] {
  const ha = config.homeAssistant;
  if (!ha) return [];
  const { status, latest } = topics(config, node);
  // Both topics from one base, `~`, which Home Assistant puts back at the start of a topic.
  const base = status.slice(0, status.lastIndexOf("/"));
  const device = {
    identifiers: [`torpor-${node}`],
    name: node,
    manufacturer: "torpor",
    model: `torpor node (${[...new Set(config.sensors.map((s) => s.type))].join(", ")})`,
    ...(version === undefined ? {} : { sw_version: version }),
  };
  return channels.flatMap((channel) => {
    const mapping = byUnit[channel.unit];
    if (!mapping) return [];
    const key = JSON.stringify(channel.name).replace(/"/g, "'");
    // A channel missing from the message (its sensor failed) renders None: unknown.
    const value = mapping.component === "sensor" ? `value_json[${key}]` : `'ON' if value_json[${key}] == 1 else 'OFF'`;
    const entity: Record<string, unknown> = {
      name: `${channel.sensor} ${channel.property[1]}`,
      unique_id: `torpor-${node}-${channel.name}`,
      state_topic: `~${latest.slice(base.length)}`,
      value_template: `{{ (${value}) if ${key} in value_json else None }}`,
      device_class: mapping.deviceClass,
      expire_after: sessionExpiryS + config.awakeTimeout,
      availability_topic: `~${status.slice(base.length)}`,
      // Renders Home Assistant's default payloads for available and not, so the config need not name them.
      availability_template: "{{ 'offline' if value_json.state == 'offline' else 'online' }}",
      device: abbreviate(device, deviceKeys),
      origin: abbreviate({ name: "torpor", ...(version === undefined ? {} : { sw_version: version }) }, originKeys),
    };
    if (mapping.component === "sensor") {
      entity.state_class = "measurement";
      entity.unit_of_measurement = mapping.unit;
      entity.suggested_display_precision = Math.max(0, Math.round(-Math.log10(channel.resolution)));
    } else {
      entity.payload_on = "ON";
      entity.payload_off = "OFF";
    }
    const topic = `${ha.prefix}/${mapping.component}/${topicId(`torpor_${node}`)}/${topicId(channel.name)}/config`;
    return [{ topic, payload: JSON.stringify({ "~": base, ...abbreviate(entity, entityKeys) }), retain: true }];
  });
}

/** What the node keeps of the messages it sent (LinkMemory.discovery): a change sends them again. */
export function discoveryFingerprint(messages: readonly DiscoveryMessage[]): number {
  return fnv1a(messages.map((m) => `${m.topic}\n${m.payload}`).join("\n"));
}

/** The latest-values message: a reading's time (`t`, Unix s) and values by channel name, in the
 *  channels' units; a channel whose sensor failed is left out. */
export function latestValues(channels: readonly Channel[], reading: Reading): Record<string, number> {
  const latest: Record<string, number> = { t: reading.time };
  channels.forEach((channel, i) => {
    const value = reading.values[i];
    if (value !== null && value !== undefined) latest[channel.name] = scale(value, channel.resolution);
  });
  return latest;
}
