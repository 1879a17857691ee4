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
import { applyCommand, noteResult, oversizedCommand } from "./link";
import { withOverrides, type LinkMemory } from "./retained/link-memory";
import { ProtocolError, type Version } from "./mqtt/codec";
import type { ConnackPacket } from "./mqtt/packets";
import { connackReason, publishRefusal, reasonName } from "./mqtt/reasons";
import { MAX_INFLIGHT, PublisherSession, type InFlight, type OutgoingPublish } from "./mqtt/session";
import { defaultAssumptions, effectiveBatch, project } from "./power/projection";
import { DOWNLINK_PERIOD_S, nextWake } from "./power/schedule";
import type { NodeState } from "./retained/state";
import type { Channel } from "./sensors/channel";
import { encodePayload } from "./telemetry/payload";
import { seqBefore, seqDistance, type Reading } from "./telemetry/reading";

/** The largest packet the node accepts (commands, acknowledgements): announced to MQTT 5 brokers;
 *  a larger PUBLISH is read past, acknowledged and answered with an error, on every version. */
export const MAXIMUM_PACKET_SIZE = 4096;

/** The most channels one part of a reading sent in parts carries: a part's `kind` in the retained
 *  in-flight table is (channels << 5) | first channel, in a byte, and 0 stays "whole readings". */
const MAX_PART_CHANNELS = 7;
const partKind = (lo: number, channels: number): number => (channels << 5) | lo;

/** Commands one wake takes, and their bytes: what comes past either is acknowledged and dropped
 *  (one counted error a wake). The operator's few commands fit many times over; a flood does not. */
export const COMMANDS_PER_WAKE = 32;
export const COMMAND_BYTES_PER_WAKE = 16 * 1024;

/** Wakes a node stays on MQTT 3.1.1 after a broker refused 5, before it tries 5 once more (a broker
 *  may be upgraded): about a day at one-minute sampling. */
export const V5_RETRY_WAKES = 1440;

/** The node stays on MQTT 3.1.1 for a while: on proof that this broker refuses 5 (CONNACK 0x84, or
 *  a 5 CONNECT closed unanswered right after it took a 3.1.1 one in the same wake). */
