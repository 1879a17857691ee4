// One connection's MQTT exchange as a state machine: bytes and time in, bytes and decisions out. It
// decides what to send and when the wake is done, what an answer means for the readings, and what
// the node learns about its broker; it never opens a socket, reads a clock or sets a timer. The
// driver (src/publisher.ts) brings the network up, feeds it the socket's bytes and the clock, writes
// what it returns, calls tick() at `wakeAt`, and closes the socket once it is `closed`.
//
// The first write pipelines CONNECT, the command subscription when the broker lacks it, the
// unacknowledged messages again (DUP, or PUBREL for QoS 2 messages the broker already holds), the
// new batches and a sync marker, before CONNACK (MQTT §3.1.4 allows it). Each acknowledgement
// releases its readings from retained memory. The node's own marker coming back on its command
// topic means every command queued while it slept has arrived, so the node knows when to stop
// listening without guessing a timeout. Then it publishes its retained status and DISCONNECTs.
//
// The broker's limits bind every packet: never more messages in flight than it takes (re-sends
// included), never a packet larger than it takes (status and marker included), never a QoS or a
// retained message it does not offer; its keepalive is the one kept. A refusal says what it means
// for the readings: "never" releases and counts them, "for now" keeps them for a later wake.

import type { Config } from "./config";
import { discoveryFingerprint, discoveryMessages, latestValues } from "./discovery";
import { fnv1a } from "./encoding/fnv";
import { utf8Encode } from "./encoding/utf8";
import { applyCommand, noteResult, oversizedCommand, withOverrides, type LinkMemory } from "./link";
import { ProtocolError, type Version } from "./mqtt/codec";
import type { ConnackPacket } from "./mqtt/packets";
import { connackReason, publishRefusal, reasonName } from "./mqtt/reasons";
import { PublisherSession, type InFlight, type OutgoingPublish } from "./mqtt/session";
import { defaultAssumptions, effectiveBatch, project } from "./power/projection";
import { DOWNLINK_PERIOD_S, nextWake } from "./power/schedule";
import type { NodeState } from "./power/state";
import type { Channel } from "./sensors/registry";
import { encodeStatus, statusEncoding } from "./status-document";
import { isMarker, markerPayload } from "./sync-marker";
import { encodePayload } from "./telemetry/payload";
import type { Reading } from "./telemetry/reading-buffer";

/** The retained in-flight table's size (src/power/state.ts): the most messages ever in flight. */
const TABLE_SIZE = 16;

/** The largest packet the node accepts (commands, acknowledgements): announced to MQTT 5 brokers;
 *  a larger PUBLISH is read past, acknowledged and answered with an error, on every version. */
export const MAXIMUM_PACKET_SIZE = 4096;

/** Wakes a node stays on MQTT 3.1.1 after a broker refused 5, before it tries 5 once more (a broker
 *  may be upgraded): about a day at one-minute sampling. */
export const V5_RETRY_WAKES = 1440;

/** A moment, as the driver's clock tells it: `ticks` (ms, monotonic) for intervals and deadlines,
 *  `wall` (ms since the epoch) for what the status and the daily budgets say. */
export interface Instant {
  ticks: number;
  wall: number;
}

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
  error?: string;
}

/** `adapted`: the broker's answer taught the node something; connect again at once.
 *  `closedUnanswered`: the connection was up, the CONNECT went out, and it closed with no byte back. */
export type ExchangeOutcome = PublishOutcome & { adapted?: boolean; closedUnanswered?: boolean };

const newOutcome = (): ExchangeOutcome => ({ delivered: 0, messages: 0, bytesUp: 0, bytesDown: 0, commands: [] });

export function topics(config: Config, node: string) {
  const base = `${config.prefix}/${node}`;
  return { telemetry: `${base}/telemetry`, status: `${base}/status`, command: `${base}/cmd`, latest: `${base}/latest` };
}

/**
 * Keepalive, seconds. Deep sleep: it only has to cover the awake window. Always connected: a publish
 * period plus a sampling interval, so the batches themselves keep the connection alive and a PINGREQ
 * is needed only when publishing stalls (and then goes out at a sampling wake: see app.ts).
 */
export function keepAlive(config: Config, persistent: boolean): number {
  return persistent ? Math.min(65535, config.sampleInterval * (config.batchSize + 1)) : config.awakeTimeout;
}

/** MQTT 5 Session Expiry (and Will Delay), seconds: a few publish periods, so a sleeping node keeps
 *  its session and "offline" is announced only for a node that misses its wakes. */
function sessionExpiry(config: Config): number {
  const publishPeriod = Math.min(config.sampleInterval * config.batchSize, Math.max(config.maxLatency, config.sampleInterval));
  return config.sessionPeriods * publishPeriod;
}

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
  readonly version: Version;
  /** Always-connected mode: the exchange stays open for flush() and ping() after it settles. */
  readonly persistent: boolean;
  /** A 3.1.1 attempt after MQTT 5 CONNECTs were closed unanswered: its CONNACK means this broker
   *  takes 3.1.1 and not 5, and the node falls back. */
  readonly probe?: boolean;
  /** Ticks by which the exchange must have settled. */
  readonly deadline: number;
}

