// Home Assistant over the exchange: the discovery configs (`discoveryMessages`) when the broker's
// session is new or they changed, and the latest values each connection that sent readings.

import type { Config } from "../config";
import { utf8Encode } from "../encoding/utf8";
import type { LinkMemory } from "../retained/link-memory";
import type { OutgoingPublish } from "../mqtt/session";
import type { Channel } from "../sensors/channel";
import type { Reading } from "../telemetry/reading";
import { discoveryFingerprint, discoveryMessages, latestValues } from "./discovery";
import { sessionExpiry } from "./timing";
import type { Topics } from "./topics";

export interface HomeAssistantContext {
  readonly config: Config;
  readonly channels: readonly Channel[];
  readonly node: string;
  readonly link: LinkMemory;
  readonly topics: Topics;
  /** The running image's version where the host takes updates (UpdateHost.version). */
  readonly version: string | undefined;
  /** Publishes a QoS 0 packet of the node's own, within the broker's packet limit: false if it does not fit. */
  send(message: OutgoingPublish, what: string): boolean;
}

export class HomeAssistant {
  readonly #c: HomeAssistantContext;
  /** The newest reading last published as the latest values. */
  #latestSent: Reading | undefined;
  /** The fingerprint of the discovery messages sent on this connection. */
  #discovered: number | undefined;

  constructor(context: HomeAssistantContext) {
    this.#c = context;
  }

  /** Discovery, QoS 0 as Home Assistant allows: when the session is new (a broker that lost it may
   *  have lost the retained configs too) or the messages changed. */
  discover(sessionPresent: boolean): void {
    const { config, channels, node, link } = this.#c;
    if (!config.homeAssistant) return;
    const messages = discoveryMessages(config, channels, node, sessionExpiry(config), this.#c.version);
    const fingerprint = discoveryFingerprint(messages);
    if (sessionPresent && link.discovery === fingerprint) return;
    const retain = link.retainAvailable !== false;
    for (const m of messages) this.#c.send({ topic: m.topic, payload: utf8Encode(m.payload), qos: 0, retain: m.retain && retain }, `discovery config ${m.topic}`);
    this.#discovered = fingerprint;
  }

  /** Home Assistant's state: the newest values sent, retained on `<prefix>/<node>/latest`. */
  latest(newest: Reading | undefined): void {
    if (!this.#c.config.homeAssistant || !newest || newest === this.#latestSent) return;
    this.#latestSent = newest;
    const payload = utf8Encode(JSON.stringify(latestValues(this.#c.channels, newest)));
    this.#c.send({ topic: this.#c.topics.latest, payload, qos: 0, retain: this.#c.link.retainAvailable !== false }, "latest values");
  }

  /** The discovery messages count as sent once the exchange ended as agreed (as QoS 0 telemetry).
   *  True when that changed what is retained. */
  settled(): boolean {
    if (this.#discovered === undefined) return false;
    this.#c.link.discovery = this.#discovered;
    this.#discovered = undefined;
    return true;
  }
}
