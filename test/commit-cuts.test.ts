// A node killed at any retained write of a publishing wake loses no reading, and its counters still
// tell the truth. Each wake runs the exchange (Exchange) without IO against a broker made of the
// codec, committing through RetainedStore as the app does; a cut keeps retained memory exactly as
// that commit left it and the broker as it was when the node's last write reached it. Later wakes
// then drain the buffer, and an independent subscriber — the readings the broker accepted, decoded
// from the SenML payloads — must hold every reading but those the node counts as refused for good.
//
// Also here: a broker that floods the node with commands cannot make the wake outlast its deadline,
// commit once per command, or turn an acknowledged publish into a failure.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig, type Config } from "../src/config";
import { Exchange } from "../src/uplink/exchange";
import type { Instant } from "../src/host";
import type { ExchangeOutcome } from "../src/uplink/contract";
import { encode, PacketReader } from "../src/mqtt/codec";
import type { Packet, Version } from "../src/mqtt/packets";
import type { NodeState } from "../src/retained/state";
import { RetainedStore } from "../src/retained/store";
import { channelsOf } from "../src/sensors/registry";
import { resolveSenml } from "../tools/senml";
import { storeHost } from "./support/store-host";

const RETAINED_BYTES = 8192;
const FIRST_READING_S = 1_800_000_000;
const SAMPLE_S = 60;
/** The command queued for the node, and a flood's: a valid one, so that any command error counted
 *  is the node's own doing (a flood's overflow). */
const STATUS_COMMAND = new TextEncoder().encode('{"cmd":"status","id":"f"}');
/** The Receive Maximum the broker announces, and the node remembers from the wake before. */
const RECEIVE_MAXIMUM = 10;

/** What the broker does on one connection. */
interface BrokerPlan {
  /** CONNACK says Session Present 0: the broker lost the node's session (a restart, an expiry). */
  sessionLost?: boolean;
  /** A command queued in the node's session, sent right behind CONNACK (QoS 1). */
  command?: Uint8Array;
  /** The nth telemetry PUBLISH of this connection (from 1) is refused with this reason code. */
  refuse?: { nth: number; reasonCode: number };
  /** Commands queued in the node's session: `rate` of them reach the node each millisecond after
   *  CONNACK, and the node's sync marker comes back only after the last. */
  flood?: { count: number; qos: 0 | 1; rate: number; payload: Uint8Array };
}

/**
 * The broker, with a subscriber on the node's telemetry. QoS 1 telemetry is delivered when it is
 * accepted; QoS 2 telemetry is held with the session and delivered at PUBREL (as mosquitto does), so
 * a message the node believes the broker owns is lost with a lost session.
 */
class Broker {
  /** The subscriber: how many times each reading arrived, by its time (Unix s). */
  readonly arrived = new Map<number, number>();
  /** Commands handed to the node, and PUBACKs the node sent for them. */
  commandsSent = 0;
  commandAcks = 0;
  #session = { subscribed: true, held: new Map<number, Uint8Array>() };
  #reader: PacketReader;
  #plan: BrokerPlan = {};
  #replies: Uint8Array[] = [];
  /** Answers queued behind the flood (the marker's echo). */
  #afterFlood: Uint8Array[] = [];
  #flooded = 0;
  #floodStarted = false;
  #telemetry = 0;

  constructor(readonly version: Version) {
    this.#reader = new PacketReader(version);
  }

  /** A new connection: what the broker had not yet handed to the last one went with it. */
  connect(plan: BrokerPlan): void {
    this.#plan = plan;
    this.#reader = new PacketReader(this.version);
    this.#replies = [];
    this.#afterFlood = [];
    this.#flooded = 0;
    this.#floodStarted = false;
    this.#telemetry = 0;
  }

