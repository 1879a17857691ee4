// The client against a real broker (mosquitto): QoS 1 and 2 messages whose acknowledgement was lost
// with the connection are sent again by the next client — a restart, built over the same bytes of
// the store — and a QoS 2 message is delivered exactly once; MQTT 5's limits as mosquitto states
// them (Receive Maximum, Maximum Packet Size, Topic Alias Maximum) are the ones the client keeps.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MQTTClient, type ControlMessage, type MQTTClientOptions } from "../src/mqtt/client";
import { BytesStore } from "../src/mqtt/client-store-bytes";
import type { Version } from "../src/mqtt/packets";
import { NodeTCP } from "../hosts/node/tcp";
import { Subscriber } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { PacketType, startProxy, type Proxy } from "./support/proxy";

const missing = mosquittoMissing();

/** How long a client's life may take before the test gives up on it. */
const LIFE_MS = 10_000;

/** A client's life until it settles (or LIFE_MS passes): its control messages, and how it ended. */
function run(options: Omit<MQTTClientOptions, "socket">, onWritable?: (client: MQTTClient, room: number) => void, done?: (message: ControlMessage) => boolean) {
  const controls: ControlMessage[] = [];
  let client!: MQTTClient;
  let timer: NodeJS.Timeout | undefined;
  const ended = new Promise<Error | undefined>((resolve) => {
    timer = setTimeout(() => {
      client.close();
      resolve(new Error(`not settled within ${LIFE_MS} ms`));
    }, LIFE_MS);
    client = new MQTTClient({
      ...options,
      socket: { io: NodeTCP, nodelay: true },
      onWritable(room) {
        onWritable?.(this, room);
      },
      onControl(message) {
        controls.push(message);
        if (done?.(message)) {
          this.write(null, { operation: MQTTClient.DISCONNECT });
          this.close();
          resolve(undefined);
        }
      },
      onError(error) {
        resolve(error);
      },
    });
  });
  return { client, controls, ended: ended.finally(() => clearTimeout(timer)) };
}

