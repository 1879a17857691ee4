// An MQTT client in the ECMA-419 MQTT client class pattern (the one the Moddable SDK's
// examples/io/tcp/mqttclient implements): options in, write() of messages and operations, read() of
// what arrives, onReadable/onWritable/onControl/onError, close(). One object is one connection; a
// reconnection — or a wake from deep sleep — is a new object over the same session store.
//
// What the pattern allows and this client adds: MQTT 5 (properties, reason codes, Receive Maximum,
// Maximum Packet Size, topic aliases both ways); QoS 1 and 2 tracked by the client, whose in-flight
// messages live in the store and go out again (DUP, or PUBREL) right behind the next CONNECT; and a
// CONNECT pipelined with the first PUBLISH: onWritable is offered before the CONNACK, as MQTT allows
// (§3.1.4), so one round trip carries both.

import { TopicAliases } from "./client-aliases";
import { bytesOf, connectOf, type ConnectOptions } from "./client-connect";
import type { ClientResolverConstructor, ClientSocketConstructor, ClientTimer } from "./client-io";
import { socketDriver, type SocketDriver } from "./client-socket";
import type { ControlMessage, ReadableOptions, WriteOptions } from "./client-messages";
import { emptyClientSession, MemoryStore, type ClientSessionState, type SessionStore, type StoredMessage } from "./client-store";
import { ReasonCode, type ConnackProperties, type PublishProperties, type QoS, type Version } from "./packets";
import { PublisherSession, transition, type InFlight, type SessionEvent } from "./session";

export type { ConnectOptions, WillOptions } from "./client-connect";
export type { ControlMessage, ReadableOptions, WriteOptions } from "./client-messages";

/** What MQTT 5 assumes of a broker that states no Receive Maximum (§3.2.2.3.3). */
const DEFAULT_RECEIVE_MAXIMUM = 65535;
/** MQTT 5: QoS 1/2 messages in flight before the first CONNACK that states the broker's Receive
 *  Maximum (the store keeps it for later connections): one, so CONNECT is still pipelined with the
 *  first PUBLISH, and no broker's limit is exceeded before it is known. */
const UNKNOWN_RECEIVE_MAXIMUM = 1;
const PACKET_TOO_LARGE = ReasonCode.PacketTooLarge;

export interface MQTTClientOptions extends ConnectOptions {
  /** The broker's name (resolved through `dns`) or, with `address`, the name TLS checks. */
  host?: string;
  address?: string;
  /** Default 1883. */
  port?: number;
  /** The socket class (TCP, or TLS over it) and options it gets untouched (`secure`, …). */
  socket: { io: ClientSocketConstructor; [option: string]: unknown };
  /** The resolver class, needed when `host` is given without `address`. */
  dns?: { io: ClientResolverConstructor; [option: string]: unknown };
  /** Needed only for keep-alive pings. */
  timer?: ClientTimer;
  /** 4: MQTT 3.1.1 (default), 5: MQTT 5.0. */
  version?: Version;
  /** Default: a MemoryStore of this client alone. Pass the same store to the next client to resume. */
  store?: SessionStore;
  onReadable?: (this: MQTTClient, count: number, options: ReadableOptions) => void;
  onWritable?: (this: MQTTClient, count: number) => void;
  onControl?: (this: MQTTClient, message: ControlMessage) => void;
  onError?: (this: MQTTClient, error?: Error) => void;
}

type State = "resolving" | "connecting" | "login" | "connected" | "closed";

export class MQTTClient {
  static readonly CONNECT = 1;
  static readonly CONNACK = 2;
  static readonly PUBLISH = 3;
  static readonly PUBACK = 4;
  static readonly PUBREC = 5;
  static readonly PUBREL = 6;
  static readonly PUBCOMP = 7;
  static readonly SUBSCRIBE = 8;
  static readonly SUBACK = 9;
  static readonly UNSUBSCRIBE = 10;
  static readonly UNSUBACK = 11;
  static readonly PINGREQ = 12;
  static readonly PINGRESP = 13;
  static readonly DISCONNECT = 14;

