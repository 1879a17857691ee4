// What a node learns about its broker and its downlink, kept across deep sleep as JSON in the
// retained state, within a fixed room: the commands (applyCommand) change it, the exchange reads
// and updates it at every wake.

import type { Config } from "../config";
import { utf8Encode } from "../encoding/utf8";

export interface LinkMemory {
  /** Which of the config's brokers (an index into `brokers`) the node dials first: the one that
   *  answered last, or after a wake none answered, the one after the last tried. */
  broker?: number;
  /** 4 once a broker refused MQTT 5; the node then stays on 3.1.1 until it starts clean, or until
   *  `v5RetryAt` (a wake count) comes, when it tries 5 once more. */
  version?: 4 | 5;
  v5RetryAt?: number;
  /** Wakes in a row whose MQTT 5 CONNECT the broker closed without any CONNACK. */
  v5Closed?: number;
  /** The broker's limits from its last CONNACK (MQTT 5), applied before the next one arrives. */
  receiveMaximum?: number;
  maximumPacketSize?: number;
  /** Below the smallest packet a broker refused as too large (0x95) though it announced no such
   *  limit: kept across CONNACKs, which cannot tell it. */
  refusedSize?: number;
  /** The largest packet the broker is known to have read past: a connection it closes without a
   *  word never teaches a limit below it (`BrokerLimits.closedByBroker`). */
  provenSize?: number;
  /** The largest packet sent before a broker last closed the connection without a word: a second
   *  such close over a packet as large makes it the limit. */
  suspectSize?: number;
  maximumQoS?: 0 | 1 | 2;
  /** False once a broker said it keeps no retained messages (Retain Available 0, or refused a Will
   *  with retain): the status and the Will then go out without the retain flag. */
  retainAvailable?: boolean;
  /** The broker answered a QoS 2 message with PUBACK: it gives at-least-once, not exactly-once. */
  qos2AsPuback?: boolean;
  /** The broker's session holds the node's command subscription. */
  subscribed?: boolean;
  /** Settings changed by commands, applied over the config at every wake. */
  overrides?: Overrides;
  /** The flash epoch telemetry counters carry (telemetry-tag.ts), moved on by `nextEpoch`. */
  epoch?: number;
  /** Encryption's nonce epoch and the end of the counters reserved in it (NonceCounter). */
  sealEpoch?: number;
  sealNext?: number;
  /** The highest signed-command counter accepted (acceptedCounter adds the flash's copy). */
  commandCounter?: number;
  /** Results of the commands taken in the last connected wake, published in the status. */
  results?: string[];
  /** When the status last went out (Unix seconds), and a fingerprint of what it said that does not
   *  change at every wake: the next is sent when that changes or its heartbeat is due. */
  statusAt?: number;
  statusPrint?: number;
  /** Seconds of "awake" granted on `day` (Unix days): the daily budget's meter. */
  awake?: { day: number; seconds: number };
  /** Fingerprint of the Home Assistant discovery messages last sent (discoveryFingerprint). */
  discovery?: number;
}

export interface Overrides {
  sampleInterval?: number;
  batchSize?: number;
}

/** Room the link memory has in the retained layout (writeState). */
export const MAX_LINK_BYTES = 640;


/** The config with the commanded changes applied. */
export function withOverrides(config: Config, overrides: Overrides | undefined): Config {
  return overrides ? { ...config, ...overrides } : config;
}

/** Bytes the link memory takes as retained JSON. */
export function linkBytes(link: LinkMemory): number {
  return utf8Encode(JSON.stringify(link)).length;
}

/** Drops the oldest command results until the link memory fits its room; the newest are the news. */
export function fitLink(link: LinkMemory): void {
  while (link.results?.length && linkBytes(link) > MAX_LINK_BYTES) link.results.shift();
  if (link.results?.length === 0) delete link.results;
}

