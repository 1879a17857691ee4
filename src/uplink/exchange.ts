// One connection's MQTT exchange as a state machine: bytes and time in, bytes and decisions out. It
// decides what to send and when the wake is done; it never opens a socket, reads a clock or sets a
// timer. It is the wake's protocol on clientDriver, the loop MQTTClient runs on too: that feeds it the
// socket's bytes and the clock, writes what it hands out as the socket has room, calls tick() at
// `wakeAt`, and closes the socket once it is `closed` and nothing is left to write.
//
// The first output pipelines CONNECT, the command subscription when the broker lacks it, the
// unacknowledged messages again (DUP, or PUBREL for QoS 2 messages the broker already holds), the
// new batches and a sync marker, before CONNACK (MQTT §3.1.4 allows it). What each answer means for
// the readings is the batches' business (`Batches`), what it teaches of the broker the limits'
// (`BrokerLimits`), the commands, the marker and firmware updates the inbound's (`Inbound`), whether
// its own messages fit `OwnMessages`'. When the marker is back and every batch answered, the exchange has
// settled; closing publishes the status (`statusDocument`) and DISCONNECTs.
//
// Every change is committed before the bytes it decides go out, and the answers of one read are
// booked as one step and committed once: a power cut after any commit leaves a state the node could
// have been in.

import type { Instant } from "../host";
import type { Protocol } from "../mqtt/client-driver";
import { ProtocolError, type Version } from "../mqtt/codec";
import type { ConnackPacket } from "../mqtt/packets";
import { connackReason, reasonName } from "../mqtt/reasons";
import { PublisherSession, type OutgoingPublish } from "../mqtt/session";
import { Batches } from "./batches";
import { Downlink, MAXIMUM_PACKET_SIZE } from "./downlink";
import { Inbound } from "./inbound";
import { HomeAssistant } from "./home-assistant";
import { OwnMessages } from "./own-messages";
import { BrokerLimits } from "./limits";
import { newOutcome, type ExchangeOptions, type ExchangeOutcome, type FailureCause, type Phase } from "./contract";
import { connectPacket } from "./connect-packet";
import { keepAlive, KeepAliveClock } from "./timing";
import { topics, type Topics } from "./topics";
import { accepted, fallBack } from "./version";
import { updateAgent, updateFacts } from "./update-agent";

export class Exchange implements Protocol<Instant> {
  readonly version: Version;
  readonly persistent: boolean;
  #phase: Phase = "idle";
  #outcome: ExchangeOutcome = newOutcome();
  /** The outcome of the exchange in progress once it is settled; taken by `settle()`. */
  #settled: ExchangeOutcome | undefined;
  readonly #o: ExchangeOptions;
  readonly #session: PublisherSession;
  readonly #topics: Topics;
  readonly #limits: BrokerLimits;
  readonly #batches: Batches;
  readonly #homeAssistant: HomeAssistant;
  readonly #own: OwnMessages;
  readonly #inbound: Inbound;
  #now: Instant = { ticks: 0, wall: 0 };
  readonly #keepAlive = new KeepAliveClock();
  #deadline: number;
  /** Closing: the PINGREQ that confirms the last packets went out after this many PUBLISHes. */
  #confirmAfter = 0;
  /** CONNACK's Session Present, once it came. */
  #sessionPresent: boolean | undefined;