  readonly version: Version;
  #options: MQTTClientOptions;
  #store: SessionStore;
  #stored: ClientSessionState;
  #session: PublisherSession;
  #socket: SocketDriver | undefined;
  #state: State = "resolving";
  /** The broker's limits, once its CONNACK states them. */
  #receiveMaximum: number;
  #maximumPacketSize = Infinity;
  readonly #aliases: TopicAliases;
  /** The message onReadable announced, until read() takes it or the callback returns. */
  #message: Uint8Array | undefined;
  #pingTimer: unknown;
  /** Milliseconds; an MQTT 5 broker's Server Keep Alive replaces the one asked for. */
  #keepalive: number;
  #pingOutstanding = false;

  constructor(options: MQTTClientOptions) {
    if (!options.host && !options.address) throw new Error("MQTT client: host or address required");
    if (!options.socket?.io) throw new Error("MQTT client: socket.io required");
    const version = options.version ?? 4;
    if (version !== 4 && version !== 5) throw new RangeError(`MQTT client: version ${String(version)} (4: MQTT 3.1.1, 5: MQTT 5.0)`);
    if ((options.keepalive ?? 0) > 0 && !options.timer) throw new Error("MQTT client: keepalive needs a timer");
    // The broker keeps a session under the client's id: without one, there is nothing to resume.
    if (options.clean === false && !options.id) throw new Error("MQTT client: a persistent session (clean: false) needs an id");
    this.version = version;
    this.#options = options;
    this.#keepalive = options.keepalive ?? 0;
    this.#aliases = new TopicAliases(options.topicAliasMaximum ?? 0);
    this.#store = options.store ?? new MemoryStore();
    if (options.clean ?? true) this.#store.clear();
    this.#stored = this.#store.load() ?? emptyClientSession();
    this.#receiveMaximum = version === 5 ? (this.#stored.receiveMaximum ?? UNKNOWN_RECEIVE_MAXIMUM) : DEFAULT_RECEIVE_MAXIMUM;
    if (version === 5) this.#maximumPacketSize = this.#stored.maximumPacketSize ?? Infinity;
    this.#session = new PublisherSession(version, this.#stored, options.maximumPacketSize);
    const address = options.address;
    if (address) {
      this.#open(address);
      return;
    }
    const host = options.host!;
    if (!options.dns) throw new Error(`MQTT client: dns required to resolve ${host}`);
    const { io: Resolver, ...dnsOptions } = options.dns;
    new Resolver(dnsOptions).resolve({
      host,
      onResolved: (_host, resolved) => this.#open(resolved),
      onError: (reason) => this.#fail(new Error(`MQTT client: cannot resolve ${host}${reason instanceof Error ? `: ${reason.message}` : ""}`)),
    });
  }

  /** The packet ids of the QoS 1/2 messages the broker has not finished with, oldest first. */
  get inFlight(): number[] {
    return this.#stored.inflight.map((entry) => entry.packetId);
  }

