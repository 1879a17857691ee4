// What a node promises its broker in CONNECT: a persistent session under its own client id, a
// keepalive, and a Will that says "offline" only for a node that has really stopped waking.

import type { Config } from "../config";
import { utf8Encode } from "../encoding/utf8";
import type { Version } from "../mqtt/codec";
import type { ConnectPacket } from "../mqtt/packets";
import { MAXIMUM_PACKET_SIZE } from "./downlink";
import type { BrokerLimits } from "./limits";
import { keepAlive, sessionExpiry } from "./timing";
import { encodeStatus, statusEncoding } from "./status-encoding";
import type { Topics } from "./topics";

export interface ConnectTerms {
  readonly config: Config;
  readonly node: string;
  readonly version: Version;
  /** Always-connected mode: a lost connection is news at once. */
  readonly persistent: boolean;
  readonly limits: BrokerLimits;
  readonly topics: Topics;
}

export function connectPacket(t: ConnectTerms): Omit<ConnectPacket, "type"> {
  const { config, version, limits } = t;
  const expiry = sessionExpiry(config);
  return {
    clientId: `torpor-${t.node}`,
    cleanStart: false,
    keepAlive: keepAlive(config, t.persistent),
    ...(config.brokerUser ? { username: config.brokerUser } : {}),
    ...(config.brokerPassword ? { password: utf8Encode(config.brokerPassword) } : {}),
    will: {
      topic: t.topics.status,
      payload: encodeStatus({ state: "offline" }, statusEncoding(config)),
      // What the broker offers: a broker with Maximum QoS 0 or no retained messages refuses a Will
      // that asks for more, and its refusal is what taught the node (`BrokerLimits.refusedConnect`).
      // Over 3.1.1 it cannot say so (mosquitto just closes), so the Will asks no more than the
      // telemetry does.
      qos: Math.min(1, limits.qos) as 0 | 1,
      retain: limits.retain,
      // Deep sleep: announce "offline" only once the session would have expired, i.e. for a node
      // that missed its wakes. Always connected: a lost connection is news at once.
      ...(version === 5 && !t.persistent ? { properties: { willDelayInterval: expiry } } : {}),
    },
    ...(version === 5 ? { properties: { sessionExpiryInterval: expiry, maximumPacketSize: MAXIMUM_PACKET_SIZE, requestProblemInformation: false } } : {}),
  };
}
