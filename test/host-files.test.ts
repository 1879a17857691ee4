// The files a Node-hosted node keeps beside its retained memory, damaged between wakes as a disk, a
// hand or a half-finished write might leave them: the clock's anchor (clock.json) and the sleep
// marker (sleep.json) empty, cut short, garbage, with one bit flipped, or gone. Whatever the damage,
// the next wake runs (no stack trace, no stop), says once what it found, starts as after a reset,
// and its clock neither goes back past the readings the node already took nor leaps ahead. And
// retained memory found empty on a timer wake is memory lost: logged and counted as a cold start.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { hostId } from "../hosts/node/host";
import { parseConfig } from "../src/config";
import { TestNode } from "./support/e2e-node";
import { nodeState } from "./torture-node";

const INTERVAL = 60;

/** The flipped bit: the lowest bit of the fourth digit of the file's first number, a change of
 *  about 11.6 days to a time in ms, and still a digit, so the text still parses. */
function flipBit(bytes: Buffer): Buffer {
  const first = bytes.toString("latin1").search(/\d{4}/);
  assert.ok(first >= 0, "a number to flip a bit of");
  const out = Buffer.from(bytes);
  out[first + 3]! ^= 1;
  return out;
}

const damage: [string, (file: string) => void][] = [
  ["empty", (file) => fs.writeFileSync(file, "")],
  ["truncated", (file) => fs.writeFileSync(file, fs.readFileSync(file).subarray(0, Math.floor(fs.statSync(file).size / 2)))],
  ["garbage", (file) => fs.writeFileSync(file, Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 97 + 13) & 0xff)))],
  ["a flipped bit", (file) => fs.writeFileSync(file, flipBit(fs.readFileSync(file)))],
  ["missing", (file) => fs.rmSync(file)],
];

describe("damaged clock and sleep files", () => {
  let broker: EmbeddedBroker;
  before(async () => (broker = await startEmbeddedBroker()));
  after(() => broker.close());

  /** A node that has woken a few times on its timer (so its clock runs well ahead of real time,
   *  as every node under `npm start` does), and the newest reading it holds. */
  async function seasoned(name: string) {
    const node = new TestNode(name, { broker: broker.url, sampleInterval: INTERVAL });
    const raw = { node: name, sampleInterval: INTERVAL };
    const stateDir = path.join(node.dir, "state");
    const newest = () => {
      const state = nodeState(stateDir, raw);
      assert.ok(typeof state === "object", "retained state readable");
      return { time: state.buffer.newestTime!, clockBack: state.counters.clockBack };
    };
    for (let i = 0; i < 4; i++) assert.equal((await node.wake()).error, undefined, node.log());
    return { node, stateDir, newest };
  }

  for (const file of ["clock.json", "sleep.json"]) {
    for (const [what, harm] of damage) {
      it(`${file} ${what}: the next wake is a reset that neither goes back nor leaps ahead`, async () => {
        const { node, stateDir, newest } = await seasoned(`${file.slice(0, 5)}-${what.replace(/\W+/g, "-")}`);
        try {
          const before = newest();
          // A damaged clock matters on a wake that needs it: one after the process died (no marker).
          const started = Date.now();
          if (file === "clock.json") fs.rmSync(path.join(stateDir, "sleep.json"));
          harm(path.join(stateDir, file));
          // As the runner waits before restarting a node that died: its clock moves on meanwhile.
          await new Promise((r) => setTimeout(r, 20));
          const wake = await node.wake();
          const realMs = Date.now() - started;

          assert.ok(wake.sleepMs !== undefined, `the wake slept: ${wake.lines.join("\n")}`);
          assert.ok(wake.lines.some((l) => /^woke \(reset\); sht3x\/temperature=/.test(l)), wake.lines.join("\n"));
          const said = wake.lines.filter((l) => l.includes(file));
          if (file === "sleep.json" && what === "missing") {
            assert.deepEqual(said, [], "a missing marker is an ordinary reset");
          } else {
            assert.equal(said.length, 1, `said once: ${wake.lines.join("\n")}`);
            assert.match(said[0]!, new RegExp(`^${file.replace(".", "\\.")}\\b.*: starting as after a reset, clock at \\d{4}-`));
          }
          const after = newest();
          assert.ok(after.time > before.time, `clock went back: reading at ${after.time}, newest before ${before.time}`);
          // Carried on at 1000 simulated s per real s (TestNode's scale), or one interval on.
          assert.ok(after.time <= before.time + 2 * INTERVAL + realMs, `clock leapt ${after.time - before.time} s ahead`);
          assert.equal(after.clockBack, 0);

          // And the node goes on as before: a timer wake, one interval on.
          const next = await node.wake();
          assert.ok(next.lines.some((l) => /^woke \(timer\)/.test(l)), next.lines.join("\n"));
          assert.ok(newest().time > after.time);
        } finally {
          node.remove();
        }
      });
    }
  }
});

describe("retained memory lost on a timer wake", () => {
  let broker: EmbeddedBroker;
  before(async () => (broker = await startEmbeddedBroker()));
  after(() => broker.close());

  const losses: [string, (file: string) => void][] = [
    ["zeroed", (file) => fs.writeFileSync(file, Buffer.alloc(fs.statSync(file).size))],
    ["truncated to nothing", (file) => fs.truncateSync(file, 0)],
    ["deleted", (file) => fs.rmSync(file)],
  ];
  for (const [what, lose] of losses) {
    it(`${what}: logged once and counted as a cold start`, async () => {
      const name = `lost-${what.replace(/\W+/g, "-")}`;
      // batchSize 3: the readings are still buffered when the memory goes.
      const node = new TestNode(name, { broker: broker.url, batchSize: 3 });
      const stateDir = path.join(node.dir, "state");
      try {
        await node.wake();
        await node.wake();
        lose(path.join(stateDir, "retained.bin"));
        const wake = await node.wake();
        assert.ok(wake.lines.some((l) => /^woke \(timer\)/.test(l)), wake.lines.join("\n"));
        assert.deepEqual(wake.lines.filter((l) => /retained state/.test(l)), ["retained state empty on a timer wake (memory lost): starting clean (cold start counted)"]);
        const state = nodeState(stateDir, { node: name, batchSize: 3 });
        assert.ok(typeof state === "object");
        assert.equal(state.counters.cold, 1);
      } finally {
        node.remove();
      }
    });
  }

  it("an empty region at power-on is a first start, not a loss", async () => {
    const node = new TestNode("lost-first", { broker: broker.url, batchSize: 3 });
    try {
      const wake = await node.wake();
      assert.ok(wake.lines.some((l) => /^woke \(power-on\)/.test(l)));
      assert.deepEqual(wake.lines.filter((l) => /retained state/.test(l)), []);
      const state = nodeState(path.join(node.dir, "state"), { node: "lost-first", batchSize: 3 });
      assert.ok(typeof state === "object" && state.counters.cold === 0);
    } finally {
      node.remove();
    }
  });
});

describe("the node's name from its state directory", () => {
  it("is one topics take, whatever the directory is called", () => {
    assert.equal(hostId("/tmp/node-1"), "node-1");
    assert.equal(hostId("/tmp/a+b#c"), "a-b-c");
    assert.equal(hostId("/tmp/.hidden"), "n.hidden");
    assert.equal(hostId(`/tmp/${"x".repeat(80)}`).length, 64);
    for (const dir of ["/tmp/a+b", "/tmp/ü/€", "/tmp/-", "/tmp/$SYS"]) assert.doesNotThrow(() => parseConfig({ node: hostId(dir) }), dir);
  });
});
