// A wake's MQTT connection: it brings the network up (bounded), resolves the broker, chooses TCP or
// TLS (counting the handshakes) and runs the `Exchange` — the wake's policy, a state machine — on
// the MQTT client's driver (clientDriver, the one loop that drives an MQTT socket, MQTTClient's
// too), settling a promise when the exchange settles. When the broker's answer says how to do
// better (fall back to 3.1.1, a Will it can take), it connects again at once, within the same
// deadline.

import type { Config } from "../config";
import type { Handshake, Host, Instant } from "../host";
import { clientDriver, type Driver } from "../mqtt/client-driver";
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

/** One connection: the host's network and socket around an Exchange, on the MQTT client's driver. */
export class Connection {
  readonly #host: Host;
  readonly #config: Config;
  readonly #exchange: Exchange;
  readonly #state: NodeState;
  readonly #driver: Driver<Instant>;
  #down = false;
  #resolve: ((outcome: ExchangeOutcome) => void) | undefined;
  /** The outcome last settled: the closing's bytes add to it (the exchange keeps counting there). */
  #settled: ExchangeOutcome | undefined;
  #onShut: (() => void) | undefined;

  constructor(node: NodeContext, readonly version: Version, persistent: boolean, deadline: number, probe: boolean) {
    const { host, config } = node;
    this.#host = host;
    this.#config = config;
    this.#state = node.state;
    const exchange = new Exchange({
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
    this.#exchange = exchange;
    this.#driver = clientDriver({
      protocol: exchange,
      now: () => ({ ticks: host.clock.ticks(), wall: host.clock.now() }),
      timer: host.timer,
      after: () => this.#after(),
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
    return this.#exchange.idleMs(this.#host.clock.ticks());
  }

  /** Milliseconds until the broker is owed a packet (Infinity: never): a nap must end by then. */
  get pingDueMs(): number {
    const at = this.#exchange.pingDueAt;
    return at === undefined ? Infinity : Math.max(0, at - this.#host.clock.ticks());
  }

  open(): Promise<ExchangeOutcome> {
    const host = this.#host;
    const config = this.#config;
    return this.#until(() => {
      const left = Math.max(0, (this.#exchange.wakeAt ?? host.clock.ticks()) - host.clock.ticks());
      host.network.up(left, (error) => {
        if (this.#exchange.closed) return;
        if (error) return this.#driver.step(() => this.#exchange.fail(`network: ${error.message}`));
        host.network.resolve(config.broker.host, (error, address) => {
          if (this.#exchange.closed) return;
          if (error || !address) return this.#driver.step(() => this.#exchange.fail(`cannot resolve ${config.broker.host}: ${error?.message ?? "no address"}`));
          this.#open(address);
        });
      });
    });
  }

  /** Always-connected mode: sends the batches buffered since the last flush; resolves when acknowledged. */
  flush(): Promise<ExchangeOutcome> {
    return this.#until(() => this.#driver.step((now) => this.#exchange.flush(now)));
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

  /** Runs `begin` and resolves with the exchange's next settled outcome. */
  #until(begin: () => void): Promise<ExchangeOutcome> {
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#driver.step(begin);
    });
  }

  /** After each step: once the socket is closed, the radio goes off; an outcome settles its promise. */
  #after(): void {
    const exchange = this.#exchange;
    if (this.#driver.closed) this.#shut();
    const settled = exchange.settle();
    if (settled) this.#settled = settled;
    if (settled && this.#resolve) {
      const resolve = this.#resolve;
      this.#resolve = undefined;
      resolve(settled);
    }
  }

  #open(address: string): void {
    const host = this.#host;
    const config = this.#config;
    const TLS = host.network.TLS;
    if (config.broker.secure && !TLS) return this.#driver.step(() => this.#exchange.fail("mqtts:// needs TLS, which this host does not provide"));
    let open = (callbacks: SocketCallbacks) => new host.network.TCP({ address, port: config.broker.port, nodelay: true, ...callbacks });
    if (config.broker.secure && TLS) {
      const secure: { ca?: string; certificate?: string; key?: string } = {};
      if (config.tlsCa) secure.ca = config.tlsCa;
      if (config.tlsCert) secure.certificate = config.tlsCert;
      if (config.tlsKey) secure.key = config.tlsKey;
      const counters = this.#state.counters;
      // Counted with the state the exchange commits: a refused session cost a full handshake.
      const onHandshake = (handshake: Handshake) => {
        if (handshake === "resumed") counters.tlsResumed++;
        if (handshake === "refused") counters.tlsRefused++;
      };
      open = (callbacks) => new TLS({ address, port: config.broker.port, nodelay: true, host: config.broker.host, secure, onHandshake, ...callbacks });
    }
    this.#driver.open(open);
  }

  /** The radio off, once; a close() waiting for it resolves. */
  #shut(): void {
    const onShut = this.#onShut;
    this.#onShut = undefined;
    onShut?.();
    if (this.#down) return;
    this.#down = true;
    this.#host.network.down();
  }
}
