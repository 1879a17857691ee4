// A wake's MQTT connection: it brings the network up (bounded), resolves the broker, chooses TCP or
// TLS (counting the handshakes) and runs the `Exchange` — the wake's policy, a state machine — on
// the MQTT client's driver (clientDriver, the one loop that drives an MQTT socket, MQTTClient's
// too), settling a promise when the exchange settles. When the broker's answer says how to do
// better (fall back to 3.1.1, a Will it can take), it connects again at once, within the same
// deadline.

import type { Config } from "../config";
import type { Handshake, Host, Instant } from "../host";
import { clientDriver, type Driver } from "../mqtt/client-driver";
import type { ClientSocket } from "../mqtt/client-io";
import type { SocketCallbacks } from "../mqtt/client-socket";
import type { Version } from "../mqtt/codec";
import type { NonceCounter } from "../retained/nonce-counter";
import type { NodeState } from "../retained/state";
import type { Channel } from "../sensors/channel";
import type { ExchangeOutcome, PublishOutcome } from "./contract";
import { Exchange } from "./exchange";
import { fallBack, versionFor } from "./version";

export type { PublishOutcome } from "./contract";

/** Connection attempts one wake may make when a broker's answer says how to do better; all share
 *  the wake's one deadline. */
const MAX_ATTEMPTS = 4;

/** What an exchange works on: the node's host, its config (commanded changes applied), its
 *  channels, and its retained state with the function that commits it. */
export interface NodeContext {
  readonly host: Host;
  readonly config: Config;
  readonly channels: readonly Channel[];
  readonly state: NodeState;
  readonly commit: () => void;
  /** Encryption's nonces, with a payloadKey. */
  readonly nonces?: NonceCounter | undefined;
}

/** Deep sleep: one exchange, then the status and DISCONNECT. */
export async function publish(node: NodeContext): Promise<PublishOutcome> {
  const { connection, outcome } = await connect(node, false);
  const closing = await connection.close();
  return { ...outcome, bytesUp: outcome.bytesUp + closing.up, bytesDown: outcome.bytesDown + closing.down };
}

/**
 * Opens a connection and settles its first exchange. `persistent` (always-connected mode) keeps the
 * connection open afterwards for `flush()` and `ping()`; otherwise the caller closes it.
 */
export async function connect(node: NodeContext, persistent: boolean): Promise<{ connection: Connection; outcome: PublishOutcome }> {
  const deadline = node.host.clock.ticks() + node.config.awakeTimeout * 1000;
  const link = node.state.link;
  const brokers = node.config.brokers;
  // Failover: a broker that cannot be reached (no CONNACK) costs one attempt, and the next one in
  // the list is tried at once, within the same deadline. The one that answers is remembered and
  // dialled first next wake. A broker without the node's session says so (Session Present 0) and
  // the exchange re-sends the kept readings as new messages, so a switch loses nothing.
  let index = link.broker !== undefined && link.broker < brokers.length ? link.broker : 0;
  let untried = brokers.length - 1;
  let bytesUp = 0;
  let bytesDown = 0;
  let probe = false;
  /** A 3.1.1 probe's outcome, once it was answered: MQTT 5 is tried once more before the node
   *  falls back, for the broker may only just have come back behind its proxy. */
  let probed: ExchangeOutcome | undefined;
  for (let attempt = 1; ; attempt++) {
    const at: NodeContext = brokers.length > 1 ? { ...node, config: { ...node.config, broker: brokers[index]! } } : node;
    const connection = new Connection(at, probe ? 4 : probed ? 5 : versionFor(node.config, node.state), persistent, deadline, probe);
    const outcome = await connection.open();
    bytesUp += outcome.bytesUp;
    bytesDown += outcome.bytesDown;
    const total = { ...outcome, bytesUp, bytesDown };
    const answered = outcome.sessionPresent !== undefined;
    if (probed) {
      // The proof: this broker took 3.1.1 a moment ago and closes 5 unanswered now.
      if (outcome.closedUnanswered) {
        fallBack(node.state, (line) => node.host.log(line), "broker closed MQTT 5 CONNECTs unanswered and took 3.1.1");
        node.commit();
        // The probe's connection delivered this wake's readings; an always-connected node reopens on 3.1.1.
        if (persistent) {
          probed = undefined;
          continue;
        }
        return { connection, outcome: { ...probed, bytesUp, bytesDown } };
      }
      return { connection, outcome: { ...total, delivered: probed.delivered + outcome.delivered, messages: probed.messages + outcome.messages, commands: [...probed.commands, ...outcome.commands] } };
    }
    if (probe && answered) {
      const closing = await connection.close();
      bytesUp += closing.up;
      bytesDown += closing.down;
      probed = total;
      probe = false;
      continue;
    }
    if (brokers.length > 1 && (answered ? link.broker !== index : true)) {
      // Unanswered: the next wake starts with the next broker, unless this wake finds one.
      link.broker = answered ? index : (index + 1) % brokers.length;
      node.commit();
    }
    // An MQTT 5 CONNECT closed unanswered is one failed wake, like any lost connection; the second
    // wake in a row that sees it tries one 3.1.1 CONNECT at once, which tells a broker that will not
    // speak 5 (RabbitMQ 3.10 closes those without a word) from one down behind a proxy.
    probe = false;
    if (outcome.closedUnanswered && connection.version === 5) {
      link.v5Closed = (link.v5Closed ?? 0) + 1;
      node.commit();
      probe = link.v5Closed >= 2;
    }
    const failover = !answered && outcome.error !== undefined && !(outcome.adapted || probe) && untried > 0;
    if (failover) {
      untried--;
      index = (index + 1) % brokers.length;
    }
    if (!(outcome.adapted || probe || failover) || attempt === MAX_ATTEMPTS + brokers.length - 1 || node.host.clock.ticks() >= deadline) return { connection, outcome: total };
  }
}

