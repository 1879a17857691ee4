// One scenario for two ECMA-419 MQTT clients (bench/mqtt-client-sdk.ts): the manifest of each app
// maps "bench/mqtt-client" to the SDK's mqttclient or to torpor's. The same code drives both: a node
// wakes, writes three QoS 1 messages as soon as the client offers room, and sleeps at once; the
// bench cuts that first connection right after CONNACK, as a radio lost mid-publish. On the next
// wake it writes a fourth and stays until the broker has acknowledged what the client sent.

import MQTTClient from "bench/mqtt-client";
import TCP from "embedded:io/socket/tcp";
import UDP from "embedded:io/socket/udp";
import Resolver from "embedded:network/dns/resolver/udp";
import Timer from "timer";
import config from "mc/config";

const [, host, port] = /^mqtt:\/\/([^:/]+):(\d+)/.exec(config.broker);
const topic = "bench/mqtt-client/out";

function life(n, messages) {
	let wrote = false;
	new MQTTClient({
		host,
		port: Number(port),
		id: "bench-client",
		clean: false,
		socket: { io: TCP },
		dns: { io: Resolver, servers: ["127.0.0.1"], socket: { io: UDP } },
		onWritable() {
			if (wrote) return;
			wrote = true;
			for (const m of messages) this.write(ArrayBuffer.fromString(m), { topic, QoS: 1 });
			if (n === 1) {
				trace("life 1: written, sleeping\n");
				this.close();
				Timer.set(() => life(2, ["m4"]), 1000);
			}
		},
		onControl(message) {
			if (n !== 2 || message.operation !== MQTTClient.PUBACK) return;
			// torpor's client says what is still in flight; the SDK's tracks nothing after the write.
			if (this.inFlight === undefined || this.inFlight.length === 0) {
				this.write(null, { operation: MQTTClient.DISCONNECT });
				this.close();
				trace("life 2: done\n");
			}
		},
		onError() {
			trace(`life ${n}: connection lost\n`);
		},
	});
}

life(1, ["m1", "m2", "m3"]);
