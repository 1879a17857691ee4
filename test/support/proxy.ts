// A loopback TCP proxy between an MQTT client and a broker, for fault tests and benchmarks. It
// forwards bytes both ways and can delay them (each way), cut the connection after a number of
// bytes upstream, cut it once the broker took a PUBLISH but before the client hears its
// acknowledgement, cut it right after a given packet reached the client, and corrupt one byte. It
// frames the MQTT stream each way (fixed header and remaining length: the same in 3.1.1 and 5.0) and
// records every packet with the time it was forwarded, so tests can look at what went over the wire
// (DUP flags, packet ids, Session Present, the protocol level) and benchmarks can count round trips.
//
// Faults apply per connection: `proxy.faults` for every new connection, `proxy.next(faults)` for the
// next one only (queued in order), so a test can say "the next wake gets cut".

import * as net from "node:net";
import { performance } from "node:perf_hooks";
import * as mqttPacket from "mqtt-packet";

/** MQTT control packet types (the high nibble of the first byte). */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

export type Direction = "up" | "down";

/** One MQTT packet as it went through the proxy. */
export interface Frame {
  /** When the proxy forwarded it (its last byte), ms on the proxy's clock (`proxy.now()`). */
  at: number;
  type: number;
  /** The low nibble of the first byte (DUP, QoS and RETAIN for a PUBLISH). */
  flags: number;
  /** The whole packet, fixed header included (after any corruption). */
  bytes: Uint8Array;
}

export interface DirectionTrace {
  /** Bytes forwarded this way. */
  bytes: number;
  frames: Frame[];
  /** Each forwarded chunk, when and how long: flights and round trips of a stream that is not MQTT
   *  to the proxy (TLS), whose `frames` mean nothing. */
  chunks: { at: number; bytes: number }[];
}

export interface ConnectionTrace {
  /** When the client's TCP connection was accepted (TCP connected, from the client's side). */
  openedAt: number;
  closedAt?: number;
  /** Why the proxy cut the connection, if it did. */
  cut?: string;
  /** client → broker */
  up: DirectionTrace;
  /** broker → client */
  down: DirectionTrace;
  /** Resolves when both sides are closed. */
  closed: Promise<void>;
}

export interface Faults {
  /** Milliseconds added to every chunk, each way (order is kept). */
  delayMs?: number;
  /** Forward this many bytes upstream, then cut. */
  cutUpAfterBytes?: number;
  /**
   * Forward the first client PUBLISH at QoS 1 or 2 (on `topic`, when given) and nothing more
   * upstream; hold everything from the broker; once the broker acknowledged that PUBLISH (PUBACK or
   * PUBREC: proof that it took it), cut. The client never hears the acknowledgement.
   */
  cutBeforeAck?: { topic?: string };
  /** Forward nothing from the broker to the client (the client waits; the test decides what next). */
  holdDown?: boolean;
  /** Forward the first packet of this type from the broker to the client, then cut. */
  cutAfterDown?: number;
  /** XOR the byte at this offset of the stream going this way with `xor` (default 0xff). */
  corrupt?: { direction: Direction; offset: number; xor?: number };
}

export interface Proxy {
  readonly port: number;
  /** mqtt://127.0.0.1:PORT */
  readonly url: string;
  /** Where new connections go; change it to follow a restarted broker. */
  target: { host: string; port: number };
  /** Faults for every new connection (default: none). */
  faults: Faults;
  /** Faults for the next connection only; queued in order, replacing `faults` for it. */
  next(faults: Faults): void;
  readonly connections: ConnectionTrace[];
  /** ms on the clock the traces use. */
  now(): number;
  close(): Promise<void>;
}

export async function startProxy(target: { host?: string; port: number }, faults: Faults = {}): Promise<Proxy> {
  const queued: Faults[] = [];
  const connections: ConnectionTrace[] = [];
  const sockets = new Set<net.Socket>();
  const state = { target: { host: target.host ?? "127.0.0.1", port: target.port }, faults };
  const server = net.createServer((client) => {
    const f = queued.shift() ?? state.faults;
    connections.push(relay(client, state.target, f, sockets));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get target() {
      return state.target;
    },
    set target(t) {
      state.target = t;
    },
    get faults() {
      return state.faults;
    },
    set faults(f) {
      state.faults = f;
    },
    next: (f) => void queued.push(f),
    connections,
    now: () => performance.now(),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(connections.map((c) => c.closed));
    },
  };
}