  /**
   * Publishes `data` (options: topic, QoS, retain, properties), or does another operation
   * (SUBSCRIBE and UNSUBSCRIBE with `items`, PINGREQ, DISCONNECT). A QoS 1/2 message is in the store
   * before its first byte goes out. Returns the bytes the socket can take now; 0 means wait for
   * onWritable (what does not fit now is queued, never dropped).
   */
  write(data: Uint8Array | ArrayBuffer | string | null, options: WriteOptions): number {
    if (this.#state !== "login" && this.#state !== "connected") throw new Error(`MQTT client: cannot write while ${this.#state}`);
    const session = this.#session;
    const operation = options.operation ?? MQTTClient.PUBLISH;
    switch (operation) {
      case MQTTClient.PUBLISH:
        this.#publish(data === null ? new Uint8Array(0) : bytesOf(data), options);
        break;
      case MQTTClient.SUBSCRIBE:
        session.subscribe(this.#items(options).map(({ topic, QoS, ...rest }) => ({ ...rest, topic, qos: QoS ?? 0 })));
        break;
      case MQTTClient.UNSUBSCRIBE:
        session.subscribe(this.#items(options).map((item) => item.topic));
        break;
      case MQTTClient.PINGREQ:
        session.ping();
        break;
      case MQTTClient.DISCONNECT:
        session.disconnect(this.version === 5 ? options.reasonCode : undefined);
        break;
      default:
        throw new RangeError(`MQTT client: operation ${operation} is not the application's to write`);
    }
    this.#flush();
    return this.#writable();
  }

  /** The payload onReadable announced (or its first `count` bytes); undefined once taken. */
  read(count?: number): ArrayBuffer | undefined {
    const message = this.#message;
    if (!message) return undefined;
    const n = count === undefined ? message.length : Math.min(count, message.length);
    const out = message.slice(0, n).buffer;
    this.#message = n < message.length ? message.subarray(n) : undefined;
    return out;
  }

  /** Closes the socket; the session stays in the store for the next client. Write DISCONNECT first
   *  to end the connection normally. */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#options.timer?.clear(this.#pingTimer);
    this.#pingTimer = undefined;
    this.#socket?.close();
    this.#socket = undefined;
    this.#session.discardOutput();
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
      this.#fail(e instanceof Error ? e : new Error(String(e)));
      throw e;
    }
  }

  #forgetUnsaved(entry: InFlight): void {
    this.#session.settle(entry);
    this.#stored.messages.delete(entry.packetId);
  }