export class Exchange {
  readonly version: Version;
  readonly persistent: boolean;
  #outcome: ExchangeOutcome = newOutcome();
  readonly #o: ExchangeOptions;
  readonly #session: PublisherSession;
  readonly #topic: ReturnType<typeof topics>;
  readonly #sensorIds: string[];
  #started = false;
  #connacked = false;
  #closing = false;
  #closed = false;
  /** The outcome of the exchange in progress once it is settled; taken by `settle()`. */
  #settled: ExchangeOutcome | undefined;
  #pending = true;
  #now: Instant = { ticks: 0, wall: 0 };
  #lastWrite = 0;
  #deadline: number;
  /** The marker this wake waits for on its command topic ("" while its subscription is being made);
   *  undefined once it came back, or when there is none to wait for. */
  #marker: string | undefined;
  #markerSeen = false;
  #awakeUntil = 0;
  #awakeGranted = 0;
  /** QoS 2 messages the broker took (PUBREC) in an earlier connection: this one sends only PUBREL. */
  readonly #releasedBefore = new Set<InFlight>();
  /** In-flight entries not yet sent on this connection (re-sends, and "for now" refusals to publish
   *  again): they go out as the broker's Receive Maximum leaves room. */
  readonly #waiting: InFlight[] = [];
  /** Messages sent on this connection and not answered yet. */
  readonly #sent = new Set<InFlight>();
  /** The next reading not yet put in a message on this connection. QoS 0 readings count as sent
   *  (state.unsent moves) only once the broker has shown it took them. */
  #cursor: number;
  /** Table entries whose readings went out again at QoS 0 on this connection. */
  readonly #unconfirmed: InFlight[] = [];
  /** A refusal "for now" came: publish nothing more this wake. */
  #held = false;
  /** More went out before CONNACK than the Receive Maximum it announced: refusals for quota are
   *  the node's own overrun, and those messages go again on this connection as room frees. */
  #overran = false;
  #largestSent = 0;
  /** CONNACK's Session Present, once it came. */
  #sessionPresent: boolean | undefined;
  /** The broker's Server Keep Alive, when it set one (MQTT 5). */
  #serverKeepAlive: number | undefined;
  /** Home Assistant: the newest reading put in a message, the one last published as the latest
   *  values, and the fingerprint of the discovery messages sent on this connection. */
  #newest: Reading | undefined;
  #latestSent: Reading | undefined;
  #discovered: number | undefined;

  constructor(options: ExchangeOptions) {
    this.#o = options;
    this.version = options.version;
    this.persistent = options.persistent;
    this.#deadline = options.deadline;
    this.#topic = topics(options.config, options.node);
    this.#sensorIds = options.config.sensors.map((s) => s.id);
    this.#session = new PublisherSession(options.version, options.state.session, MAXIMUM_PACKET_SIZE);
    this.#cursor = options.state.unsent;
  }

