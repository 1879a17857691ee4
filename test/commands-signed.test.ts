// Signed commands (docs/security.md) against a real mosquitto: with a `commandKey`, a node acts only
// on an envelope signed for it under its key (or the rotation's next key) whose counter is above
// every one it accepted; everything else — unsigned, forged, altered, for another node, replayed,
// reordered below the counter, truncated — is refused in its status and counted, and the counter
// outlives a killed wake and a lost retained memory (its own flash key). `npm run command` signs,
// numbers, publishes and reports the node's answer.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { connectAsync, type MqttClient } from "mqtt";
import { nodeCrypto } from "../hosts/node/host";
import { parseConfig } from "../src/config";
import { utf8Encode } from "../src/encoding/utf8";
import { openCommand, sealCommand } from "../src/uplink/signed-command";
import { dedupe, retainedJson, Subscriber, TestNode } from "./support/e2e-node";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";

const KEY = "correct horse battery staple 42";
const NEXT = "the rotation's next key, 32 chars";
const commandLines = (lines: readonly string[]) => lines.filter((l) => l.startsWith("command "));
/** Commands a wake acknowledged unread, past its bounds: the node says how many. */
const countDropped = (lines: readonly string[]) => lines.reduce((n, l) => n + Number(/^dropped (\d+) commands past this wake's bounds$/.exec(l)?.[1] ?? 0), 0);
const seal = (node: string, counter: number, command: object, key = KEY) => Buffer.from(sealCommand(nodeCrypto, key, node, counter, utf8Encode(JSON.stringify(command))));

describe("signed command envelopes", () => {
  const body = utf8Encode('{"cmd":"status","id":"s"}');
  const envelope = sealCommand(nodeCrypto, KEY, "n1", 1733500000000, body);

  it("opens a genuine envelope under either key, once, and for its node only", () => {
    assert.deepEqual(openCommand(nodeCrypto, [KEY], "n1", envelope, 0), { command: body, counter: 1733500000000 });
    assert.deepEqual(openCommand(nodeCrypto, [NEXT, KEY], "n1", envelope, 1733499999999), { command: body, counter: 1733500000000 });
    assert.deepEqual(openCommand(nodeCrypto, [KEY], "n1", envelope, 1733500000000), { refused: "replayed (counter 1733500000000, accepted up to 1733500000000)" });
    assert.deepEqual(openCommand(nodeCrypto, [KEY], "n2", envelope, 0), { refused: "wrong signature" });
    assert.deepEqual(openCommand(nodeCrypto, [NEXT], "n1", envelope, 0), { refused: "wrong signature" });
  });

  it("refuses a signature line of bytes that are not text", () => {
    assert.deepEqual(openCommand(nodeCrypto, [KEY], "n1", Buffer.from([0x74, 0x6f, 0xc3, 0x28, 0x0a, 0x7b, 0x7d]), 0), { refused: "unsigned" });
  });

  it("refuses every cut and every changed byte", () => {
    for (let cut = 0; cut < envelope.length; cut++) assert.ok("refused" in openCommand(nodeCrypto, [KEY], "n1", envelope.subarray(0, cut), 0), `cut at ${cut}`);
    for (let at = 0; at < envelope.length; at++) {
      const changed = envelope.slice();
      changed[at]! ^= 0x01;
      assert.ok("refused" in openCommand(nodeCrypto, [KEY], "n1", changed, 0), `byte ${at} changed`);
    }
  });

  it("keys are checked for length and never echoed", () => {
    assert.throws(() => parseConfig({ commandKey: "short secret" }), (e: Error) => e.message === "config commandKey: is 12 bytes of UTF-8; a key takes 16..64 (docs/security.md: 32 random characters)");
    assert.throws(() => parseConfig({ commandKey: ["a secret in a list"] }), (e: Error) => e.message === "config commandKey: expected a string, got a list");
    assert.throws(() => parseConfig({ commandKeyNext: NEXT }), /config commandKeyNext: needs a commandKey/);
  });
});

describe("signed commands at a sleeping node (mosquitto)", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let operator: MqttClient;
  let subscriber: Subscriber;
  before(async () => {
    broker = await startMosquitto();
    operator = await connectAsync(broker.url);
    subscriber = await Subscriber.connect(broker.url, ["torpor/+/telemetry"]);
  });
  after(async () => {
    await operator.endAsync();
    await subscriber.end();
    await broker.stop();
  });

  async function sleepingNode(name: string, config: Record<string, unknown> = {}): Promise<TestNode> {
    const node = new TestNode(name, { broker: broker.url, commandKey: KEY, ...config });
    const first = await node.wake();
    assert.equal(first.error, undefined, node.log());
    return node;
  }
  const send = (node: TestNode, payload: string | Buffer) => operator.publishAsync(node.commandTopic, payload, { qos: 1 });

  it("acts only on genuine, fresh envelopes and refuses the rest in its status", async () => {
    const node = await sleepingNode("signed", { commandKeyNext: NEXT });
    try {
      const genuine = seal(node.name, 5000, { cmd: "set", sampleInterval: 30, id: "g" });
      const altered = Buffer.from(genuine.toString("latin1").replace('"sampleInterval":30', '"sampleInterval":10'), "latin1");
      await send(node, genuine);
      await send(node, JSON.stringify({ cmd: "set", sampleInterval: 20, id: "unsigned" }));
      await send(node, seal(node.name, 6000, { cmd: "reset", id: "forged" }, "a key the operator never had"));
      await send(node, seal("another-node", 6001, { cmd: "reset", id: "elsewhere" }));
      await send(node, altered);
      await send(node, genuine);
      await send(node, seal(node.name, 4999, { cmd: "reset", id: "older" }));
      await send(node, genuine.subarray(0, genuine.length - 5));
      await send(node, genuine.subarray(0, 30));
      await send(node, seal(node.name, 7000, { cmd: "status", id: "rotated" }, NEXT));
      const taken = await node.wake();
      assert.equal(taken.error, undefined, node.log());
      assert.deepEqual(commandLines(taken.lines), [
        "command g: ok",
        "command ?: refused: unsigned",
        "command ?: refused: wrong signature",
        "command ?: refused: wrong signature",
        "command ?: refused: wrong signature",
        "command ?: refused: replayed (counter 5000, accepted up to 5000)",
        "command ?: refused: replayed (counter 4999, accepted up to 5000)",
        "command ?: refused: wrong signature",
        "command ?: refused: truncated signature line",
        "command rotated: ok",
      ]);
      const status = await retainedJson(broker.url, node.statusTopic);
      assert.equal(status.commandErrors, 8);
      assert.deepEqual(status.overrides, { sampleInterval: 30 });
      // The status keeps the newest results its room holds.
      assert.deepEqual((status.commands as string[]).slice(-2), ["?: refused: truncated signature line", "rotated: ok"]);
      assert.ok(!node.log().includes(KEY) && !node.log().includes(NEXT), "no key in any log line");
    } finally {
      node.remove();
    }
  });

  it("keeps the counter through a killed wake and a lost retained memory", async () => {
    const node = await sleepingNode("counter", { flashEvery: 0 });
    const state = path.join(node.dir, "state");
    try {
      const first = seal(node.name, 8000, { cmd: "status", id: "first" });
      await send(node, first);
      assert.deepEqual(commandLines((await node.wake()).lines), ["command first: ok"]);
      // A power loss: retained memory gone, flash kept (and with flashEvery 0 it holds no copy of
      // the state, so only the counter's own key can say what was accepted).
      fs.rmSync(path.join(state, "retained.bin"));
      await send(node, first);
      const lost = await node.wake();
      assert.equal(lost.error, undefined, node.log());
      assert.deepEqual(commandLines(lost.lines), ["command ?: refused: replayed (counter 8000, accepted up to 8000)"]);

      // kill -9 right after the node took a command: the counter went to flash before it acted.
      const second = seal(node.name, 9000, { cmd: "set", batchSize: 2, id: "second" });
      await send(node, second);
      const child = node.spawnWake();
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the wake never took the command\n${node.log()}`)), 15_000);
        const poll = setInterval(() => {
          if (!node.lines.some((l) => l === "command second: ok")) return;
          clearInterval(poll);
          clearTimeout(timer);
          child.kill("SIGKILL");
          resolve();
        }, 1);
      });
      await exited;
      fs.rmSync(path.join(state, "retained.bin"), { force: true });
      await send(node, second);
      await send(node, first);
      const after = await node.wake();
      assert.equal(after.error, undefined, node.log());
      const lines = commandLines(after.lines);
      // The broker may hand the killed wake's command over again (its PUBACK may not have gone out):
      // it is refused like the replays.
      assert.ok(lines.length >= 2 && lines.every((l) => /^command \?: refused: replayed \(counter [89]000, accepted up to 9000\)$/.test(l)), lines.join("\n"));
    } finally {
      node.remove();
    }
  });

  it("takes 300 random payloads with a key set: none accepted, no crash, every reading delivered", async () => {
    const node = await sleepingNode("signed-random", { awakeBudget: 2 });
    const genuine = seal(node.name, 100, { cmd: "set", batchSize: 1, id: "seen" });
    const hex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
    const json = fc.oneof(
      fc.record({ cmd: fc.constantFrom("set", "reset", "status", "awake"), sampleInterval: fc.integer(), id: fc.string({ maxLength: 8 }) }),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string({ maxLength: 20 })), { maxKeys: 4 }),
    ).map((c) => JSON.stringify(c));
    const payload = fc.oneof(
      json.map((j) => Buffer.from(j)),
      fc.tuple(fc.bigInt({ min: 1n, max: 2n ** 53n - 1n }), hex, json).map(([n, mac, j]) => Buffer.from(`torpor-cmd-1 ${n} ${mac}\n${j}`)),
      fc.tuple(fc.integer({ min: 0, max: genuine.length - 1 }), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const b = Buffer.from(genuine);
        b[at]! ^= x;
        return b;
      }),
      fc.integer({ min: 0, max: genuine.length - 1 }).map((cut) => genuine.subarray(0, cut)),
      fc.constant(genuine),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    );
    // The genuine envelope goes first, once accepted; everything after is forged, altered or a replay.
    await send(node, genuine);
    assert.deepEqual(commandLines((await node.wake()).lines), ["command seen: ok"]);
    const rounds = fc.sample(fc.array(payload, { minLength: 30, maxLength: 30 }), { numRuns: 10, seed: 20 });
    try {
      // Past a wake's bounds commands are acknowledged unread and counted: dropped, not accepted.
      let dropped = 0;
      const taken: string[] = [];
      for (const round of rounds) {
        for (const p of round) await send(node, p);
        const wake = await node.wake();
        assert.equal(wake.error, undefined, node.log());
        taken.push(...commandLines(wake.lines));
        dropped += countDropped(wake.lines);
      }
      for (let more = 1; more > 0 && taken.length + dropped < 300; ) {
        const wake = await node.wake();
        more = commandLines(wake.lines).length + countDropped(wake.lines);
        taken.push(...commandLines(wake.lines));
        dropped += countDropped(wake.lines);
      }
      const answered = taken.length + dropped;
      assert.equal(answered, 300, `every payload answered\n${node.log()}`);
      assert.deepEqual(taken.filter((l) => !l.startsWith("command ?: refused: ")), [], "none accepted");
      const expected = node.sampled();
      await subscriber.until(() => dedupe(subscriber.records(node.telemetryTopic), node.name).samples.length >= expected.length);
      assert.deepEqual(dedupe(subscriber.records(node.telemetryTopic), node.name).samples, expected, "every reading delivered");
    } finally {
      node.remove();
    }
  });

  it("npm run command signs, numbers, publishes and prints the node's answer", async () => {
    const node = await sleepingNode("operator");
    const keyFile = path.join(node.dir, "command.key");
    fs.writeFileSync(keyFile, `${KEY}\n`);
    const tool = path.join(__dirname, "..", "tools", "send-command.js");
    const run = (args: string[]) => {
      const child = spawn(process.execPath, [tool, "--broker", broker.url, "--node", node.name, "--wait", "30", ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const queued = new Promise<void>((resolve) => child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
        if (err.includes("queued ")) resolve();
      }));
      const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.once("exit", (code) => resolve({ code, out, err })));
      return { queued, done };
    };
    try {
      const signed = run(["--key", keyFile, '{"cmd":"set","sampleInterval":30,"id":"op1"}']);
      await signed.queued;
      assert.equal((await node.wake()).error, undefined, node.log());
      const answer = await signed.done;
      assert.equal(answer.code, 0, answer.err);
      assert.equal(answer.out, "op1: ok\n");
      assert.ok(!answer.err.includes(KEY) && !answer.out.includes(KEY));

      const unsigned = run(['{"cmd":"status"}']);
      await unsigned.queued;
      assert.equal((await node.wake()).error, undefined, node.log());
      const refused = await unsigned.done;
      assert.equal(refused.code, 1);
      assert.match(refused.err, /^command: node refused a command: \?: refused: unsigned$/m);
    } finally {
      node.remove();
    }
  });
});
