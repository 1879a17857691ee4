// The exchange's policy as the sans-IO state machine it is (`Exchange`): driven with bytes and
// instants only — no socket, no timer, no clock — against a broker made of the codec, on Node and on
// the real XS engine, which must write the same transcript.

import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import fc from "fast-check";
import { bundle, xsFixture } from "./support/bundle";
import { findXsnapWorker, XsWorker } from "./support/xsnap";
import { decodeJson, encodeJson } from "../tools/xs/json";
import { run, type ExchangeScenario } from "./fixtures/xs/exchange-ops";
import { parseConfig } from "../src/config";
import { freshState, layoutOf } from "../src/retained/state";
import { channelsOf } from "../src/sensors/registry";
import { encode, PacketReader } from "../src/mqtt/codec";
import type { Instant } from "../src/host";
import { Exchange } from "../src/uplink/exchange";

const scenarios: Record<string, ExchangeScenario> = {
  backlog: { version: 5, readings: 6, receiveMaximum: 2, untilMs: 60_000 },
  silent: { version: 4, readings: 1, silent: true, untilMs: 60_000 },
  awake: { version: 5, readings: 1, serverKeepAlive: 4, commands: ['{"cmd":"awake","seconds":20,"id":"a"}'], untilMs: 120_000 },
};

describe("the exchange without IO", () => {
  it("keeps a backlog within the broker's Receive Maximum and settles when the last is answered", () => {
    const t = run(scenarios.backlog!);
    assert.equal(t.maxUnanswered, 2);
    assert.equal(t.outcome.error, undefined, t.log.join("\n"));
    assert.equal(t.outcome.delivered, 6);
    assert.equal(t.buffered, 0);
    assert.deepEqual(t.sent.slice(0, 3), ["connect", "publish telemetry", "publish telemetry"], "two pipelined, the rest as room frees");
    // The status is larger than anything the broker took before: a PINGREQ behind it shows the
    // broker read past it before the node says goodbye.
    assert.deepEqual(t.sent.slice(-3), ["publish status", "pingreq", "disconnect"]);
  });

  it("gives up at its deadline when the broker says nothing, and keeps the reading", () => {
    const t = run(scenarios.silent!);
    assert.equal(t.outcome.error, "no answer within 10 s");
    assert.equal(t.settledAtMs, 10_000);
    assert.equal(t.buffered, 1);
    assert.equal(t.delivered, 0);
  });

  it("stays for an awake command, pinging within the broker's Server Keep Alive", () => {
    const t = run(scenarios.awake!);
    assert.equal(t.outcome.error, undefined, t.log.join("\n"));
    assert.deepEqual(t.outcome.commands, ["a: ok"]);
    // 20 s awake under a 4 s keepalive (a ping 1 s before each lapse): one every 3 s.
    assert.ok(t.settledAtMs! >= 20_000 && t.settledAtMs! < 21_000, `settled at ${t.settledAtMs}`);
    assert.ok(t.pings >= 6 && t.pings <= 7, `${t.pings} pings`);
  });
});

/** Wakes whose queued commands are anything at all: hostile JSON, junk, huge values, deep nesting. */
const hostile = fc.sample(
  fc.array(
    fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 60 }),
      fc.record({ cmd: fc.constantFrom("set", "awake", "reset", "status", "__proto__"), seconds: fc.integer({ min: -5, max: 700 }), sampleInterval: fc.oneof(fc.integer(), fc.string()), id: fc.string({ maxLength: 40 }) }, { requiredKeys: ["cmd"] }).map((c) => JSON.stringify(c)),
      fc.integer({ min: 1, max: 2000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
    ),
    { minLength: 1, maxLength: 12 },
  ),
  { numRuns: 40, seed: 11 },
).map((commands): ExchangeScenario => ({ version: 5, readings: 2, commands, untilMs: 2_000_000 }));

