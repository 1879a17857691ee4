// Always-connected mode: one connection kept open, batches published over it, and PINGREQs only when
// the keepalive would otherwise lapse — at a sampling wake, never in a cycle that published.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { connectAsync } from "mqtt";
import { runConnected } from "../src/app";
import { parseConfig } from "../src/config";
import type { TCPOptions } from "../src/host";
import { SyntheticEnvironment } from "../hosts/virtual/environment";
import { createNodeHost } from "../hosts/node/host";
import { NodeTCP } from "../hosts/node/tcp";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";

describe("always-connected mode", () => {
  let broker: EmbeddedBroker;
  before(async () => (broker = await startEmbeddedBroker()));
  after(() => broker.close());

  it("keeps one connection, publishes over it, and pings only at sampling wakes when needed", async () => {
    const config = parseConfig({ mode: "always-connected", broker: broker.url, node: "ac", batchSize: 2, sampleInterval: 60 });
    const events: string[] = [];
    let connections = 0;
    /** The run is over: closing may confirm its status with a PINGREQ of its own (Exchange.close). */
    let closing = false;
    class SpyTCP extends NodeTCP {
      constructor(options: TCPOptions) {
        super(options);
        connections++;
      }
      override write(bytes: ArrayBufferView | ArrayBuffer): number {
        const b = ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
        if (!closing && b.length === 2 && b[0] === 0xc0 && b[1] === 0) events.push("ping");
        return super.write(bytes);
      }
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-ac-"));
    const node = createNodeHost({ stateDir: dir, timeScale: 600, config, environment: new SyntheticEnvironment(3), log: (line) => events.push(line) });
    const host = { ...node, network: { ...node.network, TCP: SpyTCP } };

    let cycles = 0;
    let commanded = false;
    await runConnected(host, config, ({ outcome }) => {
      cycles++;
      if (outcome?.delivered && !commanded) {
        commanded = true;
        // Slow publishing right down, live: the keepalive promised at CONNECT (3 periods) now has to
        // be kept by pings.
        void connectAsync(broker.url).then(async (c) => {
          await c.publishAsync("torpor/ac/cmd", JSON.stringify({ cmd: "set", batchSize: 50 }), { qos: 1 });
          await c.endAsync();
        });
      }
      closing = cycles >= 16;
      return !closing;
    });
    node.close();

    assert.equal(connections, 1, "one connection for the whole run");
    assert.ok(!events.some((e) => e.startsWith("connection lost")), events.join("\n"));
    assert.ok(events.some((e) => e === "command ?: ok"), events.join("\n"));
    const pings = events.filter((e) => e === "ping").length;
    assert.ok(pings >= 2, `expected pings once publishing slowed down:\n${events.join("\n")}`);
    // Every ping follows a sampling wake that did not publish, and no two pings share a wake.
    events.forEach((e, i) => {
      if (e !== "ping") return;
      let wake = i;
      while (wake >= 0 && !events[wake]!.startsWith("woke (")) wake--;
      const since = events.slice(wake, i);
      assert.ok(wake >= 0 && !since.some((x) => x.startsWith("published") || x === "ping"), events.join("\n"));
    });
  });
});
