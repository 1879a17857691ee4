// A sans-IO world for MQTTClient, run the same on Node (mqtt-client-property.test.ts) and on XS
// (mqtt-client-xs.test.ts): a fake ECMA-419 socket whose bytes move only when an operation says so,
// and a fake broker built on the same codec that keeps a persistent session (or loses it). A list
// of operations — writes, bytes moving up or down, connections dropped — is one interleaving; the
// outcome says what the application wrote, what the broker received, and what the store still holds.

import { MQTTClient } from "../src/mqtt/client";
import type { ClientSocket, ClientSocketOptions } from "../src/mqtt/client-io";
import { MemoryStore } from "../src/mqtt/client-store";
import { encode, PacketReader } from "../src/mqtt/codec";
import type { Packet, Version } from "../src/mqtt/packets";
import { utf8Decode, utf8Encode } from "../src/encoding/utf8";

export type ScenarioOp =
  | { type: "write"; qos: 1 | 2 }
  /** The oldest chunk the client wrote reaches the broker, which answers at once. */
  | { type: "up" }
  /** The oldest chunk the broker wrote reaches the client. */
  | { type: "down" }
  /** The connection breaks, chunks on the way lost; the broker restarts without the session when `lose`. */
  | { type: "drop"; lose: boolean };

export interface ScenarioOutcome {
  written: string[];
  received: string[];
  /** What the store still holds in flight when the scenario settled. */
  inFlight: number;
  connections: number;
  errors: string[];
}

/** The broker announces this Receive Maximum (MQTT 5), so the client's flow control is exercised. */
const BROKER_RECEIVE_MAXIMUM = 3;

class Net {
  up: Uint8Array[] = [];
  down: Uint8Array[] = [];
  reading: Uint8Array | undefined;
  tasks: (() => void)[] = [];
  socket: { options: ClientSocketOptions; open: boolean } | undefined;

  run(): void {
    for (let task = this.tasks.shift(); task; task = this.tasks.shift()) task();
  }
}

function socketClass(net: Net): new (options: ClientSocketOptions) => ClientSocket {
  return class FakeSocket implements ClientSocket {
    #end: { options: ClientSocketOptions; open: boolean };
    constructor(options: ClientSocketOptions) {
      const end = { options, open: true };
      this.#end = end;
      net.socket = end;
      net.tasks.push(() => end.open && options.onWritable(1 << 16));
    }
    read(): ArrayBuffer | undefined {
      const data = net.reading;
      net.reading = undefined;
      return data?.slice().buffer;
    }
    write(buffer: Uint8Array): number {
      if (!this.#end.open) throw new Error("fake socket: closed");
      net.up.push(buffer.slice());
      return 1 << 16;
    }
    close(): void {
      this.#end.open = false;
    }
  };
}

class Broker {
  /** The persistent session: QoS 2 ids received and not yet released. */
  session: Set<number> | undefined;
  received: string[] = [];
  #reader: PacketReader | undefined;

  constructor(readonly version: Version) {}

  connect(): void {
    this.#reader = new PacketReader(this.version);
  }

  /** The client's bytes in, the broker's answers out. */
  take(bytes: Uint8Array): Uint8Array[] {
    const reader = this.#reader!;
    reader.push(bytes);
    const out: Packet[] = [];
    const reason = this.version === 5 ? { reasonCode: 0 } : {};
    for (let p = reader.next(); p; p = reader.next()) {
      switch (p.type) {
        case "connect": {
          const present = !p.cleanStart && this.session !== undefined;
          if (!present) this.session = new Set();
          out.push({ type: "connack", sessionPresent: present, reasonCode: 0, ...(this.version === 5 ? { properties: { receiveMaximum: BROKER_RECEIVE_MAXIMUM } } : {}) });
          break;
        }
        case "publish":
          // Delivered on first receipt (QoS 2 "method A"); a duplicate is counted again, and the
          // outcome's set of received messages is what matters.
          this.received.push(utf8Decode(p.payload));
          if (p.qos === 1) out.push({ type: "puback", packetId: p.packetId!, ...reason });
          else if (p.qos === 2) {
            this.session!.add(p.packetId!);
            out.push({ type: "pubrec", packetId: p.packetId!, ...reason });
          }
          break;
        case "pubrel": {
          const known = this.session!.delete(p.packetId);
          out.push({ type: "pubcomp", packetId: p.packetId, ...(this.version === 5 ? { reasonCode: known ? 0 : 0x92 } : {}) });
          break;
        }
        case "pingreq":
          out.push({ type: "pingresp" });
          break;
        default:
          break;
      }
    }
    return out.map((packet) => encode(packet, this.version));
  }
}

export function runScenario(ops: ScenarioOp[], version: Version): ScenarioOutcome {
  const net = new Net();
  const broker = new Broker(version);
  const store = new MemoryStore();
  const outcome: ScenarioOutcome = { written: [], received: broker.received, inFlight: 0, connections: 0, errors: [] };
  const Socket = socketClass(net);
  let client: MQTTClient | undefined;
  let room = 0;
  let counter = 0;

  const open = (): void => {
    room = 0;
    outcome.connections++;
    broker.connect();
    client = new MQTTClient({
      address: "192.0.2.1",
      socket: { io: Socket },
      id: "scenario",
      clean: false,
      version,
      store,
      onWritable(count) {
        room = count;
      },
      onError(error) {
        outcome.errors.push(String(error));
        client = undefined;
      },
    });
    net.run();
  };
  const drop = (): void => {
    net.up = [];
    net.down = [];
    const end = net.socket;
    if (end?.open) {
      end.open = false;
      end.options.onError(new Error("dropped"));
    }
    client?.close();
    client = undefined;
  };
  const up = (): void => {
    const chunk = net.up.shift();
    if (chunk) net.down.push(...broker.take(chunk));
  };
  const down = (): void => {
    const chunk = net.down.shift();
    const end = net.socket;
    if (!chunk || !end?.open) return;
    net.reading = chunk;
    end.options.onReadable(chunk.length);
  };

  open();
  for (const op of ops) {
    switch (op.type) {
      case "write": {
        if (!client || room === 0) break;
        const text = `m${++counter}`;
        try {
          room = client.write(utf8Encode(text), { topic: "t", QoS: op.qos });
          outcome.written.push(text);
        } catch (e) {
          // Receive Maximum reached: the write was refused, so it is no message of the outcome's.
          if (!(e instanceof RangeError)) throw e;
          room = 0;
        }
        break;
      }
      case "up":
        up();
        break;
      case "down":
        down();
        break;
      case "drop":
        drop();
        if (op.lose) broker.session = undefined;
        open();
        break;
    }
    net.run();
  }
  // Settling: one more connection, and every byte moved until none is left.
  drop();
  open();
  for (let guard = 0; (net.up.length || net.down.length) && guard < 10_000; guard++) {
    up();
    down();
    net.run();
  }
  outcome.inFlight = store.load()?.inflight.length ?? 0;
  client?.close();
  return outcome;
}
