// A simulated fleet watched by the dashboard, in this process: an embedded broker, `npm start`'s
// fleet of `nodes` nodes (examples/three-sensors.json, time scale max, a power-on reading and two
// batches of four each), the monitor's own
// decoding into a FleetState, and the dashboard serving it on a free port. The dashboard's clock is
// held at the moment the fleet finished, so what the page shows does not age while a test or a
// benchmark looks at it (a node of a stopped fleet goes overdue). Used by test/dashboard-fleet.test.ts and bench/dashboard.ts.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { startEmbeddedBroker } from "../../tools/broker";
import { serveDashboard, type Dashboard } from "../../tools/monitor/dashboard";
import { TelemetryMonitor } from "../../tools/monitor/events";
import { FleetState } from "../../tools/monitor/state";
import { start } from "../../tools/start";
import { until } from "./until";

export interface WatchedFleet {
  fleet: FleetState;
  dashboard: Dashboard;
  /** Publishes on the broker and waits until the monitor has booked it. */
  publish(topic: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

export async function watchFleet(nodes: number): Promise<WatchedFleet> {
  const broker = await startEmbeddedBroker();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-fleet-dashboard-"));
  let client: MqttClient | undefined;
  let dashboard: Dashboard | undefined;
  const close = async () => {
    await dashboard?.close();
    await client?.endAsync();
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const monitor = new TelemetryMonitor();
    const fleet = new FleetState();
    let messages = 0;
    client = await connectAsync(broker.url, { clean: true });
    client.on("message", (topic, payload, packet) => {
      const at = Date.now() / 1000;
      for (const event of monitor.handle(topic, payload, packet.properties?.contentType)) fleet.apply(event, at);
      messages++;
    });
    await client.subscribeAsync(monitor.subscriptions, { qos: 1 });
    const config = path.join(dir, "config.json");
    const example = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "..", "examples", "three-sensors.json"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(config, JSON.stringify({ ...example, batchSize: 4 }));
    await start({ broker: broker.url, nodes, cycles: 3, timeScale: "max", config }, () => undefined);
    await until(`telemetry from all ${nodes} nodes`, () => fleet.nodes.size === nodes && [...fleet.nodes.values()].every((n) => n.telemetryAt !== undefined), 60_000);
    // And the broker's backlog to the monitor drained: nothing more for a moment.
    for (let seen = -1; seen !== messages; ) {
      seen = messages;
      await new Promise((r) => setTimeout(r, 500));
    }
    const frozen = Date.now() / 1000;
    dashboard = await serveDashboard(fleet, 0, () => frozen);
    const watcher = client;
    return {
      fleet,
      dashboard,
      publish: async (topic, payload) => {
        const before = messages;
        await watcher.publishAsync(topic, payload, { qos: 1 });
        await until(`${topic} at the monitor`, () => messages > before, 10_000);
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