describe("MQTTClient against mosquitto", { skip: missing }, () => {
  let mosquitto: Mosquitto;
  let proxy: Proxy;
  before(async () => {
    mosquitto = await startMosquitto({ listener: ["max_topic_alias 4"], config: ["max_inflight_messages 2", "max_packet_size 400"] });
    proxy = await startProxy({ port: mosquitto.port });
  });
  after(async () => {
    await proxy?.close();
    await mosquitto?.stop();
  });

  for (const version of [4, 5] as const) {
    for (const qos of [1, 2] as const) {
      it(`v${version} QoS ${qos}: a message whose acknowledgement was lost goes out again after a restart${qos === 2 ? ", delivered once" : ""}`, async () => {
        const topic = `restart/v${version}/q${qos}`;
        const subscriber = await Subscriber.connect(mosquitto.url, [topic], {}, 2);
        try {
          const region = { bytes: new Uint8Array(512), commit() {} };
          const id = `client-${version}-${qos}`;
          const options = { address: "127.0.0.1", id, clean: false, version: version as Version };
          // First life: the broker takes the message, its answer never arrives.
          proxy.next({ cutBeforeAck: { topic } });
          let wrote = false;
          const first = run({ ...options, port: proxy.port, store: new BytesStore(region) }, (client) => {
            if (wrote) return;
            wrote = true;
            client.write("one", { topic, QoS: qos });
          });
          assert.ok(await first.ended, "the cut connection is an error");
          assert.equal(new BytesStore(region).load()?.inflight.length, 1, "the message is still in flight in the store");

          // Second life: a new client over the same bytes, as after deep sleep. Once the message is
          // settled, an "end" at the same QoS behind it marks where a duplicate would have arrived by.
          const [resent] = new BytesStore(region).load()!.inflight;
          const second = run({ ...options, port: mosquitto.port, store: new BytesStore(region) }, undefined, (m) => {
            const settled = m.operation === (qos === 1 ? MQTTClient.PUBACK : MQTTClient.PUBCOMP);
            if (settled && m.id === resent!.packetId) second.client.write("end", { topic, QoS: qos });
            return settled && m.id !== resent!.packetId;
          });
          assert.equal(await second.ended, undefined);
          const connack = second.controls.find((c) => c.operation === MQTTClient.CONNACK);
          assert.equal(connack?.sessionPresent, true);
          assert.equal(new BytesStore(region).load()?.inflight.length, 0, "nothing left in flight");
          assert.ok(await subscriber.until(() => subscriber.messages.some((m) => m.payload.toString() === "end")));
          const copies = subscriber.messages.filter((m) => m.payload.toString() === "one").length;
          if (qos === 2) assert.equal(copies, 1, "QoS 2: exactly once");
          else assert.ok(copies >= 1, "QoS 1: at least once");
        } finally {
          await subscriber.end();
        }
      });
    }
  }

  for (const version of [4, 5] as const) {
    it(`v${version}: SUBSCRIBE, a message back, and UNSUBSCRIBE`, async () => {
      const topic = `sub/v${version}`;
      const got: string[] = [];
      let wrote = false;
      const life = run(
        { address: "127.0.0.1", port: mosquitto.port, id: `sub-${version}`, version, onReadable(count, info) { got.push(`${info.topic}=${String.fromCharCode(...new Uint8Array(this.read(count)!))}`); } },
        (client) => {
          if (wrote) return;
          wrote = true;
          client.write(null, { operation: MQTTClient.SUBSCRIBE, items: [{ topic, QoS: 1 }] });
          client.write("back", { topic, QoS: 1 });
          client.write(null, { operation: MQTTClient.UNSUBSCRIBE, items: [{ topic }] });
        },
        (m) => m.operation === MQTTClient.UNSUBACK,
      );
      assert.equal(await life.ended, undefined);
      assert.deepEqual(life.controls.find((c) => c.operation === MQTTClient.SUBACK)?.reasonCodes, [1]);
      assert.deepEqual(life.controls.find((c) => c.operation === MQTTClient.UNSUBACK)?.reasonCodes, version === 5 ? [0] : []);
      assert.deepEqual(got, [`${topic}=back`]);
    });
  }

  it("pipelines CONNECT with the first PUBLISH: the PUBLISH is on its way before the CONNACK is", async () => {
    const slow = await startProxy({ port: mosquitto.port }, { delayMs: 50 });
    try {
      let wrote = false;
      const life = run(
        { address: "127.0.0.1", port: slow.port, id: "pipelined" },
        (client) => {
          if (wrote) return;
          wrote = true;
          client.write("first", { topic: "pipelined", QoS: 1 });
        },
        (m) => m.operation === MQTTClient.PUBACK,
      );
      assert.equal(await life.ended, undefined);
      const [trace] = slow.connections;
      const publish = trace!.up.frames.find((f) => f.type === PacketType.PUBLISH);
      const connack = trace!.down.frames.find((f) => f.type === PacketType.CONNACK);
      assert.ok(publish && connack && publish.at < connack.at, "the PUBLISH reached the proxy before the broker's CONNACK left it");
    } finally {
      await slow.close();
    }
  });

  it("resolves a host name through the DNS class it is given, and says when it cannot", async () => {
    const asked: string[] = [];
    const dns = {
      io: class {
        resolve(request: { host: string; onResolved(host: string, address: string): void; onError(reason?: unknown): void }) {
          asked.push(request.host);
          setImmediate(() => (request.host === "broker.test" ? request.onResolved(request.host, "127.0.0.1") : request.onError(request.host)));
        }
      },
    };
    const resolved = run({ host: "broker.test", port: mosquitto.port, dns, id: "dns" }, undefined, (m) => m.operation === MQTTClient.CONNACK);
    assert.equal(await resolved.ended, undefined);
    const unknown = run({ host: "nowhere.test", port: mosquitto.port, dns, id: "dns" });
    assert.match(String(await unknown.ended), /MQTT client: cannot resolve nowhere\.test/);
    assert.deepEqual(asked, ["broker.test", "nowhere.test"]);
  });

  it("keeps the connection alive with PINGREQ through the timer it is given", async () => {
    const life = run(
      { address: "127.0.0.1", port: mosquitto.port, id: "keepalive", keepalive: 1000, timer: { set: (f, ms) => setTimeout(f, ms), clear: (t) => clearTimeout(t as NodeJS.Timeout) } },
      undefined,
      (m) => m.operation === MQTTClient.PINGRESP,
    );
    assert.equal(await life.ended, undefined);
  });

  it("v5: mosquitto's limits from CONNACK are kept: Receive Maximum, Maximum Packet Size, topic aliases", async () => {
    const topic = "limits/v5";
    const subscriber = await Subscriber.connect(mosquitto.url, [topic], { protocolVersion: 5 }, 1);
    try {
      const refusals: string[] = [];
      let count = 0;
      let most = 0;
      const life = run(
        { address: "127.0.0.1", port: mosquitto.port, id: "limits", version: 5 },
        (client) => {
          try {
            // Once CONNACK has told the limit.
            if (count > 0 && refusals.length < 2) client.write(new Uint8Array(500), { topic, QoS: 1 });
          } catch (e) {
            refusals.push(String(e));
          }
          try {
            while (count < 6) {
              client.write(`m${count}`, { topic, QoS: 1 });
              count++;
              most = Math.max(most, client.inFlight.length);
            }
          } catch (e) {
            refusals.push(String(e));
          }
        },
        (m) => m.operation === MQTTClient.PUBACK && count === 6 && life.client.inFlight.length === 0,
      );
      assert.equal(await life.ended, undefined);
      const connack = life.controls.find((c) => c.operation === MQTTClient.CONNACK);
      assert.equal(connack?.properties?.receiveMaximum, 2);
      assert.equal(connack?.properties?.topicAliasMaximum, 4);
      assert.equal(most, 2, "never more in flight than the broker's Receive Maximum");
      assert.ok(refusals.some((r) => /Maximum Packet Size is 400/.test(r)), refusals.join("; "));
      // Sent under aliases after the first (the broker allows 4), they reach the subscriber with the topic.
      assert.ok(await subscriber.until(() => subscriber.messages.filter((m) => m.topic === topic).length === 6));
      assert.deepEqual(subscriber.messages.map((m) => m.payload.toString()), ["m0", "m1", "m2", "m3", "m4", "m5"]);
    } finally {
      await subscriber.end();
    }
  });
});