/** Splits a byte stream into MQTT packets, whatever the chunking. */
export class Framer {
  #pending = new Uint8Array(0);

  /** Takes a chunk; returns each packet completed in it, with the chunk offset just past its end. */
  push(chunk: Uint8Array): { bytes: Uint8Array; end: number }[] {
    const before = this.#pending.length;
    const all = new Uint8Array(before + chunk.length);
    all.set(this.#pending);
    all.set(chunk, before);
    const frames: { bytes: Uint8Array; end: number }[] = [];
    let at = 0;
    for (;;) {
      let remaining = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      for (; i < all.length && i < at + 5; i++) {
        remaining += (all[i]! & 0x7f) * multiplier;
        multiplier *= 128;
        if ((all[i]! & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      const total = i + 1 - at + remaining;
      if (all.length - at < total) break;
      frames.push({ bytes: all.slice(at, at + total), end: at + total - before });
      at += total;
    }
    this.#pending = all.slice(at);
    return frames;
  }
}

/** The topic and packet id of a PUBLISH (same layout in 3.1.1 and 5.0). */
export function publishInfo(frame: Frame | Uint8Array): { topic: string; qos: number; dup: boolean; packetId?: number; body: number } {
  const bytes = frame instanceof Uint8Array ? frame : frame.bytes;
  let i = 1;
  while (bytes[i]! & 0x80) i++;
  i++;
  const length = (bytes[i]! << 8) | bytes[i + 1]!;
  const topic = Buffer.from(bytes.subarray(i + 2, i + 2 + length)).toString("utf8");
  const qos = (bytes[0]! >> 1) & 3;
  const after = i + 2 + length;
  const info: { topic: string; qos: number; dup: boolean; packetId?: number; body: number } = { topic, qos, dup: (bytes[0]! & 8) !== 0, body: after };
  if (qos > 0) {
    info.packetId = (bytes[after]! << 8) | bytes[after + 1]!;
    info.body = after + 2;
  }
  return info;
}

/** The packet id of a PUBACK, PUBREC, PUBREL, PUBCOMP or SUBACK. */
export function ackPacketId(frame: Frame): number {
  const b = frame.bytes;
  let i = 1;
  while (b[i]! & 0x80) i++;
  return (b[i + 1]! << 8) | b[i + 2]!;
}

/** The protocol level a CONNECT asks for: 4 (3.1.1) or 5. */
export function connectLevel(frame: Frame): number {
  const b = frame.bytes;
  let i = 1;
  while (b[i]! & 0x80) i++;
  const nameLength = (b[i + 1]! << 8) | b[i + 2]!;
  return b[i + 3 + nameLength]!;
}

/** CONNACK: Session Present and the return/reason code. */
export function connackInfo(frame: Frame): { sessionPresent: boolean; code: number } {
  return { sessionPresent: (frame.bytes[2]! & 1) === 1, code: frame.bytes[3]! };
}

/** The reason code of a PUBACK, PUBREC, PUBREL or PUBCOMP: 0 when absent (always, in 3.1.1). */
export function ackReason(frame: Frame): number {
  const b = frame.bytes;
  let i = 1;
  while (b[i]! & 0x80) i++;
  return b[i]! > 2 ? b[i + 3]! : 0;
}

/**
 * The most QoS 1 and 2 messages the client had in flight at once on a connection, as MQTT 5
 * §4.9 counts them against Receive Maximum: a PUBLISH enters (its re-send under the same id does not
 * enter twice) and leaves with its PUBACK, its PUBCOMP, or a PUBREC carrying a failure code. The
 * depth is taken at each PUBLISH sent from proxy time `from` on: a client that learns a smaller
 * limit from CONNACK cannot take back what it pipelined before, but must send nothing more until
 * it is within the limit again.
 */
export function maxInFlight(trace: ConnectionTrace, from = -Infinity): number {
  // Both directions in forwarding order; on a tie the acknowledgement first (it answers an earlier
  // PUBLISH), which never overstates the depth.
  const events = [...trace.down.frames.map((f) => ({ f, up: false })), ...trace.up.frames.map((f) => ({ f, up: true }))].sort((a, b) => a.f.at - b.f.at || Number(a.up) - Number(b.up));
  const open = new Set<number>();
  let max = 0;
  for (const { f, up } of events) {
    if (up && f.type === PacketType.PUBLISH) {
      const { qos, packetId } = publishInfo(f);
      if (qos === 0) continue;
      open.add(packetId!);
      if (f.at >= from) max = Math.max(max, open.size);
    } else if (!up && (f.type === PacketType.PUBACK || f.type === PacketType.PUBCOMP || (f.type === PacketType.PUBREC && ackReason(f) >= 0x80))) {
      open.delete(ackPacketId(f));
    }
  }
  return max;
}

/** A packet as mqtt-packet reads it, for fields the byte helpers above do not reach (CONNECT's
 *  client id, CONNACK's properties). `version` is the connection's: a CONNECT says its own. */
export function decodeFrame(frame: Frame | Uint8Array, version: 4 | 5 = 4): mqttPacket.Packet {
  const bytes = frame instanceof Uint8Array ? frame : frame.bytes;
  const parser = mqttPacket.parser({ protocolVersion: version });
  let packet: mqttPacket.Packet | undefined;
  let error: Error | undefined;
  parser.on("packet", (p) => (packet ??= p));
  parser.on("error", (e) => (error ??= e));
  parser.parse(Buffer.from(bytes));
  if (!packet) throw new Error(`cannot decode a packet of type ${bytes[0]! >> 4} (${Buffer.from(bytes).toString("hex")}): ${error?.message ?? "incomplete"}`);
  return packet;
}

/** An MQTT 5 CONNACK's properties: the limits the broker announced (none: no limits). */
export function connackProperties(frame: Frame): NonNullable<mqttPacket.IConnackPacket["properties"]> {
  return (decodeFrame(frame, 5) as mqttPacket.IConnackPacket).properties ?? {};
}

/** The client id of the connection's CONNECT (undefined before the proxy forwarded one). */
export function clientIdOf(trace: ConnectionTrace): string | undefined {
  const connect = trace.up.frames[0];
  if (connect?.type !== PacketType.CONNECT) return undefined;
  return (decodeFrame(connect) as mqttPacket.IConnectPacket).clientId;
}

/**
 * The connections one client opened through the proxy, in order. Other clients may share the proxy
 * (a test's subscriber, reconnecting on its own schedule when the broker restarts), so "the last
 * connection" is not necessarily the node's.
 */
export function connectionsOf(proxy: Proxy, clientId: string): ConnectionTrace[] {
  return proxy.connections.filter((c) => clientIdOf(c) === clientId);
}

/**
 * The first packet of `type` that went `direction` on a connection, waiting for it (at most `ms`):
 * the proxy records a packet when it forwards it, so what the client wrote just before it closed
 * may still be on its way through the proxy when the client's own work is done.
 */
export async function frameOf(trace: ConnectionTrace, direction: Direction, type: number, ms = 5000): Promise<Frame> {
  const deadline = performance.now() + ms;
  for (;;) {
    const frame = trace[direction].frames.find((f) => f.type === type);
    if (frame) return frame;
    if (performance.now() > deadline) throw new Error(`no packet of type ${type} went ${direction} within ${ms} ms (${trace[direction].frames.map((f) => f.type).join(" ") || "none"})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The connection's trace once both sides closed (at most `ms`), so that it holds every packet. */
export async function settled(trace: ConnectionTrace, ms = 5000): Promise<ConnectionTrace> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the connection did not close within ${ms} ms`)), ms)));
  try {
    await Promise.race([trace.closed, late]);
  } finally {
    clearTimeout(timer);
  }
  return trace;
}

function relay(client: net.Socket, target: { host: string; port: number }, faults: Faults, sockets: Set<net.Socket>): ConnectionTrace {
  const broker = net.connect({ host: target.host, port: target.port });
  client.setNoDelay(true);
  broker.setNoDelay(true);
  sockets.add(client);
  sockets.add(broker);
  let open = 2;
  let resolveClosed: () => void = () => {};
  const trace: ConnectionTrace = {
    openedAt: performance.now(),
    up: { bytes: 0, frames: [], chunks: [] },
    down: { bytes: 0, frames: [], chunks: [] },
    closed: new Promise<void>((resolve) => (resolveClosed = resolve)),
  };
  for (const socket of [client, broker]) {
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      if (--open === 0) {
        trace.closedAt = performance.now();
        resolveClosed();
      }
    });
  }

  const delay = faults.delayMs ?? 0;
  let stopped = false;
  /** Stops all forwarding: the broker side is dropped at once (no DISCONNECT: the client vanished);
   *  the client gets what was already forwarded to it, then FIN. */
  const cut = (why: string) => {
    if (stopped) return;
    stopped = true;
    trace.cut = why;
    broker.destroy();
    client.end();
    setTimeout(() => client.destroy(), 1000).unref();
  };

  // cutBeforeAck: the id of the PUBLISH let through; from then on nothing more goes up, and what
  // comes down is held until its acknowledgement shows the broker took it.
  let watched: number | undefined;
  let holding = false;

  const pipe = (direction: Direction, to: net.Socket) => {
    const framer = new Framer();
    const d = direction === "up" ? trace.up : trace.down;
    let received = 0;
    /** Runs `action` `delay` ms after now, in order. One timer for the head of the queue, re-armed
     *  if it fires early (Node's timers count from the event loop's cached time, which lags). */
    const queue: { due: number; action: () => void }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      while (queue.length && queue[0]!.due <= performance.now()) queue.shift()!.action();
      if (queue.length) timer = setTimeout(pump, Math.max(1, Math.ceil(queue[0]!.due - performance.now())));
    };
    const schedule = (action: () => void) => {
      if (delay === 0) return action();
      queue.push({ due: performance.now() + delay, action });
      timer ??= setTimeout(pump, delay);
    };

    const forward = (bytes: Uint8Array) => {
      if (stopped || (direction === "up" && holding)) return;
      let limit = bytes.length;
      let then: (() => void) | undefined;
      if (direction === "up" && faults.cutUpAfterBytes !== undefined && d.bytes + limit >= faults.cutUpAfterBytes) {
        limit = Math.max(0, faults.cutUpAfterBytes - d.bytes);
        then = () => cut(`after ${faults.cutUpAfterBytes} bytes upstream`);
      }
      const now = performance.now();
      for (const { bytes: packet, end } of framer.push(bytes.subarray(0, limit))) {
        if (end > limit) break;
        const frame: Frame = { at: now, type: packet[0]! >> 4, flags: packet[0]! & 0x0f, bytes: packet };
        d.frames.push(frame);
        if (direction === "down" && holding) {
          if ((frame.type === PacketType.PUBACK || frame.type === PacketType.PUBREC) && ackPacketId(frame) === watched) {
            return cut(`after the broker acknowledged PUBLISH ${watched}, before the client heard it`);
          }
          continue;
        }
        if (direction === "up" && faults.cutBeforeAck && watched === undefined && frame.type === PacketType.PUBLISH) {
          const info = publishInfo(frame);
          if (info.packetId !== undefined && (faults.cutBeforeAck.topic === undefined || faults.cutBeforeAck.topic === info.topic)) {
            watched = info.packetId;
            limit = end;
            then = () => {
              holding = true;
              setTimeout(() => cut("no acknowledgement from the broker within 2 s"), 2000).unref();
            };
            break;
          }
        }
        if (direction === "down" && faults.cutAfterDown === frame.type) {
          limit = end;
          then = () => cut(`after packet type ${frame.type} reached the client`);
          break;
        }
      }
      if (direction === "down" && (holding || faults.holdDown)) return;
      d.bytes += limit;
      if (limit > 0) {
        d.chunks.push({ at: now, bytes: limit });
        to.write(bytes.subarray(0, limit));
      }
      then?.();
    };

    return {
      data(chunk: Buffer) {
        let bytes = new Uint8Array(chunk);
        const c = faults.corrupt;
        if (c && c.direction === direction && c.offset >= received && c.offset < received + bytes.length) {
          bytes = bytes.slice();
          bytes[c.offset - received] = bytes[c.offset - received]! ^ (c.xor ?? 0xff);
        }
        received += bytes.length;
        schedule(() => forward(bytes));
      },
      /** The other side ended (FIN) or vanished (reset): pass it on, after what is still queued. */
      close(clean: boolean) {
        schedule(() => {
          if (stopped) return;
          if (clean) to.end();
          else to.destroy();
        });
      },
    };
  };

  const up = pipe("up", broker);
  const down = pipe("down", client);
  client.on("data", up.data);
  broker.on("data", down.data);
  let clientEnded = false;
  let brokerEnded = false;
  client.on("end", () => ((clientEnded = true), up.close(true)));
  broker.on("end", () => ((brokerEnded = true), down.close(true)));
  client.on("close", () => clientEnded || up.close(false));
  // A broker that is down or resets: the client sees its connection close, as with a real broker.
  broker.on("close", () => brokerEnded || down.close(false));
  return trace;
}
