// A fake MQTT broker on a loopback port whose answers a test scripts, for what no real broker does
// on demand: acknowledgements before a CONNACK that then refuses, a refusing CONNACK that names
// what the broker accepts, reason codes outside the spec's table, a connection closed before any
// CONNACK. Packets are read and written with mqtt-packet (written by hand where it refuses, such
// as a PUBACK with 0x95: `sendRaw`).
//
// Left to itself it is a small well-behaved broker, enough for a node and an MQTT.js subscriber:
// CONNACK accepting (Session Present for a client id it has seen), PUBACK / PUBREC / PUBCOMP, SUBACK granting, PINGRESP, and each PUBLISH routed to
// the connected clients subscribed to its exact topic, at the QoS they were granted (no wildcards,
// no retained store, nothing queued for a client while it is away). Subscriptions belong to the
// client id's session: a client that comes back without a clean start still has them. A script
// sees every packet first, on every connection, and takes it over by returning true.

import * as net from "node:net";
import * as mqttPacket from "mqtt-packet";
import { decodeFrame, Framer } from "./proxy";

export interface ScriptedConnection {
  /** The CONNECT's client id and protocol level, once it came. */
  clientId?: string;
  version?: 4 | 5;
  /** Which connection of this client id it is: 1, 2, … */
  nth: number;
  /** Every packet the client sent on it, in order. */
  readonly received: mqttPacket.Packet[];
  /** Sends a packet, written for this connection's version. */
  send(packet: mqttPacket.Packet): void;
  /** Sends bytes as they are. */
  sendRaw(bytes: Uint8Array): void;
  /** Closes the connection cleanly (FIN) without another word. */
  end(): void;
  /** Answers the packet as the well-behaved broker would (for a script that only adds to it). */
  answer(packet: mqttPacket.Packet): void;
}

/** Sees each packet before the broker does; true: handled, the broker does nothing more with it. */
export type Script = (packet: mqttPacket.Packet, connection: ScriptedConnection) => boolean | void;

export interface ScriptedBroker {
  readonly port: number;
  /** mqtt://127.0.0.1:PORT */
  readonly url: string;
  script: Script;
  readonly connections: ScriptedConnection[];
  close(): Promise<void>;
}

export async function startScriptedBroker(script: Script = () => false): Promise<ScriptedBroker> {
  const sockets = new Set<net.Socket>();
  const connections: ScriptedConnection[] = [];
  const seen = new Set<string>();
  /** Per topic, the client ids subscribed and the QoS granted them. */
  const subscribers = new Map<string, Map<string, number>>();
  /** Per client id, its connection now. */
  const live = new Map<string, Connection>();
  const broker = { script };

  class Connection implements ScriptedConnection {
    clientId?: string;
    version?: 4 | 5;
    nth = 0;
    readonly received: mqttPacket.Packet[] = [];
    #nextId = 1;

    constructor(readonly socket: net.Socket) {}

    send(packet: mqttPacket.Packet): void {
      this.sendRaw(mqttPacket.generate(packet, { protocolVersion: this.version ?? 4 }));
    }

    sendRaw(bytes: Uint8Array): void {
      if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
    }

    end(): void {
      this.socket.end();
    }

    deliver(publish: mqttPacket.IPublishPacket, granted: number): void {
      const qos = Math.min(publish.qos, granted) as mqttPacket.QoS;
      this.send({ cmd: "publish", topic: publish.topic, payload: publish.payload, qos, retain: false, dup: false, ...(qos > 0 ? { messageId: this.#nextId++ } : {}) });
    }

    answer(packet: mqttPacket.Packet): void {
      switch (packet.cmd) {
        case "connect":
          this.send(connack(this, 0, undefined, !packet.clean && seen.has(packet.clientId)));
          seen.add(packet.clientId);
          break;
        case "publish":
          if (packet.qos === 1) this.send({ cmd: "puback", messageId: packet.messageId! });
          if (packet.qos === 2) this.send({ cmd: "pubrec", messageId: packet.messageId! });
          for (const [id, qos] of subscribers.get(packet.topic) ?? []) live.get(id)?.deliver(packet, qos);
          break;
        case "pubrel":
          this.send({ cmd: "pubcomp", messageId: packet.messageId! });
          break;
        case "pubrec":
          // A subscriber's half of a QoS 2 delivery.
          this.send({ cmd: "pubrel", messageId: packet.messageId! });
          break;
        case "subscribe":
          for (const s of packet.subscriptions) {
            if (!subscribers.has(s.topic)) subscribers.set(s.topic, new Map());
            if (this.clientId !== undefined) subscribers.get(s.topic)!.set(this.clientId, s.qos);
          }
          this.send({ cmd: "suback", messageId: packet.messageId, granted: packet.subscriptions.map((s) => s.qos) });
          break;
        case "pingreq":
          this.send({ cmd: "pingresp" });
          break;
        case "disconnect":
          this.end();
          break;
        default:
          break;
      }
    }
  }

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const connection = new Connection(socket);
    connections.push(connection);
    const framer = new Framer();
    socket.on("data", (chunk: Buffer) => {
      for (const { bytes } of framer.push(new Uint8Array(chunk))) {
        // Once it has closed its side (a refusing CONNACK, a cut), a broker takes nothing more.
        if (socket.writableEnded) return;
        let packet: mqttPacket.Packet;
        try {
          packet = decodeFrame(bytes, connection.version ?? 4);
        } catch {
          // A broker closes a connection that sends what it cannot read.
          return socket.destroy();
        }
        if (packet.cmd === "connect") {
          connection.clientId = packet.clientId;
          connection.version = packet.protocolVersion === 5 ? 5 : 4;
          connection.nth = connections.filter((c) => c.clientId === packet.clientId).length;
          // The session is the client id's, whoever answers this CONNECT (a script may).
          if (packet.clean) for (const set of subscribers.values()) set.delete(packet.clientId);
          live.set(packet.clientId, connection);
        }
        connection.received.push(packet);
        if (!broker.script(packet, connection)) connection.answer(packet);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      if (connection.clientId !== undefined && live.get(connection.clientId) === connection) live.delete(connection.clientId);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get script() {
      return broker.script;
    },
    set script(s) {
      broker.script = s;
    },
    connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A CONNACK for the connection's version: `code` is a 3.1.1 return code or an MQTT 5 reason code;
 *  `properties` (MQTT 5) the limits the broker announces. */
export function connack(connection: ScriptedConnection, code: number, properties?: mqttPacket.IConnackPacket["properties"], sessionPresent = false): mqttPacket.IConnackPacket {
  return connection.version === 5 ? { cmd: "connack", sessionPresent, reasonCode: code, ...(properties ? { properties } : {}) } : { cmd: "connack", sessionPresent, returnCode: code };
}

/** A v5 acknowledgement (PUBACK, PUBREC) with any reason code, even one mqtt-packet would not
 *  write or read: the bytes a broker such as mosquitto really sends. */
export function ackBytes(type: "puback" | "pubrec", packetId: number, reasonCode: number): Uint8Array {
  return Uint8Array.of(type === "puback" ? 0x40 : 0x50, 3, packetId >> 8, packetId & 0xff, reasonCode);
}