  get #closed(): boolean {
    return this.#state === "closed";
  }

  #writable(): number {
    if (this.#session.hasOutput || this.#stored.inflight.length >= this.#receiveMaximum) return 0;
    return this.#socket?.room ?? 0;
  }

  #open(address: string): void {
    if (this.#state === "closed") return;
    this.#state = "connecting";
    const options = this.#options;
    const { io: Socket, ...socketOptions } = options.socket;
    try {
      this.#socket = socketDriver({
        writable: (first) => this.#onWritable(first),
        readable: (data) => this.#onReadable(data),
        error: (error) => this.#fail(error ?? new Error("MQTT client: connection lost")),
      });
      this.#socket.open((callbacks) => new Socket({ ...socketOptions, address, host: options.host ?? address, port: options.port ?? 1883, ...callbacks }));
    } catch (e) {
      this.#fail(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #onWritable(first: boolean): void {
    if (this.#state === "closed") return;
    if (first) {
      try {
        this.#login();
      } catch (e) {
        // The codec refused something of the options (a will topic, a property): no CONNECT to send.
        return this.#fail(e instanceof Error ? e : new Error(String(e)));
      }
    }
    this.#flush();
    const room = this.#writable();
    if (room > 0) this.#options.onWritable?.call(this, room);
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
      this.#options.onControl?.call(this, { operation: entry.qos === 1 ? MQTTClient.PUBACK : MQTTClient.PUBCOMP, id: entry.packetId, reasonCode: PACKET_TOO_LARGE });
    }
  }

  #flush(): void {
    if (this.#socket?.write((room) => this.#session.takeOutput(room))) this.#schedulePing();
  }

  #schedulePing(): void {
    const keepalive = this.#keepalive;
    const timer = this.#options.timer;
    if (!timer || keepalive <= 0 || this.#state === "closed") return;
    timer.clear(this.#pingTimer);
    // Three quarters of the interval: the PINGREQ arrives in time whatever the latency.
    this.#pingTimer = timer.set(() => this.#ping(), (keepalive * 3) >> 2);
  }

  #ping(): void {
    this.#pingTimer = undefined;
    if (this.#pingOutstanding) return this.#fail(new Error("MQTT client: no PINGRESP within the keep-alive interval"));
    this.#pingOutstanding = true;
    this.#session.ping();
    this.#flush();
  }

  #onReadable(data: Uint8Array): void {
    if (this.#state === "closed") return;
    let events: SessionEvent[];
    try {
      events = this.#session.receive(data);
    } catch (e) {
      return this.#fail(e instanceof Error ? e : new Error(String(e)));
    }
    const before = this.#state === "connected" ? this.#writable() : 0;
    for (const event of events) {
      // A callback may have closed the client, or an event failed it.
      if (this.#closed) return;
      this.#event(event);
    }
    this.#flush();
    const room = this.#writable();
    // The CONNACK, or an acknowledgement that frees a Receive Maximum slot, is room the application
    // waits for (the SDK's client, too, offers onWritable after CONNACK).
    if (room > 0 && before === 0 && this.#state === "connected") this.#options.onWritable?.call(this, room);
  }

  #event(event: SessionEvent): void {
    const onControl = this.#options.onControl;
    switch (event.type) {
      case "connack":
        return this.#connack(event.reasonCode, event.sessionPresent, event.packet.properties);
      case "acked":
        this.#forget(event.entry);
        onControl?.call(this, {
          operation: event.entry.qos === 1 || event.asQoS1 ? MQTTClient.PUBACK : MQTTClient.PUBCOMP,
          id: event.entry.packetId,
          reasonCode: event.reasonCode,
        });
        return;
      case "released":
        transition(event.entry, "pubrec");
        // The broker owns the message now: only its PUBREL is ever sent again.
        this.#stored.messages.delete(event.entry.packetId);
        this.#store.save(this.#stored);
        onControl?.call(this, { operation: MQTTClient.PUBREC, id: event.entry.packetId, reasonCode: 0 });
        return;
      case "subscribed":
        onControl?.call(this, { operation: MQTTClient.SUBACK, id: event.packetId, reasonCodes: event.reasonCodes });
        return;
      case "unsubscribed":
        onControl?.call(this, { operation: MQTTClient.UNSUBACK, id: event.packetId, reasonCodes: event.reasonCodes });
        return;
      case "message":
        return this.#deliver(event.publish.topic, event.publish);
      case "pong":
        this.#pingOutstanding = false;
        onControl?.call(this, { operation: MQTTClient.PINGRESP });
        return;
      case "disconnect":
        onControl?.call(this, { operation: MQTTClient.DISCONNECT, reasonCode: event.reasonCode });
        return this.#fail(new Error(`MQTT client: the broker disconnected (reason 0x${event.reasonCode.toString(16)})`));
      case "discarded":
        // Over this client's Maximum Packet Size: acknowledged by the session, never delivered.
        return;
    }
  }

  #connack(reasonCode: number, sessionPresent: boolean, properties: ConnackProperties | undefined): void {
    if (reasonCode !== 0) return this.#fail(new Error(`MQTT client: CONNACK refused the connection (code 0x${reasonCode.toString(16)})`));
    this.#state = "connected";
    if (this.version === 5) {
      this.#receiveMaximum = properties?.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM;
      this.#maximumPacketSize = properties?.maximumPacketSize ?? Infinity;
      this.#aliases.maximum = properties?.topicAliasMaximum ?? 0;
      // MQTT 5 §3.2.2.3.14: the client keeps the broker's keep-alive, whatever it asked for.
      if (properties?.serverKeepAlive !== undefined && this.#options.timer) {
        this.#keepalive = properties.serverKeepAlive * 1000;
        this.#schedulePing();
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
    const message: ControlMessage = { operation: MQTTClient.CONNACK, reasonCode, sessionPresent };
    if (properties) message.properties = properties;
    this.#options.onControl?.call(this, message);
  }

  #forget(entry: InFlight): void {
    this.#forgetUnsaved(entry);
    this.#store.save(this.#stored);
  }

  #deliver(wireTopic: string, publish: { payload: Uint8Array; qos: QoS; retain: boolean; dup: boolean; properties?: PublishProperties }): void {
    let topic: string;
    try {
      topic = this.#aliases.inbound(wireTopic, publish.properties?.topicAlias);
    } catch (e) {
      return this.#fail(e instanceof Error ? e : new Error(String(e)));
    }
    const options: ReadableOptions = { topic, QoS: publish.qos, retain: publish.retain, dup: publish.dup, byteLength: publish.payload.length, more: false };
    if (publish.properties) options.properties = publish.properties;
    this.#message = publish.payload;
    try {
      this.#options.onReadable?.call(this, publish.payload.length, options);
    } finally {
      this.#message = undefined;
    }
  }

  #fail(error: Error): void {
    if (this.#state === "closed") return;
    this.close();
    this.#options.onError?.call(this, error);
  }
}
