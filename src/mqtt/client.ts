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
//
// It is the driver torpor's wake runs on (clientDriver: socket, timer, writes as the socket has room)
// with this client's protocol (ClientProtocol: store, limits, keep-alive) and the pattern's API
// around them.

import type { ConnectOptions } from "./client-connect";
import { clientDriver, type Driver } from "./client-driver";
import type { ClientResolverConstructor, ClientSocketConstructor, ClientTimer } from "./client-io";
import { Operation, type ControlMessage, type ReadableOptions, type WriteOptions } from "./client-messages";
import { ClientProtocol, type Ticks } from "./client-protocol";
import type { SessionStore } from "./client-store";
import type { Version } from "./packets";

export type { ConnectOptions, WillOptions } from "./client-connect";
export type { ControlMessage, ReadableOptions, WriteOptions } from "./client-messages";

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

export class MQTTClient {
  static readonly CONNECT = Operation.CONNECT;
  static readonly CONNACK = Operation.CONNACK;
  static readonly PUBLISH = Operation.PUBLISH;
  static readonly PUBACK = Operation.PUBACK;
  static readonly PUBREC = Operation.PUBREC;
  static readonly PUBREL = Operation.PUBREL;
  static readonly PUBCOMP = Operation.PUBCOMP;
  static readonly SUBSCRIBE = Operation.SUBSCRIBE;
  static readonly SUBACK = Operation.SUBACK;
  static readonly UNSUBSCRIBE = Operation.UNSUBSCRIBE;
  static readonly UNSUBACK = Operation.UNSUBACK;
  static readonly PINGREQ = Operation.PINGREQ;
  static readonly PINGRESP = Operation.PINGRESP;
  static readonly DISCONNECT = Operation.DISCONNECT;

  readonly version: Version;
  readonly #options: MQTTClientOptions;
  readonly #protocol: ClientProtocol;
  readonly #driver: Driver<Ticks>;
  /** The message onReadable announced, until read() takes it or the callback returns. */
  #message: Uint8Array | undefined;

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
    const protocol = new ClientProtocol(
      { ...options, version, timed: options.timer !== undefined },
      {
        readable: (payload, readable) => this.#deliver(payload, readable),
        control: (message) => options.onControl?.call(this, message),
      },
    );
    this.#protocol = protocol;
    // The clock only keep-alive reads: milliseconds, as the timer counts them.
    this.#driver = clientDriver({ protocol, now: () => ({ ticks: Date.now() }), timer: options.timer, after: (writable) => this.#after(writable) });
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
      onError: (reason) => this.#driver.step(() => protocol.fail(new Error(`MQTT client: cannot resolve ${host}${reason instanceof Error ? `: ${reason.message}` : ""}`))),
    });
  }

  /** The packet ids of the QoS 1/2 messages the broker has not finished with, oldest first. */
  get inFlight(): number[] {
    return this.#protocol.inFlight;
  }

  /**
   * Publishes `data` (options: topic, QoS, retain, properties), or does another operation
   * (SUBSCRIBE and UNSUBSCRIBE with `items`, PINGREQ, DISCONNECT). A QoS 1/2 message is in the store
   * before its first byte goes out. Returns the bytes the socket can take now; 0 means wait for
   * onWritable (what does not fit now is queued, never dropped).
   */
  write(data: Uint8Array | ArrayBuffer | string | null, options: WriteOptions): number {
    try {
      this.#protocol.write(data, options);
    } finally {
      // What it queued goes out; a store that failed it closes the connection.
      this.#driver.step();
    }
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
    if (this.#protocol.closed) return;
    this.#protocol.close();
    this.#driver.step();
  }

  #writable(): number {
    return this.#protocol.ready ? this.#driver.room : 0;
  }

  #open(address: string): void {
    const options = this.#options;
    const { io: Socket, ...socketOptions } = options.socket;
    this.#driver.open((callbacks) => new Socket({ ...socketOptions, address, host: options.host ?? address, port: options.port ?? 1883, ...callbacks }));
  }

  /** After each step: an ended connection's error, or room the application waits for. */
  #after(writable: boolean): void {
    const protocol = this.#protocol;
    const error = protocol.takeError();
    if (error) return this.#options.onError?.call(this, error);
    const opened = protocol.takeOpened();
    if (!(writable || opened) || !protocol.writable) return;
    const room = this.#writable();
    if (room > 0) this.#options.onWritable?.call(this, room);
  }

  #deliver(payload: Uint8Array, readable: ReadableOptions): void {
    this.#message = payload;
    try {
      this.#options.onReadable?.call(this, payload.length, readable);
    } finally {
      this.#message = undefined;
    }
  }
}