/**
 * One connection: the host's network and socket around an Exchange, on the MQTT client's driver.
 * No private methods, and the exchange made apart (exchangeOf): XS keeps an instance of a class with
 * private methods alive after it is dropped (an Exchange stays so), and the closures a function makes
 * share its scope, so a log closure made here would keep this connection and its driver alive with
 * it (bench/xs.ts: slots live between wakes).
 */
export class Connection {
  readonly #node: NodeContext;
  readonly #exchange: Exchange;
  readonly #driver: Driver<Instant>;
  #down = false;
  #resolve: ((outcome: ExchangeOutcome) => void) | undefined;
  /** The outcome last settled: the closing's bytes add to it (the exchange keeps counting there). */
  #settled: ExchangeOutcome | undefined;
  #onShut: (() => void) | undefined;

  constructor(node: NodeContext, readonly version: Version, persistent: boolean, deadline: number, probe: boolean) {
    const host = node.host;
    this.#node = node;
    const exchange = exchangeOf(node, version, persistent, deadline, probe);
    this.#exchange = exchange;
    this.#driver = clientDriver({
      protocol: exchange,
      now: () => ({ ticks: host.clock.ticks(), wall: host.clock.now() }),
      timer: host.timer,
      // After each step: once the socket is closed, the radio goes off (once) and a close() waiting
      // for it resolves; an outcome settles its promise.
      after: () => {
        if (this.#driver.closed) {
          const onShut = this.#onShut;
          this.#onShut = undefined;
          onShut?.();
          if (!this.#down) {
            this.#down = true;
            host.network.down();
          }
        }
        const settled = exchange.settle();
        if (!settled) return;
        this.#settled = settled;
        const resolve = this.#resolve;
        this.#resolve = undefined;
        resolve?.(settled);
      },
    });
  }

  /** True while the connection is up and can take flush() and ping(). */
  get isOpen(): boolean {
    return this.#exchange.isOpen;
  }

  /** The keepalive this connection keeps, seconds. */
  get keepAlive(): number {
    return this.#exchange.keepAlive;
  }

  /** Milliseconds since the node last sent anything: a keepalive is owed when this nears it. */
  get idleMs(): number {
    return this.#exchange.idleMs(this.#node.host.clock.ticks());
  }

  /** Milliseconds until the broker is owed a packet (Infinity: never): a nap must end by then. */
  get pingDueMs(): number {
    const at = this.#exchange.pingDueAt;
    return at === undefined ? Infinity : Math.max(0, at - this.#node.host.clock.ticks());
  }

  /** Brings the network up, resolves the broker and opens the socket; resolves with the first
   *  exchange's outcome. */
  open(): Promise<ExchangeOutcome> {
    const node = this.#node;
    const { host, config } = node;
    const exchange = this.#exchange;
    const driver = this.#driver;
    const fail = (error: string) => driver.step(() => exchange.fail(error));
    return new Promise((resolve) => {
      this.#resolve = resolve;
      driver.step(() => {
        const left = Math.max(0, (exchange.wakeAt ?? host.clock.ticks()) - host.clock.ticks());
        host.network.up(left, (error) => {
          if (exchange.closed) return;
          if (error) return fail(`network: ${error.message}`);
          host.network.resolve(config.broker.host, (error, address) => {
            if (exchange.closed) return;
            if (error || !address) return fail(`cannot resolve ${config.broker.host}: ${error?.message ?? "no address"}`);
            const open = socketOf(node, address);
            if (typeof open === "string") return fail(open);
            driver.open(open);
          });
        });
      });
    });
  }

  /** Always-connected mode: sends the batches buffered since the last flush; resolves when acknowledged. */
  flush(): Promise<ExchangeOutcome> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#driver.step((now) => this.#exchange.flush(now));
    });
  }

  ping(): void {
    this.#driver.step((now) => this.#exchange.ping(now));
  }

  /** Publishes the status and DISCONNECTs normally, then closes; resolves with the bytes that took
   *  each way (a status larger than the broker has taken waits for a PINGRESP first: Exchange.close). */
  close(): Promise<{ up: number; down: number }> {
    const settled = this.#settled;
    const up = settled?.bytesUp ?? 0;
    const down = settled?.bytesDown ?? 0;
    return new Promise((resolve) => {
      this.#onShut = () => resolve({ up: (settled?.bytesUp ?? 0) - up, down: (settled?.bytesDown ?? 0) - down });
      this.#driver.step((now) => this.#exchange.close(now));
    });
  }
}

