// MQTT 5 topic aliases for one connection of MQTTClient, both ways: outbound, the topic and a new
// alias the first time while the broker's Topic Alias Maximum allows more, then the alias alone;
// inbound, the topics the broker set, within the maximum this client stated in CONNECT.

import { ProtocolError } from "./codec";
import type { PublishProperties } from "./packets";

export class TopicAliases {
  /** The broker's Topic Alias Maximum, from its CONNACK: 0 until then, and over 3.1.1. */
  maximum = 0;
  readonly #outbound = new Map<string, number>();
  readonly #inbound = new Map<number, string>();

  /** The client's own Topic Alias Maximum, stated in CONNECT. */
  constructor(readonly accepted: number) {}

  has(topic: string): boolean {
    return this.#outbound.has(topic);
  }

  /** The topic and properties a PUBLISH to `topic` goes out with. */
  outbound(topic: string, properties: PublishProperties | undefined): { topic: string; properties?: PublishProperties } {
    if (this.maximum === 0) return properties ? { topic, properties } : { topic };
    const known = this.#outbound.get(topic);
    if (known !== undefined) return { topic: "", properties: { ...properties, topicAlias: known } };
    if (this.#outbound.size >= this.maximum) return properties ? { topic, properties } : { topic };
    const alias = this.#outbound.size + 1;
    this.#outbound.set(topic, alias);
    return { topic, properties: { ...properties, topicAlias: alias } };
  }

  /** An alias is the broker's to learn from a packet: one that never went out takes it back. */
  forget(topic: string): void {
    this.#outbound.delete(topic);
  }

  /** The topic of an arriving PUBLISH; throws the protocol error the broker committed. */
  inbound(wireTopic: string, alias: number | undefined): string {
    if (alias === undefined) return wireTopic;
    if (alias > this.accepted) throw new ProtocolError(0x94, `PUBLISH topic alias ${alias} beyond the ${this.accepted} this client allows`);
    if (wireTopic) {
      this.#inbound.set(alias, wireTopic);
      return wireTopic;
    }
    const known = this.#inbound.get(alias);
    if (known === undefined) throw new ProtocolError(0x82, `PUBLISH with topic alias ${alias}, never set on this connection`);
    return known;
  }
}
