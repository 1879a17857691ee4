// A publisher's MQTT session as a state machine: packets and bytes in, bytes and events out. It never
// touches a socket or a clock; the uplink's driver (`Connection`) does the IO.
//
// What makes it a deep-sleep session: its state — the packet-id counter and the table of messages in
// flight, QoS 2 progress included — is plain data the node keeps in retained memory. An in-flight
// entry does not hold the message; it names the readings the message carried, so the wake cycle can
// re-encode the identical payload and send it again with DUP set on the next wake, after any number
// of sleeps. A QoS 2 message whose PUBREC arrived is the broker's already: across a sleep only its
// PUBREL is sent again (MQTT 3.1.1 §4.3.3, 5.0 §4.3.3).

import { encode, encodedLength, PacketReader, ProtocolError, type Version } from "./codec";
import type { ConnackPacket, ConnectPacket, Packet, PublishPacket, Subscription } from "./packets";

/** The most messages a node keeps in flight: the size of the retained in-flight table. */
export const IN_FLIGHT_TABLE_SIZE = 16;

/**
 * Where an in-flight message stands, as coreMQTT keeps a state per outgoing publish:
 * - `sent`: PUBLISH went out (again with DUP on a later connection); PUBACK, PUBREC or PUBCOMP awaited.
 * - `released`: QoS 2, PUBREC arrived and PUBREL went out; the broker owns the message, only
 *   PUBREL is ever sent again.
 * - `retry`: the broker refused it "for now" (quota, busy, too large), or lost it with its
 *   session: its readings go out again as a new message, under a new packet id.
 */
export type InFlightState = "sent" | "released" | "retry";

/** What changes an in-flight message's state: its PUBREC, or a refusal "for now" (or a lost session). */
export type InFlightEvent = "pubrec" | "requeue";

/** The one transition function of an in-flight message's state. */
export function transition(entry: InFlight, event: InFlightEvent): void {
  switch (event) {
    case "pubrec":
      if (entry.qos === 2 && entry.state === "sent") entry.state = "released";
      return;
    case "requeue":
      entry.state = "retry";
      return;
  }
}

/** What an in-flight message carried: the readings [first, first + count) of a kind of message. */
export interface InFlight {
  packetId: number;
  /** What the message was; the wake cycle re-encodes it from this (0: a batch of readings). */
  kind: number;
  first: number;
  count: number;
  qos: 1 | 2;
  state: InFlightState;
}

export interface SessionState {
  /** The packet id the next new message will try first (1..65535). */
  nextPacketId: number;
  inflight: InFlight[];
}

export const emptySession = (): SessionState => ({ nextPacketId: 1, inflight: [] });

export type SessionEvent =
  | { type: "connack"; sessionPresent: boolean; reasonCode: number; packet: ConnackPacket }
  /** The broker finished with a message: PUBACK (QoS 1) or PUBCOMP (QoS 2), or refused it (v5).
   *  `asQoS1`: a QoS 2 message answered with PUBACK, as RabbitMQ does (exactly once became at least once). */
  | { type: "acked"; entry: InFlight; reasonCode: number; asQoS1: boolean }
  /** A PUBLISH over the node's packet limit, read past and acknowledged, never delivered. */
  | { type: "discarded"; size: number }
  /** QoS 2: PUBREC arrived; the caller moves the entry to `released` (`transition`) and commits it. */
  | { type: "released"; entry: InFlight }
  | { type: "subscribed"; packetId: number; reasonCodes: number[] }
  | { type: "unsubscribed"; packetId: number; reasonCodes: number[] }
  | { type: "message"; publish: PublishPacket }
  | { type: "pong" }
  | { type: "disconnect"; reasonCode: number };

export interface OutgoingPublish {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties?: PublishPacket["properties"];
}

export class PublisherSession {
  readonly version: Version;
  readonly state: SessionState;
  #reader: PacketReader<true>;
  #output: Uint8Array[] = [];
  #subscriptions = new Set<number>();
  #connacked = false;

  /** A PUBLISH larger than `maximumPacketSize` is read past and acknowledged (the "discarded" event);
   *  any other oversized packet is a protocol error. */
  constructor(version: Version, state: SessionState, maximumPacketSize?: number) {
    this.version = version;
    this.state = state;
    this.#reader = new PacketReader(version, { discardOversized: true, ...(maximumPacketSize === undefined ? {} : { maximumPacketSize }) });
  }

