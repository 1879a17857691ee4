// A fleet on a real distributed broker: a three-member RabbitMQ cluster (Debian's rabbitmq-server
// 3.10, MQTT plugin: MQTT 3.1.1 only, so the nodes use mqttVersion 4). The nodes are given every
// member and publish through the first; an independent MQTT.js subscriber with a persistent session
// (clean: false, QoS 1) reads from the third. Midway the first member is stopped; the nodes fail
// over to the next member within their wake, and the subscriber ends with every reading, none lost
// (duplicates would be allowed, and are counted).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectAsync, type MqttClient } from "mqtt";
import { layeredConfig, manifestConfig } from "../hosts/node/config-file";
import { runFleet } from "../hosts/node/fleet";
import { ReadingCounter } from "../tools/start";
import { rabbitmqMissing, startRabbitMQ, type RabbitMQ } from "./support/rabbitmq";

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
/** The first member stops here, in simulated time: after the nodes' second batch. */
const STOP_AT = T0 + 5 * 60_000;

// Bounded: a wake that never settles would otherwise hold the fleet's simulated time for ever.
describe("a fleet on a three-member RabbitMQ cluster", { skip: rabbitmqMissing(), timeout: 240_000 }, () => {
  let cluster: RabbitMQ;
  let subscriber: MqttClient | undefined;
  // A persistent session is a queue. A classic queue lives on the member the client first used and
  // is gone while that member is: the client's next CONNECT to another member fails. Quorum queues
  // are replicated on every member (3.10 takes them for MQTT sessions: docs/fleet.md).
  before(async () => (cluster = await startRabbitMQ(3, ["mqtt.durable_queue_type = quorum"])));
  after(async () => {
    await subscriber?.endAsync(true);
    await cluster?.stop();
  });

  it("fails over when the member it publishes through stops, and the subscriber on another member gets every reading", async () => {
    const [first, second, third] = cluster.members;
    const { config } = layeredConfig(manifestConfig(), { broker: [first!.url, second!.url, third!.url].join(","), mqttVersion: 4, batchSize: 2, awakeTimeout: 10 });
    const counter = new ReadingCounter(config);
    subscriber = await connectAsync(third!.url, { protocolVersion: 4, clean: false, clientId: "cluster-watcher", reconnectPeriod: 500 });
    subscriber.on("message", (topic, payload) => counter.handle(topic, payload));
    await subscriber.subscribeAsync("torpor/+/telemetry", { qos: 1 });

    let stopped: Promise<void> | undefined;
    let firstDown = false;
    const lines: string[] = [];
    const names = Array.from({ length: 30 }, (_, i) => `member-test-${i + 1}`);
    const result = await runFleet({
      names,
      config,
      scale: "max",
      startMs: T0,
      cycles: 6,
      // Bounded, whatever happens: twelve wakes make six batches; an hour is five times that.
      untilMs: T0 + 3_600_000,
      concurrency: 30,
      beforeWake: (_i, due) => {
        if (due < STOP_AT) return;
        stopped ??= first!.stop().then(() => void (firstDown = true));
        return stopped;
      },
      log: (i, line, now) => {
        if (lines.length < 200 && /failed|refused|lost|error/.test(line)) lines.push(`${names[i]} ${new Date(now).toISOString()} ${line}`);
      },
    });
    const why = () => `${lines.slice(0, 30).join("\n")}\n--- second member ---\n${second!.log().slice(-3000)}`;
    assert.ok(firstDown, "the first member was stopped mid-run");
    assert.ok(result.simulatedMs > STOP_AT - T0, "the nodes went on after it stopped");
    assert.equal(result.buffered, 0, why());
    assert.equal(result.sampled, result.delivered, why());
    // The failover happens within the wake: no wake that met the stopped member failed for it.
    assert.equal(result.failures, 0, why());
    for (let i = 0; i < 200 && counter.readings < result.sampled; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(counter.readings, result.sampled, `every reading at the subscriber (${counter.duplicates} duplicate values)\n${why()}`);
    assert.equal(counter.errors, 0);
  });
});
