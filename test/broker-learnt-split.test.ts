// A reading too large for one packet: the three-sensor example (SHT3x, BME280, battery: six
// channels) against mosquitto with `max_packet_size 256` (the Paho test broker's default) over
// MQTT 5, which announces the limit in CONNACK. One reading of six channels is larger than that in
// SenML JSON and in SenML CBOR; one channel is not. SenML records stand alone, so the reading's
// channels can go in separate messages: every channel value of every reading arrives. A reading is
// refused only when one channel alone cannot fit.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { decodePayload } from "../tools/payload-decoder";
import { repoRoot } from "./support/bundle";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";
import { Rig } from "./support/rig";

const example = JSON.parse(fs.readFileSync(path.join(repoRoot, "examples", "three-sensors.json"), "utf8")) as Record<string, unknown>;
const limit = 256;

/** Each reading's channel values as the node logged it sampled them ("name=value unit …"), in order. */
function sampledChannels(lines: string[]): Map<string, number>[] {
  return lines
    .filter((l) => /^woke \([\w-]+\); /.test(l))
    .map((l) => new Map([...l.slice(l.indexOf("; ") + 2).matchAll(/([\w-]+\/[\w-]+)=(-?[\d.]+) /g)].map((m) => [m[1]!, Number(m[2])])));
}

for (const format of ["senml-json", "senml-cbor"] as const) {
  describe(`a reading larger than mosquitto's max_packet_size (MQTT 5, ${format})`, { skip: mosquittoMissing() }, () => {
    let broker: Mosquitto;
    let rig: Rig;
    before(async () => {
      broker = await startMosquitto([`max_packet_size ${limit}`]);
      rig = await Rig.start(`learnt-split-${format}`, broker.port, { ...example, mqttVersion: 5, format });
    });
    after(async () => {
      await rig.close();
      await broker.stop();
    });

    it("sends the reading's channels in separate messages, and every value arrives", async () => {
      const log = () => `${rig.node.log()}\n--- mosquitto ---\n${broker.log()}`;
      for (let i = 0; i < 6; i++) await rig.wake();
      await rig.drain();
      const sampled = sampledChannels(rig.node.lines);
      const channels = [...sampled[0]!.keys()];
      assert.equal(channels.length, 6, `the scene: six channels per reading\n${log()}`);
      const base = `urn:dev:torpor:${rig.node.name}:`;
      /** Channel values by reading time, as the subscriber decoded them. */
      const byTime = () => {
        const readings = new Map<number, Map<string, number>>();
        for (const m of rig.subscriber.messages.filter((m) => m.topic === rig.node.telemetryTopic)) {
          for (const r of decodePayload(new Uint8Array(m.payload)).records) {
            if (r.value === undefined || !r.name.startsWith(base)) continue;
            const reading = readings.get(r.time) ?? new Map<string, number>();
            reading.set(r.name.slice(base.length), r.value);
            readings.set(r.time, reading);
          }
        }
        return [...readings.entries()].sort((a, b) => a[0] - b[0]).map(([, values]) => values);
      };
      const complete = () => byTime().filter((r) => r.size === channels.length).length;
      await rig.subscriber.until(() => complete() >= sampled.length);
      const received = byTime();
      const state = rig.state();
      assert.equal(state.counters.refused, 0, `${state.counters.refused} of ${sampled.length} readings refused, though each of their channels fits in a packet of ${limit} bytes\n${log()}`);
      const wanted = sampled.map((r) => channels.map((c) => `${c}=${r.get(c)}`).join(" "));
      const got = received.map((r) => channels.map((c) => `${c}=${r.get(c) ?? "missing"}`).join(" "));
      assert.deepEqual(got, wanted, `the subscriber did not get every channel value of every reading\n${log()}`);
    });
  });
}