  get #config(): Config {
    return this.#o.config;
  }

  get #state(): NodeState {
    return this.#o.state;
  }

  get #link(): LinkMemory {
    return this.#o.state.link;
  }

  /** True while the connection is up and can take flush() and ping(). */
  get isOpen(): boolean {
    return this.#connacked && !this.#closed && !this.#closing;
  }

  /** The driver must close the socket (and bring the network down). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The keepalive this connection keeps, seconds: the broker's Server Keep Alive if it set one,
   *  else the one promised in CONNECT (0: none). */
  get keepAlive(): number {
    return this.#serverKeepAlive ?? keepAlive(this.#config, this.persistent);
  }

  /** Milliseconds since the node last sent anything at `ticks`: a keepalive is owed when this nears it. */
  idleMs(ticks: number): number {
    return ticks - this.#lastWrite;
  }

  /** The ticks by which the connection owes the broker a packet: the keepalive after the last write,
   *  less a margin for the way there (undefined: no keepalive, or not open). */
  get pingDueAt(): number | undefined {
    const keepAlive = this.keepAlive * 1000;
    return this.isOpen && keepAlive > 0 ? this.#lastWrite + keepAlive - Math.min(1000, keepAlive / 4) : undefined;
  }

  /** The ticks at which tick() must be called next, while an exchange is in progress: its deadline,
   *  a ping due (an awake window can outlast the keepalive), an awake window's end. Between
   *  exchanges of an always-connected node, the node's own naps keep the pings (`pingDueAt`). */
  get wakeAt(): number | undefined {
    if (this.#closed || !this.#pending) return undefined;
    const times = [this.#deadline];
    if (this.#awakeUntil > 0 && this.#canFinish()) times.push(this.#awakeUntil);
    const ping = this.pingDueAt;
    if (ping !== undefined) times.push(ping);
    return Math.min(...times);
  }

  /** The outcome once the exchange in progress (the opening, or a flush) has settled; each outcome
   *  is handed out once. */
  settle(): ExchangeOutcome | undefined {
    const settled = this.#settled;
    this.#settled = undefined;
    return settled;
  }

  /** Everything to write now, as one buffer for one socket write (after close(), the last one). */
  takeOutput(): Uint8Array | undefined {
    const bytes = this.#session.takeOutput();
    if (!bytes) return undefined;
    this.#outcome.bytesUp += bytes.length;
    this.#lastWrite = this.#now.ticks;
    return bytes;
  }

  /** The socket is writable: the pipelined first write. */
  start(now: Instant): void {
    this.#now = now;
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#guard(() => this.#start());
  }

  receive(bytes: Uint8Array, now: Instant): void {
    this.#now = now;
    if (this.#closed) return;
    this.#guard(() => this.#received(bytes));
  }

  /** Time passed: the deadline, a keepalive ping, the end of an awake window. */
  tick(now: Instant): void {
    this.#now = now;
    if (this.#closed) return;
    if (this.#pending && now.ticks >= this.#deadline) return this.fail(`no answer within ${this.#config.awakeTimeout} s`);
    this.#guard(() => {
      const ping = this.pingDueAt;
      if (ping !== undefined && now.ticks >= ping - 50) this.ping(now);
      this.#maybeDone();
    });
  }

  /**
   * The connection went away. Before CONNACK that is not a refusal of MQTT 5 — a Wi-Fi drop, a
   * broker restart or a proxy in front of a broker that is down look the same, and taking it for one
   * would pin a v5 broker to 3.1.1 for good. Only a 3.1.1 CONNACK after such closes in two wakes in a
   * row makes the node fall back (see `probe` and connect()); the explicit answer
   * (CONNACK 0x84, or 3.1.1's return code 1) makes it fall back at once (#connack).
   */
  lost(error: string): void {
    if (this.#closed) return;
    if (!this.#connacked && this.#started && this.#outcome.bytesDown === 0) this.#outcome.closedUnanswered = true;
    this.fail(error);
  }

  /** Ends the exchange with an error (the network, the socket, a deadline): nothing kept is lost. */
  fail(error: string): void {
    if (this.#closed) return;
    this.#closed = true;
    // The connection is gone or given up: nothing queued for it is sent.
    this.#session.takeOutput();
    this.#outcome.error = error;
    if (this.persistent && !this.#pending) this.#o.log(`connection lost: ${error}`);
    this.#settleNow();
  }

  /** Always-connected mode: sends the batches buffered since the last flush; settles when they are
   *  acknowledged. */
  flush(now: Instant): void {
    this.#now = now;
    this.#outcome = newOutcome();
    if (!this.isOpen) {
      this.#outcome.error = "not connected";
      this.#settled = this.#outcome;
      return;
    }
    this.#held = false;
    this.#pending = true;
    this.#deadline = now.ticks + this.#config.awakeTimeout * 1000;
    this.#waiting.push(...this.#state.session.inflight.filter((e) => e.retry && !this.#waiting.includes(e)));
    this.#guard(() => {
      this.#pump();
      this.#maybeDone();
    });
  }

  ping(now: Instant): void {
    this.#now = now;
    if (!this.isOpen) return;
    this.#session.ping();
  }

  /** Publishes the status and DISCONNECTs normally; the driver then writes the output and closes. */
  close(now: Instant): void {
    this.#now = now;
    if (this.#closed) return;
    if (this.isOpen) {
      this.#closing = true;
      this.#publishLatest();
      this.#publishStatus();
      // MQTT 5, deep sleep: "Disconnect with Will Message" (0x04) rather than Normal (0x00), which
      // would discard the Will. The broker then holds it for the Will Delay (= Session Expiry) and
      // drops it when the node's next wake resumes the session in time; a node that never comes
      // back — it died asleep, the way a sleeping node nearly always dies — is announced offline.
      // Always connected: a normal DISCONNECT means the node is going away on purpose.
      this.#session.disconnect(this.version === 5 && !this.persistent ? 0x04 : undefined);
      // The exchange ended as agreed: QoS 0 telemetry sent in it is as delivered as QoS 0 gets.
      this.#confirmQoS0();
      this.#discoverySent();
    }
    // The status and DISCONNECT are still handed out by takeOutput(), the last write.
    this.#closed = true;
    this.#settleNow();
  }

  /** Nothing an input brings may throw into the driver: a bug costs this wake, nothing kept. */
  #guard(step: () => void): void {
    try {
      step();
    } catch (e) {
      this.fail(`internal error: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  #settleNow(): void {
    if (!this.#pending) return;
    this.#pending = false;
    this.#settled = this.#outcome;
  }

  #fallBack(why: string): void {
    const link = this.#link;
    this.#o.log(`${why}; using MQTT 3.1.1 (MQTT 5 is tried again in ${V5_RETRY_WAKES} wakes)`);
    link.version = 4;
    link.v5RetryAt = this.#state.counters.wakes + V5_RETRY_WAKES;
  }

  #start(): void {
    const config = this.#config;
    const state = this.#state;
    const { version } = this;
    const expiry = sessionExpiry(config);
    const link = this.#link;
    this.#session.connect({
      clientId: `torpor-${this.#o.node}`,
      cleanStart: false,
      keepAlive: keepAlive(config, this.persistent),
      ...(config.brokerUser ? { username: config.brokerUser } : {}),
      ...(config.brokerPassword ? { password: utf8Encode(config.brokerPassword) } : {}),
      will: {
        topic: this.#topic.status,
        payload: encodeStatus({ state: "offline" }, statusEncoding(config)),
        // What the broker offers: a broker with Maximum QoS 0 or no retained messages refuses a Will
        // that asks for more, and its refusal is what taught the node (#connack). Over 3.1.1 it
        // cannot say so (mosquitto just closes), so the Will asks no more than the telemetry does.
        qos: Math.min(1, config.qos, link.maximumQoS ?? 1) as 0 | 1,
        retain: link.retainAvailable !== false,
        // Deep sleep: announce "offline" only once the session would have expired, i.e. for a node
        // that missed its wakes. Always connected: a lost connection is news at once.
        ...(version === 5 && !this.persistent ? { properties: { willDelayInterval: expiry } } : {}),
      },
      ...(version === 5 ? { properties: { sessionExpiryInterval: expiry, maximumPacketSize: MAXIMUM_PACKET_SIZE, requestProblemInformation: false } } : {}),
    });
    for (const entry of [...state.session.inflight]) {
      if (entry.released) this.#releasedBefore.add(entry);
      if (!entry.retry && !entry.released && !state.buffer.range(entry.first, entry.count).length) {
        // Its readings were dropped as the oldest when the buffer overflowed (and counted then).
        this.#session.drop(entry);
        continue;
      }
      this.#waiting.push(entry);
    }
    if (((state.unsent - state.buffer.first) | 0) < 0) state.unsent = state.buffer.first;
    this.#cursor = state.unsent;
    this.#pump();
    // A subscription is only sure to be in place once SUBACK arrives (MQTT orders messages, not a
    // SUBSCRIBE against a PUBLISH in the same stream), so the marker waits for it when one is needed.
    if (link.subscribed) this.#sendMarker();
    else this.#subscribe();
    // The in-flight table, with the packet ids just assigned, is retained before any byte leaves: if
    // power fails after the write, the next wake re-sends under the same ids.
    this.#o.commit();
  }

  #subscribe(): void {
    // Until the SUBACK and the marker are back, the wake is not done.
    this.#marker = "";
    this.#session.subscribe([{ topic: this.#topic.command, qos: 1, ...(this.version === 5 ? { retainHandling: 2 as const } : {}) }]);
  }

  /** A QoS 0 marker on the node's own command topic; it comes back after every queued command. */
  #sendMarker(): void {
    // "<wake>.<packet id>", base 36: unique to this wake, so an earlier wake's echo does not pass for it.
    const marker = `${this.#state.counters.wakes.toString(36)}.${this.#state.session.nextPacketId.toString(36)}`;
    const message: OutgoingPublish = { topic: this.#topic.command, payload: markerPayload(marker), qos: 0, retain: false };
    if (!this.#fits(message)) {
      // Without it the wake cannot know when the queued commands are all in; it goes on without them.
      this.#skip("sync marker");
      this.#marker = undefined;
      return;
    }
    this.#marker = marker;
    this.#send(message);
  }

  /** The largest packet the broker takes: what it announced, or what the operator configured. */
  get #packetLimit(): number {
    const link = this.#link;
    return Math.min(link.maximumPacketSize ?? Infinity, link.refusedSize ?? Infinity, this.#config.maxPacketSize || Infinity);
  }

  #fits(message: OutgoingPublish): boolean {
    return this.#session.publishLength(message) <= this.#packetLimit;
  }

  #skip(what: string): void {
    this.#state.counters.skipped++;
    this.#o.log(`${what} left out: larger than the broker's packet limit of ${this.#packetLimit} bytes`);
  }

  #send(message: OutgoingPublish, first = 0, count = 0): InFlight | undefined {
    this.#largestSent = Math.max(this.#largestSent, this.#session.publishLength(message));
    const entry = this.#session.publish(message, 0, first, count);
    if (entry) this.#sent.add(entry);
    return entry;
  }

  /** Messages the broker may hold unanswered at once: its Receive Maximum, or the configured depth
   *  where it announced none (MQTT 3.1.1 cannot), within the retained table. */
  get #receiveMaximum(): number {
    const announced = this.version === 5 ? this.#link.receiveMaximum : undefined;
    return Math.min(announced ?? this.#config.maxInflight, TABLE_SIZE);
  }

  /** Sends what waits, then new batches, while the broker's Receive Maximum leaves room. */
  #pump(): void {
    const state = this.#state;
    if (this.#held || this.#closing) return;
    const qos = this.#qos();
    const room = () => this.#receiveMaximum - this.#sent.size;
    while (this.#waiting.length && room() > 0) {
      const entry = this.#waiting.shift()!;
      // A QoS 2 message whose PUBREC came back in an earlier connection stays with PUBREL; everything
      // else is the readings it names, sent again (with DUP) or — refused before, too large or at a
      // QoS the broker no longer offers — published again as new messages.
      const message = entry.retry || entry.released ? undefined : this.#message(entry.first, entry.count, entry.qos);
      if (entry.released || (message && this.#fits(message) && entry.qos <= qos)) {
        this.#session.resend(entry, message);
        this.#sent.add(entry);
        if (message) this.#largestSent = Math.max(this.#largestSent, this.#session.publishLength(message));
        this.#outcome.messages++;
      } else if (qos === 0) {
        // At QoS 0 no acknowledgement will come: the entry keeps its readings until the exchange
        // shows the broker took them (#confirmQoS0).
        this.#unconfirmed.push(entry);
        this.#republish(entry.first, entry.count, 0, room);
      } else {
        this.#session.drop(entry);
        this.#republish(entry.first, entry.count, qos, room);
      }
    }
    while (!this.#waiting.length && (qos === 0 || room() > 0)) {
      const available = (state.buffer.next - this.#cursor) >>> 0;
      if (available === 0) break;
      const taken = this.#publishRange(this.#cursor, Math.min(this.#config.batchSize, available), qos);
      this.#cursor = (this.#cursor + taken) >>> 0;
      if (qos !== 0) state.unsent = this.#cursor;
    }
  }

  /** Publishes the readings [first, first + count) again as new messages, as the room allows (QoS 0
   *  takes none: all go); what does not go out now waits in the table as one entry to publish again. */
  #republish(first: number, count: number, qos: 0 | 1 | 2, room: () => number): void {
    let at = first;
    let left = count;
    while (left > 0 && (qos === 0 || room() > 0)) {
      const taken = this.#publishRange(at, left, qos);
      at = (at + taken) >>> 0;
      left -= taken;
    }
    if (left > 0 && qos !== 0) {
      const rest: InFlight = { packetId: 0, kind: 0, first: at, count: left, qos, released: false };
      this.#session.requeue(rest);
      this.#waiting.push(rest);
    }
  }

  /**
   * Publishes one message of the readings from `first`: as many of `count` as fit in a packet the
   * broker takes. A single reading that fits in none is refused — counted, logged, never retried —
   * and skipped. Returns the readings it dealt with.
   */
  #publishRange(first: number, count: number, qos: 0 | 1 | 2): number {
    let n = count;
    let message = this.#message(first, n, qos);
    while (message && n > 1 && !this.#fits(message)) {
      n = Math.ceil(n / 2);
      message = this.#message(first, n, qos);
    }
    if (!message) return count; // Dropped as the oldest by an overflow (counted then).
    if (!this.#fits(message)) {
      this.#state.counters.refused++;
      this.#outcome.error = `a reading of ${this.#session.publishLength(message)} bytes fits no packet the broker takes (limit ${this.#packetLimit}); refused`;
      this.#o.log(this.#outcome.error);
      return 1;
    }
    this.#send(message, first, n);
    this.#outcome.messages++;
    return n;
  }

  /** The configured QoS, lowered to the broker's Maximum QoS. */
  #qos(): 0 | 1 | 2 {
    return Math.min(this.#config.qos, this.#link.maximumQoS ?? 2) as 0 | 1 | 2;
  }

  #message(first: number, count: number, qos: 0 | 1 | 2): OutgoingPublish | undefined {
    const readings = this.#state.buffer.range(first, count);
    if (!readings.length) return undefined;
    if (readings.at(-1)!.time >= (this.#newest?.time ?? -Infinity)) this.#newest = readings.at(-1);
    const batch = { baseName: `urn:dev:torpor:${this.#o.node}:`, channels: this.#o.channels, sensorIds: this.#sensorIds, readings, dropped: this.#state.buffer.dropped };
    const { payload, contentType } = encodePayload(this.#config.format, batch);
    const message: OutgoingPublish = { topic: this.#topic.telemetry, payload, qos, retain: false };
    if (this.version === 5) message.properties = { contentType };
    return message;
  }

  #received(bytes: Uint8Array): void {
    this.#outcome.bytesDown += bytes.length;
    let events;
    try {
      events = this.#session.receive(bytes);
    } catch (e) {
      return this.fail(e instanceof ProtocolError ? `protocol error from broker: ${e.message}` : String(e));
    }
    let acked = false;
    for (const event of events) {
      if (this.#closed) return;
      switch (event.type) {
        case "connack":
          if (!this.#connack(event.sessionPresent, event.reasonCode, event.packet.properties)) return;
          break;
        case "acked":
          this.#acked(event.entry, event.reasonCode, event.asQoS1);
          acked = true;
          break;
        case "released":
          this.#o.commit();
          break;
        case "subscribed":
          this.#link.subscribed = event.reasonCodes.every((code) => code < 0x80);
          if (this.#link.subscribed) this.#sendMarker();
          else {
            this.#o.log("broker refused the command subscription; commands are off this wake");
            this.#marker = undefined;
          }
          this.#o.commit();
          break;
        case "message":
          this.#command(event.publish.topic, event.publish.payload);
          break;
        case "discarded":
          this.#answer(oversizedCommand(event.size, MAXIMUM_PACKET_SIZE));
          this.#o.commit();
          break;
        case "disconnect":
          this.#disconnected(event.reasonCode);
          return this.fail(`broker disconnected: ${reasonName(event.reasonCode)}`);
        case "pong":
          break;
      }
    }
    // Released once every answer in these bytes is booked: the session has already taken them all
    // out of the table, and a refusal further on puts its readings back.
    if (acked) {
      this.#release();
      this.#o.commit();
    }
    // Between the flushes of an always-connected node (a PINGRESP, a command), nothing new goes out:
    // the schedule decides when a batch is due.
    if (this.#pending) this.#pump();
    this.#maybeDone();
  }

  #connack(sessionPresent: boolean, reasonCode: number, properties: ConnackPacket["properties"]): boolean {
    const link = this.#link;
    if (reasonCode !== 0) {
      // A refusal that names its cause is one the next attempt can avoid, in this same wake.
      if (this.version === 5 && reasonCode === 0x84) {
        this.#fallBack("broker refused MQTT 5");
        this.#outcome.adapted = true;
      } else if (this.version === 5 && reasonCode === 0x9b && (link.maximumQoS ?? 1) > 0) {
        link.maximumQoS = Math.min(properties?.maximumQoS ?? 0, 1) as 0 | 1;
        this.#outcome.adapted = true;
      } else if (this.version === 5 && reasonCode === 0x9a && link.retainAvailable !== false) {
        link.retainAvailable = false;
        this.#outcome.adapted = true;
      }
      this.#o.commit();
      this.fail(`broker refused the connection: ${connackReason(this.version, reasonCode)}`);
      return false;
    }
    this.#connacked = true;
    this.#sessionPresent = sessionPresent;
    this.#outcome.sessionPresent = sessionPresent;
    this.#outcome.version = this.version;
    const before = this.#qos();
    link.version = this.version;
    if (this.#o.probe) this.#fallBack("broker closed MQTT 5 CONNECTs unanswered in two wakes and took 3.1.1");
    delete link.v5Closed;
    if (this.version === 5) {
      delete link.v5RetryAt;
      // Absent properties mean "no limit" (MQTT 5 §3.2.2.3): forget what an earlier broker said.
      if (properties?.receiveMaximum !== undefined) link.receiveMaximum = properties.receiveMaximum;
      else delete link.receiveMaximum;
      this.#overran = this.#sent.size > this.#receiveMaximum;
      if (properties?.maximumPacketSize !== undefined) link.maximumPacketSize = properties.maximumPacketSize;
      else delete link.maximumPacketSize;
      if (properties?.maximumQoS !== undefined) link.maximumQoS = properties.maximumQoS as 0 | 1;
      else delete link.maximumQoS;
      if (properties?.retainAvailable === false) link.retainAvailable = false;
      else delete link.retainAvailable;
      this.#serverKeepAlive = properties?.serverKeepAlive;
    }
    if (this.#qos() < this.#config.qos && this.#qos() !== before) {
      this.#o.log(`broker offers QoS ${this.#qos()} at most: telemetry goes at QoS ${this.#qos()}, not ${this.#config.qos}`);
    }
    if (!sessionPresent && link.subscribed) {
      // The broker lost the session and with it the subscription, and the marker went nowhere:
      // subscribe again and send a new marker. Kept readings were in this connection's write, so
      // the broker took them as new messages of the new session.
      link.subscribed = false;
      this.#subscribe();
    }
    delete link.results;
    if (this.#config.homeAssistant) this.#discover(sessionPresent);
    this.#o.commit();
    return true;
  }

  /** Home Assistant discovery, QoS 0 as Home Assistant allows: when the session is new (a broker
   *  that lost it may have lost the retained configs too) or the messages changed. */
  #discover(sessionPresent: boolean): void {
    const messages = discoveryMessages(this.#config, this.#o.channels, this.#o.node, sessionExpiry(this.#config));
    const fingerprint = discoveryFingerprint(messages);
    if (sessionPresent && this.#link.discovery === fingerprint) return;
    const retain = this.#link.retainAvailable !== false;
    for (const m of messages) {
      const message: OutgoingPublish = { topic: m.topic, payload: utf8Encode(m.payload), qos: 0, retain: m.retain && retain };
      if (this.#fits(message)) this.#send(message);
      else this.#skip(`discovery config ${m.topic}`);
    }
    this.#discovered = fingerprint;
  }

  /** Home Assistant's state: the newest values sent, retained on `<prefix>/<node>/latest`. */
  #publishLatest(): void {
    if (!this.#config.homeAssistant || !this.#newest || this.#newest === this.#latestSent) return;
    const payload = utf8Encode(JSON.stringify(latestValues(this.#o.channels, this.#newest)));
    this.#latestSent = this.#newest;
    const message: OutgoingPublish = { topic: this.#topic.latest, payload, qos: 0, retain: this.#link.retainAvailable !== false };
    if (this.#fits(message)) this.#send(message);
    else this.#skip("latest values");
  }

  /** The discovery messages count as sent once the exchange ended as agreed (as QoS 0 telemetry). */
  #discoverySent(): void {
    if (this.#discovered === undefined) return;
    this.#link.discovery = this.#discovered;
    this.#discovered = undefined;
    this.#o.commit();
  }

  /** A packet of `size` bytes was too large for the broker, which announced no limit it keeps (as
   *  mosquitto's message_size_limit): from now on the node sends only smaller ones. */
  #tooLarge(size: number): void {
    this.#link.refusedSize = Math.min(this.#link.refusedSize ?? Infinity, size - 1);
  }

  /** What a broker's DISCONNECT reason teaches about its limits, for the next connection. */
  #disconnected(reasonCode: number): void {
    const link = this.#link;
    if (reasonCode === 0x95 && this.#largestSent > 0) this.#tooLarge(this.#largestSent);
    else if (reasonCode === 0x93) link.receiveMaximum = Math.max(1, Math.floor(this.#sent.size / 2));
    else if (reasonCode === 0x9a) link.retainAvailable = false;
    else if (reasonCode === 0x9b) link.maximumQoS = Math.max(0, this.#qos() - 1) as 0 | 1;
    this.#o.commit();
  }

  #acked(entry: InFlight, reasonCode: number, asQoS1: boolean): void {
    const state = this.#state;
    this.#sent.delete(entry);
    if (this.#releasedBefore.delete(entry) && this.#sessionPresent === false) {
      // A QoS 2 message the broker had taken (PUBREC) before it lost the session (a restart without
      // persistence, the session expired while the node slept): a broker that delivers QoS 2 on
      // PUBREL, as mosquitto does, lost the message with the session, and it answers this wake's
      // PUBREL with a PUBCOMP all the same. The readings are still here: publish them again as a new
      // message, as with every kept message when the session is gone (MQTT 5 §3.2.2-5). A broker
      // that had delivered it already sends it twice: at least once, never lost.
      if (entry.kind === 0) {
        this.#session.requeue(entry);
        this.#waiting.push(entry);
      }
      return;
    }
    if (entry.kind !== 0) return;
    if (reasonCode < 0x80) {
      this.#outcome.delivered += entry.count;
      state.counters.delivered += entry.count;
      if (asQoS1 && !this.#link.qos2AsPuback) {
        this.#link.qos2AsPuback = true;
        this.#o.log("broker answered a QoS 2 message with PUBACK: with this broker, exactly once is at least once");
      }
    } else if (publishRefusal(reasonCode) === "never" || (reasonCode === 0x95 && entry.count === 1)) {
      // The broker will never take it (not authorized for the topic, …): keeping it would only
      // block the buffer. Released, counted, said.
      state.counters.refused += entry.count;
      this.#outcome.error = `broker refused ${entry.count} readings for good: ${reasonName(reasonCode)}`;
      this.#o.log(this.#outcome.error);
    } else {
      // "Not now" (quota, busy, too large for it): the readings stay, and this wake sends no more —
      // unless what the refusal says can be put right at once: a batch too large goes again in
      // smaller messages, and what the first write sent past a Receive Maximum the node did not
      // know yet goes again within it.
      if (reasonCode === 0x95) {
        const message = this.#message(entry.first, entry.count, entry.qos);
        if (message) this.#tooLarge(this.#session.publishLength(message));
      }
      if (reasonCode === 0x93) this.#link.receiveMaximum = Math.max(1, this.#sent.size);
      this.#session.requeue(entry);
      if (reasonCode === 0x95 || (this.#overran && (reasonCode === 0x97 || reasonCode === 0x93))) {
        this.#waiting.push(entry);
        return;
      }
      this.#held = true;
      this.#outcome.error = `broker refused a batch for now: ${reasonName(reasonCode)}; its ${entry.count} readings are kept`;
    }
  }

  /** Forgets readings no message needs any more: everything before the oldest still in flight. */
  #release(): void {
    const state = this.#state;
    let keep = state.unsent;
    for (const e of state.session.inflight) if (e.kind === 0 && ((e.first - keep) | 0) < 0) keep = e.first;
    state.buffer.release(keep);
  }

  /** QoS 0 telemetry sent on this connection counts as delivered: the broker has shown it took it. */
  #confirmQoS0(): void {
    const state = this.#state;
    let sent = Math.max(0, (this.#cursor - state.unsent) | 0);
    for (const entry of this.#unconfirmed.splice(0)) {
      this.#session.drop(entry);
      sent += entry.count;
    }
    if (sent === 0) return;
    this.#outcome.delivered += sent;
    state.counters.delivered += sent;
    state.unsent = this.#cursor;
    this.#release();
    this.#o.commit();
  }

  #command(topic: string, payload: Uint8Array): void {
    if (topic !== this.#topic.command) return;
    if (this.#marker && isMarker(payload, this.#marker)) {
      this.#marker = undefined;
      this.#markerSeen = true;
      return;
    }
    // Markers of earlier wakes (a session's queue can hold one) are not commands.
    if (isMarker(payload)) return;
    const config = this.#config;
    const effect = applyCommand(payload, this.#link, {
      minSampleInterval: config.minSampleInterval,
      minBatchSize: config.minBatchSize,
      awakeBudget: config.awakeBudget,
      awakeThisWake: this.#awakeGranted,
      nowS: Math.floor(this.#now.wall / 1000),
    });
    this.#answer(effect);
    if (effect.awake) {
      this.#awakeGranted += effect.awake;
      this.#awakeUntil = Math.max(this.#awakeUntil, this.#now.ticks + effect.awake * 1000);
      // Staying awake on purpose: the wake's deadline moves with it, and pings keep the line up.
      this.#deadline = Math.max(this.#deadline, this.#awakeUntil + config.awakeTimeout * 1000);
    }
    this.#o.commit();
  }

  /** Books a command's result: the status shows it, and an error is counted. */
  #answer(effect: { result: string; ok: boolean }): void {
    this.#outcome.commands.push(effect.result);
    if (this.#outcome.commands.length > 8) this.#outcome.commands.shift();
    noteResult(this.#link, effect.result);
    if (!effect.ok) this.#state.counters.commandErrors++;
    this.#o.log(`command ${effect.result}`);
  }

  /** Everything this exchange waits for has come: only an awake window may still hold it open. */
  #canFinish(): boolean {
    if (!this.#pending || this.#closing || !this.#connacked || this.#sent.size || this.#marker !== undefined) return false;
    return this.#held || (!this.#waiting.length && ((this.#state.buffer.next - this.#cursor) >>> 0) === 0);
  }

  #maybeDone(): void {
    if (!this.#canFinish() || this.#awakeUntil > this.#now.ticks) return;
    // The marker came back after everything sent before it: the broker has the QoS 0 telemetry.
    // Without a marker that proof comes with the orderly close (close()).
    if (this.#markerSeen || this.persistent) this.#confirmQoS0();
    this.#release();
    this.#o.commit();
    if (this.persistent) {
      this.#discoverySent();
      this.#publishLatest();
      this.#publishStatus();
    }
    this.#settleNow();
  }

  /**
   * The retained status, when it has news: what it says changed (beyond what moves at every wake:
   * the next wake, the counts of wakes and deliveries, energy), its heartbeat (`statusEvery`) is
   * due, the broker's session is new (a broker that lost the session may have lost its retained
   * messages too), or the last attempt failed (its Will may have said "offline"). A resumed wake with
   * nothing new sends none: that is most of a lean wake's bytes.
   */
  #publishStatus(): void {
    const link = this.#link;
    const full = this.#status();
    const nowS = Math.floor(this.#now.wall / 1000);
    const print = fingerprint(full, volatileStatus);
    const every = this.#config.statusEvery;
    // After a failed attempt the broker may have published the Will over the retained status.
    const due = every === 0 || this.#sessionPresent !== true || this.#state.failures > 0 || link.statusAt === undefined || nowS - link.statusAt >= every || nowS < link.statusAt || print !== link.statusPrint;
    if (!due) return;
    const retain = link.retainAvailable !== false;
    for (const status of [full, this.#essentials(full)]) {
      const message: OutgoingPublish = { topic: this.#topic.status, payload: encodeStatus(status, statusEncoding(this.#config)), qos: 0, retain };
      if (this.#fits(message)) {
        this.#send(message);
        link.statusAt = nowS;
        link.statusPrint = print;
        this.#o.commit();
        return;
      }
    }
    this.#skip("status");
  }

  #status(): Record<string, unknown> {
    const config = this.#config;
    const state = this.#state;
    const schedule = withOverrides(config, this.#link.overrides);
    const status: Record<string, unknown> = {
      state: this.persistent && !this.#closing ? "online" : "asleep",
      host: this.#o.hostName,
      at: Math.floor(this.#now.wall / 1000),
      // From the schedule as it is now: a command taken in this exchange may have just changed it.
      nextWake: Math.round(nextWake(this.#now.wall, schedule.sampleInterval) / 1000),
      // Seconds between connections on this schedule: a watcher expects one that often, whether or
      // not a status came with it (telemetry carries its own times).
      every: Math.min(effectiveBatch(schedule) * schedule.sampleInterval, DOWNLINK_PERIOD_S),
      buffered: state.buffer.length,
      dropped: state.buffer.dropped,
      ...state.counters,
      sensorErrors: Object.fromEntries(config.sensors.map((s, i) => [s.id, state.sensorErrors[i] ?? 0])),
      // Totals up to the last wake (src/power/energy.ts); docs/power.md turns them into battery life.
      energy: state.energy,
      mqtt: this.version === 5 ? "5" : "3.1.1",
    };
    const days = batteryDays(state, schedule);
    if (days !== undefined) status.batteryDays = days;
    if (this.#qos() !== config.qos) status.qos = this.#qos();
    if (this.#link.qos2AsPuback && this.#qos() === 2) status.qos2 = "answered with PUBACK: at least once";
    if (this.#link.overrides) status.overrides = this.#link.overrides;
    if (this.#link.results?.length) status.commands = this.#link.results;
    return status;
  }

  /** The status a subscriber cannot do without, for a broker whose packet limit is tight. */
  #essentials(full: Record<string, unknown>): Record<string, unknown> {
    const keep = ["state", "at", "nextWake", "every", "buffered", "dropped", "delivered", "refused"];
    return Object.fromEntries(keep.map((key) => [key, full[key]]));
  }
}

/** Status fields that move at (nearly) every wake: news only with a heartbeat. */
const volatileStatus = new Set(["at", "nextWake", "buffered", "wakes", "delivered", "energy", "batteryDays"]);

/** A fingerprint of a status without the fields named: whether it says anything new. */
function fingerprint(status: Record<string, unknown>, without: ReadonlySet<string>): number {
  return fnv1a(JSON.stringify(Object.entries(status).filter(([key]) => !without.has(key))));
}

/** Days a battery of the datasheet's defaults lasts on `config`'s schedule at what the node's wakes
 *  have cost so far (its energy totals); undefined before it has published once. */
function batteryDays(state: NodeState, config: Config): number | undefined {
  const { energy } = state;
  const wakes = state.counters.wakes;
  if (wakes === 0 || energy.radioWakes === 0) return undefined;
  const measured = {
    xsCompute: undefined,
    awakeMs: Math.max(0, energy.awakeMs - energy.sampleMs - energy.radioMs) / wakes,
    sampleMs: energy.sampleMs / wakes,
    radioMs: energy.radioMs / energy.radioWakes,
    bytesUp: energy.bytesUp / energy.radioWakes,
    bytesDown: energy.bytesDown / energy.radioWakes,
  };
  return Math.round(project(config, measured, defaultAssumptions).batteryDays);
}
