// What an exchange hands its driver: the instants it is fed and the outcome it settles with.

import type { Version } from "../mqtt/codec";

/** A moment, as the driver's clock tells it: `ticks` (ms, monotonic) for intervals and deadlines,
 *  `wall` (ms since the epoch) for what the status and the daily budgets say. */
export interface Instant {
  ticks: number;
  wall: number;
}

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
