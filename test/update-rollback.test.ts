// The Node host's apply and rollback (bootFirmware): a staged image boots at the next wake with the
// one it replaces kept; one that never completes a publishing wake within `updateTries` boots, or
// does not load at all, gives way to the previous one, and the status says so.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { builtinVersion, imageText } from "../hosts/node/firmware";
import { buildImage } from "../tools/update/image";
import { retainedJson, tempDir, TestNode } from "./support/e2e-node";
import { freePort, mosquittoMissing, startMosquitto, type Mosquitto } from "./support/mosquitto";

function stage(node: TestNode, text: string): void {
  const dir = path.join(node.dir, "state", "firmware");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "staged.img"), text);
}

describe("Node host: apply and roll back", { skip: mosquittoMissing() }, () => {
  let broker: Mosquitto;
  let work: string;
  let image: string;
  before(async () => {
    broker = await startMosquitto();
    work = tempDir("rollback");
    image = buildImage("0.2.0");
  });
  after(async () => {
    await broker.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("rolls back an image that never completes a publishing wake", async () => {
    // No broker answers: no wake of the new image can publish.
    const node = new TestNode("never", { broker: `mqtt://127.0.0.1:${await freePort()}`, updateTries: 2, batchSize: 1 }, work);
    await node.wake();
    stage(node, image);
    for (let i = 0; i < 3; i++) await node.wake();
    assert.match(node.log(), /firmware 0\.2\.0 booted, pending its first publishing wake \(boot 2 of 2\)/);
    assert.match(node.log(), /firmware 0\.2\.0 did not complete a publishing wake in 2 boots: rolled back/);
    // Back on the built-in firmware; once a broker answers, its status says what happened.
    node.configure({ broker: broker.url });
    // The failed wakes backed off: the next publish comes within a few wakes.
    for (let i = 0; i < 20 && !(await node.wake()).lines.some((l) => l.startsWith("published")); i++);
    const status = await retainedJson(broker.url, node.statusTopic);
    assert.equal(status.version, builtinVersion());
    assert.equal((status.update as Record<string, unknown> | undefined)?.rolledBack, "0.2.0", JSON.stringify(status));
  });

  it("keeps a working image on the default batch size and tries: its first wake publishes, due or not", async () => {
    // The default batchSize 5 and updateTries 3: waiting for a full batch would take the image past its tries.
    const node = new TestNode("defaults", { broker: broker.url, batchSize: 5 }, work);
    assert.equal((await node.wake()).error, undefined, node.log());
    stage(node, image);
    const first = await node.wake();
    assert.equal(first.error, undefined, node.log());
    assert.ok(first.lines.some((l) => l.startsWith("published")), node.log());
    for (let i = 0; i < 4; i++) await node.wake();
    assert.match(node.log(), /firmware 0\.2\.0 completed a publishing wake: kept/);
    assert.doesNotMatch(node.log(), /rolled back/);
    const status = await retainedJson(broker.url, node.statusTopic);
    assert.equal(status.version, "0.2.0");
  });

  it("rolls back at once an image that does not load, and keeps the previous image", async () => {
    const node = new TestNode("broken", { broker: broker.url, batchSize: 1 }, work);
    await node.wake();
    stage(node, image);
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.match(node.log(), /firmware 0\.2\.0 completed a publishing wake: kept/);
    stage(node, imageText({ version: "0.3.0", board: "node" }, "throw new Error('broken build')"));
    assert.equal((await node.wake()).error, undefined, node.log());
    assert.match(node.log(), /firmware image does not load \(broken build\): rolled back/);
    const status = await retainedJson(broker.url, node.statusTopic);
    assert.equal(status.version, "0.2.0", "the image it replaced, not the built-in one");
  });
});
