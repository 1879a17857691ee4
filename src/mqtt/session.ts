// A publisher's MQTT session as a state machine: packets and bytes in, bytes and events out. It never
// touches a socket or a clock; the wake cycle (src/app.ts) does the IO.
//
// What makes it a deep-sleep session: its state — the packet-id counter and the table of messages in
// flight — is plain data the node keeps in retained memory. An in-flight entry does not hold the
// message; it names the readings the message carried, so the wake cycle can re-encode the identical
// payload and send it again with DUP set on the next wake, after any number of sleeps.

import { encode, PacketReader, type Version } from "./codec";
import type { ConnectPacket, Packet, PublishPacket } from "./packets";

/** What an in-flight message carried: the readings [first, first + count) of a kind of message. */
export interface InFlight {
  packetId: number;
  /** 0: a telemetry batch. Other kinds are reserved for later message types. */
  kind: number;
  first: number;
  count: number;
}

export interface SessionState {
  /** The packet id the next new message will try first (1..65535). */
  nextPacketId: number;
  inflight: InFlight[];
}

export const emptySession = (): SessionState => ({ nextPacketId: 1, inflight: [] });

export type SessionEvent =
  | { type: "connack"; sessionPresent: boolean; reasonCode: number; packet: Packet & { type: "connack" } }
  | { type: "acked"; entry: InFlight; reasonCode: number }
  | { type: "message"; publish: PublishPacket }
  | { type: "disconnect"; reasonCode: number };

export interface OutgoingPublish {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  retain: boolean;
  properties?: PublishPacket["properties"];
}

export class PublisherSession {
  readonly version: Version;
  readonly state: SessionState;
  #reader: PacketReader;
  #output: Uint8Array[] = [];
  #connected = false;

  constructor(version: Version, state: SessionState, maximumPacketSize?: number) {
    this.version = version;
    this.state = state;
    this.#reader = new PacketReader(version, maximumPacketSize === undefined ? undefined : { maximumPacketSize });
  }

  get connected(): boolean { return this.#connected; }
  get inflight(): readonly InFlight[] { return this.state.inflight; }

  /** Queues CONNECT. Publishes queued after it go out in the same write: MQTT §3.1.4 allows it. */
  connect(packet: Omit<ConnectPacket, "type">): void {
    this.#queue({ type: "connect", ...packet });
  }

  /** Queues a message again, DUP set, under the packet id its entry already has. */
  resend(entry: InFlight, message: OutgoingPublish): void {
    this.#queue({ type: "publish", ...message, dup: true, packetId: entry.packetId });
  }

  /** Queues a new message; at QoS 1 it enters the in-flight table and is returned. */
  publish(message: OutgoingPublish, kind: number, first: number, count: number): InFlight | undefined {
    if (message.qos === 0) {
      this.#queue({ type: "publish", ...message, dup: false });
      return undefined;
    }
    const entry: InFlight = { packetId: this.#allocate(), kind, first, count };
    this.state.inflight.push(entry);
    this.#queue({ type: "publish", ...message, dup: false, packetId: entry.packetId });
    return entry;
  }

  disconnect(reasonCode = 0): void {
    this.#queue(this.version === 5 ? { type: "disconnect", reasonCode } : { type: "disconnect" });
  }

  /** Everything queued since the last call, as one buffer for one socket write. */
  takeOutput(): Uint8Array | undefined {
    if (!this.#output.length) return undefined;
    const total = this.#output.reduce((n, b) => n + b.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const b of this.#output) {
      bytes.set(b, at);
      at += b.length;
    }
    this.#output = [];
    return bytes;
  }

  /** Feeds received bytes; returns what they meant. Throws ProtocolError on a malformed stream. */
  receive(bytes: Uint8Array): SessionEvent[] {
    this.#reader.push(bytes);
    const events: SessionEvent[] = [];
    for (let packet = this.#reader.next(); packet; packet = this.#reader.next()) {
      switch (packet.type) {
        case "connack":
          this.#connected = packet.reasonCode === 0;
          events.push({ type: "connack", sessionPresent: packet.sessionPresent, reasonCode: packet.reasonCode, packet });
          break;
        case "puback": {
          const index = this.state.inflight.findIndex((e) => e.packetId === packet.packetId);
          // A PUBACK for an id we do not hold is a duplicate from an earlier connection: harmless.
          if (index >= 0) {
            const [entry] = this.state.inflight.splice(index, 1);
            events.push({ type: "acked", entry: entry!, reasonCode: packet.reasonCode ?? 0 });
          }
          break;
        }
        case "publish":
          if (packet.qos === 1 && packet.packetId !== undefined) this.#queue({ type: "puback", packetId: packet.packetId });
          events.push({ type: "message", publish: packet });
          break;
        case "disconnect":
          this.#connected = false;
          events.push({ type: "disconnect", reasonCode: packet.reasonCode ?? 0 });
          break;
        default:
          // SUBACK, PINGRESP and the rest need nothing from a publisher beyond being well-formed.
          break;
      }
    }
    return events;
  }

  #queue(packet: Packet): void {
    this.#output.push(encode(packet, this.version));
  }

  #allocate(): number {
    const inUse = new Set(this.state.inflight.map((e) => e.packetId));
    if (inUse.size >= 65535) throw new RangeError("MQTT: no free packet id");
    let id = this.state.nextPacketId;
    while (inUse.has(id)) id = id === 65535 ? 1 : id + 1;
    this.state.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }
}
