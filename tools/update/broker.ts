// The update tool's two conversations with the broker: publishing an offer, reading the statuses.

import { nodeUpdate, type NodeUpdate } from "./status";

/** How long status listens for retained statuses after the last one came (and at most in all). */
const STATUS_QUIET_MS = 1000;
const STATUS_MAX_MS = 10_000;

/** Publishes retained at QoS 1, in order, and waits for every acknowledgement. */
export async function publish(broker: string, messages: { topic: string; payload: Buffer }[]): Promise<void> {
  const mqtt = await import("mqtt");
  const client = await mqtt.connectAsync(broker, { clean: true, reconnectPeriod: 0, connectTimeout: 10_000 });
  try {
    for (const m of messages) await client.publishAsync(m.topic, m.payload, { qos: 1, retain: true });
  } finally {
    await client.endAsync();
  }
}

/** The retained statuses under `prefix`, read until none has come for a moment. */
export async function statuses(broker: string, prefix: string): Promise<NodeUpdate[]> {
  const mqtt = await import("mqtt");
  const client = await mqtt.connectAsync(broker, { clean: true, reconnectPeriod: 0, connectTimeout: 10_000 });
  const rows = new Map<string, NodeUpdate>();
  try {
    await new Promise<void>((resolve, reject) => {
      let quiet: NodeJS.Timeout | undefined;
      const all = setTimeout(done, STATUS_MAX_MS);
      function done() {
        clearTimeout(all);
        clearTimeout(quiet);
        resolve();
      }
      const rearm = () => {
        clearTimeout(quiet);
        quiet = setTimeout(done, STATUS_QUIET_MS);
      };
      client.on("message", (topic, payload) => {
        const node = topic.slice(prefix.length + 1, -"/status".length);
        const row = nodeUpdate(node, payload);
        if (row) rows.set(node, row);
        rearm();
      });
      client.subscribeAsync(`${prefix}/+/status`, { qos: 1 }).then(rearm, (e: Error) => {
        done();
        reject(e);
      });
    });
  } finally {
    await client.endAsync();
  }
  return [...rows.values()];
}

