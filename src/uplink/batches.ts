// Which readings go in which message, and what an answer means for them. The buffer's readings
// leave retained memory only when every message that carried them is answered: acknowledged,
// refused for good (counted), or — refused "for now" — kept in the in-flight table to be
// published again as a new message. Within the broker's limits: never more in flight than its
// Receive Maximum (re-sends included), never a packet larger than it takes (a batch is halved until
// it fits, a single reading goes by channel), never a QoS it does not offer.

import type { Config } from "../config";
import type { Crypto } from "../host";
import type { Version } from "../mqtt/codec";
import { publishRefusal, reasonName } from "../mqtt/reasons";
import { IN_FLIGHT_TABLE_SIZE, transition, type InFlight, type OutgoingPublish, type PublisherSession } from "../mqtt/session";
import type { NodeState } from "../retained/state";
import type { Channel } from "../sensors/channel";
import { encodePayload } from "../telemetry/payload";
import { sealTelemetry } from "../telemetry/telemetry-tag";
import { sealPayload } from "../telemetry/payload-seal";
import type { NonceCounter } from "../retained/nonce-counter";
import { seqBefore, seqDistance, type Reading } from "../telemetry/reading";
import type { BrokerLimits } from "./limits";
import type { ExchangeOutcome } from "./contract";

/** The most channels one part of a reading sent in parts carries: a part's `kind` in the retained
 *  in-flight table is (channels << 5) | first channel, in a byte, and 0 stays "whole readings". */
const MAX_PART_CHANNELS = 7;
const partKind = (lo: number, channels: number): number => (channels << 5) | lo;

export interface BatchContext {
  readonly session: PublisherSession;
  readonly limits: BrokerLimits;
  readonly state: NodeState;
  readonly config: Config;
  readonly channels: readonly Channel[];
  /** The node's name: the SenML base name. */
  readonly node: string;
  readonly version: Version;
  readonly topic: string;
  /** What tags the messages where the config has a telemetryKey. */
  readonly crypto?: Crypto | undefined;
  /** What numbers the sealings where the config has a payloadKey. */
  readonly nonces?: NonceCounter | undefined;
  readonly log: (line: string) => void;
  /** The outcome of the exchange in progress: what the batches book goes there. */
  outcome(): ExchangeOutcome;
}

export class Batches {
  readonly #c: BatchContext;
  readonly #sensorIds: string[];
  /** The next reading not yet put in a message on this connection. QoS 0 readings count as sent
   *  (state.unsent moves) only once the broker has shown it took them. */
  #cursor: number;
  /** In-flight entries not yet sent on this connection (re-sends, and "for now" refusals to publish
   *  again): they go out as the broker's Receive Maximum leaves room. */
  readonly #waiting: InFlight[] = [];
  /** Messages sent on this connection and not answered yet. */
  readonly #sent = new Set<InFlight>();
  /** Table entries whose readings went out again at QoS 0 on this connection. */
  readonly #unconfirmed: InFlight[] = [];
  /** QoS 2 messages the broker took (PUBREC) in an earlier connection: this one sends only PUBREL. */
  readonly #releasedBefore = new Set<InFlight>();
  /** A refusal "for now" came: publish nothing more this exchange. */
  #held = false;
  /** More went out before CONNACK than the Receive Maximum it announced: refusals for quota are
   *  the node's own overrun, and those messages go again on this connection as room frees. */
  #overran = false;
  /** CONNACK's Session Present, once it came. */
  #sessionPresent: boolean | undefined;
  /** The newest reading put in a message (Home Assistant's latest values). */
  #newest: Reading | undefined;

  constructor(context: BatchContext) {
    this.#c = context;
    this.#sensorIds = context.config.sensors.map((s) => s.id);
    this.#cursor = context.state.unsent;
  }

  get newest(): Reading | undefined {
    return this.#newest;
  }

  /** Messages sent on this connection and not answered yet. */
  get inFlight(): number {
    return this.#sent.size;
  }