/** A connection's exchange, made apart from Connection: the closures it keeps (log) hold the host
 *  alone, not the connection and its driver. */
function exchangeOf(node: NodeContext, version: Version, persistent: boolean, deadline: number, probe: boolean): Exchange {
  const { host, config } = node;
  return new Exchange({
    config,
    channels: node.channels,
    state: node.state,
    commit: node.commit,
    log: (line) => host.log(line),
    node: config.node || host.id,
    hostName: host.name,
    networkCounters: host.network.counters?.bind(host.network),
    crypto: host.crypto,
    flash: host.flash,
    nonces: node.nonces,
    version,
    persistent,
    probe,
    deadline,
    ...(host.update ? { update: host.update } : {}),
  });
}

/** How to open the broker's socket over `address`: TCP, or TLS (its handshakes counted in the state
 *  the exchange commits: a refused session cost a full handshake); a string says why it cannot. */
function socketOf(node: NodeContext, address: string): ((callbacks: SocketCallbacks) => ClientSocket) | string {
  const { host, config } = node;
  const TLS = host.network.TLS;
  if (!config.broker.secure) return (callbacks) => new host.network.TCP({ address, port: config.broker.port, nodelay: true, ...callbacks });
  if (!TLS) return "mqtts:// needs TLS, which this host does not provide";
  const secure: { ca?: string; certificate?: string; key?: string } = {};
  if (config.tlsCa) secure.ca = config.tlsCa;
  if (config.tlsCert) secure.certificate = config.tlsCert;
  if (config.tlsKey) secure.key = config.tlsKey;
  const counters = node.state.counters;
  const onHandshake = (handshake: Handshake) => {
    if (handshake === "resumed") counters.tlsResumed++;
    if (handshake === "refused") counters.tlsRefused++;
  };
  return (callbacks) => new TLS({ address, port: config.broker.port, nodelay: true, host: config.broker.host, secure, onHandshake, ...callbacks });
}
