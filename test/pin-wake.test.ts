// A node woken by a pin (a door contact marked "wake": true) publishes that wake's reading at once;
// a timer wake with a batch not yet full only buffers.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { wake } from "../src/app";
import { parseConfig } from "../src/config";
import type { WakeCause } from "../src/host";
import { SyntheticEnvironment } from "../hosts/virtual/environment";
import { createNodeHost } from "../hosts/node/host";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";

describe("pin wakes", () => {
  let broker: EmbeddedBroker;
  before(async () => (broker = await startEmbeddedBroker()));
  after(() => broker.close());

  async function secondWake(cause: WakeCause): Promise<string[]> {
    const config = parseConfig({ broker: broker.url, node: `pin-${cause}`, batchSize: 5 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-pin-"));
    const lines: string[] = [];
    const open = () => createNodeHost({ stateDir: dir, timeScale: 60, config, environment: new SyntheticEnvironment(1), log: (l) => lines.push(l) });
    const first = open();
    const { nextWake } = await wake(first, config);
    // Asleep until the next grid point, as the runner does: a second wake within the same second
    // (or the same grid point's tolerance) would rightly find its reading taken.
    first.sleep(nextWake - first.clock.now());
    first.close();
    lines.length = 0;
    const second = open();
    await wake({ ...second, wakeCause: cause }, config);
    second.close();
    return lines;
  }

  it("publishes at once when a pin woke the node", async () => {
    const lines = await secondWake("pin");
    assert.ok(lines.some((l) => /^published 1 reading in 1 message$/.test(l)), lines.join("\n"));
  });

  it("only buffers on a timer wake with the batch not full", async () => {
    const lines = await secondWake("timer");
    assert.ok(lines.includes("buffered 1 reading"), lines.join("\n"));
  });
});
