// Runs one simulated node through tools/start (one process per wake) against a broker until it has
// had `cycles` publishes acknowledged, with an MQTT.js subscriber — not part of torpor — recording
// what it received on the node's telemetry topic.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { connectAsync } from "mqtt";
import { resolveSenml, type ResolvedRecord } from "../../tools/senml";
import { start } from "../../tools/start";

export interface SimulatedRun {
  /** Every SenML record the subscriber received, resolved. */
  received: ResolvedRecord[];
  /** The runner's output: the node's log lines and the decoded telemetry. */
  lines: string[];
}

export async function runSimulatedNode(url: string, config: Record<string, unknown>, cycles = 3): Promise<SimulatedRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-node-"));
  const configFile = path.join(dir, "config.json");
  fs.writeFileSync(configFile, JSON.stringify(config));
  const received: ResolvedRecord[] = [];
  const subscriber = await connectAsync(url, { clean: true });
  subscriber.on("message", (_topic, payload) => received.push(...resolveSenml(JSON.parse(payload.toString("utf8")))));
  await subscriber.subscribeAsync("torpor/node-1/telemetry", { qos: 1 });
  const lines: string[] = [];
  try {
    await start({ broker: url, nodes: 1, cycles, timeScale: 600, state: dir, config: configFile }, (line) => lines.push(line));
    // Let the last batch reach the subscriber.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await subscriber.endAsync();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { received, lines };
}

/** What the nodes of `npm start` sampled, from their own "woke" lines: "<node> <channel>" → the
 *  values in the order sampled (the default SHT3x node's two channels). */
export function sampledFromLog(lines: readonly string[]): Map<string, number[]> {
  const sampled = new Map<string, number[]>();
  for (const l of lines) {
    const m = /^\[(node-\d+)\] \S+ woke \([\w-]+\); sht3x\/temperature=(-?[\d.]+) Cel sht3x\/humidity=([\d.]+) %RH/.exec(l);
    if (!m) continue;
    for (const [channel, value] of [["sht3x/temperature", m[2]], ["sht3x/humidity", m[3]]] as const) {
      const key = `${m[1]} ${channel}`;
      sampled.set(key, [...(sampled.get(key) ?? []), Number(value)]);
    }
  }
  return sampled;
}
