// Config that validates, runs: for hostile config files (test/support/hostile-config.ts), what the
// Node host's boot accepts — parseConfig over the manifest's config, then the host's own `sim`
// check — runs a full wake against a real broker (aedes, in process) without throwing, and what it
// refuses is a one-line ConfigError. The wake is app.ts's wake(), the function run() guards with a
// catch: a throw out of it is the crash that costs a node every wake. The seed is fixed, so a run
// is repeatable; CONFIG_SEED and CONFIG_RUNS explore further.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { connectAsync } from "mqtt";
import { runConnected, wake } from "../src/app";
import { ConfigError, parseConfig, type Config } from "../src/config";
import { topics } from "../src/uplink/topics";
import type { Host, TCP, TCPOptions } from "../src/host";
import { layeredConfig, manifestConfig, readConfigFile } from "../hosts/node/config-file";
import { createNodeHost, type NodeHost } from "../hosts/node/host";
import { SyntheticEnvironment } from "../hosts/virtual/environment";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { hostileConfigText } from "./support/hostile-config";

/** A loopback port nobody listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The host, with every callback it makes into the firmware (socket events, timers) guarded: a throw
 * there is no rejection of wake() but an uncaught exception, the process's (or the device's) end.
 * The guard keeps it, for the property to fail on, with the config that caused it.
 */
function guarded(host: NodeHost, thrown: unknown[]): Host {
  const guard = <A extends unknown[]>(f: ((...args: A) => void) | undefined) =>
    f &&
    function (this: unknown, ...args: A) {
      try {
        f.apply(this, args);
      } catch (e) {
        thrown.push(e);
      }
    };
  const socket = <O extends TCPOptions>(Socket: new (options: O) => TCP) =>
    class {
      constructor(options: O) {
        return new Socket({ ...options, onReadable: guard(options.onReadable), onWritable: guard(options.onWritable), onError: guard(options.onError) });
      }
    } as unknown as new (options: O) => TCP;
  const { network, timer } = host;
  return {
    ...host,
    network: { ...network, TCP: socket(network.TCP), ...(network.TLS ? { TLS: socket(network.TLS) } : {}) },
    timer: { set: (callback, ms) => timer.set(guard(callback)!, ms), clear: (id) => timer.clear(id) },
  };
}

function assertOneLine(e: unknown, where: string): asserts e is ConfigError {
  assert.ok(e instanceof ConfigError, `${where} threw ${e instanceof Error ? e.stack : String(e)}`);
  assert.doesNotMatch(e.message, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, `${where}: not one line`);
}

describe("config that validates, runs (Node host, aedes)", () => {
  let broker: EmbeddedBroker;
  let root: string;
  let refused: number;
  before(async () => {
    broker = await startEmbeddedBroker();
    refused = await closedPort();
    root = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-config-property-"));
  });
  after(async () => {
    await broker.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("publishes and takes commands with the longest prefix, node name and credentials the config allows", async () => {
    const config = parseConfig({ broker: broker.url, batchSize: 1, awakeTimeout: 5, prefix: "€".repeat(341) + "x", node: "n".repeat(64), brokerUser: "ü".repeat(32767) + "u", brokerPassword: "😀".repeat(16383) + "abc" });
    const dir = path.join(root, "longest");
    const once = async () => {
      const host = createNodeHost({ stateDir: dir, timeScale: 1000, config, environment: new SyntheticEnvironment(1), log: () => {} });
      try {
        return (await wake(host, config)).outcome;
      } finally {
        host.close();
      }
    };
    const first = await once();
    assert.equal(first?.error, undefined);
    assert.equal(first?.delivered, 1);
    const client = await connectAsync(broker.url);
    try {
      await client.publishAsync(topics(config, config.node).command, JSON.stringify({ cmd: "status", id: "long" }), { qos: 1 });
    } finally {
      await client.endAsync();
    }
    const second = await once();
    assert.equal(second?.error, undefined);
    assert.deepEqual(second?.commands, ["long: ok"]);
  });

  it("wakes without throwing for every config file the boot accepts", async () => {
    const port = Number(new URL(broker.url).port);
    const brokers = fc.constantFrom(`mqtt://127.0.0.1:${port}`, `mqtt://127.0.0.1:${port}/`, `mqtts://127.0.0.1:${port}`, `mqtt://127.0.0.1:${refused}`, `mqtt://[::1]:${refused}`);
    const tally = { runs: 0, accepted: 0, published: 0 };
    await fc.assert(
      fc.asyncProperty(hostileConfigText(brokers), async (text) => {
        const dir = path.join(root, `n${tally.runs++}`);
        fs.mkdirSync(dir);
        const file = path.join(dir, "config.json");
        fs.writeFileSync(file, text);
        // As hosts/node/wake.ts boots: the manifest's config, then the file. The base layer points
        // at the broker and keeps a wake short where the file does not say otherwise.
        let config: Config;
        let raw: Record<string, unknown>;
        try {
          ({ config, raw } = layeredConfig(manifestConfig(), { broker: broker.url, batchSize: 1, awakeTimeout: 2 }, readConfigFile(file)));
        } catch (e) {
          return assertOneLine(e, "parseConfig");
        }
        let nodeHost: NodeHost;
        try {
          nodeHost = createNodeHost({ stateDir: path.join(dir, "state"), timeScale: 1000, config, sim: raw.sim, environment: new SyntheticEnvironment(1), log: () => {} });
        } catch (e) {
          return assertOneLine(e, "the host's sim check");
        }
        tally.accepted++;
        const thrown: unknown[] = [];
        const host = guarded(nodeHost, thrown);
        try {
          if (config.mode === "always-connected") {
            await runConnected(host, config, ({ outcome }) => {
              if (outcome && !outcome.error) tally.published++;
              return false;
            });
          } else {
            const { outcome } = await wake(host, config);
            if (outcome && !outcome.error) tally.published++;
          }
        } finally {
          nodeHost.close();
        }
        assert.deepEqual(thrown, [], "a callback into the firmware threw");
      }),
      { numRuns: Number(process.env["CONFIG_RUNS"] ?? 100), seed: Number(process.env["CONFIG_SEED"] ?? 0x7a9c0f) },
    );
    // The property says something only if it ran on accepted configs, and some of them published.
    assert.ok(tally.accepted >= 20, `only ${tally.accepted} of ${tally.runs} configs were accepted`);
    assert.ok(tally.published >= 5, `only ${tally.published} of ${tally.accepted} accepted configs published`);
  });
});
