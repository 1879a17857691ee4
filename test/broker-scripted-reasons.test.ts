// A negative acknowledgement (MQTT 5 PUBACK or PUBREC with a reason code ≥ 0x80) decides what
// becomes of the readings it answers, by what the code means: "later" (0x97 Quota exceeded; 0x93
// and 0x89, which the spec gives to other packets; a code nobody defined) keeps them for the next
// wake; "never" (0x87 Not authorized, 0x99 Payload format invalid) releases them, counted in
// `refused`. 0x95 (Packet too large) on a PUBACK is what mosquitto sends for a message over its
// `message_size_limit`: either class is defensible, as long as it is a class. A code outside the
// spec's table is the broker's answer, not a broken stream: the wake goes on, status and DISCONNECT
// included. A scripted broker answers the node's first telemetry message with the code; the rest
// of the time it is well-behaved, and a subscriber on it must see every reading that is not counted.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ackBytes, startScriptedBroker, type Script, type ScriptedBroker } from "./support/scripted-broker";
import { Rig } from "./support/rig";

const cases: { code: number; qos: 1 | 2; fate: "kept" | "refused" | "either" }[] = [
  { code: 0x97, qos: 1, fate: "kept" },
  { code: 0x97, qos: 2, fate: "kept" },
  { code: 0x93, qos: 1, fate: "kept" },
  { code: 0x89, qos: 1, fate: "kept" },
  { code: 0xa5, qos: 1, fate: "kept" },
  { code: 0x87, qos: 1, fate: "refused" },
  { code: 0x87, qos: 2, fate: "refused" },
  { code: 0x99, qos: 1, fate: "refused" },
  { code: 0x95, qos: 1, fate: "either" },
];

describe("negative acknowledgements from a scripted broker (MQTT 5)", { concurrency: true }, () => {
  let broker: ScriptedBroker;
  const rigs: Rig[] = [];
  const scripts = new Map<string, Script>();
  before(async () => {
    broker = await startScriptedBroker((packet, c) => scripts.get(c.clientId ?? "")?.(packet, c) ?? false);
  });
  after(async () => {
    for (const rig of rigs) await rig.close();
    await broker.close();
  });

  for (const { code, qos, fate } of cases) {
    const hex = `0x${code.toString(16)}`;
    it(`${fate === "either" ? "keeps or refuses" : fate === "kept" ? "keeps" : "refuses and counts"} a batch answered ${qos === 1 ? "PUBACK" : "PUBREC"} ${hex}`, async () => {
      const rig = await Rig.start(`nack-${code.toString(16)}-${qos}`, broker.port, { mqttVersion: 5, qos });
      rigs.push(rig);
      let answered = false;
      scripts.set(rig.clientId, (packet, c) => {
        if (answered || packet.cmd !== "publish" || packet.topic !== rig.node.telemetryTopic) return false;
        answered = true;
        c.sendRaw(ackBytes(qos === 1 ? "puback" : "pubrec", packet.messageId!, code));
        return true;
      });
      const log = () => rig.node.log();
      await rig.wake();
      assert.doesNotMatch(log(), /protocol error/, `${hex} is an answer, not a protocol error`);
      const connection = broker.connections.find((c) => c.clientId === rig.clientId)!;
      await rig.connections();
      assert.ok(connection.received.some((p) => p.cmd === "disconnect"), `the wake ended its exchange normally (status, DISCONNECT)\n${log()}`);

      const state = rig.state();
      if (fate === "kept") {
        assert.equal(state.counters.refused, 0, log());
        assert.equal(state.buffer.length, 1, `the reading is kept for the next wake\n${log()}`);
      }
      if (fate === "refused") {
        assert.equal(state.counters.refused, 1, `the reading is counted as refused\n${log()}`);
        assert.equal(state.buffer.length, 0, `and released\n${log()}`);
      }
      await rig.drain();
      const end = await rig.assertAccounted({ drained: true });
      if (fate === "kept") assert.equal(end.counters.refused, 0, log());
    });
  }
});
