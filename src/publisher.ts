// One short, pipelined MQTT exchange per wake: network up, TCP (or TLS), then CONNECT, the command
// subscription when the broker lacks it, the unacknowledged messages again (DUP, or PUBREL for QoS 2
// messages the broker already holds), the new batches and a sync marker, all in a single write before
// CONNACK (MQTT §3.1.4 allows it). Each acknowledgement releases its readings from retained memory.
// The node's own marker coming back on its command topic means every command queued while it slept
// has arrived before it, so the node knows when to stop listening without guessing a timeout. Then
// it publishes its retained status and DISCONNECTs normally. Every wait is bounded by awakeTimeout.

import type { Config } from "./config";
import { utf8Encode } from "./encoding/utf8";
import type { Host, TCP } from "./host";
import { applyCommand, withOverrides, type LinkMemory } from "./link";
import { ProtocolError, type Version } from "./mqtt/codec";
import { connackReason } from "./mqtt/reasons";
import { PublisherSession, type InFlight, type OutgoingPublish } from "./mqtt/session";
import { nextWake } from "./power/schedule";
import type { NodeState } from "./power/state";
import type { Channel } from "./sensors/registry";
import { encodePayload } from "./telemetry/payload";

/** Messages in flight at once before the broker says otherwise: below mosquitto's default Receive
 *  Maximum (20), and within the retained in-flight table. */
const DEFAULT_RECEIVE_MAXIMUM = 8;

/** The largest packet the node accepts (commands, acknowledgements): announced to MQTT 5 brokers,
 *  enforced by the reader on every version, so a broker can never make the node buffer more. */
const MAXIMUM_PACKET_SIZE = 4096;

export interface PublishOutcome {
  /** Readings the broker acknowledged in this wake. */
  delivered: number;
  /** PUBLISH packets of telemetry sent (re-sent ones included). */
  messages: number;
  sessionPresent?: boolean;
  version?: Version;
  bytesUp: number;
  bytesDown: number;
  /** Results of the commands taken, one line each. */
  commands: string[];
  error?: string;
}

export function topics(config: Config, node: string) {
  const base = `${config.prefix}/${node}`;
  return { telemetry: `${base}/telemetry`, status: `${base}/status`, command: `${base}/cmd` };
}