  /** What the node wrote. */
  take(bytes: Uint8Array): void {
    this.#reader.push(bytes);
    for (let p = this.#reader.next(); p; p = this.#reader.next()) this.#packet(p);
  }

  /** What reaches the node in the next millisecond, read by read: the answers so far in one read
   *  (`together`) or one packet a read, then the flood's next chunk as one read. */
  reads(together: boolean): Uint8Array[] {
    const reads = together && this.#replies.length ? [concat(this.#replies)] : this.#replies;
    this.#replies = [];
    const flood = this.#plan.flood;
    if (flood && this.#floodStarted && this.#flooded < flood.count) {
      const chunk: Uint8Array[] = [];
      for (let i = 0; i < flood.rate && this.#flooded < flood.count; i++, this.#flooded++) {
        chunk.push(encode({ type: "publish", topic: "torpor/x/cmd", payload: flood.payload, qos: flood.qos, retain: false, dup: false, ...(flood.qos ? { packetId: 1 + (this.#flooded % 65535) } : {}) }, this.version));
      }
      this.commandsSent += chunk.length;
      reads.push(concat(chunk));
      if (this.#flooded === flood.count) this.#replies.push(...this.#afterFlood.splice(0));
    }
    return reads;
  }

  #reply(packet: Packet): void {
    this.#replies.push(encode(packet, this.version));
  }

  #ack(type: "puback" | "pubrec" | "pubcomp", packetId: number, reasonCode = 0): void {
    this.#reply(this.version === 5 ? { type, packetId, reasonCode } : { type, packetId });
  }

  #packet(p: Packet): void {
    switch (p.type) {
      case "connect": {
        if (this.#plan.sessionLost) this.#session = { subscribed: false, held: new Map() };
        this.#reply({ type: "connack", sessionPresent: !this.#plan.sessionLost, reasonCode: 0, ...(this.version === 5 ? { properties: { receiveMaximum: RECEIVE_MAXIMUM } } : {}) });
        const command = this.#plan.command;
        if (command) this.#reply({ type: "publish", topic: "torpor/x/cmd", payload: command, qos: 1, packetId: 1, retain: false, dup: false });
        this.#floodStarted = true;
        break;
      }
      case "subscribe":
        this.#session.subscribed = true;
        this.#reply({ type: "suback", packetId: p.packetId, reasonCodes: [1] });
        break;
      case "publish": {
        if (p.topic.endsWith("/cmd")) {
          // The node's own marker, back on its subscription, behind whatever was queued before it.
          if (!this.#session.subscribed) break;
          const echo = encode({ ...p, dup: false }, this.version);
          const flood = this.#plan.flood;
          (flood && this.#flooded < flood.count ? this.#afterFlood : this.#replies).push(echo);
          break;
        }
        if (!p.topic.endsWith("/telemetry")) break;
        const refuse = this.#plan.refuse;
        const refusal = refuse?.nth === ++this.#telemetry ? refuse.reasonCode : undefined;
        if (p.qos === 1) {
          if (refusal === undefined) this.#deliver(p.payload);
          this.#ack("puback", p.packetId!, refusal);
        } else {
          // A PUBLISH again under an id it holds (DUP) replaces the held message: delivered once.
          if (refusal === undefined) this.#session.held.set(p.packetId!, p.payload);
          this.#ack("pubrec", p.packetId!, refusal);
        }
        break;
      }
      case "pubrel": {
        const held = this.#session.held.get(p.packetId);
        if (held) this.#deliver(held);
        this.#session.held.delete(p.packetId);
        this.#ack("pubcomp", p.packetId);
        break;
      }
      case "puback":
        this.commandAcks++;
        break;
      case "pingreq":
        this.#reply({ type: "pingresp" });
        break;
      default:
        break;
    }
  }

  #deliver(payload: Uint8Array): void {
    const records = resolveSenml(JSON.parse(new TextDecoder().decode(payload)));
    for (const time of new Set(records.map((r) => r.time))) this.arrived.set(time, (this.arrived.get(time) ?? 0) + 1);
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

interface Node {
  config: Config;
  version: Version;
  /** Retained memory: all a wake, or a cut, leaves for the next wake. */
  memory: Uint8Array;
}

function nodeOf(settings: Record<string, unknown>, version: Version, readings: number): Node {
  const config = parseConfig({ node: "x", mqttVersion: version, sampleInterval: SAMPLE_S, ...settings });
  const node = { config, version, memory: new Uint8Array(RETAINED_BYTES) };
  // The wakes before: the readings sampled, the command subscription made, the broker's limits known.
  const store = storeOf(node);
  store.state.link.subscribed = true;
  if (version === 5) store.state.link.receiveMaximum = RECEIVE_MAXIMUM;
  for (let i = 0; i < readings; i++) store.state.buffer.append(FIRST_READING_S + SAMPLE_S * i, [2000 + i, 4000 + i]);
  store.commit();
  return node;
}

function storeOf(node: Node, log: (line: string) => void = () => {}): RetainedStore {
  return new RetainedStore(storeHost(node.memory, "timer", log), channelsOf(node.config.sensors), node.config.sensors.length);
}

interface WakeResult {
  /** Retained writes the wake made (up to the cut, if any). */
  commits: number;
  cut: boolean;
  outcome: ExchangeOutcome | undefined;
  /** Ticks (ms after the exchange began) at which it settled. */
  settledAt: number | undefined;
  state: NodeState;
  log: string[];
}

/**
 * One publishing wake, as app.ts runs it: load the state, count the wake, the exchange, the wake's
 * last commit (endWake). With `cutAt`, power fails right after that commit: nothing the wake does
 * afterwards is written to retained memory or reaches the broker.
 */
function wake(node: Node, broker: Broker, plan: BrokerPlan, together: boolean, wall: number, cutAt?: number): WakeResult {
  const log: string[] = [];
  const store = storeOf(node, (line) => log.push(line));
  const { state } = store;
  const config = node.config;
  state.counters.wakes++;
  let commits = 0;
  let cut = false;
  const booked = () => {
    commits++;
    if (commits === cutAt) cut = true;
  };
  const commit = () => {
    if (cut) return;
    store.commit();
    booked();
  };
  const exchange = new Exchange({ config, channels: channelsOf(config.sensors), state, commit, log: (line) => log.push(line), node: "x", hostName: "test", version: node.version, persistent: false, deadline: config.awakeTimeout * 1000 });
  broker.connect(plan);
  const at = (ticks: number): Instant => ({ ticks, wall: wall + ticks });
  let now = at(0);
  let outcome: ExchangeOutcome | undefined;
  let settledAt: number | undefined;
  /** The driver's step after each input: write what the exchange queued, note when it settles. */
  const write = () => {
    if (cut) return;
    for (let bytes = exchange.takeOutput(Infinity, now); bytes; bytes = exchange.takeOutput(Infinity, now)) broker.take(bytes);
    const settled = exchange.settle();
    if (settled && !outcome) {
      outcome = settled;
      settledAt = now.ticks;
    }
  };
  exchange.start(now);
  write();
  // A millisecond a step: whatever the broker sent arrives; with nothing on the way, time jumps to
  // the exchange's wakeAt. Its timer fires when due even while bytes keep coming.
  for (let steps = 0; !outcome && !cut; steps++) {
    assert.ok(steps < 1_000_000, "the exchange never settled");
    const reads = broker.reads(together);
    if (reads.length) {
      now = at(now.ticks + 1);
      for (const bytes of reads) {
        exchange.receive(bytes, now);
        write();
        if (cut) break;
      }
    } else {
      const next = exchange.wakeAt;
      if (next === undefined) break;
      now = at(Math.max(now.ticks, next));
    }
    const due = exchange.wakeAt;
    if (!cut && !outcome && due !== undefined && now.ticks >= due) {
      exchange.tick(now);
      write();
    }
  }
  if (!cut) {
    exchange.close(now);
    write();
    store.endWake(config);
    booked();
  }
  return { commits, cut, outcome, settledAt, state, log };
}

type Answer = "accepted" | 0x97 | 0x87;

interface CutCase {
  version: Version;
  qos: 1 | 2;
  /** CONNACK and the acknowledgements in one read, or each in a read of its own. */
  together: boolean;
  /** What the broker answers to the second of the wake's three batches. */
  answer: Answer;
  /** The broker lost the session before the wake after the cut. */
  sessionLost: boolean;
  /** A command queued while the node slept comes between CONNACK and the acknowledgements. */
  command: boolean;
}

const READINGS = 15;
const BATCH = 5;

function describeCase(c: CutCase): string {
  const answer = c.answer === "accepted" ? "batch 2 accepted" : `batch 2 refused with ${c.qos === 1 ? "PUBACK" : "PUBREC"} 0x${c.answer.toString(16)}`;
  return `MQTT ${c.version === 5 ? "5" : "3.1.1"} QoS ${c.qos}, answers ${c.together ? "with CONNACK in one read" : "one a read"}, ${answer}, ${c.sessionLost ? "session lost" : "session kept"} after the cut${c.command ? ", a command behind CONNACK" : ""}`;
}

/** The node's life with power cut at the wake's `cutAt`th commit (none: never), then wakes until the
 *  buffer and the in-flight table are empty. Returns what went wrong, or nothing. */
function life(c: CutCase, cutAt: number | undefined): { commits: number; wrong?: string } {
  const node = nodeOf({ qos: c.qos, batchSize: BATCH }, c.version, READINGS);
  const broker = new Broker(c.version);
  const start = (FIRST_READING_S + SAMPLE_S * READINGS) * 1000;
  const refuse = c.answer === "accepted" ? undefined : { nth: 2, reasonCode: c.answer };
  const first = wake(node, broker, { ...(refuse ? { refuse } : {}), ...(c.command ? { command: STATUS_COMMAND } : {}) }, c.together, start, cutAt);
  let state = storeOf(node).state;
  const logs = [`wake 1${first.cut ? ` (cut at commit ${cutAt}, which retained ${retained(state)})` : ""}:`, ...first.log];
  for (let n = 2; state.buffer.length > 0 || state.session.inflight.length > 0; n++) {
    if (n > 8) return { commits: first.commits, wrong: `still ${state.buffer.length} readings buffered and ${state.session.inflight.length} messages in flight after 8 wakes\n${logs.join("\n")}` };
    const next = wake(node, broker, { sessionLost: c.sessionLost && n === 2 }, c.together, start + SAMPLE_S * 1000 * (n - 1));
    logs.push(`wake ${n}:`, ...next.log);
    state = storeOf(node).state;
  }
  const sampled = Array.from({ length: READINGS }, (_, i) => FIRST_READING_S + SAMPLE_S * i);
  const strangers = [...broker.arrived.keys()].filter((t) => !sampled.includes(t));
  const missing = sampled.filter((t) => !broker.arrived.has(t)).map((t) => (t - FIRST_READING_S) / SAMPLE_S);
  const { delivered, refused } = state.counters;
  const wrong: string[] = [];
  if (strangers.length) wrong.push(`readings never sampled arrived: ${strangers.join(", ")}`);
  if (missing.length !== refused) wrong.push(`readings #${missing.join(", #")} never arrived, ${refused} counted as refused`);
  if (delivered !== broker.arrived.size) wrong.push(`counters.delivered is ${delivered}, ${broker.arrived.size} distinct readings arrived`);
  return { commits: first.commits, ...(wrong.length ? { wrong: `${wrong.join("; ")}\n${logs.join("\n")}` } : {}) };
}

/** What retained memory says of the readings, for a failure's message. */
function retained(state: NodeState): string {
  const inflight = state.session.inflight.map((e) => `#${e.first}+${e.count} id ${e.packetId}${e.state === "sent" ? "" : ` ${e.state}`}`);
  return `readings #${state.buffer.first}..#${state.buffer.next - 1}, unsent #${state.unsent}, in flight [${inflight.join(", ")}], delivered ${state.counters.delivered}`;
}

const cases: CutCase[] = [];
for (const version of [4, 5] as const) {
  for (const qos of [1, 2] as const) {
    for (const together of [true, false]) {
      // Refusals are reason codes, which only MQTT 5 has.
      for (const answer of version === 5 ? (["accepted", 0x97, 0x87] as const) : (["accepted"] as const)) {
        for (const sessionLost of [false, true]) {
          for (const command of [false, true]) cases.push({ version, qos, together, answer, sessionLost, command });
        }
      }
    }
  }
}

describe("a power cut at any commit of a publishing wake", () => {
  for (const c of cases) {
    it(`loses nothing and counts right: ${describeCase(c)}`, () => {
      const whole = life(c, undefined);
      assert.equal(whole.wrong, undefined, `${describeCase(c)}, no cut: ${whole.wrong}`);
      const failures: string[] = [];
      for (let k = 1; k <= whole.commits; k++) {
        const { wrong } = life(c, k);
        if (wrong) failures.push(`cut at commit ${k} of ${whole.commits}: ${wrong}`);
      }
      assert.equal(failures.length, 0, `${describeCase(c)}:\n${failures.join("\n\n")}`);
    });
  }
});

/** Readings the flooded wake publishes, acknowledged right after CONNACK. */
const FLOOD_READINGS = 5;
/** Commands a millisecond: a 20,000-command flood lasts past a 3 s deadline, a 10,000 one does not. */
const FLOOD_RATE = 5;

function flooded(count: number, qos: 0 | 1): { result: WakeResult; broker: Broker } {
  const node = nodeOf({ awakeTimeout: 3, batchSize: FLOOD_READINGS }, 5, FLOOD_READINGS);
  const broker = new Broker(5);
  const result = wake(node, broker, { flood: { count, qos, rate: FLOOD_RATE, payload: STATUS_COMMAND } }, false, (FIRST_READING_S + SAMPLE_S * FLOOD_READINGS) * 1000);
  return { result, broker };
}

describe("a broker flooding the node with commands", () => {
  for (const qos of [1, 0] as const) {
    it(`takes a bounded number of QoS ${qos} commands, counts the overflow once and ends the wake by its deadline`, () => {
      const smaller = flooded(10_000, qos).result;
      const { result, broker } = flooded(20_000, qos);
      const { outcome, state } = result;
      const executed = (r: WakeResult) => r.log.filter((line) => line === "command f: ok").length;
      const facts = (r: WakeResult, count: number) =>
        `${count} commands: settled at ${r.settledAt} ms, ${executed(r)} executed, ${r.commits} commits, ${r.state.counters.commandErrors} command errors, ${r.outcome?.delivered} delivered, error: ${r.outcome?.error}`;
      const wrong: string[] = [];
      if (result.settledAt === undefined || result.settledAt > 3000) wrong.push("the wake outlasted awakeTimeout (3 s)");
      if (outcome?.delivered !== FLOOD_READINGS || state.counters.delivered !== FLOOD_READINGS) wrong.push(`not all ${FLOOD_READINGS} readings delivered`);
      // The telemetry was acknowledged: commands still coming make no publish failure of it.
      if (outcome?.error !== undefined) wrong.push("an acknowledged publish ended as a failure");
      if (state.counters.commandErrors !== 1 || smaller.state.counters.commandErrors !== 1) wrong.push("the overflow is not one command error");
      if (executed(result) >= 20_000 / 20 || executed(result) !== executed(smaller)) wrong.push("commands executed grow with the flood");
      if (result.commits >= 20_000 / 20 || result.commits > smaller.commits + 5) wrong.push("commits grow with the flood");
      if (qos === 1 && broker.commandAcks !== broker.commandsSent) wrong.push(`${broker.commandsSent - broker.commandAcks} QoS 1 commands that reached the node were never acknowledged`);
      assert.deepEqual(wrong, [], `${facts(smaller, 10_000)}\n${facts(result, 20_000)}`);
    });
  }
});
