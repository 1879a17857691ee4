// What comes down to a sleeping node: the commands the broker queued on `<prefix>/<node>/cmd`, and
// the node's own sync marker behind them. A wake subscribes once (the persistent session keeps the
// subscription), publishes its marker, and takes commands until the marker comes back — within
// bounds a flood cannot stretch: a count and bytes a wake, and the wake's deadline.

import type { Config } from "../config";
import type { Crypto, Flash, Instant } from "../host";
import { acceptCounter, acceptedCounter } from "../retained/command-counter";
import { applyCommand, noteResult, oversizedCommand, type CommandEffect } from "./commands";
import type { Version } from "../mqtt/codec";
import type { OutgoingPublish, PublisherSession } from "../mqtt/session";
import type { NodeState } from "../retained/state";
import type { BrokerLimits } from "./limits";
import type { ExchangeOutcome } from "./contract";
import { openCommand, type Opened } from "./signed-command";
import { isMarker, markerPayload } from "./sync-marker";

/** The largest packet the node accepts (commands, acknowledgements): announced to MQTT 5 brokers;
 *  a larger PUBLISH is read past, acknowledged and answered with an error, on every version. */
export const MAXIMUM_PACKET_SIZE = 4096;

/** Commands one wake takes, and their bytes: what comes past either is acknowledged and dropped
 *  (one counted error a wake). The operator's few commands fit many times over; a flood does not. */
export const COMMANDS_PER_WAKE = 32;
export const COMMAND_BYTES_PER_WAKE = 16 * 1024;

/** Where the wake's marker stands: no marker to wait for (none sent, or one the broker's limit
 *  left out), the SUBACK awaited before it can go, sent and awaited, or back. */
type Marker = { state: "none" } | { state: "subscribing" } | { state: "sent"; id: string; after: number } | { state: "back" };

export interface DownlinkContext {
  readonly session: PublisherSession;
  readonly limits: BrokerLimits;
  readonly state: NodeState;
  readonly config: Config;
  readonly version: Version;
  readonly topic: string;
  /** The node's name, which a signed command must be signed for. */
  readonly node: string;
  /** What checks signed commands, and keeps their counter through a power loss. */
  readonly crypto: Crypto | undefined;
  readonly flash: Flash | undefined;
  readonly log: (line: string) => void;
  outcome(): ExchangeOutcome;
  now(): Instant;
  /** Publishes a QoS 0 packet of the node's own, within the broker's packet limit: false if it does not fit. */
  send(message: OutgoingPublish, what: string): boolean;
}

export class Downlink {
  readonly #c: DownlinkContext;
  #marker: Marker = { state: "none" };
  /** Commands this wake took (or tried to), their bytes, and those dropped past the bounds. */
  #taken = 0;
  #bytes = 0;
  #dropped = 0;
  /** The end of an awake window commands asked for (ticks; 0: none), and the seconds granted. */
  #awakeUntil = 0;
  #awakeGranted = 0;

  constructor(context: DownlinkContext) {
    this.#c = context;
  }

  /** The marker is still to come back: queued commands may still be on their way. */
  get awaited(): boolean {
    return this.#marker.state === "subscribing" || this.#marker.state === "sent";
  }

  /** The marker came back after everything sent before it. */
  get back(): boolean {
    return this.#marker.state === "back";
  }

  get awakeUntil(): number {
    return this.#awakeUntil;
  }