/** An MQTT 5 exchange of a deep-sleep wake whose deadline is at 10 s. */
const exchange = () => {
  const config = parseConfig({ node: "x", mqttVersion: 5 });
  const channels = channelsOf(config.sensors);
  const state = freshState(channels.length, 3000, layoutOf(channels), 0, config.sensors.length);
  return new Exchange({ config, channels, state, commit: () => {}, log: () => {}, node: "x", hostName: "test", version: 5, persistent: false, deadline: 10_000 });
};

const at = (ticks: number): Instant => ({ ticks, wall: 0 });

describe("an exchange whose socket never came up", () => {
  it("is due at its deadline (the network gets that long to come up) and settles when the connection fails", () => {
    const x = exchange();
    assert.equal(x.phase, "idle");
    assert.equal(x.wakeAt, 10_000);
    x.lost(new Error("connection refused"), at(1));
    assert.match(x.settle()?.error ?? "", /failed: connection refused$/);
    assert.equal(x.closed, true);
  });

  it("settles at its deadline", () => {
    const x = exchange();
    x.tick(at(10_000));
    assert.equal(x.settle()?.cause, "deadline");
  });
});

describe("a closing exchange's last packets", () => {
  /** An exchange that connected and closed with nothing written since it started. */
  const closing = () => {
    const x = exchange();
    x.start(at(0));
    x.receive(encode({ type: "connack", sessionPresent: false, reasonCode: 0 }, 5), at(1));
    x.close(at(2));
    // A status larger than the broker has taken waits for a PINGRESP behind it.
    if (x.phase === "confirming") x.receive(encode({ type: "pingresp" }, 5), at(3));
    assert.equal(x.closed, true);
    assert.equal(x.writing, true);
    return x;
  };

  it("come out in pieces no larger than the room, DISCONNECT last", () => {
    const x = closing();
    const reader = new PacketReader(5);
    const types: string[] = [];
    for (let piece = x.takeOutput(7, at(4)); piece; piece = x.takeOutput(7, at(4))) {
      assert.ok(piece.length <= 7, `a piece of ${piece.length} bytes`);
      reader.push(piece);
      for (let p = reader.next(); p; p = reader.next()) types.push(p.type);
    }
    assert.deepEqual(types.slice(0, 1), ["connect"]);
    assert.deepEqual(types.slice(-1), ["disconnect"]);
    assert.equal(x.writing, false);
    assert.equal(x.wakeAt, undefined);
  });

  it("keep the connection until the deadline, then are dropped", () => {
    const x = closing();
    assert.equal(x.wakeAt, 10_000);
    x.tick(at(9_999));
    assert.equal(x.writing, true);
    x.tick(at(10_000));
    assert.equal(x.writing, false);
    assert.equal(x.wakeAt, undefined);
  });

  it("are dropped when the connection goes", () => {
    const x = closing();
    x.lost(new Error("connection reset"), at(5));
    assert.equal(x.writing, false);
  });
});

describe("hostile commands in the exchange", () => {
  it("never throw, end the exchange in order, and each is answered once", () => {
    for (const scenario of hostile) {
      const t = run(scenario);
      assert.equal(t.outcome.error, undefined, t.log.join("\n"));
      assert.equal(t.delivered, 2);
      assert.equal(t.log.filter((l) => l.startsWith("command ")).length, scenario.commands!.filter((c) => !/^\{"sync":"/.test(c)).length, t.log.join("\n"));
      assert.deepEqual(t.sent.slice(-1), ["disconnect"]);
    }
  });
});

describe("the exchange on XS", () => {
  const available = findXsnapWorker() !== undefined;
  it("writes the same transcripts as on Node, hostile commands included", async (t: TestContext) => {
    if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
    const worker = await XsWorker.start({ meteringLimit: 0 });
    try {
      await worker.evaluate(bundle(xsFixture("exchange.entry.ts")));
      for (const scenario of [...Object.values(scenarios), ...hostile]) {
        const { result } = await worker.call(scenario);
        assert.deepEqual(result, decodeJson(encodeJson(run(scenario))));
      }
    } finally {
      await worker.close();
    }
  });
});