  constructor(options: ExchangeOptions) {
    const { config, state, version } = options;
    this.#o = options;
    this.version = version;
    this.persistent = options.persistent;
    this.#deadline = options.deadline;
    this.#topics = topics(config, options.node);
    this.#session = new PublisherSession(version, state.session, MAXIMUM_PACKET_SIZE);
    this.#limits = new BrokerLimits(state.link, config, version);
    const common = { session: this.#session, limits: this.#limits, state, config, version, log: options.log, outcome: () => this.#outcome };
    this.#batches = new Batches({ ...common, channels: options.channels, node: options.node, topic: this.#topics.telemetry, crypto: options.crypto, nonces: options.nonces });
    this.#own = new OwnMessages({ session: this.#session, limits: this.#limits, state, log: options.log });
    const send = (message: OutgoingPublish, what: string) => this.#own.send(message, what);
    this.#inbound = new Inbound(new Downlink({ ...common, topic: this.#topics.command, node: options.node, crypto: options.crypto, flash: options.flash, now: () => this.#now, send }), updateAgent(options, this.#session));
    this.#homeAssistant = new HomeAssistant({ config, channels: options.channels, node: options.node, link: state.link, topics: this.#topics, version: options.update?.version, send });
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** True while the connection is up and can take flush() and ping(). */
  get isOpen(): boolean {
    return this.#phase === "settling" || this.#phase === "open";
  }

  /** The driver must close the socket (and bring the network down). */
  get closed(): boolean {
    return this.#phase === "closed";
  }

  /** The exchange in progress (the opening, from before the socket is up, or a flush) has not settled. */
  get #pending(): boolean {
    return this.#phase === "idle" || this.#phase === "connecting" || this.#phase === "settling";
  }

  /** The keepalive this connection keeps, seconds: the broker's Server Keep Alive if it set one,
   *  else the one promised in CONNECT (0: none). */
  get keepAlive(): number {
    return this.#limits.serverKeepAlive ?? keepAlive(this.#o.config, this.persistent);
  }

  /** Milliseconds since the node last sent anything at `ticks`: a keepalive is owed when this nears it. */
  idleMs(ticks: number): number {
    return this.#keepAlive.idleMs(ticks);
  }

  /** The ticks by which the connection owes the broker a packet (undefined: no keepalive, or not open). */
  get pingDueAt(): number | undefined {
    return this.isOpen ? this.#keepAlive.dueAt(this.keepAlive) : undefined;
  }

  /** The ticks at which tick() must be called next: the deadline, a ping due (an awake window can
   *  outlast the keepalive), an awake window's end. Between exchanges of an always-connected node,
   *  the node's own naps keep the pings (`pingDueAt`). */
  get wakeAt(): number | undefined {
    if (this.#phase === "confirming" || (this.closed && this.writing)) return this.#deadline;
    if (!this.#pending) return undefined;
    const times = [this.#deadline];
    const awakeUntil = this.#inbound.downlink.awakeUntil;
    if (awakeUntil > 0 && this.#canFinish()) times.push(awakeUntil);
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

  /** The next piece to write, at most `room` bytes, written at `now` (after close(), the last ones);
   *  undefined when nothing is left or `room` is 0. */
  takeOutput(room: number, now: Instant): Uint8Array | undefined {
    const bytes = this.#session.takeOutput(room);
    if (!bytes) return undefined;
    this.#outcome.bytesUp += bytes.length;
    this.#keepAlive.wrote(now.ticks);
    return bytes;
  }

  /** Bytes are still to be written: a closed exchange's socket stays open for them until its deadline. */
  get writing(): boolean {
    return this.#session.hasOutput;
  }

  /** The socket is writable: the pipelined first write. */
  start(now: Instant): void {
    this.#now = now;
    if (this.#phase !== "idle") return;
    this.#phase = "connecting";
    this.#guard(() => this.#start());
  }

  receive(bytes: Uint8Array, now: Instant): void {
    this.#now = now;
    if (this.closed) return;
    this.#guard(() => this.#received(bytes));
  }

  /** Time passed: the deadline, a keepalive ping, the end of an awake window. */
  tick(now: Instant): void {
    this.#now = now;
    if (this.closed) {
      // The last packets did not go out in time: the socket closes without them.
      if (now.ticks >= this.#deadline) this.#session.discardOutput();
      return;
    }
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
   * would pin a v5 broker to 3.1.1 for good (`connect` decides, with proof). After CONNACK it may be
   * all a broker says of a packet over a limit it never announced (`BrokerLimits.closedByBroker`).
   */
  lost(error: Error | undefined, now: Instant): void {
    this.#now = now;
    if (this.closed) {
      // Closing, with the last packets still to write: they have nowhere to go.
      this.#session.discardOutput();
      return;
    }
    if (this.#phase === "connecting" && this.#outcome.bytesDown === 0) this.#outcome.closedUnanswered = true;
    if (this.#phase !== "connecting" && this.#phase !== "idle") {
      this.#limits.closedByBroker(this.#o.log);
      this.#o.commit();
    }
    this.fail(`connection to ${this.#o.config.broker.host}:${this.#o.config.broker.port} failed: ${error?.message ?? "closed"}`, "network");
  }

  /** Ends the exchange with an error (the network, the socket, a deadline): nothing kept is lost. */
  fail(error: string, cause: FailureCause = "network"): void {
    if (this.closed) return;
    const wasOpen = this.#phase === "open";
    // The connection is gone or given up: nothing queued for it is sent.
    this.#session.discardOutput();
    this.#outcome.error = error;
    this.#outcome.cause = cause;
    if (this.persistent && wasOpen) this.#o.log(`connection lost: ${error}`);
    this.#end();
  }

  /** Always-connected mode: sends the batches buffered since the last flush; settles when they are
   *  acknowledged. */
  flush(now: Instant): void {
    this.#now = now;
    this.#outcome = newOutcome();
    if (!this.isOpen) {
      this.#outcome.error = "not connected";
      this.#outcome.cause = "network";
      this.#settled = this.#outcome;
      return;
    }
    this.#phase = "settling";
    this.#deadline = now.ticks + this.#o.config.awakeTimeout * 1000;
    this.#batches.retryHeld();
    this.#guard(() => {
      this.#batches.pump();
      this.#maybeDone();
    });
  }

  ping(now: Instant): void {
    this.#now = now;
    if (!this.isOpen) return;
    this.#limits.pinged();
    this.#session.ping();
  }

  /** Publishes the status and DISCONNECTs normally; the driver then writes the output and closes. A
   *  status larger than the broker has been seen to take first waits for a PINGRESP behind it. */
  close(now: Instant): void {
    this.#now = now;
    if (this.closed || this.#phase === "confirming") return;
    // An always-connected node's deadline is its last flush's, long past: closing gets a window of its
    // own, for the confirming PINGRESP and for the last packets to go out.
    if (this.persistent) this.#deadline = now.ticks + this.#o.config.awakeTimeout * 1000;
    if (this.isOpen) {
      this.#phase = "confirming";
      this.#homeAssistant.latest(this.#batches.newest);
      this.#publishStatus();
      // A packet larger than any the broker has taken, to a broker that announced no limit, may be
      // one it closes the connection over — and then its Will says "offline" for a node that is
      // only going to sleep. The PINGRESP comes only if the broker read past it. One round trip,
      // only while the status (or the latest values) outgrow what is known.
      if (this.#limits.unproven) {
        this.#confirmAfter = this.#limits.published;
        this.#limits.pinged();
        this.#session.ping();
        return;
      }
    }
    this.#disconnect();
  }

  /** DISCONNECTs (when connected) and ends the exchange; the driver's last write carries it. */
  #disconnect(): void {
    if (this.isOpen || this.#phase === "confirming") {
      // MQTT 5, deep sleep: "Disconnect with Will Message" (0x04) rather than Normal (0x00), which
      // would discard the Will. The broker then holds it for the Will Delay (= Session Expiry) and
      // drops it when the node's next wake resumes the session in time; a node that never comes
      // back — it died asleep, the way a sleeping node nearly always dies — is announced offline.
      // Always connected: a normal DISCONNECT means the node is going away on purpose.
      this.#session.disconnect(this.version === 5 && !this.persistent ? 0x04 : undefined);
      // The exchange ended as agreed: QoS 0 telemetry and discovery sent in it are as delivered as QoS 0 gets.
      const confirmed = this.#batches.confirmQoS0();
      // The status, which carries the running version, went out: a freshly booted image has proved itself.
      if (this.#o.update?.pending) this.#o.update.markValid();
      if (this.#homeAssistant.settled() || confirmed) this.#o.commit();
    }
    // The status and DISCONNECT are still handed out by takeOutput(), the last pieces written.
    this.#end();
  }

  /** The connection is over; an exchange in progress settles with what it has. */
  #end(): void {
    if (this.#pending) this.#settled = this.#outcome;
    this.#phase = "closed";
    this.#inbound.downlink.report();
  }

  /** At the wake's deadline: an exchange whose telemetry is all answered ends well, whatever else
   *  is still arriving (commands behind the marker); one still waiting for its broker fails. True
   *  when it ended. */
  #checkDeadline(): boolean {
    if (this.closed || this.#now.ticks < this.#deadline) return false;
    if (this.#phase === "confirming") {
      this.#disconnect();
      return true;
    }
    if (!this.#pending) return false;
    if (this.#phase === "settling" && this.#batches.done) {
      this.#inbound.giveUp();
      this.#maybeDone();
      return true;
    }
    this.fail(`no answer within ${this.#o.config.awakeTimeout} s`, "deadline");
    return true;
  }

  /** Nothing an input brings may throw into the driver: a bug costs this wake, nothing kept. */
  #guard(step: () => void): void {
    try {
      step();
    } catch (e) {
      this.fail(`internal error: ${e instanceof Error ? e.message : String(e)}`, "internal");
    }
  }

  #start(): void {
    this.#session.connect(connectPacket({ config: this.#o.config, node: this.#o.node, version: this.version, persistent: this.persistent, limits: this.#limits, topics: this.#topics }));
    this.#batches.resume();
    this.#inbound.begin();
    // The in-flight table, with the packet ids just assigned, is retained before any byte leaves: if
    // power fails after the write, the next wake re-sends under the same ids.
    this.#o.commit();
  }

  /**
   * The events of one read are booked as one step and committed once: a power cut between two of
   * them must not find an acknowledgement taken out of the table but not yet counted, or a refusal
   * "for now" not yet put back (the session leaves the table to the batches, which move entries).
   */
  #received(bytes: Uint8Array): void {
    this.#outcome.bytesDown += bytes.length;
    let events;
    try {
      events = this.#session.receive(bytes);
    } catch (e) {
      return this.fail(e instanceof ProtocolError ? `protocol error from broker: ${e.message}` : String(e), e instanceof ProtocolError ? "broker" : "internal");
    }
    let changed = false;
    let acked = false;
    for (const event of events) {
      if (this.closed) break;
      switch (event.type) {
        case "connack":
          this.#connack(event.sessionPresent, event.reasonCode, event.packet.properties);
          changed = true;
          break;
        case "acked":
          this.#batches.acked(event.entry, event.reasonCode, event.asQoS1);
          acked = changed = true;
          break;
        case "released":
          this.#batches.released(event.entry);
          changed = true;
          break;
        case "subscribed":
          this.#inbound.subscribed(event.packetId, event.reasonCodes);
          changed = true;
          break;
        case "message":
          changed = this.#inbound.message(event.publish.topic, event.publish.payload, this.#now) || changed;
          break;
        case "discarded":
          changed = this.#inbound.downlink.discarded(event.size) || changed;
          break;
        case "disconnect":
          this.#limits.disconnected(event.reasonCode, this.#batches.inFlight);
          changed = true;
          this.fail(`broker disconnected: ${reasonName(event.reasonCode)}`, "broker");
          break;
        case "pong":
          this.#limits.ponged();
          break;
      }
    }
    // Released once every answer in these bytes is booked: a refusal further on puts its readings
    // back, and what the acknowledgements let go is gone from retained memory in the same commit.
    if (acked) this.#batches.release();
    if (changed) this.#o.commit();
    // Staying awake on purpose: the wake's deadline moves with the window, and pings keep the line up.
    const awakeUntil = this.#inbound.downlink.awakeUntil;
    if (awakeUntil > 0) this.#deadline = Math.max(this.#deadline, awakeUntil + this.#o.config.awakeTimeout * 1000);
    // Closing: the PINGREQ behind the status came back, so the broker read past the status (the
    // commands that came with it are booked above: every one it acknowledged is taken).
    if (this.#phase === "confirming" && this.#limits.provenUpTo(this.#confirmAfter)) this.#disconnect();
    if (this.closed) return;
    // Between the flushes of an always-connected node (a PINGRESP, a command), nothing new goes out:
    // the schedule decides when a batch is due.
    if (this.#pending) this.#batches.pump();
    this.#maybeDone();
    this.#checkDeadline();
  }

  #connack(sessionPresent: boolean, reasonCode: number, properties: ConnackPacket["properties"]): void {
    const { state } = this.#o;
    const limits = this.#limits;
    if (reasonCode !== 0) {
      // A refusal that names its cause is one the next attempt can avoid, in this same wake.
      if (this.version === 5 && reasonCode === 0x84) {
        fallBack(state, this.#o.log, "broker refused MQTT 5");
        this.#outcome.adapted = true;
      } else if (limits.refusedConnect(reasonCode, properties)) this.#outcome.adapted = true;
      this.fail(`broker refused the connection: ${connackReason(this.version, reasonCode)}`, "refused");
      return;
    }
    this.#phase = "settling";
    this.#sessionPresent = sessionPresent;
    this.#outcome.sessionPresent = sessionPresent;
    this.#outcome.version = this.version;
    accepted(state, this.version, this.#o.probe === true);
    if (this.version === 5) limits.announce(properties, this.#o.log);
    this.#batches.connacked(sessionPresent);
    if (!sessionPresent) this.#inbound.sessionLost();
    delete state.link.results;
    this.#homeAssistant.discover(sessionPresent);
  }

  /** Everything this exchange waits for has come: only an awake window may still hold it open. */
  #canFinish(): boolean {
    return this.#phase === "settling" && !this.#inbound.awaited && this.#batches.done;
  }

  #maybeDone(): void {
    if (this.#phase === "settling" && this.#batches.done) this.#inbound.pump(this.#now);
    if (!this.#canFinish() || this.#inbound.downlink.awakeUntil > this.#now.ticks) return;
    // The marker came back after everything sent before it: the broker has the QoS 0 telemetry.
    // Without a marker that proof comes with the orderly close (close()).
    if (this.#inbound.downlink.back || this.persistent) this.#batches.confirmQoS0();
    this.#batches.release();
    if (this.persistent) {
      this.#homeAssistant.settled();
      this.#homeAssistant.latest(this.#batches.newest);
      this.#publishStatus();
    }
    this.#o.commit();
    this.#settled = this.#outcome;
    this.#phase = "open";
  }

  /** The retained status, when it has news, in a size the broker takes. */
  #publishStatus(): void {
    const { config, state, hostName, networkCounters } = this.#o;
    const facts = { config, state, hostName, network: networkCounters?.(), version: this.version, ...updateFacts(this.#o.update, this.#inbound.update), online: this.persistent && this.#phase !== "confirming", qos: this.#limits.qos, wall: this.#now.wall };
    if (this.#own.status(facts, this.#sessionPresent, this.#topics.status)) this.#o.commit();
  }
}
