// The exchange's contract with its driver: what it is built with, the instants it is fed, the
// phase it is in and the outcome it settles with.

import type { Config } from "../config";
import type { Crypto, Flash } from "../host";
import type { Version } from "../mqtt/codec";
import type { NonceCounter } from "../retained/nonce-counter";
import type { NodeState } from "../retained/state";
import type { Channel } from "../sensors/channel";
import type { UpdateHost } from "../update/capability";

/** Why an exchange did not end as agreed, for whoever decides what comes next (backoff, failover). */
export type FailureCause =
  /** The network, DNS or the socket: nothing reached a broker, or the connection broke. */
  | "network"
  /** The broker refused the connection (a CONNACK with a failure code). */
  | "refused"
  /** The broker broke the protocol, or disconnected the node with a reason. */
  | "broker"
  /** Nothing answered within the wake's deadline. */
  | "deadline"
  /** The broker refused readings: for now (kept) or for good (counted in `refused`). */
  | "readings"
  /** A bug of the node's own, caught so that it costs this wake only. */
  | "internal";

export interface PublishOutcome {
  /** Readings the broker acknowledged in this wake. */
  delivered: number;
  /** PUBLISH packets of telemetry sent (re-sent ones included). */
  messages: number;
  sessionPresent?: boolean;
  version?: Version;
  bytesUp: number;
  bytesDown: number;
  /** Results of the commands taken (the newest few), one line each. */
  commands: string[];
  /** What went wrong, said for a log line, and its cause. */
  error?: string;
  cause?: FailureCause;
}

/** `adapted`: the broker's answer taught the node something; connect again at once.
 *  `closedUnanswered`: the connection was up, the CONNECT went out, and it closed with no byte back. */
export type ExchangeOutcome = PublishOutcome & { adapted?: boolean; closedUnanswered?: boolean };

export const newOutcome = (): ExchangeOutcome => ({ delivered: 0, messages: 0, bytesUp: 0, bytesDown: 0, commands: [] });

export interface ExchangeOptions {
  /** The config as it was at CONNECT: the keepalive and Will promised then hold for this connection. */
  readonly config: Config;
  readonly channels: readonly Channel[];
  readonly state: NodeState;
  /** Writes the retained state. */
  readonly commit: () => void;
  readonly log: (line: string) => void;
  /** The node's name (topics, client id) and its host's (the status). */
  readonly node: string;
  readonly hostName: string;
  /** The host's network counters for the status (Network.counters), when it keeps any. */
  readonly networkCounters?: () => Readonly<Record<string, number>>;
  /** The host's HMAC and flash, for signed commands (Downlink). */
  readonly crypto?: Crypto | undefined;
  readonly flash?: Flash | undefined;
  /** Encryption's nonces (Batches), with a payloadKey. */
  readonly nonces?: NonceCounter | undefined;
  readonly version: Version;
  /** Always-connected mode: the exchange stays open for flush() and ping() after it settles. */
  readonly persistent: boolean;
  /** A 3.1.1 attempt after MQTT 5 CONNECTs were closed unanswered: its CONNACK alone does not
   *  make the node fall back (the broker may just have come back); the driver tries 5 once more. */
  readonly probe?: boolean;
  /** Ticks by which the exchange must have settled. */
  readonly deadline: number;
  /** The host's update capability, if it has one (docs/updates.md). */
  readonly update?: UpdateHost;
}

/**
 * Where the connection stands, one variable:
 * - `idle`: the socket not up yet (the opening is pending: its deadline runs, a failure settles it);
 * - `connecting`: CONNECT written, CONNACK awaited;
 * - `settling`: accepted, an exchange in progress (the opening, or a flush);
 * - `open`: settled, the connection still up (for close(), or an always-connected node's flushes);
 * - `confirming`: closing, the status out and a PINGREQ behind it awaited (`BrokerLimits.unproven`);
 * - `closed`: the driver closes the socket.
 */
export type Phase = "idle" | "connecting" | "settling" | "open" | "confirming" | "closed";
