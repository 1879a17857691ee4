// What a node knows of its broker's limits, and how it learns them: from CONNACK (MQTT 5), from
// config where 3.1.1 cannot announce them, from refusals, and — for a limit never announced — from a
// broker that closes the connection without a word. What the broker said stays learnt (in the link
// memory, across deep sleep) and binds both protocol versions: the broker is the same.
//
// A packet is proven once anything sent after it is answered: a broker reads a connection's packets
// in order, so an acknowledgement, the sync marker coming back or a PINGRESP shows it read past
// every packet before. A limit learnt from silence is never set below what is proven.

import type { Config } from "../config";
import type { LinkMemory } from "../retained/link-memory";
import type { Version } from "../mqtt/codec";
import type { ConnackPacket } from "../mqtt/packets";
import { IN_FLIGHT_TABLE_SIZE, type InFlight } from "../mqtt/session";

type ConnackProperties = NonNullable<ConnackPacket["properties"]>;

export class BrokerLimits {
  readonly #link: LinkMemory;
  readonly #config: Config;
  readonly #version: Version;
  /** What this connection's CONNACK announced (MQTT 5). */
  #announced: ConnackProperties = {};
  #largestSent = 0;
  /** The highest QoS of a PUBLISH sent on this connection. */
  #qosSent = 0;
  /** Per PUBLISH sent on this connection, in order, its size; and how many of them are proven. */
  readonly #sizes: number[] = [];
  #provenUpTo = 0;
  /** Where each message in flight stands in `#sizes`. */
  readonly #position = new Map<InFlight, number>();
  /** Per PINGREQ not yet answered, the PUBLISHes sent before it: its PINGRESP proves them. */
  readonly #pings: number[] = [];

  constructor(link: LinkMemory, config: Config, version: Version) {
    this.#link = link;
    this.#config = config;
    this.#version = version;
  }