export function fallBack(state: NodeState, log: (line: string) => void, why: string): void {
  log(`${why}; using MQTT 3.1.1 (MQTT 5 is tried again in ${V5_RETRY_WAKES} wakes)`);
  state.link.version = 4;
  state.link.v5RetryAt = state.counters.wakes + V5_RETRY_WAKES;
  delete state.link.v5Closed;
}

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
  /** A 3.1.1 attempt after MQTT 5 CONNECTs were closed unanswered: its CONNACK alone does not
   *  make the node fall back (the broker may just have come back); the driver tries 5 once more. */
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
  /** Per PUBLISH sent on this connection, in order, its size; and how many of them the broker is
   *  known to have read past (an answer to one proves every one before it: a broker reads a
   *  connection's packets in order). */
  readonly #sizes: number[] = [];
  #provenUpTo = 0;
  /** Where each message in flight stands in `#sizes`, and where the marker and the PINGREQ after
   *  the status stood. */
  readonly #position = new Map<InFlight, number>();
  #markerAt = 0;
  /** Closing: the PINGREQ that confirms the last packets went out after this many PUBLISHes. */
  #confirming: number | undefined;
  /** Commands this wake took (or tried to), their bytes, and those dropped past the bounds. */
  #commandsTaken = 0;
  #commandBytes = 0;
  #commandsDropped = 0;
  /** Per PINGREQ not yet answered, the PUBLISHes sent before it: its PINGRESP proves them. */
  readonly #pings: number[] = [];
  /** The highest QoS of a PUBLISH sent on this connection. */
  #qosSent = 0;
  /** What this connection's CONNACK announced (MQTT 5). */
  #announced: NonNullable<ConnackPacket["properties"]> = {};
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
    if (this.#closed) return undefined;
    if (this.#confirming) return this.#deadline;
    if (!this.#pending) return undefined;
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
    if (this.#checkDeadline()) return;
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
    if (this.#connacked) this.#closedByBroker();
    this.fail(error);
  }

  /**
   * The broker closed an accepted connection without a word: over 3.1.1 (and from some MQTT 5
   * brokers) that is all a broker says of a packet over a limit it never announced. What went out
   * after the last packet it is known to have taken is the suspect, the largest first. A dropped
   * Wi-Fi link or a restarting broker look the same, so one close only marks the suspect; a second
   * one over a packet as large teaches the limit: from then on the node sends only smaller ones,
   * never below what the broker has taken before. Either way its Will may have said "offline" for
   * a node still waking: the status is owed at the next connection.
   */
  #closedByBroker(): void {
    const link = this.#link;
    delete link.statusAt;
    const suspect = this.#largestUnproven;
    if (suspect > (link.provenSize ?? 0) && this.#announced.maximumPacketSize === undefined) {
      if (link.suspectSize !== undefined && suspect >= link.suspectSize) {
        this.#tooLarge(link.suspectSize, link.provenSize);
        delete link.suspectSize;
        this.#o.log(`broker closed the connection after a packet of ${suspect} bytes again: sending none over ${this.#packetLimit} from now on`);
      } else link.suspectSize = suspect;
    }
    this.#o.commit();
  }

  /** Ends the exchange with an error (the network, the socket, a deadline): nothing kept is lost. */
  fail(error: string): void {
    if (this.#closed) return;
    this.#end();
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
    this.#pings.push(this.#sizes.length);
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
      // A packet larger than any the broker has taken, to a broker that announced no limit, may be
      // one it closes the connection over — and then its Will says "offline" for a node that is
      // only going to sleep. A PINGREQ behind it tells: its PINGRESP comes only if the broker read
      // past it. One round trip, only while the status (or the latest values) outgrow what is known.
      if (this.#largestUnproven > (this.#link.provenSize ?? 0) && this.#announced.maximumPacketSize === undefined) {
        this.#confirming = this.#sizes.length;
        this.#pings.push(this.#confirming);
        this.#session.ping();
        this.#deadline = Math.min(this.#deadline, now.ticks + this.#config.awakeTimeout * 1000);
        return;
      }
    }
    this.#disconnect();
  }

  /** DISCONNECTs (when open) and ends the exchange; the driver's last write carries it. */
  #disconnect(): void {
    this.#confirming = undefined;
    if (this.isOpen || this.#closing) {
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
    this.#end();
    this.#settleNow();
  }

  /** At the wake's deadline: an exchange whose telemetry is all answered ends well, whatever else
   *  is still arriving (commands behind the marker); one still waiting for its broker fails. True
   *  when it ended. */
  #checkDeadline(): boolean {
    if (this.#closed || this.#now.ticks < this.#deadline) return false;
    if (this.#confirming !== undefined) {
      this.#disconnect();
      return true;
    }
    if (!this.#pending) return false;
    if (this.#telemetryDone()) {
      if (this.#marker !== undefined) this.#o.log(`commands still arriving after ${this.#config.awakeTimeout} s: the rest wait for the next wake`);
      this.#marker = undefined;
      this.#awakeUntil = 0;
      this.#maybeDone();
      return true;
    }
    this.fail(`no answer within ${this.#config.awakeTimeout} s`);
    return true;
  }

  /** The connection is over: what the wake's command bounds dropped is said once, with its count. */
  #end(): void {
    this.#closed = true;
    if (this.#commandsDropped > 0) this.#o.log(`dropped ${this.#commandsDropped} commands past this wake's bounds`);
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
        payload: utf8Encode(JSON.stringify({ state: "offline" })),
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
        this.#session.settle(entry);
        continue;
      }
      this.#waiting.push(entry);
    }
    if (seqBefore(state.unsent, state.buffer.first)) state.unsent = state.buffer.first;
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
    // Short, for it crosses the air twice at every wake: {"sync":"<wake>.<packet id>"}, base 36.
    const marker = `${this.#state.counters.wakes.toString(36)}.${this.#state.session.nextPacketId.toString(36)}`;
    const message: OutgoingPublish = { topic: this.#topic.command, payload: utf8Encode(JSON.stringify({ sync: marker })), qos: 0, retain: false };
    if (!this.#fits(message)) {
      // Without it the wake cannot know when the queued commands are all in; it goes on without them.
      this.#skip("sync marker");
      this.#marker = undefined;
      return;
    }
    this.#marker = marker;
    this.#send(message);
    this.#markerAt = this.#sizes.length;
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

  #send(message: OutgoingPublish, first = 0, count = 0, kind = 0): InFlight | undefined {
    const size = this.#session.publishLength(message);
    const entry = this.#session.publish(message, kind, first, count);
    this.#sentPacket(size, message.qos, entry);
    if (entry) this.#sent.add(entry);
    return entry;
  }

  /** Messages the broker may hold unanswered at once: its Receive Maximum, or the configured depth
   *  where it announced none (MQTT 3.1.1 cannot), within the retained table. */
  get #receiveMaximum(): number {
    // What a broker announced over 5 (or taught by refusing for quota) binds a 3.1.1 connection to
    // it as well: the broker is the same, only the version could not say so.
    return Math.min(this.#link.receiveMaximum ?? this.#config.maxInflight, MAX_INFLIGHT);
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
      const message = entry.retry || entry.released ? undefined : this.#message(entry.first, entry.count, entry.qos, entry.kind);
      if (entry.released || (message && this.#fits(message) && entry.qos <= qos)) {
        this.#session.resend(entry, message);
        this.#sent.add(entry);
        this.#sentPacket(message ? this.#session.publishLength(message) : 0, entry.qos, entry);
        this.#outcome.messages++;
      } else if (qos === 0) {
        // At QoS 0 no acknowledgement will come: the entry keeps its readings until the exchange
        // shows the broker took them (#confirmQoS0).
        this.#unconfirmed.push(entry);
        this.#republish(entry, 0, room);
      } else {
        this.#session.settle(entry);
        this.#republish(entry, qos, room);
      }
    }
    while (!this.#waiting.length && (qos === 0 || room() > 0)) {
      const available = (state.buffer.next - this.#cursor) >>> 0;
      if (available === 0) break;
      const taken = this.#publishRange(this.#cursor, Math.min(this.#config.batchSize, available), qos, room);
      this.#cursor = (this.#cursor + taken) >>> 0;
      if (qos !== 0) state.unsent = this.#cursor;
    }
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
      at = (at + taken) >>> 0;
      left -= taken;
    }
    if (left > 0 && qos !== 0) this.#later({ kind: 0, first: at, count: left }, qos);
  }

  /** Keeps what cannot go out now in the table, to be published as new when room frees. */
  #later(what: Pick<InFlight, "first" | "count" | "kind">, qos: 1 | 2): void {
    const rest: InFlight = { packetId: 0, ...what, qos, released: false };
    this.#session.requeue(rest);
    this.#waiting.push(rest);
  }

  /**
   * One reading in parts, by channel, for a broker whose packet limit is smaller than the whole
   * reading (SenML records stand alone, and so does a compact payload of some channels): each part
   * as many channels as fit, up to `MAX_PART_CHANNELS`. A channel that fits no packet alone is
   * refused, counted once for the reading, and said.
   */
  #publishParts(first: number, qos: 0 | 1 | 2, room: () => number): void {
    const channels = this.#o.channels.length;
    let refused = false;
    for (let lo = 0; lo < channels; ) {
      let width = Math.min(MAX_PART_CHANNELS, channels - lo);
      for (let part = this.#message(first, 1, qos, partKind(lo, width)); part && width > 1 && !this.#fits(part); ) {
        part = this.#message(first, 1, qos, partKind(lo, --width));
      }
      const kind = partKind(lo, width);
      if (qos !== 0 && room() <= 0) this.#later({ kind, first, count: 1 }, qos);
      else if (!this.#publishPart(first, kind, qos) && !refused) {
        refused = true;
        this.#state.counters.refused++;
      }
      lo += width;
    }
  }

  /** Publishes one part of a reading as a new message; false if it fits no packet the broker takes. */
  #publishPart(first: number, kind: number, qos: 0 | 1 | 2): boolean {
    const message = this.#message(first, 1, qos, kind);
    if (!message) return true; // Dropped as the oldest by an overflow (counted then).
    if (!this.#fits(message)) {
      this.#outcome.error = `channel ${this.#o.channels[kind & 31]!.name} of a reading takes ${this.#session.publishLength(message)} bytes, more than the broker's packet limit of ${this.#packetLimit}; refused`;
      this.#o.log(this.#outcome.error);
      return false;
    }
    this.#send(message, first, 1, kind);
    this.#outcome.messages++;
    return true;
  }

  /** Channels the messages of `kind` carry: a part's, or every channel. */
  #channelsOf(kind: number): number {
    return kind === 0 ? this.#o.channels.length : kind >> 5;
  }

  /**
   * Publishes one message of the readings from `first`: as many of `count` as fit in a packet the
   * broker takes. A single reading that fits in none goes in parts (`#publishParts`). Returns the
   * readings it dealt with.
   */
  #publishRange(first: number, count: number, qos: 0 | 1 | 2, room: () => number): number {
    let n = count;
    let message = this.#message(first, n, qos);
    while (message && n > 1 && !this.#fits(message)) {
      n = Math.ceil(n / 2);
      message = this.#message(first, n, qos);
    }
    if (!message) return count; // Dropped as the oldest by an overflow (counted then).
    if (!this.#fits(message)) {
      this.#publishParts(first, qos, room);
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

  /** The message of readings [first, first + count), or of one reading's part (`kind`: partKind). */
  #message(first: number, count: number, qos: 0 | 1 | 2, kind = 0): OutgoingPublish | undefined {
    let readings: readonly Reading[] = this.#state.buffer.range(first, count);
    if (!readings.length) return undefined;
    if (readings.at(-1)!.time >= (this.#newest?.time ?? -Infinity)) this.#newest = readings.at(-1);
    let channels = this.#o.channels;
    if (kind !== 0) {
      // A part: its channels' values; the reading's faults go with its first part.
      const lo = kind & 31;
      const hi = lo + (kind >> 5);
      channels = channels.slice(lo, hi);
      readings = readings.map((r) => ({ ...r, values: r.values.slice(lo, hi), faults: lo === 0 ? r.faults : [] }));
    }
    const batch = { baseName: `urn:dev:torpor:${this.#o.node}:`, channels, sensorIds: this.#sensorIds, readings, dropped: this.#state.buffer.dropped };
    const { payload, contentType } = encodePayload(this.#config.format, batch);
    const message: OutgoingPublish = { topic: this.#topic.telemetry, payload, qos, retain: false };
    if (this.version === 5) message.properties = { contentType };
    return message;
  }

  /**
   * The events of one read are booked as one step and committed once: a power cut between two of
   * them must not find an acknowledgement taken out of the table but not yet counted, or a refusal
   * "for now" not yet put back (the session leaves the table to us; `#acked` moves entries).
   */
  #received(bytes: Uint8Array): void {
    this.#outcome.bytesDown += bytes.length;
    let events;
    try {
      events = this.#session.receive(bytes);
    } catch (e) {
      return this.fail(e instanceof ProtocolError ? `protocol error from broker: ${e.message}` : String(e));
    }
    let changed = false;
    let acked = false;
    for (const event of events) {
      if (this.#closed) break;
      switch (event.type) {
        case "connack":
          this.#connack(event.sessionPresent, event.reasonCode, event.packet.properties);
          changed = true;
          break;
        case "acked":
          this.#acked(event.entry, event.reasonCode, event.asQoS1);
          acked = changed = true;
          break;
        case "released":
          event.entry.released = true;
          changed = true;
          break;
        case "subscribed":
          this.#link.subscribed = event.reasonCodes.every((code) => code < 0x80);
          if (this.#link.subscribed) this.#sendMarker();
          else {
            this.#o.log("broker refused the command subscription; commands are off this wake");
            this.#marker = undefined;
          }
          changed = true;
          break;
        case "message":
          changed = this.#command(event.publish.topic, event.publish.payload) || changed;
          break;
        case "discarded":
          changed = this.#discarded(event.size) || changed;
          break;
        case "disconnect":
          this.#disconnected(event.reasonCode);
          changed = true;
          this.fail(`broker disconnected: ${reasonName(event.reasonCode)}`);
          break;
        case "pong":
          this.#proven(this.#pings.shift() ?? 0);
          break;
      }
    }
    // Released once every answer in these bytes is booked: a refusal further on puts its readings
    // back, and what the acknowledgements let go is gone from retained memory in the same commit.
    if (acked) this.#release();
    if (changed) this.#o.commit();
    // Closing: the PINGREQ behind the status came back, so the broker read past the status (the
    // commands that came with it are booked above: every one it acknowledged is taken).
    if (this.#confirming !== undefined && this.#provenUpTo >= this.#confirming && !this.#closed) this.#disconnect();
    if (this.#closed) return;
    // Between the flushes of an always-connected node (a PINGRESP, a command), nothing new goes out:
    // the schedule decides when a batch is due.
    if (this.#pending) this.#pump();
    this.#maybeDone();
    this.#checkDeadline();
  }

  #connack(sessionPresent: boolean, reasonCode: number, properties: ConnackPacket["properties"]): void {
    const link = this.#link;
    if (reasonCode !== 0) {
      // A refusal that names its cause is one the next attempt can avoid, in this same wake.
      if (this.version === 5 && reasonCode === 0x84) {
        fallBack(this.#state, this.#o.log, "broker refused MQTT 5");
        this.#outcome.adapted = true;
      } else if (this.version === 5 && reasonCode === 0x9b && (link.maximumQoS ?? 1) > 0) {
        link.maximumQoS = Math.min(properties?.maximumQoS ?? 0, 1) as 0 | 1;
        this.#outcome.adapted = true;
      } else if (this.version === 5 && reasonCode === 0x9a && link.retainAvailable !== false) {
        link.retainAvailable = false;
        this.#outcome.adapted = true;
      }
      this.fail(`broker refused the connection: ${connackReason(this.version, reasonCode)}`);
      return;
    }
    this.#connacked = true;
    this.#sessionPresent = sessionPresent;
    this.#outcome.sessionPresent = sessionPresent;
    this.#outcome.version = this.version;
    const before = this.#qos();
    // A probe's CONNACK is not proof that 5 is refused: the broker may just have come back. The
    // driver decides (`connect`), with one more MQTT 5 attempt in this wake.
    if (!this.#o.probe) {
      link.version = this.version;
      delete link.v5Closed;
    }
    if (this.version === 5) {
      delete link.v5RetryAt;
      // Absent properties mean "no limit" (MQTT 5 §3.2.2.3): forget what an earlier broker said.
      if (properties?.receiveMaximum !== undefined) link.receiveMaximum = properties.receiveMaximum;
      else delete link.receiveMaximum;
      this.#overran = this.#sent.size > this.#receiveMaximum;
      if (properties?.maximumPacketSize !== undefined) link.maximumPacketSize = properties.maximumPacketSize;
      else delete link.maximumPacketSize;
      this.#announced = properties ?? {};
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
  #tooLarge(size: number, floor = 0): void {
    const link = this.#link;
    const limit = Math.max(size - 1, floor);
    if (limit >= (link.refusedSize ?? Infinity)) return;
    link.refusedSize = limit;
    if ((link.provenSize ?? 0) > limit) link.provenSize = limit;
    // The status that went out last may have been over it (and dropped): owed again, shrunk to fit.
    delete link.statusAt;
  }

  /** Bookkeeping of every PUBLISH sent: its size, its QoS, and for a message in flight where it stands. */
  #sentPacket(size: number, qos: number, entry?: InFlight): void {
    this.#largestSent = Math.max(this.#largestSent, size);
    this.#qosSent = Math.max(this.#qosSent, qos);
    this.#sizes.push(size);
    if (entry) this.#position.set(entry, this.#sizes.length);
  }

  /** The broker answered something sent after the first `count` PUBLISHes: it took them all. */
  #proven(count: number): void {
    if (count <= this.#provenUpTo) return;
    let largest = 0;
    for (let i = this.#provenUpTo; i < count; i++) largest = Math.max(largest, this.#sizes[i]!);
    this.#provenUpTo = count;
    const link = this.#link;
    if (largest > (link.provenSize ?? 0)) link.provenSize = Math.min(largest, link.refusedSize ?? Infinity);
    if (largest >= (link.suspectSize ?? Infinity)) delete link.suspectSize;
  }

  /** The largest PUBLISH sent on this connection that the broker is not known to have taken. */
  get #largestUnproven(): number {
    let largest = 0;
    for (let i = this.#provenUpTo; i < this.#sizes.length; i++) largest = Math.max(largest, this.#sizes[i]!);
    return largest;
  }

  /** What a broker's DISCONNECT reason teaches about its limits, for the next connection. */
  /** What a broker's DISCONNECT reason teaches about its limits, for the next connection. A limit
   *  its CONNACK announced is what it is: a refusal of what went out before that CONNACK arrived
   *  (the pipelined first write) teaches nothing below it. */
  #disconnected(reasonCode: number): void {
    const link = this.#link;
    if (reasonCode === 0x95 && this.#largestSent > 0) this.#tooLarge(this.#largestSent);
    else if (reasonCode === 0x93 && !(this.#announced.receiveMaximum !== undefined && this.#sent.size > this.#announced.receiveMaximum)) {
      link.receiveMaximum = Math.max(1, Math.floor(this.#sent.size / 2));
    } else if (reasonCode === 0x9a) link.retainAvailable = false;
    else if (reasonCode === 0x9b && !(this.#announced.maximumQoS !== undefined && this.#qosSent > this.#announced.maximumQoS)) {
      link.maximumQoS = Math.max(0, this.#qosSent - 1) as 0 | 1;
    }
  }

  #acked(entry: InFlight, reasonCode: number, asQoS1: boolean): void {
    const state = this.#state;
    this.#session.settle(entry);
    this.#sent.delete(entry);
    // An answer shows the broker read every packet up to this one (a packet it refused as too
    // large excepted).
    const at = this.#position.get(entry);
    if (at !== undefined) this.#proven(reasonCode === 0x95 ? at - 1 : at);
    if (this.#releasedBefore.delete(entry) && this.#sessionPresent === false) {
      // A QoS 2 message the broker had taken (PUBREC) before it lost the session (a restart without
      // persistence, the session expired while the node slept): a broker that delivers QoS 2 on
      // PUBREL, as mosquitto does, lost the message with the session, and it answers this wake's
      // PUBREL with a PUBCOMP all the same. The readings are still here: publish them again as a new
      // message, as with every kept message when the session is gone (MQTT 5 §3.2.2-5). A broker
      // that had delivered it already sends it twice: at least once, never lost.
      this.#session.requeue(entry);
      this.#waiting.push(entry);
      return;
    }
    if (reasonCode < 0x80) {
      // A reading sent in parts (by channel) is delivered with the last of them.
      const delivered = entry.kind === 0 || !state.session.inflight.some((e) => e.kind !== 0 && e.first === entry.first) ? entry.count : 0;
      this.#outcome.delivered += delivered;
      state.counters.delivered += delivered;
      if (asQoS1 && !this.#link.qos2AsPuback) {
        this.#link.qos2AsPuback = true;
        this.#o.log("broker answered a QoS 2 message with PUBACK: with this broker, exactly once is at least once");
      }
    } else if (publishRefusal(reasonCode) === "never" || (reasonCode === 0x95 && entry.count === 1 && this.#channelsOf(entry.kind) === 1)) {
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
        const message = this.#message(entry.first, entry.count, entry.qos, entry.kind);
        if (message) this.#tooLarge(this.#session.publishLength(message));
      }
      if (reasonCode === 0x93 && !this.#overran) this.#link.receiveMaximum = Math.max(1, this.#sent.size);
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
    for (const e of state.session.inflight) if (seqBefore(e.first, keep)) keep = e.first;
    state.buffer.release(keep);
  }

  /** QoS 0 telemetry sent on this connection counts as delivered: the broker has shown it took it. */
  #confirmQoS0(): void {
    const state = this.#state;
    let sent = Math.max(0, seqDistance(this.#cursor, state.unsent));
    const parted = new Set<number>();
    for (const entry of this.#unconfirmed.splice(0)) {
      this.#session.settle(entry);
      if (entry.kind !== 0 && parted.has(entry.first)) continue;
      parted.add(entry.first);
      sent += entry.count;
    }
    if (sent === 0) return;
    this.#outcome.delivered += sent;
    state.counters.delivered += sent;
    state.unsent = this.#cursor;
    this.#release();
    this.#o.commit();
  }

  /** A command on the node's topic, or its marker coming back. True when it changed what is retained. */
  #command(topic: string, payload: Uint8Array): boolean {
    if (topic !== this.#topic.command) return false;
    if (this.#marker && isMarker(payload, this.#marker)) {
      this.#marker = undefined;
      this.#markerSeen = true;
      this.#proven(this.#markerAt);
      return false;
    }
    // Markers of earlier wakes (a session's queue can hold one) are not commands.
    if (isMarker(payload)) return false;
    if (!this.#takeCommand(payload.length)) return this.#overflow();
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
    return true;
  }

  /** A command over the node's packet limit, read past and acknowledged: answered with an error. */
  #discarded(size: number): boolean {
    if (!this.#takeCommand(0)) return this.#overflow();
    this.#answer(oversizedCommand(size, MAXIMUM_PACKET_SIZE));
    return true;
  }

  /** Counts a command against the wake's bounds; false once they are spent. */
  #takeCommand(bytes: number): boolean {
    this.#commandsTaken++;
    this.#commandBytes += bytes;
    return this.#commandsTaken <= COMMANDS_PER_WAKE && this.#commandBytes <= COMMAND_BYTES_PER_WAKE;
  }

  /**
   * A command past the wake's bounds: acknowledged (the session already did) and dropped unread. A
   * flood — a hostile or misconfigured publisher, QoS 0 commands no broker limits — costs one
   * counted error and no commit per command, and the wake still ends at its deadline.
   */
  #overflow(): boolean {
    if (this.#commandsDropped++ > 0) return false;
    // Logged once with their count, when the connection ends (`#end`).
    this.#answer({ result: `commands past ${COMMANDS_PER_WAKE} (or ${COMMAND_BYTES_PER_WAKE} bytes) in one wake: dropped`, ok: false }, false);
    return true;
  }

  /** Books a command's result: the status shows it, and an error is counted. */
  #answer(effect: { result: string; ok: boolean }, logged = true): void {
    this.#outcome.commands.push(effect.result);
    if (this.#outcome.commands.length > 8) this.#outcome.commands.shift();
    noteResult(this.#link, effect.result);
    if (!effect.ok) this.#state.counters.commandErrors++;
    if (logged) this.#o.log(`command ${effect.result}`);
  }

  /** Everything this exchange waits for has come: only an awake window may still hold it open. */
  #canFinish(): boolean {
    return this.#marker === undefined && this.#telemetryDone();
  }

  /** Every message of telemetry this exchange owes is answered (or held back by a refusal). */
  #telemetryDone(): boolean {
    if (!this.#pending || this.#closing || !this.#connacked || this.#sent.size) return false;
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
    const messages = [full, this.#essentials(full)].map((status): OutgoingPublish => ({ topic: this.#topic.status, payload: utf8Encode(JSON.stringify(status)), qos: 0, retain }));
    const message = messages.find((m) => this.#fitsUnanswered(m)) ?? messages.find((m) => this.#fits(m));
    if (!message) return this.#skip("status");
    this.#send(message);
    link.statusAt = nowS;
    link.statusPrint = print;
    this.#o.commit();
  }

  /** For a QoS 0 packet, which no answer will refuse: within the limit and, where the broker has
   *  shown a limit it never announced (0x95 to something larger), no larger than what it has
   *  been seen to take — its true limit may lie anywhere below the refused size. */
  #fitsUnanswered(message: OutgoingPublish): boolean {
    const link = this.#link;
    return this.#fits(message) && (link.refusedSize === undefined || this.#session.publishLength(message) <= (link.provenSize ?? 0));
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

/** A sync marker: this wake's (`marker` given) or any node's own. Markers of earlier firmware,
 *  {"cmd":"sync","marker":…}, still queued in a session, count too. */
function isMarker(payload: Uint8Array, marker?: string): boolean {
  // Cheap test first: markers are small and start {"sync" or {"cmd":"sync".
  if (payload.length > 64 || (payload[2] !== 0x73 /* s */ && payload[8] !== 0x73)) return false;
  try {
    const value = JSON.parse(String.fromCharCode(...payload)) as { sync?: unknown; cmd?: unknown; marker?: unknown };
    const id = typeof value.sync === "string" ? value.sync : value.cmd === "sync" ? value.marker : undefined;
    return id !== undefined && (marker === undefined || id === marker);
  } catch {
    return false;
  }
}
