// A session store over a region of bytes that outlives the program: RTC memory that survives deep
// sleep, or a file or flash partition behind the same { bytes, commit } contract (the host's
// RetainedMemory). The in-flight table is kept as the packets it would send again, written by the
// codec itself: a PUBLISH (DUP, its packet id) for a message the broker has not taken, a PUBREL for
// a QoS 2 message it has. Loading reads them back with the codec's reader, so a torn or foreign
// region is refused with the reader's own account of what is wrong.

import { emptyClientSession, type ClientSessionState, type SessionStore } from "./client-store";
import { encode, encodedLength, PacketReader, ProtocolError } from "./codec";
import type { Packet } from "./packets";
import type { InFlight } from "./session";

/** Bytes before the packets: their total length (u32), the next packet id and the broker's
 *  Receive Maximum (u16 each), its Maximum Packet Size (u32); 0: not known. */
const HEADER = 12;
/** The protocol level the packets are written at: 5, so that MQTT 5 properties are kept. */
const STORE_VERSION = 5;

export interface StoreRegion {
  readonly bytes: Uint8Array;
  /** Makes [offset, offset + length) durable where the medium needs it (a file, flash). */
  commit(offset: number, length: number): void;
}

export class BytesStore implements SessionStore {
  readonly #region: StoreRegion;

  constructor(region: StoreRegion) {
    if (region.bytes.length < HEADER) throw new RangeError(`MQTT session store: ${region.bytes.length} bytes, fewer than its ${HEADER}-byte header`);
    this.#region = region;
  }

  load(): ClientSessionState | undefined {
    const bytes = this.#region.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = view.getUint32(0);
    const nextPacketId = view.getUint16(4);
    if (length === 0 && nextPacketId === 0) return undefined;
    if (length > bytes.length - HEADER || nextPacketId === 0) throw new Error(`MQTT session store: header says ${length} bytes and packet id ${nextPacketId}; the region holds no session this store wrote`);
    const session = emptyClientSession();
    session.nextPacketId = nextPacketId;
    const receiveMaximum = view.getUint16(6);
    if (receiveMaximum) session.receiveMaximum = receiveMaximum;
    const maximumPacketSize = view.getUint32(8);
    if (maximumPacketSize) session.maximumPacketSize = maximumPacketSize;
    const reader = new PacketReader(STORE_VERSION);
    reader.push(bytes.slice(HEADER, HEADER + length));
    let read = 0;
    try {
      for (let packet = reader.next(); packet; packet = reader.next()) {
        read += encodedLength(packet, STORE_VERSION);
        if (packet.type === "publish" && packet.qos > 0) {
          const entry: InFlight = { packetId: packet.packetId!, kind: 0, first: 0, count: 0, qos: packet.qos as 1 | 2, state: "sent" };
          session.inflight.push(entry);
          session.messages.set(entry.packetId, { topic: packet.topic, payload: packet.payload, retain: packet.retain, ...(packet.properties ? { properties: packet.properties } : {}) });
        } else if (packet.type === "pubrel") {
          session.inflight.push({ packetId: packet.packetId, kind: 0, first: 0, count: 0, qos: 2, state: "released" });
        } else throw new Error(`a ${packet.type.toUpperCase()} packet`);
      }
      if (read < length) throw new Error(`${length - read} bytes of a packet cut short`);
    } catch (e) {
      throw new Error(`MQTT session store: ${e instanceof ProtocolError || e instanceof Error ? e.message : String(e)}`);
    }
    return session;
  }

  save(session: ClientSessionState): void {
    const packets = session.inflight.map((entry): Uint8Array => {
      const message = session.messages.get(entry.packetId);
      const packet: Packet =
        entry.state === "released" || !message
          ? { type: "pubrel", packetId: entry.packetId }
          : { type: "publish", ...message, qos: entry.qos, dup: true, packetId: entry.packetId };
      return encode(packet, STORE_VERSION);
    });
    const length = packets.reduce((n, p) => n + p.length, 0);
    const bytes = this.#region.bytes;
    if (HEADER + length > bytes.length) throw new RangeError(`MQTT session store: ${session.inflight.length} messages in flight take ${HEADER + length} bytes, the region has ${bytes.length}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    view.setUint32(0, length);
    view.setUint16(4, session.nextPacketId);
    view.setUint16(6, session.receiveMaximum ?? 0);
    view.setUint32(8, session.maximumPacketSize ?? 0);
    let at = HEADER;
    for (const p of packets) {
      bytes.set(p, at);
      at += p.length;
    }
    this.#region.commit(0, at);
  }

  clear(): void {
    this.#region.bytes.fill(0, 0, HEADER);
    this.#region.commit(0, HEADER);
  }
}