  /** The largest packet the broker takes: what it announced, what it taught, what the operator configured. */
  get packetLimit(): number {
    const link = this.#link;
    return Math.min(link.maximumPacketSize ?? Infinity, link.refusedSize ?? Infinity, this.#config.maxPacketSize || Infinity);
  }

  fits(length: number): boolean {
    return length <= this.packetLimit;
  }

  /** For a QoS 0 packet, which no answer will refuse: within the limit and, where the broker has
   *  shown a limit it never announced (0x95 to something larger), no larger than what it has been
   *  seen to take — its true limit may lie anywhere below the refused size. */
  fitsUnanswered(length: number): boolean {
    const link = this.#link;
    return this.fits(length) && (link.refusedSize === undefined || length <= (link.provenSize ?? 0));
  }

  /** Messages the broker may hold unanswered at once: its Receive Maximum (announced over 5, or
   *  taught by refusing for quota; it binds a 3.1.1 connection to the same broker too), or the
   *  configured depth where none is known, within the retained table. */
  get receiveMaximum(): number {
    return Math.min(this.#link.receiveMaximum ?? this.#config.maxInflight, IN_FLIGHT_TABLE_SIZE);
  }

  /** The configured QoS, lowered to the broker's Maximum QoS. */
  get qos(): 0 | 1 | 2 {
    return Math.min(this.#config.qos, this.#link.maximumQoS ?? 2) as 0 | 1 | 2;
  }

  /** False once the broker said it keeps no retained messages. */
  get retain(): boolean {
    return this.#link.retainAvailable !== false;
  }

  /** The broker's Server Keep Alive, when it set one (MQTT 5). */
  get serverKeepAlive(): number | undefined {
    return this.#announced.serverKeepAlive;
  }

  /** An accepting MQTT 5 CONNACK: absent properties mean "no limit" (MQTT 5 §3.2.2.3), so what an
   *  earlier broker said is forgotten. */
  announce(properties: ConnackProperties | undefined, log: (line: string) => void): void {
    const link = this.#link;
    const before = this.qos;
    this.#announced = properties ?? {};
    if (properties?.receiveMaximum !== undefined) link.receiveMaximum = properties.receiveMaximum;
    else delete link.receiveMaximum;
    if (properties?.maximumPacketSize !== undefined) link.maximumPacketSize = properties.maximumPacketSize;
    else delete link.maximumPacketSize;
    if (properties?.maximumQoS !== undefined) link.maximumQoS = properties.maximumQoS as 0 | 1;
    else delete link.maximumQoS;
    if (properties?.retainAvailable === false) link.retainAvailable = false;
    else delete link.retainAvailable;
    const { qos } = this;
    if (qos < this.#config.qos && qos !== before) log(`broker offers QoS ${qos} at most: telemetry goes at QoS ${qos}, not ${this.#config.qos}`);
  }

  /** A refusing MQTT 5 CONNACK that names a limit the next attempt can keep, in this same wake:
   *  true when it taught one. */
  refusedConnect(reasonCode: number, properties: ConnackProperties | undefined): boolean {
    const link = this.#link;
    if (this.#version !== 5) return false;
    if (reasonCode === 0x9b && (link.maximumQoS ?? 1) > 0) {
      link.maximumQoS = Math.min(properties?.maximumQoS ?? 0, 1) as 0 | 1;
      return true;
    }
    if (reasonCode === 0x9a && link.retainAvailable !== false) {
      link.retainAvailable = false;
      return true;
    }
    return false;
  }

  /** What a broker's DISCONNECT reason teaches, for the next connection. A limit its CONNACK
   *  announced is what it is: a refusal of what went out before that CONNACK arrived (the
   *  pipelined first write) teaches nothing below it. */
  disconnected(reasonCode: number, inFlight: number): void {
    const link = this.#link;
    const announced = this.#announced;
    if (reasonCode === 0x95 && this.#largestSent > 0) this.tooLarge(this.#largestSent);
    else if (reasonCode === 0x93 && !(announced.receiveMaximum !== undefined && inFlight > announced.receiveMaximum)) {
      link.receiveMaximum = Math.max(1, Math.floor(inFlight / 2));
    } else if (reasonCode === 0x9a) link.retainAvailable = false;
    else if (reasonCode === 0x9b && !(announced.maximumQoS !== undefined && this.#qosSent > announced.maximumQoS)) {
      link.maximumQoS = Math.max(0, this.#qosSent - 1) as 0 | 1;
    }
  }

  /** A PUBACK/PUBREC 0x93: the broker takes fewer in flight than the node had. */
  quotaExceeded(inFlight: number): void {
    this.#link.receiveMaximum = Math.max(1, inFlight);
  }

  /** A packet of `size` bytes was too large for the broker, which announced no limit it keeps (as
   *  mosquitto's message_size_limit): from now on the node sends only smaller ones, never below
   *  `floor`. Learning a smaller limit makes the status due again: the last one may have been over it. */
  tooLarge(size: number, floor = 0): void {
    const link = this.#link;
    const limit = Math.max(size - 1, floor);
    if (limit >= (link.refusedSize ?? Infinity)) return;
    link.refusedSize = limit;
    if ((link.provenSize ?? 0) > limit) link.provenSize = limit;
    delete link.statusAt;
  }

  /** Bookkeeping of every PUBLISH sent: its size, its QoS, and for a message in flight where it stands. */
  sent(size: number, qos: number, entry?: InFlight): void {
    this.#largestSent = Math.max(this.#largestSent, size);
    this.#qosSent = Math.max(this.#qosSent, qos);
    this.#sizes.push(size);
    if (entry) this.#position.set(entry, this.#sizes.length);
  }

  /** How many PUBLISHes went out on this connection: a mark that a later proof refers to. */
  get published(): number {
    return this.#sizes.length;
  }

  /** The broker answered a message: it read every packet up to it (one it refused as too large excepted). */
  answered(entry: InFlight, tooLarge: boolean): void {
    const at = this.#position.get(entry);
    if (at !== undefined) this.proven(tooLarge ? at - 1 : at);
  }

  /** A PINGREQ goes out behind what was published so far. */
  pinged(): void {
    this.#pings.push(this.#sizes.length);
  }

  ponged(): void {
    this.proven(this.#pings.shift() ?? 0);
  }

  /** The broker answered something sent after the first `count` PUBLISHes: it took them all. */
  proven(count: number): void {
    if (count <= this.#provenUpTo) return;
    let largest = 0;
    for (let i = this.#provenUpTo; i < count; i++) largest = Math.max(largest, this.#sizes[i]!);
    this.#provenUpTo = count;
    const link = this.#link;
    if (largest > (link.provenSize ?? 0)) link.provenSize = Math.min(largest, link.refusedSize ?? Infinity);
    if (largest >= (link.suspectSize ?? Infinity)) delete link.suspectSize;
  }

  /** Whether everything published up to `count` is proven. */
  provenUpTo(count: number): boolean {
    return this.#provenUpTo >= count;
  }

  /** True when what went out may be over a limit the broker never announced: larger than anything
   *  it has been seen to take, and no Maximum Packet Size in its CONNACK. */
  get unproven(): boolean {
    return this.#largestUnproven > (this.#link.provenSize ?? 0) && this.#announced.maximumPacketSize === undefined;
  }

  get #largestUnproven(): number {
    let largest = 0;
    for (let i = this.#provenUpTo; i < this.#sizes.length; i++) largest = Math.max(largest, this.#sizes[i]!);
    return largest;
  }

  /**
   * The broker closed an accepted connection without a word: over 3.1.1 (and from some MQTT 5
   * brokers) that is all a broker says of a packet over a limit it never announced. What went out
   * after the last proven packet is the suspect, the largest first. A dropped Wi-Fi link or a
   * restarting broker look the same, so one close only marks the suspect; a second one over a
   * packet as large teaches the limit. Either way its Will may have said "offline" for a node still
   * waking: the status is owed at the next connection.
   */
  closedByBroker(log: (line: string) => void): void {
    const link = this.#link;
    delete link.statusAt;
    if (!this.unproven) return;
    const suspect = this.#largestUnproven;
    if (link.suspectSize !== undefined && suspect >= link.suspectSize) {
      this.tooLarge(link.suspectSize, link.provenSize);
      delete link.suspectSize;
      log(`broker closed the connection after a packet of ${suspect} bytes again: sending none over ${this.packetLimit} from now on`);
    } else link.suspectSize = suspect;
  }
}
