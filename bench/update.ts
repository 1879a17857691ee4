// Benchmark: what a firmware update costs on the air and on XS (docs/updates.md).
//
// Air: a Node-host node takes a real image (`update image`, the firmware bundle) through
// test/support/proxy.ts in front of an embedded broker, and the proxy counts every byte each way.
// Baseline, measured in the same run: the same node's wakes with no update under way (telemetry,
// status, the offer subscription's session); a wake of the update costs its bytes over that. Per
// image byte: (update wakes' bytes − as many baseline wakes' bytes) / image bytes, each way; and the
// chunks the broker delivered against the chunks the image has (a re-fetch would show).
//
// XS: one 2,048-byte chunk's SHA-256 and one offer's ECDSA P-256 check on XS 13 (@agoric/xsnap)
// with the harness's script crypto (tools/xs), net of the harness's own cost per call (baseline
// "idle"), after a first call that compiles what it touches. A device does both with the SDK's
// native crypt modules: the hash's figure is an upper bound; the check's counts the script around
// BigInt arithmetic, which XS does in C and its meter counts as single steps.
//
//   node dist/bench/update.js

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fromHex } from "../src/encoding/hex";
import { parseUpdateKey } from "../src/update/key";
import { startEmbeddedBroker } from "../tools/broker";
import { publish } from "../tools/update/broker";
import { buildImage } from "../tools/update/image";
import { keygen, readSigningKey } from "../tools/update/keys";
import { DEFAULT_CHUNK_BYTES, offerMessages } from "../tools/update/offer";
import { findXsnapWorker, XsWorker } from "../tools/xs/worker";
import { TestNode } from "../test/support/e2e-node";
import { bundle, xsFixture } from "../test/support/bundle";
import { PacketType, publishInfo, startProxy, type ConnectionTrace } from "../test/support/proxy";

const BASELINE_WAKES = 5;
/** Wakes at most: the ~280 KB image at the default 16 KB a wake takes 18. */
const MAX_WAKES = 60;

interface Traffic {
  wakes: number;
  up: number;
  down: number;
}

function traffic(connections: ConnectionTrace[]): Traffic {
  return { wakes: connections.length, up: connections.reduce((n, c) => n + c.up.bytes, 0), down: connections.reduce((n, c) => n + c.down.bytes, 0) };
}

async function air(dir: string, keys: { key: string; pub: string }, image: Buffer) {
  const broker = await startEmbeddedBroker();
  try {
    const proxy = await startProxy({ port: Number(new URL(broker.url).port) });
    try {
      const updateKey = fs.readFileSync(keys.pub, "utf8").trim();
      // The default budget a wake, as `npm run power` takes it; no day's budget to wait out.
      const node = new TestNode("bench-update", { broker: proxy.url, updateKey, updateBytesPerDay: 16 * 1024 * 1024 }, dir);
      // The first wake subscribes to offers: not a typical wake, in neither count.
      await node.wake();
      const wakes = async (until: (lines: string[]) => boolean, most: number) => {
        const from = proxy.connections.length;
        for (let i = 0; i < most; i++) {
          const report = await node.wake();
          if (report.error !== undefined) throw new Error(`wake failed: ${report.error}\n${node.log()}`);
          if (until(report.lines)) break;
        }
        const connections = proxy.connections.slice(from);
        await Promise.all(connections.map((c) => c.closed));
        return connections;
      };
      const baseline = traffic(await wakes(() => false, BASELINE_WAKES));
      const { offer, messages } = offerMessages(image, readSigningKey(keys.key), { prefix: "torpor", nodes: [], chunk: DEFAULT_CHUNK_BYTES, battery: 0, downgrade: false });
      await publish(broker.url, messages);
      const connections = await wakes((lines) => lines.some((l) => /update .* verified/.test(l)), MAX_WAKES);
      if (!node.lines.some((l) => /update .* verified/.test(l))) throw new Error(`the image was not staged in ${MAX_WAKES} wakes\n${node.log()}`);
      const update = traffic(connections);
      const chunkTopic = new RegExp(`^torpor/update/${offer.id}/\\d+$`);
      const chunksDelivered = connections.flatMap((c) => c.down.frames).filter((f) => f.type === PacketType.PUBLISH && chunkTopic.test(publishInfo(f).topic)).length;
      const perWake = (n: number) => n / baseline.wakes;
      node.remove();
      return {
        imageBytes: image.length,
        chunk: DEFAULT_CHUNK_BYTES,
        chunks: Math.ceil(image.length / DEFAULT_CHUNK_BYTES),
        chunksDelivered,
        baseline: { what: "the same node's wakes with no update under way", ...baseline, upPerWake: perWake(baseline.up), downPerWake: perWake(baseline.down) },
        update,
        downPerImageByte: (update.down - update.wakes * perWake(baseline.down)) / image.length,
        upPerImageByte: (update.up - update.wakes * perWake(baseline.up)) / image.length,
      };
    } finally {
      await proxy.close();
    }
  } finally {
    await broker.close();
  }
}

async function xs(keys: { key: string; pub: string }, image: Buffer) {
  if (!findXsnapWorker()) return { skipped: "xsnap-worker is not built (npm ci builds it)" };
  const { messages } = offerMessages(image, readSigningKey(keys.key), { prefix: "torpor", nodes: [], chunk: DEFAULT_CHUNK_BYTES, battery: 0, downgrade: false });
  const envelope = JSON.parse(messages.at(-1)!.payload.toString("utf8")) as { offer: string; sig: string };
  const verify = { op: "verify", key: parseUpdateKey(fs.readFileSync(keys.pub, "utf8"))!, message: new TextEncoder().encode(envelope.offer), signature: fromHex(envelope.sig, 64)! };
  const hash = { op: "hash", bytes: new Uint8Array(image.subarray(0, DEFAULT_CHUNK_BYTES)) };
  const worker = await XsWorker.start({ meteringLimit: 0, timeoutMs: 600_000 });
  try {
    await worker.evaluate(bundle(xsFixture("update.entry.ts")));
    const measure = async (request: unknown) => {
      const before = (await worker.call({ op: "gc" })).meter.currentHeapCount;
      const { result, meter } = await worker.call(request);
      return { result, compute: meter.compute, slots: meter.currentHeapCount - before };
    };
    const idle = await measure({ op: "idle" });
    const net = async (request: unknown) => {
      await measure(request);
      const m = await measure(request);
      return { ok: m.result, cost: { compute: m.compute, slots: m.slots, computeNet: m.compute - idle.compute, slotsNet: m.slots - idle.slots } };
    };
    const chunk = await net(hash);
    const offer = await net(verify);
    if (offer.ok !== true) throw new Error("the offer's signature did not verify on XS");
    return {
      note: "script SHA-256 and ECDSA P-256 (tools/xs); a device's SDK crypt modules are native: the hash is an upper bound, the check's BigInt steps are metered as one each",
      baseline: { op: "idle (the harness's own cost per call)", compute: idle.compute, slots: idle.slots },
      hashChunk: { bytes: DEFAULT_CHUNK_BYTES, ...chunk.cost },
      verifyOffer: offer.cost,
    };
  } finally {
    await worker.close();
  }
}

export async function updateBench() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-bench-update-"));
  try {
    const keys = keygen(path.join(dir, "keys"));
    const image = Buffer.from(buildImage("9.0.0"));
    return { benchmark: "firmware update: bytes on the air per image byte, XS cost of hashing and verifying", air: await air(dir, keys, image), xs: await xs(keys, image) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) void updateBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
