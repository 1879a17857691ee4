// mosquitto with `max_keepalive 10`, a node in always-connected mode that samples every 7 s and
// publishes every third sample. The node asks for a keepalive of 28 s (a publish period and a
// sampling interval: the batches keep the connection alive); an MQTT 5 broker answers with Server
// Keep Alive 10 and drops a client silent for 1.5 × that (MQTT-3.2.2-21: the client must use the
// server's value). The 21 s between two batches outlast it (mosquitto's check is coarse: it
// drops such a client 15-17 s after its last packet), so a node that ignores the broker's value
// is dropped between batches, every time. Over 3.1.1 mosquitto takes the client's value, so there
// the node must simply go on as it does. Real time (scale 1): a keepalive is a real-time contract.

import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { runConnected } from "../src/app";
import { createNodeHost } from "../hosts/node/host";
import { layeredConfig, manifestConfig, readConfigFile } from "../hosts/node/config-file";
import { SyntheticEnvironment } from "../hosts/virtual/environment";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { PacketType } from "./support/proxy";
import { Rig } from "./support/rig";

describe("mosquitto max_keepalive 10, always connected", { skip: mosquittoMissing(), concurrency: true }, () => {
  let broker: Mosquitto;
  const rigs: Rig[] = [];
  before(async () => (broker = await startMosquitto(["max_keepalive 10"])));
  after(async () => {
    for (const rig of rigs) await rig.close();
    await broker.stop();
  });

  for (const version of [5, 4] as const) {
    it(`keeps one connection across quiet batches (MQTT ${version === 5 ? "5" : "3.1.1"})`, async () => {
      const rig = await Rig.start(`keepalive-${version}`, broker.port, { mqttVersion: version, sampleInterval: 7, batchSize: 3 }, { subscriberOptions: { keepalive: 5 } });
      rigs.push(rig);
      // Two readings buffered in deep sleep first, so the first connected cycle fills a batch and
      // connects at once.
      for (let i = 0; i < 5; i++) {
        await rig.wake();
        if (rig.state().buffer.length >= 2) break;
      }
      assert.equal(rig.state().buffer.length, 2, rig.node.log());
      const before = (await rig.connections()).length;
      rig.node.configure({ mode: "always-connected" });

      const { config, raw } = layeredConfig(manifestConfig(), readConfigFile(rig.node.configFile));
      const host = createNodeHost({ stateDir: path.join(rig.node.dir, "state"), timeScale: 1, config, sim: raw.sim, environment: new SyntheticEnvironment(1), log: (line) => rig.node.lines.push(line) });
      let cycles = 0;
      try {
        // Cycle 1 publishes, 2 and 3 only sample, 4 publishes: 21 s after the first batch.
        await runConnected(host, config, () => ++cycles < 4);
      } finally {
        host.close();
      }

      const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
      const connections = (await rig.connections()).slice(before);
      assert.ok(!rig.node.lines.some((l) => l.startsWith("connection lost")), `the broker dropped the node\n${log()}`);
      assert.equal(connections.length, 1, `one connection for the whole run\n${log()}`);
      assert.ok(!connections[0]!.down.frames.some((f) => f.type === PacketType.DISCONNECT), log());
      await rig.assertAccounted({ drained: true });
    });
  }
});