function nodeId(config: Config, host: Host): string {
  return config.node || host.id;
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

/** What an exchange works on: the node's host, its config (commanded changes applied), its
 *  channels, and its retained state with the function that commits it. */
export interface NodeContext {
  readonly host: Host;
  readonly config: Config;
  readonly channels: readonly Channel[];
  readonly state: NodeState;
  readonly commit: () => void;
}

/** Deep sleep: one exchange, then the status and DISCONNECT. */
export async function publish(node: NodeContext): Promise<PublishOutcome> {
  const { connection, outcome } = await connect(node, false);
  connection.close();
  return outcome;
}

/**
 * Opens a connection and settles its first exchange. `persistent` (always-connected mode) keeps the
 * connection open afterwards for `flush()` and `ping()`; otherwise the caller closes it.
 */
export async function connect(node: NodeContext, persistent: boolean): Promise<{ connection: Connection; outcome: PublishOutcome }> {
  const { host, state, commit } = node;
  const link = state.link;
  const version: Version = node.config.mqttVersion === 5 && link.version !== 4 ? 5 : 4;
  const connection = new Connection(node, version, persistent);
  const outcome = await connection.open();
  if (outcome.refusedVersion && version === 5) {
    // A 3.1.1-only broker (aedes, older mosquitto): remember it, and try again at once over 3.1.1.
    host.log("broker refused MQTT 5; using MQTT 3.1.1 from now on");
    link.version = 4;
    commit();
    const again = new Connection(node, 4, persistent);
    const second = await again.open();
    return { connection: again, outcome: { ...second, bytesUp: second.bytesUp + outcome.bytesUp, bytesDown: second.bytesDown + outcome.bytesDown } };
  }
  return { connection, outcome };
}

type Outcome = PublishOutcome & { refusedVersion?: boolean };

const newOutcome = (): Outcome => ({ delivered: 0, messages: 0, bytesUp: 0, bytesDown: 0, commands: [] });

export class Connection {
  #outcome: Outcome = newOutcome();
  readonly #session: PublisherSession;
  readonly #topic: ReturnType<typeof topics>;
  readonly #node: string;
  readonly #sensorIds: string[];
  #socket: TCP | undefined;
  #connacked = false;
  #closing = false;
  #finished = false;
  #resolve: ((outcome: Outcome) => void) | undefined;
  #lastWrite = 0;
  #deadline: unknown;
  /** The marker this wake waits for on its command topic ("" while its subscription is being made);
   *  undefined once it came back. */
  #marker: string | undefined;
  #awakeUntil = 0;
  #awakeTimer: unknown;
  /** QoS 2 messages the broker took (PUBREC) in an earlier connection: this one sends only PUBREL. */
  readonly #releasedBefore = new Set<InFlight>();
  /** CONNACK's Session Present, once it came. */
  #sessionPresent: boolean | undefined;

  readonly host: Host;
  /** The config as it was at CONNECT: the keepalive and Will promised then hold for this connection. */
  readonly config: Config;
  readonly channels: readonly Channel[];
  readonly state: NodeState;
  readonly commit: () => void;

  constructor(node: NodeContext, readonly version: Version, readonly persistent: boolean) {
    const { host, config, state } = node;
    this.host = host;
    this.config = config;
    this.channels = node.channels;
    this.state = state;
    this.commit = node.commit;
    this.#node = nodeId(config, host);
    this.#topic = topics(config, this.#node);
    this.#sensorIds = config.sensors.map((s) => s.id);
    this.#session = new PublisherSession(version, state.session, MAXIMUM_PACKET_SIZE);
  }

  get #link(): LinkMemory {
    return this.state.link;
  }

  /** True while the connection is up and can take flush() and ping(). */
  get isOpen(): boolean {
    return this.#connacked && !this.#finished && !this.#closing;
  }

  /** The keepalive this connection promised in its CONNECT, seconds. */
  get keepAlive(): number {
    return keepAlive(this.config, this.persistent);
  }

  /** Milliseconds since the node last sent anything: a keepalive is owed when this nears it. */
  get idleMs(): number {
    return this.host.clock.ticks() - this.#lastWrite;
  }

  open(): Promise<Outcome> {
    const { host, config } = this;
    return new Promise((resolve) => {
      this.#wait(resolve);
      host.network.up(config.awakeTimeout * 1000, (error) => {
        if (this.#finished) return;
        if (error) return this.#finish(`network: ${error.message}`);
        host.network.resolve(config.broker.host, (error, address) => {
          if (this.#finished) return;
          if (error || !address) return this.#finish(`cannot resolve ${config.broker.host}: ${error?.message ?? "no address"}`);
          this.#open(address);
        });
      });
    });
  }

  /** Always-connected mode: sends the batches buffered since the last flush; resolves when acknowledged. */
  flush(): Promise<Outcome> {
    return new Promise((resolve) => {
      if (!this.isOpen) return resolve({ ...newOutcome(), error: "not connected" });
      this.#outcome = newOutcome();
      this.#wait(resolve);
      this.#pump();
      this.#write();
      this.#maybeDone();
    });
  }

  ping(): void {
    if (!this.isOpen) return;
    this.#session.ping();
    this.#write();
  }

  /** Publishes the status and DISCONNECTs normally, then closes. */
  close(): void {
    if (this.#finished) return;
    if (this.isOpen) {
      this.#closing = true;
      this.#publishStatus();
      // MQTT 5, deep sleep: "Disconnect with Will Message" (0x04) rather than Normal (0x00), which
      // would discard the Will. The broker then holds it for the Will Delay (= Session Expiry) and
      // drops it when the node's next wake resumes the session in time; a node that never comes
      // back — it died asleep, the way a sleeping node nearly always dies — is announced offline.
      // Always connected: a normal DISCONNECT means the node is going away on purpose.
      this.#session.disconnect(this.version === 5 && !this.persistent ? 0x04 : undefined);
      this.#write();
    }
    this.#finish();
  }

  #wait(resolve: (outcome: Outcome) => void): void {
    this.#resolve = resolve;
    this.host.timer.clear(this.#deadline);
    this.#deadline = this.host.timer.set(() => this.#finish(`no answer within ${this.config.awakeTimeout} s`), this.config.awakeTimeout * 1000);
  }

  #open(address: string): void {
    const { host, config } = this;
    const exchange = this;
    const options = {
      address,
      port: config.broker.port,
      nodelay: true,
      format: "buffer" as const,
      onWritable(this: TCP) {
        if (exchange.#socket === undefined) {
          exchange.#socket = this;
          exchange.#start();
        }
      },
      onReadable(this: TCP) {
        const data = this.read();
        if (data) exchange.#received(new Uint8Array(data));
      },
      onError(this: TCP, error?: Error) {
        // A connection lost before CONNACK is not a refusal of MQTT 5: a Wi-Fi drop or a broker
        // restart looks the same, and taking it for one would pin a v5 broker to 3.1.1 for good.
        // Only the answer MQTT 3.1.1 §3.1.2.2 requires of a 3.1.1 broker (CONNACK return code 1,
        // MQTT 5's 0x84) makes the node fall back; see #connack.
        exchange.#finish(`connection to ${config.broker.host}:${config.broker.port} failed: ${error?.message ?? "closed"}`);
      },
    };
    try {
      if (config.broker.secure) {
        if (!host.network.TLS) return this.#finish("mqtts:// needs TLS, which this host does not provide");
        const secure: { ca?: string; certificate?: string; key?: string } = {};
        if (config.tlsCa) secure.ca = config.tlsCa;
        if (config.tlsCert) secure.certificate = config.tlsCert;
        if (config.tlsKey) secure.key = config.tlsKey;
        new host.network.TLS({ ...options, host: config.broker.host, secure });
      } else {
        new host.network.TCP(options);
      }
    } catch (e) {
      this.#finish(`cannot open connection: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The pipelined first write. */
  #start(): void {
    const { config, version, state } = this;
    const expiry = sessionExpiry(config);
    this.#session.connect({
      clientId: `torpor-${this.#node}`,
      cleanStart: false,
      keepAlive: keepAlive(config, this.persistent),
      ...(config.brokerUser ? { username: config.brokerUser } : {}),
      ...(config.brokerPassword ? { password: utf8Encode(config.brokerPassword) } : {}),
      will: {
        topic: this.#topic.status,
        payload: utf8Encode(JSON.stringify({ state: "offline" })),
        qos: 1,
        retain: true,
        // Deep sleep: announce "offline" only once the session would have expired, i.e. for a node
        // that missed its wakes. Always connected: a lost connection is news at once.
        ...(version === 5 && !this.persistent ? { properties: { willDelayInterval: expiry } } : {}),
      },
      ...(version === 5 ? { properties: { sessionExpiryInterval: expiry, maximumPacketSize: MAXIMUM_PACKET_SIZE, requestProblemInformation: false } } : {}),
    });
    for (const entry of [...state.session.inflight]) {
      const message = entry.released ? undefined : this.#message(entry.first, entry.count, entry.qos);
      if (!entry.released && !message) {
        // Its readings were dropped as the oldest when the buffer overflowed (and counted then).
        state.session.inflight.splice(state.session.inflight.indexOf(entry), 1);
        continue;
      }
      if (entry.released) this.#releasedBefore.add(entry);
      this.#session.resend(entry, message);
      this.#outcome.messages++;
    }
    if (((state.unsent - state.buffer.first) | 0) < 0) state.unsent = state.buffer.first;
    this.#pump();
    // A subscription is only sure to be in place once SUBACK arrives (MQTT orders messages, not a
    // SUBSCRIBE against a PUBLISH in the same stream), so the marker waits for it when one is needed.
    if (this.#link.subscribed) this.#sendMarker();
    else this.#subscribe();
    // The in-flight table, with the packet ids just assigned, is retained before any byte leaves: if
    // power fails after the write, the next wake re-sends under the same ids.
    this.commit();
    this.#write();
  }

  #subscribe(): void {
    // Until the SUBACK and the marker are back, the wake is not done.
    this.#marker = "";
    this.#session.subscribe([{ topic: this.#topic.command, qos: 1, ...(this.version === 5 ? { retainHandling: 2 as const } : {}) }]);
  }

  /** A QoS 0 marker on the node's own command topic; it comes back after every queued command. */
  #sendMarker(): void {
    this.#marker = `${this.state.counters.wakes}.${this.state.session.nextPacketId}`;
    this.#session.publish({ topic: this.#topic.command, payload: utf8Encode(JSON.stringify({ cmd: "sync", marker: this.#marker })), qos: 0, retain: false });
  }

  /** Queues new batches while the broker's Receive Maximum allows. */
  #pump(): void {
    const { config, state } = this;
    const qos = this.#qos();
    const limit = Math.min(this.#link.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM, 16);
    while (qos === 0 || state.session.inflight.length < limit) {
      const available = (state.buffer.next - state.unsent) >>> 0;
      if (available === 0) break;
      let count = Math.min(config.batchSize, available);
      let message = this.#message(state.unsent, count, qos);
      // Split a batch the broker's Maximum Packet Size would refuse.
      const max = this.#link.maximumPacketSize;
      while (message && max !== undefined && count > 1 && this.#session.publishLength(message) > max) {
        count = Math.ceil(count / 2);
        message = this.#message(state.unsent, count, qos);
      }
      if (!message) break;
      this.#session.publish(message, 0, state.unsent, count);
      state.unsent = (state.unsent + count) >>> 0;
      this.#outcome.messages++;
    }
  }

  /** The configured QoS, lowered to the broker's Maximum QoS. */
  #qos(): 0 | 1 | 2 {
    return Math.min(this.config.qos, this.#link.maximumQoS ?? 2) as 0 | 1 | 2;
  }

  #message(first: number, count: number, qos: 0 | 1 | 2): OutgoingPublish | undefined {
    const readings = this.state.buffer.range(first, count);
    if (!readings.length) return undefined;
    const { payload, contentType } = encodePayload(this.config.format, { baseName: `urn:dev:torpor:${this.#node}:`, channels: this.channels, sensorIds: this.#sensorIds, readings, dropped: this.state.buffer.dropped });
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
      return this.#finish(e instanceof ProtocolError ? `protocol error from broker: ${e.message}` : String(e));
    }
    for (const event of events) {
      switch (event.type) {
        case "connack":
          if (!this.#connack(event.sessionPresent, event.reasonCode, event.packet.properties)) return;
          break;
        case "acked":
          this.#acked(event.entry, event.reasonCode);
          break;
        case "released":
          this.commit();
          break;
        case "subscribed":
          this.#link.subscribed = event.reasonCodes.every((code) => code < 0x80);
          if (this.#link.subscribed) this.#sendMarker();
          else {
            this.host.log("broker refused the command subscription; commands are off this wake");
            this.#marker = undefined;
          }
          this.commit();
          break;
        case "message":
          this.#command(event.publish.topic, event.publish.payload);
          break;
        case "disconnect":
          return this.#finish(`broker disconnected: reason 0x${event.reasonCode.toString(16)}`);
        case "pong":
          break;
      }
    }
    this.#pump();
    this.#write();
    this.#maybeDone();
  }

  #connack(sessionPresent: boolean, reasonCode: number, properties: { receiveMaximum?: number; maximumPacketSize?: number; maximumQoS?: number } | undefined): boolean {
    if (reasonCode !== 0) {
      // 3.1.1 return code 1 / MQTT 5 reason 0x84: this broker does not speak the version we used.
      if (this.version === 5 && reasonCode === 0x84) this.#outcome.refusedVersion = true;
      this.#finish(`broker refused the connection: ${connackReason(this.version, reasonCode)}`);
      return false;
    }
    this.#connacked = true;
    this.#sessionPresent = sessionPresent;
    this.#outcome.sessionPresent = sessionPresent;
    this.#outcome.version = this.version;
    const link = this.#link;
    link.version = this.version;
    if (this.version === 5) {
      // Absent properties mean "no limit" (MQTT 5 §3.2.2.3): forget what an earlier broker said.
      if (properties?.receiveMaximum !== undefined) link.receiveMaximum = properties.receiveMaximum;
      else delete link.receiveMaximum;
      if (properties?.maximumPacketSize !== undefined) link.maximumPacketSize = properties.maximumPacketSize;
      else delete link.maximumPacketSize;
      if (properties?.maximumQoS !== undefined) link.maximumQoS = properties.maximumQoS as 0 | 1;
      else delete link.maximumQoS;
    }
    if (!sessionPresent && link.subscribed) {
      // The broker lost the session and with it the subscription, and the marker went nowhere:
      // subscribe again and send a new marker. Kept readings were in this connection's write, so
      // the broker took them as new messages of the new session.
      link.subscribed = false;
      this.#subscribe();
    }
    link.results = [];
    this.commit();
    return true;
  }

  #acked(entry: InFlight, reasonCode: number): void {
    const { state } = this;
    if (this.#releasedBefore.delete(entry) && this.#sessionPresent === false) {
      // A QoS 2 message the broker had taken (PUBREC) before it lost the session (a restart without
      // persistence, the session expired while the node slept): a broker that delivers QoS 2 on
      // PUBREL, as mosquitto does, lost the message with the session, and it answers this wake's
      // PUBREL with a PUBCOMP all the same. The readings are still here: publish them again as a new
      // message, as with every kept message when the session is gone (MQTT 5 §3.2.2-5). A broker
      // that had delivered it already sends it twice: at least once, never lost.
      const message = entry.kind === 0 ? this.#message(entry.first, entry.count, entry.qos) : undefined;
      if (message) {
        this.#session.publish(message, entry.kind, entry.first, entry.count);
        this.#outcome.messages++;
      }
      this.#release();
      this.commit();
      return;
    }
    if (entry.kind === 0) {
      // A v5 negative acknowledgement is still an answer: the broker will never take that message,
      // so keeping it would only block the buffer. It is counted as a failure, not as delivered.
      if (reasonCode < 0x80) {
        this.#outcome.delivered += entry.count;
        state.counters.delivered += entry.count;
      } else {
        this.#outcome.error = `broker rejected a batch: reason 0x${reasonCode.toString(16)}`;
      }
    }
    this.#release();
    this.commit();
  }

  /** Forgets readings no message needs any more: everything before the oldest still in flight. */
  #release(): void {
    const { state } = this;
    let keep = state.unsent;
    for (const e of state.session.inflight) if (e.kind === 0 && ((e.first - keep) | 0) < 0) keep = e.first;
    state.buffer.release(keep);
  }

  #command(topic: string, payload: Uint8Array): void {
    if (topic !== this.#topic.command) return;
    if (this.#marker !== undefined && isMarker(payload, this.#marker)) {
      this.#marker = undefined;
      return;
    }
    // Markers of earlier wakes (a session's queue can hold one) are not commands.
    if (isMarker(payload)) return;
    const effect = applyCommand(payload, this.#link);
    this.#outcome.commands.push(effect.result);
    (this.#link.results ??= []).push(effect.result);
    if (this.#link.results.length > 8) this.#link.results.shift();
    this.host.log(`command ${effect.result}`);
    if (effect.awake) {
      this.#awakeUntil = this.host.clock.ticks() + effect.awake * 1000;
      // Staying awake on purpose: the wake's deadline moves with it.
      this.host.timer.clear(this.#deadline);
      this.#deadline = this.host.timer.set(() => this.#finish(`no answer within ${this.config.awakeTimeout} s`), (effect.awake + this.config.awakeTimeout) * 1000);
    }
    this.commit();
  }

  #maybeDone(): void {
    const { state } = this;
    if (!this.#resolve || this.#closing || !this.#connacked || state.session.inflight.length || this.#marker !== undefined) return;
    if (((state.buffer.next - state.unsent) >>> 0) > 0 && this.#qos() !== 0) return;
    const awake = this.#awakeUntil - this.host.clock.ticks();
    if (awake > 0) {
      this.host.timer.clear(this.#awakeTimer);
      this.#awakeTimer = this.host.timer.set(() => this.#maybeDone(), awake);
      return;
    }
    if (this.#qos() === 0) {
      const sent = (state.unsent - state.buffer.first) >>> 0;
      this.#outcome.delivered += sent;
      state.counters.delivered += sent;
    }
    this.#release();
    this.commit();
    if (this.persistent) this.#publishStatus();
    this.#write();
    this.host.timer.clear(this.#deadline);
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve(this.#outcome);
  }

  #publishStatus(): void {
    this.#session.publish({ topic: this.#topic.status, payload: utf8Encode(JSON.stringify(this.#status())), qos: 0, retain: true });
  }

  #status(): Record<string, unknown> {
    const { state, config, host } = this;
    const status: Record<string, unknown> = {
      state: this.persistent && !this.#closing ? "online" : "asleep",
      host: host.name,
      // From the schedule as it is now: a command taken in this exchange may have just changed it.
      nextWake: Math.round(nextWake(host.clock.now(), withOverrides(config, this.#link.overrides).sampleInterval) / 1000),
      buffered: state.buffer.length,
      dropped: state.buffer.dropped,
      ...state.counters,
      sensorErrors: Object.fromEntries(config.sensors.map((s, i) => [s.id, state.sensorErrors[i] ?? 0])),
      // Totals up to the last wake (src/power/energy.ts); docs/power.md turns them into battery life.
      energy: state.energy,
      mqtt: this.version === 5 ? "5" : "3.1.1",
    };
    if (this.#link.overrides) status.overrides = this.#link.overrides;
    if (this.#link.results?.length) status.commands = this.#link.results;
    return status;
  }

  #write(): void {
    const bytes = this.#session.takeOutput();
    if (!bytes || !this.#socket || this.#finished) return;
    this.#outcome.bytesUp += bytes.length;
    this.#lastWrite = this.host.clock.ticks();
    this.#socket.write(bytes);
  }

  #finish(error?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    this.host.timer.clear(this.#deadline);
    this.host.timer.clear(this.#awakeTimer);
    if (this.#socket) {
      try {
        this.#socket.close();
      } catch {
        // Already closed by the peer.
      }
    }
    this.host.network.down();
    if (error !== undefined) this.#outcome.error = error;
    if (error !== undefined && this.persistent && !this.#resolve) this.host.log(`connection lost: ${error}`);
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.(this.#outcome);
  }
}

function isMarker(payload: Uint8Array, marker?: string): boolean {
  // Cheap test first: markers are small and start with {"cmd":"sync".
  if (payload.length > 64 || payload[8] !== 0x73 /* s */) return false;
  try {
    const value = JSON.parse(String.fromCharCode(...payload)) as { cmd?: unknown; marker?: unknown };
    return value.cmd === "sync" && (marker === undefined || value.marker === marker);
  } catch {
    return false;
  }
}