  /** The first write: the marker, or the subscription the broker's session lacks first. */
  begin(): void {
    if (this.#c.state.link.subscribed) this.#sendMarker();
    else this.subscribe();
  }

  /** A subscription is only sure to be in place once SUBACK arrives (MQTT orders messages, not a
   *  SUBSCRIBE against a PUBLISH in the same stream), so the marker waits for it. */
  subscribe(): void {
    this.#marker = { state: "subscribing" };
    this.#c.session.subscribe([{ topic: this.#c.topic, qos: 1, ...(this.#c.version === 5 ? { retainHandling: 2 as const } : {}) }]);
  }

  /** The broker lost the session and with it the subscription, and the marker went nowhere:
   *  subscribe again and send a new marker. (Kept readings were in this connection's write, so the
   *  broker took them as new messages of the new session.) */
  sessionLost(): void {
    const link = this.#c.state.link;
    if (!link.subscribed) return;
    link.subscribed = false;
    this.subscribe();
  }

  subscribed(reasonCodes: number[]): void {
    const link = this.#c.state.link;
    link.subscribed = reasonCodes.every((code) => code < 0x80);
    if (link.subscribed) this.#sendMarker();
    else {
      this.#c.log("broker refused the command subscription; commands are off this wake");
      this.#marker = { state: "none" };
    }
  }

  /** The deadline came with the marker still out: the rest wait for the next wake. */
  giveUp(): void {
    if (this.awaited) this.#c.log(`commands still arriving after ${this.#c.config.awakeTimeout} s: the rest wait for the next wake`);
    this.#marker = { state: "none" };
    this.#awakeUntil = 0;
  }

  /** A PUBLISH on a topic the node subscribed to; true when it changed what is retained. The
   *  marker's return shows the broker read every PUBLISH up to it (`BrokerLimits.proven`). */
  message(topic: string, payload: Uint8Array): boolean {
    if (topic !== this.#c.topic) return false;
    const marker = this.#marker;
    if (marker.state === "sent" && isMarker(payload, marker.id)) {
      this.#marker = { state: "back" };
      this.#c.limits.proven(marker.after);
      return false;
    }
    // Markers of earlier wakes (a session's queue can hold one) are not commands.
    if (isMarker(payload)) return false;
    if (!this.#take(payload.length)) return this.#overflow();
    const opened = this.#open(payload);
    if ("refused" in opened) {
      this.#answer({ result: `?: refused: ${opened.refused}`, ok: false });
      return true;
    }
    const config = this.#c.config;
    const now = this.#c.now();
    const effect = applyCommand(opened.command, this.#c.state.link, {
      minSampleInterval: config.minSampleInterval,
      minBatchSize: config.minBatchSize,
      awakeBudget: config.awakeBudget,
      awakeThisWake: this.#awakeGranted,
      nowS: Math.floor(now.wall / 1000),
    });
    this.#answer(effect);
    if (effect.awake) {
      this.#awakeGranted += effect.awake;
      this.#awakeUntil = Math.max(this.#awakeUntil, now.ticks + effect.awake * 1000);
    }
    return true;
  }

  /** A command over the node's packet limit, read past and acknowledged: answered with an error. */
  discarded(size: number): boolean {
    if (!this.#take(0)) return this.#overflow();
    this.#answer(oversizedCommand(size, MAXIMUM_PACKET_SIZE));
    return true;
  }

  /**
   * The command itself: the payload as it came where no `commandKey` is set (the broker's ACL is
   * then all that guards the topic), else what a genuine, fresh envelope holds — its counter booked
   * before the command acts.
   */
  #open(payload: Uint8Array): Opened {
    const { config, state, crypto, flash } = this.#c;
    const keys = [config.commandKey, config.commandKeyNext].filter((key) => key !== "");
    if (keys.length === 0) return { command: payload, counter: 0 };
    if (!crypto) return { refused: "this host cannot check signatures" };
    const opened = openCommand(crypto, keys, this.#c.node, payload, acceptedCounter(state.link, flash));
    if ("command" in opened) acceptCounter(state.link, flash, opened.counter);
    return opened;
  }

  /** Said once when the connection ends: how many commands the bounds dropped. */
  report(): void {
    if (this.#dropped > 0) this.#c.log(`dropped ${this.#dropped} commands past this wake's bounds`);
  }

  #sendMarker(): void {
    // "<wake>.<packet id>", base 36: unique to this wake, so an earlier wake's echo does not pass for it.
    const { state } = this.#c;
    const id = `${state.counters.wakes.toString(36)}.${state.session.nextPacketId.toString(36)}`;
    const message: OutgoingPublish = { topic: this.#c.topic, payload: markerPayload(id), qos: 0, retain: false };
    // Without it the wake cannot know when the queued commands are all in; it goes on without them.
    this.#marker = this.#c.send(message, "sync marker") ? { state: "sent", id, after: this.#c.limits.published } : { state: "none" };
  }

  /** Counts a command against the wake's bounds; false once they are spent. */
  #take(bytes: number): boolean {
    this.#taken++;
    this.#bytes += bytes;
    return this.#taken <= COMMANDS_PER_WAKE && this.#bytes <= COMMAND_BYTES_PER_WAKE;
  }

  /**
   * A command past the wake's bounds: acknowledged (the session already did) and dropped unread. A
   * flood — a hostile or misconfigured publisher, QoS 0 commands no broker limits — costs one
   * counted error and no commit per command, and the wake still ends at its deadline.
   */
  #overflow(): boolean {
    if (this.#dropped++ > 0) return false;
    // Logged once with their count, when the connection ends (`report`).
    this.#answer({ result: `commands past ${COMMANDS_PER_WAKE} (or ${COMMAND_BYTES_PER_WAKE} bytes) in one wake: dropped`, ok: false }, false);
    return true;
  }

  /** Books a command's result: the status shows it, and an error is counted. */
  #answer(effect: Pick<CommandEffect, "result" | "ok">, logged = true): void {
    const outcome = this.#c.outcome();
    outcome.commands.push(effect.result);
    if (outcome.commands.length > 8) outcome.commands.shift();
    noteResult(this.#c.state.link, effect.result);
    if (!effect.ok) this.#c.state.counters.commandErrors++;
    if (logged) this.#c.log(`command ${effect.result}`);
  }
}