  /** Every message of telemetry owed is answered, or held back by a refusal. */
  get done(): boolean {
    if (this.#sent.size) return false;
    return this.#held || (!this.#waiting.length && ((this.#c.state.buffer.next - this.#cursor) >>> 0) === 0);
  }

  /** The first write: what the table holds goes again (or is dropped, if an overflow took its
   *  readings), then the new batches. */
  resume(): void {
    const { state, session } = this.#c;
    for (const entry of [...state.session.inflight]) {
      if (entry.state === "released") this.#releasedBefore.add(entry);
      if (entry.state === "sent" && !state.buffer.range(entry.first, entry.count).length) {
        // Its readings were dropped as the oldest when the buffer overflowed (and counted then).
        session.settle(entry);
        continue;
      }
      this.#waiting.push(entry);
    }
    if (seqBefore(state.unsent, state.buffer.first)) state.unsent = state.buffer.first;
    this.#cursor = state.unsent;
    this.pump();
  }

  connacked(sessionPresent: boolean): void {
    this.#sessionPresent = sessionPresent;
    this.#overran = this.#sent.size > this.#c.limits.receiveMaximum;
  }

  /** Always connected, a new flush: what was refused for now may go again. */
  retryHeld(): void {
    this.#held = false;
    this.#waiting.push(...this.#c.state.session.inflight.filter((e) => e.state === "retry" && !this.#waiting.includes(e)));
  }

  /** Sends what waits, then new batches, while the broker's Receive Maximum leaves room. */
  pump(): void {
    const { state, session, limits } = this.#c;
    if (this.#held) return;
    const qos = limits.qos;
    const room = () => limits.receiveMaximum - this.#sent.size;
    while (this.#waiting.length && room() > 0) {
      const entry = this.#waiting.shift()!;
      // A QoS 2 message whose PUBREC came back in an earlier connection stays with PUBREL; everything
      // else is the readings it names, sent again (with DUP) or — refused before, too large or at a
      // QoS the broker no longer offers — published again as new messages.
      const message = entry.state === "sent" ? this.#message(entry.first, entry.count, entry.qos, entry.kind) : undefined;
      if (entry.state === "released" || (message && limits.fits(session.publishLength(message)) && entry.qos <= qos)) {
        session.resend(entry, message);
        this.#sent.add(entry);
        limits.sent(message ? session.publishLength(message) : 0, entry.qos, entry);
        this.#c.outcome().messages++;
      } else if (qos === 0) {
        // At QoS 0 no acknowledgement will come: the entry keeps its readings until the exchange
        // shows the broker took them (confirmQoS0).
        this.#unconfirmed.push(entry);
        this.#republish(entry, 0, room);
      } else {
        session.settle(entry);
        this.#republish(entry, qos, room);
      }
    }
    while (!this.#waiting.length && (qos === 0 || room() > 0)) {
      const available = (state.buffer.next - this.#cursor) >>> 0;
      if (available === 0) break;
      const taken = this.#publishRange(this.#cursor, Math.min(this.#c.config.batchSize, available), qos, room);
      if (taken === 0) break;
      this.#cursor = (this.#cursor + taken) >>> 0;
      if (qos !== 0) state.unsent = this.#cursor;
    }
  }

  /** QoS 2: the broker has the message (PUBREC); from now on only its PUBREL goes again. */
  released(entry: InFlight): void {
    transition(entry, "pubrec");
  }

  /** Books the broker's answer to a message: delivered, refused for good, or kept for later. */
  acked(entry: InFlight, reasonCode: number, asQoS1: boolean): void {
    const { state, session, limits, log } = this.#c;
    const outcome = this.#c.outcome();
    session.settle(entry);
    this.#sent.delete(entry);
    limits.answered(entry, reasonCode === 0x95);
    if (this.#releasedBefore.delete(entry) && this.#sessionPresent === false) {
      // A QoS 2 message the broker had taken (PUBREC) before it lost the session (a restart without
      // persistence, the session expired while the node slept): a broker that delivers QoS 2 on
      // PUBREL, as mosquitto does, lost the message with the session, and it answers this wake's
      // PUBREL with a PUBCOMP all the same. The readings are still here: publish them again as a new
      // message, as with every kept message when the session is gone (MQTT 5 §3.2.2-5). A broker
      // that had delivered it already sends it twice: at least once, never lost.
      session.requeue(entry);
      this.#waiting.push(entry);
      return;
    }
    if (reasonCode < 0x80) {
      // A reading sent in parts (by channel) is delivered with the last of them.
      const delivered = entry.kind === 0 || !state.session.inflight.some((e) => e.kind !== 0 && e.first === entry.first) ? entry.count : 0;
      outcome.delivered += delivered;
      state.counters.delivered += delivered;
      if (asQoS1 && !state.link.qos2AsPuback) {
        state.link.qos2AsPuback = true;
        log("broker answered a QoS 2 message with PUBACK: with this broker, exactly once is at least once");
      }
    } else if (publishRefusal(reasonCode) === "never" || (reasonCode === 0x95 && entry.count === 1 && this.#channelsOf(entry.kind) === 1)) {
      // The broker will never take it (not authorized for the topic, …): keeping it would only
      // block the buffer. Released, counted, said.
      state.counters.refused += entry.count;
      outcome.error = `broker refused ${entry.count} readings for good: ${reasonName(reasonCode)}`;
      outcome.cause = "readings";
      log(outcome.error);
    } else {
      // "Not now" (quota, busy, too large for it): the readings stay, and this wake sends no more —
      // unless what the refusal says can be put right at once: a batch too large goes again in
      // smaller messages, and what the first write sent past a Receive Maximum the node did not
      // know yet goes again within it.
      if (reasonCode === 0x95) {
        const message = this.#message(entry.first, entry.count, entry.qos, entry.kind);
        if (message) limits.tooLarge(session.publishLength(message));
      }
      if (reasonCode === 0x93 && !this.#overran) limits.quotaExceeded(this.#sent.size);
      session.requeue(entry);
      if (reasonCode === 0x95 || (this.#overran && (reasonCode === 0x97 || reasonCode === 0x93))) {
        this.#waiting.push(entry);
        return;
      }
      this.#held = true;
      outcome.error = `broker refused a batch for now: ${reasonName(reasonCode)}; its ${entry.count} readings are kept`;
      outcome.cause = "readings";
    }
  }

  /** Forgets readings no message needs any more: everything before the oldest still in flight. */
  release(): void {
    const state = this.#c.state;
    let keep = state.unsent;
    for (const e of state.session.inflight) if (seqBefore(e.first, keep)) keep = e.first;
    state.buffer.release(keep);
  }

  /** QoS 0 telemetry sent on this connection counts as delivered: the broker has shown it took it.
   *  True when that changed what is retained. */
  confirmQoS0(): boolean {
    const state = this.#c.state;
    let sent = Math.max(0, seqDistance(this.#cursor, state.unsent));
    const parted = new Set<number>();
    for (const entry of this.#unconfirmed.splice(0)) {
      this.#c.session.settle(entry);
      if (entry.kind !== 0 && parted.has(entry.first)) continue;
      parted.add(entry.first);
      sent += entry.count;
    }
    if (sent === 0) return false;
    this.#c.outcome().delivered += sent;
    state.counters.delivered += sent;
    state.unsent = this.#cursor;
    this.release();
    return true;
  }

  /** Publishes what an entry named — readings [first, first + count), or one reading's part — again
   *  as new messages, as the room allows (QoS 0 takes none: all go); what does not go out now waits
   *  in the table as one entry to publish again. */
  #republish(entry: Pick<InFlight, "first" | "count" | "kind">, qos: 0 | 1 | 2, room: () => number): void {
    if (entry.kind !== 0) {
      if (qos === 0 || room() > 0) this.#publishPart(entry.first, entry.kind, qos);
      else this.#later(entry, qos);
      return;
    }
    let at = entry.first;
    let left = entry.count;
    while (left > 0 && (qos === 0 || room() > 0)) {
      const taken = this.#publishRange(at, left, qos, room);
      if (taken === 0) break;
      at = (at + taken) >>> 0;
      left -= taken;
    }
    if (left > 0 && qos !== 0) this.#later({ kind: 0, first: at, count: left }, qos);
  }

  /** Keeps what cannot go out now in the table, to be published as new when room frees. */
  #later(what: Pick<InFlight, "first" | "count" | "kind">, qos: 1 | 2): void {
    const rest: InFlight = { packetId: 0, ...what, qos, state: "retry" };
    this.#c.session.requeue(rest);
    this.#waiting.push(rest);
  }

  /**
   * Publishes one message of the readings from `first`: as many of `count` as fit in a packet the
   * broker takes. A single reading that fits in none goes in parts (`#publishParts`). Returns the
   * readings it dealt with (0: none can go now).
   */
  #publishRange(first: number, count: number, qos: 0 | 1 | 2, room: () => number): number {
    const { session, limits } = this.#c;
    let n = count;
    let message = this.#message(first, n, qos);
    while (message && n > 1 && !limits.fits(session.publishLength(message))) {
      n = Math.ceil(n / 2);
      message = this.#message(first, n, qos);
    }
    if (!message) return count; // Dropped as the oldest by an overflow (counted then).
    if (!limits.fits(session.publishLength(message))) return this.#publishParts(first, qos, room) ? 1 : 0;
    this.#send(message, first, n, 0);
    return n;
  }

  /**
   * One reading in parts, by channel, for a broker whose packet limit is smaller than the whole
   * reading (SenML records stand alone, and so does a compact payload of some channels): each part
   * as many channels as fit, up to `MAX_PART_CHANNELS`. Every part is an entry of the retained
   * in-flight table until answered, so a reading goes only when the table has room for all of its
   * parts (false: not now). A channel that fits no packet alone is refused, counted once for the
   * reading, and said.
   */
  #publishParts(first: number, qos: 0 | 1 | 2, room: () => number): boolean {
    const { session, limits, state } = this.#c;
    const channels = this.#c.channels.length;
    const kinds: number[] = [];
    for (let lo = 0; lo < channels; ) {
      let width = Math.min(MAX_PART_CHANNELS, channels - lo);
      for (let part = this.#message(first, 1, qos, partKind(lo, width)); part && width > 1 && !limits.fits(session.publishLength(part)); ) {
        part = this.#message(first, 1, qos, partKind(lo, --width));
      }
      kinds.push(partKind(lo, width));
      lo += width;
    }
    if (qos !== 0 && state.session.inflight.length + kinds.length > IN_FLIGHT_TABLE_SIZE) return false;
    let refused = false;
    for (const kind of kinds) {
      if (qos !== 0 && room() <= 0) this.#later({ kind, first, count: 1 }, qos);
      else if (!this.#publishPart(first, kind, qos) && !refused) {
        refused = true;
        state.counters.refused++;
      }
    }
    return true;
  }

  /** Publishes one part of a reading as a new message; false if it fits no packet the broker takes. */
  #publishPart(first: number, kind: number, qos: 0 | 1 | 2): boolean {
    const { session, limits, log } = this.#c;
    const message = this.#message(first, 1, qos, kind);
    if (!message) return true; // Dropped as the oldest by an overflow (counted then).
    const length = session.publishLength(message);
    if (!limits.fits(length)) {
      const outcome = this.#c.outcome();
      outcome.error = `channel ${this.#c.channels[kind & 31]!.name} of a reading takes ${length} bytes, more than the broker's packet limit of ${limits.packetLimit}; refused`;
      outcome.cause = "readings";
      log(outcome.error);
      return false;
    }
    this.#send(message, first, 1, kind);
    return true;
  }

  #send(message: OutgoingPublish, first: number, count: number, kind: number): void {
    const { session, limits } = this.#c;
    const length = session.publishLength(message);
    const entry = session.publish(message, kind, first, count);
    limits.sent(length, message.qos, entry);
    if (entry) this.#sent.add(entry);
    this.#c.outcome().messages++;
  }

  /** Channels the messages of `kind` carry: a part's, or every channel. */
  #channelsOf(kind: number): number {
    return kind === 0 ? this.#c.channels.length : kind >> 5;
  }

  /** The message of readings [first, first + count), or of one reading's part (`kind`: partKind). */
  #message(first: number, count: number, qos: 0 | 1 | 2, kind = 0): OutgoingPublish | undefined {
    let readings: readonly Reading[] = this.#c.state.buffer.range(first, count);
    if (!readings.length) return undefined;
    if (readings.at(-1)!.time >= (this.#newest?.time ?? -Infinity)) this.#newest = readings.at(-1);
    let channels = this.#c.channels;
    if (kind !== 0) {
      // A part: its channels' values; the reading's faults go with its first part.
      const lo = kind & 31;
      const hi = lo + (kind >> 5);
      channels = channels.slice(lo, hi);
      readings = readings.map((r) => ({ ...r, values: r.values.slice(lo, hi), faults: lo === 0 ? r.faults : [] }));
    }
    const batch = { baseName: `urn:dev:torpor:${this.#c.node}:`, channels, sensorIds: this.#sensorIds, readings, dropped: this.#c.state.buffer.dropped };
    const { config, crypto, nonces, topic, state } = this.#c;
    const encoded = encodePayload(config.format, batch);
    const { contentType } = encoded;
    // Tagged and sealed here, so that every size the batching weighs is the size that goes out.
    const tagged = config.telemetryKey === "" || !crypto ? encoded.payload : sealTelemetry(crypto, config.telemetryKey, config.format, topic, { epoch: state.link.epoch ?? 0, first, kind }, encoded.payload);
    const payload = !nonces || !crypto ? tagged : sealPayload(crypto, config.payloadKey, topic, nonces.next(), tagged);
    const message: OutgoingPublish = { topic, payload, qos, retain: false };
    // A sealed message is no longer in its format: it carries no Content Type.
    if (this.#c.version === 5 && contentType !== undefined && payload === tagged) message.properties = { contentType };
    return message;
  }
}
