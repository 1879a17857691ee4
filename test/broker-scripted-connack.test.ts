// What a CONNACK says, and what counts before it, against a scripted broker (no real broker does
// these on demand). Nothing counts as delivered before an accepting CONNACK, not even a PUBACK that
// came first; readings sent at QoS 0 count only after an accepting CONNACK and a clean close; a
// refusing CONNACK that names what the broker accepts (0x9B with Maximum QoS, 0x9A with Retain
// Available) is followed, within the same wake, by a CONNECT the broker takes; and a broker that
// closes an MQTT 5 CONNECT without a word, twice in a row, gets 3.1.1 — but once is only a lost
// connection. Each checks that every reading reaches a subscriber on that broker, or is counted.

import assert from "node:assert/strict";
import type { IConnectPacket } from "mqtt-packet";
import { after, before, describe, it } from "node:test";
import { connack, startScriptedBroker, type Script, type ScriptedBroker } from "./support/scripted-broker";
import { Rig } from "./support/rig";

describe("a scripted broker's CONNACK", { concurrency: true }, () => {
  let broker: ScriptedBroker;
  const rigs = new Map<string, Rig>();
  /** Scripts by the node's client id: the subscriber's connections get the well-behaved broker. */
  const scripts = new Map<string, Script>();
  before(async () => {
    broker = await startScriptedBroker((packet, c) => scripts.get(c.clientId ?? "")?.(packet, c) ?? false);
  });
  after(async () => {
    for (const rig of rigs.values()) await rig.close();
    await broker.close();
  });
  const rig = async (name: string, config: Record<string, unknown>, script: Script) => {
    const r = await Rig.start(name, broker.port, config);
    rigs.set(name, r);
    scripts.set(r.clientId, script);
    return r;
  };

  for (const version of [5, 4] as const) {
    it(`counts nothing delivered on PUBACKs that come before a refusing CONNACK (MQTT ${version === 5 ? "5" : "3.1.1"})`, async () => {
      const r = await rig(`early-ack-${version}`, { mqttVersion: version }, (packet, c) => {
        if (c.nth > 1) return false;
        // The first connection: the telemetry acknowledged at once, then the connection refused
        // (not authorized: MQTT 5 0x87, 3.1.1 return code 5).
        if (packet.cmd === "publish" && packet.qos > 0) {
          c.send({ cmd: "puback", messageId: packet.messageId! });
          c.send(connack(c, version === 5 ? 0x87 : 5));
          c.end();
        }
        return true;
      });
      const refused = await r.wake();
      // A refusal, or the order broken before it (an acknowledgement before any CONNACK): either way
      // the wake failed and the broker never took the message.
      assert.match(refused.error ?? "", /refused|before an accepting CONNACK/, r.node.log());
      const state = r.state();
      assert.equal(state.counters.delivered, 0, `a PUBACK before the CONNACK counted\n${r.node.log()}`);
      assert.equal(state.buffer.length, 1, `the reading must still be kept\n${r.node.log()}`);
      await r.drain();
      assert.equal((await r.assertAccounted({ drained: true })).counters.refused, 0);
    });
  }

  it("counts QoS 0 readings only once a connection was accepted and closed cleanly (MQTT 5, Maximum QoS 0)", async () => {
    const r = await rig("qos0-cut", { mqttVersion: 5 }, (packet, c) => {
      if (c.nth === 2) {
        // The second connection is lost before any CONNACK, after the node sent its readings.
        if (packet.cmd === "publish") c.end();
        return true;
      }
      if (packet.cmd !== "connect") return false;
      c.send(connack(c, 0, { maximumQoS: 0 }));
      return true;
    });
    assert.equal((await r.wake()).error, undefined, r.node.log());
    assert.ok((await r.wake()).error, r.node.log());
    await r.drain();
    assert.equal((await r.assertAccounted({ drained: true })).counters.refused, 0);
  });

  const refusals = [
    { code: 0x9b, says: { maximumQoS: 0 }, what: "QoS not supported", takes: (p: { qos: number; retain: boolean }) => p.qos === 0 },
    { code: 0x9a, says: { retainAvailable: false }, what: "Retain not supported", takes: (p: { qos: number; retain: boolean }) => !p.retain },
  ];
  for (const { code, says, what, takes } of refusals) {
    it(`connects again in the same wake after CONNACK 0x${code.toString(16)} (${what}) naming what the broker takes`, async () => {
      const r = await rig(`refused-${code.toString(16)}`, { mqttVersion: 5 }, (packet, c) => {
        if (packet.cmd === "connect") {
          const will = (packet as IConnectPacket).will;
          const ok = !will || takes({ qos: will.qos ?? 0, retain: will.retain ?? false });
          c.send(connack(c, ok ? 0 : code, says));
          if (!ok) c.end();
          return true;
        }
        if (packet.cmd === "publish" && !takes(packet)) {
          // As mosquitto does with a PUBLISH it does not take: DISCONNECT with the same reason.
          c.send({ cmd: "disconnect", reasonCode: code });
          c.end();
          return true;
        }
        return false;
      });
      const first = await r.wake();
      assert.equal(first.error, undefined, r.node.log());
      assert.equal(first.delivered, 1, r.node.log());
      assert.equal((await r.connections()).length, 2, `one refused connection, then one the broker took\n${r.node.log()}`);
      await r.drain();
      assert.equal((await r.assertAccounted({ drained: true })).counters.refused, 0);
    });
  }

  /** Wakes until a wake delivered (at most `wakes`); returns the protocol level of each connection. */
  const levelsUntilDelivered = async (r: Rig, wakes = 8): Promise<number[]> => {
    for (let i = 0; i < wakes && !r.node.reports.some((w) => w.delivered > 0); i++) await r.wake();
    return broker.connections.filter((c) => c.clientId === r.clientId).map((c) => c.version!);
  };

  it("falls back to MQTT 3.1.1 after two MQTT 5 CONNECTs closed without CONNACK", async () => {
    const r = await rig("closes-v5", { mqttVersion: 5 }, (packet, c) => {
      if (packet.cmd !== "connect" || c.version !== 5) return false;
      c.end();
      return true;
    });
    const levels = await levelsUntilDelivered(r);
    assert.deepEqual(levels.slice(0, 3), [5, 5, 4], `CONNECT levels ${levels.join(" ")}\n${r.node.log()}`);
    await r.drain();
    assert.equal((await r.assertAccounted({ drained: true })).counters.refused, 0);
  });

  it("stays on MQTT 5 when one CONNECT was closed without CONNACK and the next was taken", async () => {
    const r = await rig("closes-v5-once", { mqttVersion: 5 }, (packet, c) => {
      if (packet.cmd !== "connect" || c.nth > 1) return false;
      c.end();
      return true;
    });
    const levels = await levelsUntilDelivered(r);
    await r.drain();
    assert.deepEqual([...new Set(levels)], [5], `CONNECT levels ${levels.join(" ")}\n${r.node.log()}`);
    await r.assertAccounted({ drained: true });
  });
});