  /** Queues CONNECT. Packets queued after it go out behind it before CONNACK: MQTT §3.1.4 allows it. */
  connect(packet: Omit<ConnectPacket, "type">): void {
    this.#queue({ type: "connect", ...packet });
  }

  /** Queues an in-flight message again: PUBLISH with DUP under its packet id, or its PUBREL. */
  resend(entry: InFlight, message: OutgoingPublish | undefined): void {
    if (entry.state === "released") this.#queue({ type: "pubrel", packetId: entry.packetId });
    else if (message) this.#queue({ type: "publish", ...message, qos: entry.qos, dup: true, packetId: entry.packetId });
  }

  /** Queues a new message; at QoS 1 and 2 it enters the in-flight table and is returned. */
  publish(message: OutgoingPublish, kind = 0, first = 0, count = 0): InFlight | undefined {
    if (message.qos === 0) {
      this.#queue({ type: "publish", ...message, dup: false });
      return undefined;
    }
    const entry: InFlight = { packetId: this.#allocate(), kind, first, count, qos: message.qos, state: "sent" };
    this.state.inflight.push(entry);
    this.#queue({ type: "publish", ...message, dup: false, packetId: entry.packetId });
    return entry;
  }

  /** Bytes a PUBLISH of this message would take on the wire: to respect Maximum Packet Size. */
  publishLength(message: OutgoingPublish): number {
    return encodedLength({ type: "publish", ...message, dup: false, ...(message.qos ? { packetId: 1 } : {}) }, this.version);
  }

  /** SUBSCRIBE; given bare topic filters, UNSUBSCRIBE. Answered by a "subscribed" or "unsubscribed"
   *  event (MQTT 5 gives a reason code per filter; 3.1.1's UNSUBACK none: an empty list). */
  subscribe(subscriptions: Subscription[] | string[]): number {
    const packetId = this.#allocate();
    this.#subscriptions.add(packetId);
    // Told apart inline: a helper function would be one more object in every wake's heap.
    this.#queue(typeof subscriptions[0] === "string" ? { type: "unsubscribe", packetId, topics: subscriptions as string[] } : { type: "subscribe", packetId, subscriptions: subscriptions as Subscription[] });
    return packetId;
  }

  /** UNSUBSCRIBE; its UNSUBACK needs nothing from the caller. */
  unsubscribe(topics: string[]): void {
    this.#queue({ type: "unsubscribe", packetId: this.#allocate(), topics });
  }

  ping(): void {
    this.#queue({ type: "pingreq" });
  }

  /** Queues DISCONNECT; MQTT 5 may give a reason (0x04: Disconnect with Will Message). */
  disconnect(reasonCode?: number): void {
    this.#queue(reasonCode === undefined ? { type: "disconnect" } : { type: "disconnect", reasonCode });
  }

  /**
   * The next piece of what is queued, in order: the head packet, or its first `room` bytes when it is
   * larger. A piece is the packet's own buffer or a view into it, never a copy: a batch goes out as
   * the socket takes it, without one more buffer the size of the whole batch. Undefined when nothing
   * is queued or `room` is 0.
   */
  takeOutput(room: number): Uint8Array | undefined {
    const head = this.#output[0];
    if (!head || room <= 0) return undefined;
    if (head.length <= room) {
      this.#output.shift();
      return head;
    }
    this.#output[0] = head.subarray(room);
    return head.subarray(0, room);
  }

  /** True while takeOutput() has bytes to give. */
  get hasOutput(): boolean {
    return this.#output.length > 0;
  }

  /** Drops everything queued: the connection it was for is gone. */
  discardOutput(): void {
    this.#output = [];
  }

  /**
   * Feeds received bytes; returns what they meant. Throws ProtocolError on a malformed stream.
   * It leaves the in-flight table as it is: an acknowledgement takes its entry out only when the
   * caller has booked it (`settle`), so whatever the caller commits in between, or after a stream
   * that breaks halfway, never holds a message the table has forgotten but the books have not counted.
   */
  receive(bytes: Uint8Array): SessionEvent[] {
    this.#reader.push(bytes);
    const events: SessionEvent[] = [];
    /** Entries answered earlier in these bytes: a second answer to one is a duplicate. */
    const answered = new Set<InFlight>();
    for (let packet = this.#reader.next(); packet; packet = this.#reader.next()) {
      // Nothing but CONNACK (or a v5 DISCONNECT) may come first (MQTT-3.2.0-1): an acknowledgement
      // before an accepting CONNACK would release readings that a refusing one says were never taken.
      if (!this.#connacked && packet.type !== "connack" && packet.type !== "disconnect") {
        throw new ProtocolError(0x82, `${packet.type === "discarded" ? "PUBLISH" : packet.type.toUpperCase()} before an accepting CONNACK`);
      }
      switch (packet.type) {
        case "connack":
          if (this.#connacked) throw new ProtocolError(0x82, "a second CONNACK");
          this.#connacked = packet.reasonCode === 0;
          events.push({ type: "connack", sessionPresent: packet.sessionPresent, reasonCode: packet.reasonCode, packet });
          break;
        case "puback":
        case "pubcomp": {
          // An ack for an id not in flight is a duplicate from an earlier connection: harmless.
          const entry = this.#entry(packet.packetId);
          if (entry && !answered.has(entry)) {
            answered.add(entry);
            events.push({ type: "acked", entry, reasonCode: packet.reasonCode ?? 0, asQoS1: entry.qos === 2 && packet.type === "puback" });
          }
          break;
        }
        case "pubrec": {
          const entry = this.#entry(packet.packetId);
          if (entry && answered.has(entry)) break;
          if (entry && (packet.reasonCode ?? 0) >= 0x80) {
            // MQTT 5 §4.3.3: a PUBREC with a failure code ends the exchange; no PUBREL follows.
            answered.add(entry);
            events.push({ type: "acked", entry, reasonCode: packet.reasonCode!, asQoS1: false });
            break;
          }
          if (entry && entry.state === "sent") events.push({ type: "released", entry });
          // PUBREL for any PUBREC, known or not: the broker may be holding an id from a lost session.
          this.#queue({ type: "pubrel", packetId: packet.packetId });
          break;
        }
        case "suback":
          if (this.#subscriptions.delete(packet.packetId)) {
            events.push({ type: "subscribed", packetId: packet.packetId, reasonCodes: packet.reasonCodes });
          }
          break;
        case "publish":
          if (packet.qos === 1) this.#queue({ type: "puback", packetId: packet.packetId! });
          // QoS 2 downlink: answer PUBREC now and deliver now. The node subscribes at QoS 1, so a
          // broker never sends QoS 2 to it; this keeps the exchange correct if one does.
          else if (packet.qos === 2) this.#queue({ type: "pubrec", packetId: packet.packetId! });
          events.push({ type: "message", publish: packet });
          break;
        case "discarded":
          if (packet.qos === 1) this.#queue({ type: "puback", packetId: packet.packetId! });
          else if (packet.qos === 2) this.#queue({ type: "pubrec", packetId: packet.packetId! });
          events.push({ type: "discarded", size: packet.size });
          break;
        case "pubrel":
          this.#queue({ type: "pubcomp", packetId: packet.packetId });
          break;
        case "pingresp":
          events.push({ type: "pong" });
          break;
        case "disconnect":
          events.push({ type: "disconnect", reasonCode: packet.reasonCode ?? 0 });
          break;
        case "unsuback":
          if (this.#subscriptions.delete(packet.packetId)) {
            events.push({ type: "unsubscribed", packetId: packet.packetId, reasonCodes: packet.reasonCodes ?? [] });
          }
          break;
        default:
          // AUTH and the like need nothing from a publisher beyond being well-formed.
          break;
      }
    }
    return events;
  }

  /** Puts a message the broker refused for now back in the table, to be published again as new. */
  requeue(entry: InFlight): void {
    this.settle(entry);
    transition(entry, "requeue");
    this.state.inflight.push(entry);
  }

  /** Takes a message out of the table: its answer is booked, or its readings went elsewhere. */
  settle(entry: InFlight): void {
    const at = this.state.inflight.indexOf(entry);
    if (at >= 0) this.state.inflight.splice(at, 1);
  }

  #entry(packetId: number): InFlight | undefined {
    return this.state.inflight.find((e) => e.packetId === packetId);
  }

  #queue(packet: Packet): void {
    this.#output.push(encode(packet, this.version));
  }

  #allocate(): number {
    const inUse = new Set(this.state.inflight.map((e) => e.packetId));
    for (const id of this.#subscriptions) inUse.add(id);
    if (inUse.size >= 65535) throw new RangeError("MQTT: no free packet id");
    let id = this.state.nextPacketId;
    while (inUse.has(id)) id = id === 65535 ? 1 : id + 1;
    this.state.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }
}
