// MQTTClient's policy, sans IO: the protocol it runs on the driver (clientDriver) that torpor's wake
// runs its Exchange on. An application's messages, each saved in the store before its first byte
// goes out and resent (DUP, or PUBREL) right behind the next CONNECT; the broker's limits (Receive
// Maximum, Maximum Packet Size, topic aliases) kept to; keep-alive pings due at `wakeAt`; what
// arrives handed to the application as it comes. The wake's Exchange differs in what it keeps (reading
// ranges in retained memory, encoded as the socket takes them) and in booking a read's answers as
// one step, committed once.

import { TopicAliases } from "./client-aliases";
import { bytesOf, connectOf, type ConnectOptions } from "./client-connect";
import type { Protocol } from "./client-driver";
import { Operation, type ControlMessage, type ReadableOptions, type WriteOptions } from "./client-messages";
import { emptyClientSession, MemoryStore, type ClientSessionState, type SessionStore, type StoredMessage } from "./client-store";
import { ReasonCode, type ConnackProperties, type PublishProperties, type QoS, type Version } from "./packets";
import { PublisherSession, transition, type InFlight, type SessionEvent } from "./session";

/** What MQTT 5 assumes of a broker that states no Receive Maximum (§3.2.2.3.3). */
const DEFAULT_RECEIVE_MAXIMUM = 65535;
/** MQTT 5: QoS 1/2 messages in flight before the first CONNACK that states the broker's Receive
 *  Maximum (the store keeps it for later connections): one, so CONNECT is still pipelined with the
 *  first PUBLISH, and no broker's limit is exceeded before it is known. */
const UNKNOWN_RECEIVE_MAXIMUM = 1;
const PACKET_TOO_LARGE = ReasonCode.PacketTooLarge;

/** The client's clock: milliseconds. */
export interface Ticks {
  readonly ticks: number;
}

export interface ClientProtocolOptions extends ConnectOptions {
  version: Version;
  store?: SessionStore | undefined;
  /** A timer drives this protocol: keep-alive (and an MQTT 5 broker's Server Keep Alive) only then. */
  timed: boolean;
}

/** Where what arrives goes: the application's callbacks. */
export interface ClientEvents {
  readable(payload: Uint8Array, options: ReadableOptions): void;
  control(message: ControlMessage): void;
}

type State = "connecting" | "login" | "connected" | "closed";

export class ClientProtocol implements Protocol<Ticks> {
  readonly version: Version;
  readonly #options: ClientProtocolOptions;
  readonly #events: ClientEvents;
  readonly #store: SessionStore;
  readonly #stored: ClientSessionState;
  readonly #session: PublisherSession;
  #state: State = "connecting";
  /** The broker's limits, once its CONNACK states them. */
  #receiveMaximum: number;
  #maximumPacketSize = Infinity;
  readonly #aliases: TopicAliases;
  /** Milliseconds; an MQTT 5 broker's Server Keep Alive replaces the one asked for. */
  #keepalive: number;
  #pingAt: number | undefined;
  #pingOutstanding = false;
  /** Room opened by the last read (the CONNACK, an acknowledgement under the Receive Maximum). */
  #opened = false;
  /** Why the connection ended, until the owner takes it (`error`). */
  #error: Error | undefined;

  constructor(options: ClientProtocolOptions, events: ClientEvents) {
    const version = options.version;
    this.version = version;
    this.#options = options;
    this.#events = events;
    this.#keepalive = options.keepalive ?? 0;
    this.#aliases = new TopicAliases(options.topicAliasMaximum ?? 0);
    this.#store = options.store ?? new MemoryStore();
    if (options.clean ?? true) this.#store.clear();
    this.#stored = this.#store.load() ?? emptyClientSession();
    this.#receiveMaximum = version === 5 ? (this.#stored.receiveMaximum ?? UNKNOWN_RECEIVE_MAXIMUM) : DEFAULT_RECEIVE_MAXIMUM;
    if (version === 5) this.#maximumPacketSize = this.#stored.maximumPacketSize ?? Infinity;
    this.#session = new PublisherSession(version, this.#stored, options.maximumPacketSize);
  }

  get inFlight(): number[] {
    return this.#stored.inflight.map((entry) => entry.packetId);
  }

  get closed(): boolean {
    return this.#state === "closed";
  }

  get writing(): boolean {
    return this.#session.hasOutput;
  }

  get wakeAt(): number | undefined {
    return this.closed ? undefined : this.#pingAt;
  }

  /** Connected (or logging in, CONNECT sent): write() may be called. */
  get writable(): boolean {
    return this.#state === "login" || this.#state === "connected";
  }

  /** Nothing waits to go out and the Receive Maximum has room: the application may write. */
  get ready(): boolean {
    return !this.#session.hasOutput && this.#stored.inflight.length < this.#receiveMaximum;
  }

  /** The read just stepped opened room for the application; true once. */
  takeOpened(): boolean {
    const opened = this.#opened;
    this.#opened = false;
    return opened;
  }

  /** Why the connection ended, once. */
  takeError(): Error | undefined {
    const error = this.#error;
    this.#error = undefined;
    return error;
  }

