// torpor's MQTT client in an app of its own: connect with a persistent session, subscribe, publish
// at QoS 1, then restart as a node waking from deep sleep does — a new client over the same bytes
// of the session store — and find the session resumed: the broker kept it (Session Present), and
// the messages the first life never saw acknowledged go out again before anything new.
//
//   mcconfig -m -p lin -t build broker=mqtt://HOST:PORT   (from this folder)

import TCP from "embedded:io/socket/tcp";
import UDP from "embedded:io/socket/udp";
import Resolver from "embedded:network/dns/resolver/udp";
import config from "mc/config";
import Timer from "timer";
import { MQTTClient, type MQTTClientOptions } from "torpor/mqtt/client";
import { BytesStore } from "torpor/mqtt/client-store-bytes";

const broker = String(config.broker);
const id = String(config.id);
const url = /^mqtt:\/\/([^:/]+)(?::(\d+))?\/?$/.exec(broker);
if (!url) throw new Error(`broker: "${broker}" is not mqtt://HOST[:PORT]`);
const host = url[1]!;
const port = Number(url[2] ?? 1883);
const ipv4 = /^\d+\.\d+\.\d+\.\d+$/.test(host);
const topic = `example/mqtt-client/${id}/out`;

// The session store's bytes: RTC memory on a device (it survives deep sleep); here, RAM that
// outlives the first client object.
const retained = { bytes: new Uint8Array(1024), commit() {} };

function life(name: string, onWritable: (client: MQTTClient) => void, onControl: (client: MQTTClient, operation: number, id: number | undefined) => void): void {
  const options: MQTTClientOptions = {
    ...(ipv4 ? { address: host } : { host, dns: { io: Resolver, servers: ["1.1.1.1"], socket: { io: UDP } } }),
    port,
    socket: { io: TCP },
    id,
    clean: false,
    version: 5,
    keepalive: 60_000,
    timer: { set: (callback, ms) => Timer.set(callback, ms), clear: (timer) => Timer.clear(timer as Timer) },
    store: new BytesStore(retained),
    onWritable(this: MQTTClient) {
      onWritable(this);
    },
    onControl(this: MQTTClient, message) {
      if (message.operation === MQTTClient.CONNACK) trace(`${name}: connected, session present: ${message.sessionPresent}, ${this.inFlight.length} in flight from before\n`);
      onControl(this, message.operation, message.id);
    },
    onReadable(this: MQTTClient, count, message) {
      trace(`${name}: received ${message.topic}: ${String.fromArrayBuffer(this.read(count)!)}\n`);
    },
    onError(this: MQTTClient, error) {
      trace(`${name}: ${error?.message ?? "error"}\n`);
    },
  };
  new MQTTClient(options);
}

/** Publishes "hello N" at QoS 1 while the client has room, up to `last`; returns the next N. A write
 *  that returns 0 — no room in the socket, or the broker's Receive Maximum reached — waits for onWritable. */
function publish(client: MQTTClient, next: number, last: number): number {
  let room = 1;
  for (; next <= last && room > 0; next++) room = client.write(`hello ${next}`, { topic, QoS: 1 });
  return next;
}

// First life: subscribe and publish — in the same flight as CONNECT — and "sleep" before any
// acknowledgement can arrive. (Before the first CONNACK the client knows no Receive Maximum, so MQTT 5
// lets one QoS 1 message go ahead of it; the store learns the broker's limit for the next life.)
let first = false;
life(
  "first life",
  (client) => {
    if (first) return;
    first = true;
    client.write(null, { operation: MQTTClient.SUBSCRIBE, items: [{ topic, QoS: 1 }] });
    const next = publish(client, 1, 4);
    trace(`first life: ${next - 1} written, ${client.inFlight.length} in flight; sleeping\n`);
    client.close();
    Timer.set(() => second(next), 500);
  },
  () => {},
);

// Second life: what was in flight goes out again behind CONNECT, the rest follows as room allows,
// and the example ends when the broker has acknowledged every message.
function second(from: number): void {
  let next = from;
  life(
    "second life",
    (client) => {
      next = publish(client, next, 4);
    },
    (client, operation, packetId) => {
      if (operation === MQTTClient.PUBACK) trace(`second life: PUBACK ${packetId}\n`);
      if (operation === MQTTClient.PUBACK && next > 4 && client.inFlight.length === 0) {
        trace("second life: every QoS 1 message acknowledged; done\n");
        client.write(null, { operation: MQTTClient.DISCONNECT });
        client.close();
      }
    },
  );
}