  write(data: Uint8Array | ArrayBuffer | string | null, options: WriteOptions): void {
    if (!this.writable) throw new Error(`MQTT client: cannot write while ${this.#state}`);
    const session = this.#session;
    const operation = options.operation ?? Operation.PUBLISH;
    switch (operation) {
      case Operation.PUBLISH:
        return this.#publish(data === null ? new Uint8Array(0) : bytesOf(data), options);
      case Operation.SUBSCRIBE:
        session.subscribe(this.#items(options).map(({ topic, QoS, ...rest }) => ({ ...rest, topic, qos: QoS ?? 0 })));
        return;
      case Operation.UNSUBSCRIBE:
        session.subscribe(this.#items(options).map((item) => item.topic));
        return;
      case Operation.PINGREQ:
        return session.ping();
      case Operation.DISCONNECT:
        return session.disconnect(this.version === 5 ? options.reasonCode : undefined);
      default:
        throw new RangeError(`MQTT client: operation ${operation} is not the application's to write`);
    }
  }

  /** Ends the connection: nothing queued goes out; the session stays in the store. */
  close(): void {
    this.#state = "closed";
    this.#session.discardOutput();
  }

  fail(error: Error): void {
    if (this.closed) return;
    this.close();
    this.#error = error;
  }

  start(): void {
    if (this.closed) return;
    try {
      this.#login();
    } catch (e) {
      // The codec refused something of the options (a will topic, a property): no CONNECT to send.
      this.fail(toError(e));
    }
  }

  receive(data: Uint8Array, now: Ticks): void {
    if (this.closed) return;
    let events: SessionEvent[];
    try {
      events = this.#session.receive(data);
    } catch (e) {
      return this.fail(toError(e));
    }
    const before = this.#state === "connected" && this.ready;
    for (const event of events) {
      // A callback may have closed the client, or an event failed it.
      if (this.closed) return;
      this.#event(event, now);
    }
    // The CONNACK, or an acknowledgement that frees a Receive Maximum slot, is room the application
    // waits for (the SDK's client, too, offers onWritable after CONNACK).
    this.#opened = !before && this.#state === "connected";
  }

  tick(now: Ticks): void {
    const at = this.#pingAt;
    if (this.closed || at === undefined || now.ticks < at) return;
    this.#pingAt = undefined;
    if (this.#pingOutstanding) return this.fail(new Error("MQTT client: no PINGRESP within the keep-alive interval"));
    this.#pingOutstanding = true;
    this.#session.ping();
  }

  lost(error: Error | undefined): void {
    this.fail(error ?? new Error("MQTT client: connection lost"));
  }

  takeOutput(room: number, now: Ticks): Uint8Array | undefined {
    const bytes = this.#session.takeOutput(room);
    if (bytes) this.#schedulePing(now);
    return bytes;
  }

  #schedulePing(now: Ticks): void {
    // Three quarters of the interval: the PINGREQ arrives in time whatever the latency.
    if (this.#options.timed && this.#keepalive > 0) this.#pingAt = now.ticks + ((this.#keepalive * 3) >> 2);
  }

  #items(options: WriteOptions): NonNullable<WriteOptions["items"]> {
    const items = options.items;
    if (!items || items.length === 0) throw new RangeError("MQTT client: SUBSCRIBE and UNSUBSCRIBE need items");
    return items;
  }

  #publish(payload: Uint8Array, options: WriteOptions): void {
    const topic = options.topic;
    if (!topic) throw new RangeError("MQTT client: PUBLISH needs a topic");
    const qos = options.QoS ?? 0;
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new RangeError(`MQTT client: QoS ${String(qos)}`);
    if (qos > 0 && this.#stored.inflight.length >= this.#receiveMaximum) {
      throw new RangeError(`MQTT client: ${this.#receiveMaximum} messages in flight, the broker's Receive Maximum: wait for onWritable`);
    }
    const message: StoredMessage = { topic, payload: payload.slice(), retain: options.retain ?? false };
    if (options.properties && this.version === 5) message.properties = { ...options.properties };
    const session = this.#session;
    const aliased = this.#aliases.has(topic);
    const sent = { ...message, qos, ...this.#aliases.outbound(topic, message.properties) };
    try {
      // The codec's checks (topic, properties), and the limit, which counts the packet as sent:
      // with the alias, when it has one.
      const length = session.publishLength(sent);
      if (length > this.#maximumPacketSize) throw new RangeError(`MQTT client: PUBLISH of ${length} bytes, the broker's Maximum Packet Size is ${this.#maximumPacketSize}`);
    } catch (e) {
      // An alias is the broker's to learn from this packet, which it will never see.
      if (!aliased) this.#aliases.forget(topic);
      throw e;
    }
    const entry = session.publish(sent);
    if (!entry) return;
    this.#stored.messages.set(entry.packetId, message);
    try {
      this.#store.save(this.#stored);
    } catch (e) {
      // Not stored, so not to be sent: the PUBLISH already queued cannot be taken back, so the
      // connection goes with it (what the store holds goes out on the next one).
      this.#forgetUnsaved(entry);
      this.fail(toError(e));
      throw e;
    }
  }

  #forgetUnsaved(entry: InFlight): void {
    this.#session.settle(entry);
    this.#stored.messages.delete(entry.packetId);
  }

  #forget(entry: InFlight): void {
    this.#forgetUnsaved(entry);
    this.#store.save(this.#stored);
  }

  /** CONNECT, then what the store holds in flight, right behind it. */
  #login(): void {
    const session = this.#session;
    session.connect(connectOf(this.#options, this.version));
    const tooLarge: InFlight[] = [];
    for (const entry of this.#stored.inflight) {
      const message = this.#stored.messages.get(entry.packetId);
      const resent = message && { ...message, qos: entry.qos };
      if (resent && entry.state === "sent" && session.publishLength(resent) > this.#maximumPacketSize) tooLarge.push(entry);
      else session.resend(entry, resent);
    }
    this.#state = "login";
    // Written before this broker's limit was known: refused, as the broker would, rather than sent
    // into a DISCONNECT on every connection from now on.
    for (const entry of tooLarge) {
      this.#forget(entry);
      this.#events.control({ operation: entry.qos === 1 ? Operation.PUBACK : Operation.PUBCOMP, id: entry.packetId, reasonCode: PACKET_TOO_LARGE });
    }
  }

  #event(event: SessionEvent, now: Ticks): void {
    const control = this.#events.control;
    switch (event.type) {
      case "connack":
        return this.#connack(event.reasonCode, event.sessionPresent, event.packet.properties, now);
      case "acked":
        this.#forget(event.entry);
        control({
          operation: event.entry.qos === 1 || event.asQoS1 ? Operation.PUBACK : Operation.PUBCOMP,
          id: event.entry.packetId,
          reasonCode: event.reasonCode,
        });
        return;
      case "released":
        transition(event.entry, "pubrec");
        // The broker owns the message now: only its PUBREL is ever sent again.
        this.#stored.messages.delete(event.entry.packetId);
        this.#store.save(this.#stored);
        control({ operation: Operation.PUBREC, id: event.entry.packetId, reasonCode: 0 });
        return;
      case "subscribed":
        control({ operation: Operation.SUBACK, id: event.packetId, reasonCodes: event.reasonCodes });
        return;
      case "unsubscribed":
        control({ operation: Operation.UNSUBACK, id: event.packetId, reasonCodes: event.reasonCodes });
        return;
      case "message":
        return this.#deliver(event.publish.topic, event.publish);
      case "pong":
        this.#pingOutstanding = false;
        control({ operation: Operation.PINGRESP });
        return;
      case "disconnect":
        control({ operation: Operation.DISCONNECT, reasonCode: event.reasonCode });
        return this.fail(new Error(`MQTT client: the broker disconnected (reason 0x${event.reasonCode.toString(16)})`));
      case "discarded":
        // Over this client's Maximum Packet Size: acknowledged by the session, never delivered.
        return;
    }
  }

  #connack(reasonCode: number, sessionPresent: boolean, properties: ConnackProperties | undefined, now: Ticks): void {
    if (reasonCode !== 0) return this.fail(new Error(`MQTT client: CONNACK refused the connection (code 0x${reasonCode.toString(16)})`));
    this.#state = "connected";
    if (this.version === 5) {
      this.#receiveMaximum = properties?.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM;
      this.#maximumPacketSize = properties?.maximumPacketSize ?? Infinity;
      this.#aliases.maximum = properties?.topicAliasMaximum ?? 0;
      // MQTT 5 §3.2.2.3.14: the client keeps the broker's keep-alive, whatever it asked for.
      if (properties?.serverKeepAlive !== undefined && this.#options.timed) {
        this.#keepalive = properties.serverKeepAlive * 1000;
        this.#schedulePing(now);
      }
      const stored = this.#stored;
      const maximumPacketSize = properties?.maximumPacketSize;
      if (stored.receiveMaximum !== this.#receiveMaximum || stored.maximumPacketSize !== maximumPacketSize) {
        stored.receiveMaximum = this.#receiveMaximum;
        if (maximumPacketSize === undefined) delete stored.maximumPacketSize;
        else stored.maximumPacketSize = maximumPacketSize;
        this.#store.save(stored);
      }
    }
    const message: ControlMessage = { operation: Operation.CONNACK, reasonCode, sessionPresent };
    if (properties) message.properties = properties;
    this.#events.control(message);
  }

  #deliver(wireTopic: string, publish: { payload: Uint8Array; qos: QoS; retain: boolean; dup: boolean; properties?: PublishProperties }): void {
    let topic: string;
    try {
      topic = this.#aliases.inbound(wireTopic, publish.properties?.topicAlias);
    } catch (e) {
      return this.fail(toError(e));
    }
    const options: ReadableOptions = { topic, QoS: publish.qos, retain: publish.retain, dup: publish.dup, byteLength: publish.payload.length, more: false };
    if (publish.properties) options.properties = publish.properties;
    this.#events.readable(publish.payload, options);
  }
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
