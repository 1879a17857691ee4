// The node's update agent, sans-IO, against an in-memory host and a broker that holds the retained
// offer and chunks: each refusal is refused, counted, shown in the status with its reason, and the
// staging discarded; an update cut after any write of its progress resumes without fetching again a
// chunk it holds; the budgets bound a wake.

import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { describe, it } from "node:test";
import { OFFERS_PER_WAKE, UpdateAgent, type UpdateBudget } from "../src/update/agent";
import type { UpdateHost } from "../src/update/capability";
import { fromHex } from "../src/encoding/hex";
import { parseUpdateKey } from "../src/update/key";
import { publicLine } from "../tools/update/keys";
import { offerMessages, signOffer } from "../tools/update/offer";

const operator = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const stranger = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const KEY = parseUpdateKey(publicLine(operator.publicKey))!;
const CHUNK = 256;

/** An image of `version` as `update image` makes one (the header line is all the agent reads of it). */
function image(version: string, board = "node", bytes = 3000): Buffer {
  const body = Buffer.alloc(bytes, 0x61);
  for (let i = 0; i < bytes; i++) body[i] = (i * 7) & 0xff;
  return Buffer.concat([Buffer.from(`${JSON.stringify({ torpor: "image", version, board })}\n`), body]);
}

/** What the broker holds: retained messages by topic. */
type Broker = Map<string, Buffer>;

function offered(img: Buffer, extra: { nodes?: string[]; downgrade?: boolean } = {}): Broker {
  const { messages } = offerMessages(img, operator.privateKey, { prefix: "t", nodes: extra.nodes ?? [], chunk: CHUNK, battery: 0, downgrade: extra.downgrade ?? false });
  return new Map(messages.map((m) => [m.topic, m.payload]));
}

/** The offer's topic and its fields, to forge a changed offer (re-signed with `key`). */
function reoffer(broker: Broker, change: Record<string, unknown>, key = operator.privateKey): void {
  const topic = [...broker.keys()].find((t) => t.endsWith("/offer"))!;
  const offer = { ...JSON.parse(JSON.parse(broker.get(topic)!.toString()).offer), ...change };
  const text = JSON.stringify(offer);
  broker.set(topic, Buffer.from(JSON.stringify({ offer: text, sig: signOffer(text, key) })));
}

/** Retained memory and staging as the host keeps them across wakes. */
class MemoryHost implements UpdateHost {
  board = "node";
  progress: string | undefined;
  staging = new Uint8Array(0);
  staged: string | undefined;
  pending = false;
  rolledBack: string | undefined = undefined;
  /** Called after every progress write: a test takes its snapshots (power cuts) here. */
  onWrite: (() => void) | undefined;
  constructor(public version = "1.0.0") {}
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const b64 = (from: number) => Buffer.from(publicKey.subarray(from, from + 32)).toString("base64url");
    const key = crypto.createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64(1), y: b64(33) }, format: "jwk" });
    return crypto.verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
  }
  sha256 = (bytes: Uint8Array) => new Uint8Array(crypto.createHash("sha256").update(bytes).digest());
  readProgress = () => this.progress;
  writeProgress(text: string): void {
    this.progress = text;
    this.onWrite?.();
  }
  writeChunk(offset: number, bytes: Uint8Array): void {
    if (this.staging.length < offset + bytes.length) {
      const grown = new Uint8Array(offset + bytes.length);
      grown.set(this.staging);
      this.staging = grown;
    }
    this.staging.set(bytes, offset);
  }
  stagedSha256 = (size: number) => this.sha256(this.staging.subarray(0, size));
  discard(): void {
    this.staging = new Uint8Array(0);
  }
  stage(version: string): void {
    this.staged = version;
  }
  markValid(): void {
    this.pending = false;
  }
  /** A power cut keeps retained progress and staging, nothing else. */
  copy(): MemoryHost {
    const h = new MemoryHost(this.version);
    h.progress = this.progress;
    h.staging = this.staging.slice();
    return h;
  }
}

const roomy: UpdateBudget = { wakeBytes: 1 << 20, dayBytes: 1 << 20, wakeMs: 60_000 };

/**
 * One connected wake after the telemetry: the agent subscribes, the broker answers with SUBACK and
 * the retained messages of what was subscribed (a new session each time, as after a broker restart).
 * Returns the chunk topics the broker delivered.
 */
function wake(host: MemoryHost, broker: Broker, budget = roomy, wall = Date.UTC(2026, 0, 1)): string[] {
  const delivered: string[] = [];
  const queue: (() => void)[] = [];
  let id = 0;
  const agent: UpdateAgent = new UpdateAgent({
    host,
    key: KEY,
    node: "n1",
    prefix: "t",
    budget,
    battery: () => undefined,
    link: {
      subscribe(topics) {
        const packetId = ++id;
        queue.push(() => {
          agent.subscribed(packetId, topics.map(() => 0));
          for (const filter of topics) {
            for (const [topic, payload] of broker) {
              const matches = filter.endsWith("/+/offer") ? /^t\/update\/[^/]+\/offer$/.test(topic) : topic === filter;
              if (!matches) continue;
              if (!topic.endsWith("/offer")) delivered.push(topic);
              agent.message(topic, payload, now);
            }
          }
        });
        return packetId;
      },
      unsubscribe() {},
    },
    log: () => {},
  });
  const now = { ticks: 0, wall };
  agent.begin();
  agent.sessionLost();
  for (let step = 0; step < 1000; step++) {
    while (queue.length) queue.shift()!();
    agent.pump(now);
    if (!queue.length) break;
  }
  assert.equal(agent.busy, false);
  statusOf.set(host, agent.status());
  return delivered;
}
const statusOf = new WeakMap<MemoryHost, Record<string, unknown>>();

function assertRefused(host: MemoryHost, reason: RegExp): void {
  const status = statusOf.get(host)!;
  assert.equal(status.state, "idle");
  assert.equal(status.refused, 1);
  assert.match(String(status.last), reason);
  assert.equal(host.staging.length, 0, "staging discarded");
  assert.equal(host.staged, undefined, "nothing staged");
}

describe("update agent", () => {
  it("takes a signed, newer image whole and stages it", () => {
    const host = new MemoryHost();
    const img = image("1.1.0");
    const got = wake(host, offered(img));
    assert.equal(got.length, Math.ceil(img.length / CHUNK));
    assert.equal(host.staged, "1.1.0");
    assert.deepEqual(Buffer.from(host.staging), img);
    assert.equal(statusOf.get(host)!.state, "staged");
  });

  it("keeps an image staged on a host that cannot boot it, and fetches none of it again", () => {
    // The simulator: the running version stays what it was, and the offer comes again with every
    // new session.
    const host = Object.assign(new MemoryHost(), { keepsStaged: true });
    const broker = offered(image("1.1.0"));
    wake(host, broker);
    assert.deepEqual(wake(host, broker), [], "no chunk fetched again");
    assert.equal(statusOf.get(host)!.state, "staged");
    assert.equal(statusOf.get(host)!.version, "1.1.0");
    assert.equal(host.staged, "1.1.0");
  });

  it("refuses a corrupted chunk", () => {
    const host = new MemoryHost();
    const broker = offered(image("1.1.0"));
    const payload = broker.get([...broker.keys()][3]!)!;
    payload[40]! ^= 1;
    wake(host, broker);
    assertRefused(host, /chunk 3 corrupted/);
  });

  it("refuses an image whose SHA-256 is not the signed one", () => {
    const host = new MemoryHost();
    const broker = offered(image("1.1.0"));
    reoffer(broker, { sha256: "00".repeat(32) });
    wake(host, broker);
    assertRefused(host, /SHA-256 is not the offer's/);
  });

  it("refuses an offer signed by another key", () => {
    const host = new MemoryHost();
    const broker = offered(image("1.1.0"));
    reoffer(broker, {}, stranger.privateKey);
    assert.deepEqual(wake(host, broker), [], "no chunk fetched");
    assertRefused(host, /bad signature/);
  });

  it("refuses a truncated image", () => {
    const host = new MemoryHost();
    const broker = offered(image("1.1.0"));
    const last = [...broker.keys()].filter((t) => !t.endsWith("/offer")).at(-1)!;
    broker.set(last, broker.get(last)!.subarray(0, 40));
    wake(host, broker);
    assertRefused(host, /has 8 bytes, not/);
  });

  it("refuses an oversized image before fetching it", () => {
    const host = new MemoryHost();
    const broker = offered(image("1.1.0"));
    reoffer(broker, { size: 5 * 1024 * 1024 });
    assert.deepEqual(wake(host, broker), []);
    assertRefused(host, /size is not/);
  });

  it("refuses an image for another board", () => {
    const host = new MemoryHost();
    assert.deepEqual(wake(host, offered(image("1.1.0", "esp32"))), []);
    assertRefused(host, /for board esp32, not node/);
  });

  it("refuses an older version unless the signed offer says downgrade", () => {
    const host = new MemoryHost("1.0.0");
    assert.deepEqual(wake(host, offered(image("0.9.0"))), []);
    assertRefused(host, /0\.9\.0 is older than 1\.0\.0/);
    const other = new MemoryHost("1.0.0");
    wake(other, offered(image("0.9.0"), { downgrade: true }));
    assert.equal(other.staged, "0.9.0");
  });

  it("counts a refused offer once, however often it comes again", () => {
    const host = new MemoryHost();
    const broker = offered(image("1.1.0", "esp32"));
    wake(host, broker);
    wake(host, broker);
    assert.equal(statusOf.get(host)!.refused, 1);
  });

  it("judges no more than a few offers a wake, however many are queued", () => {
    const host = new MemoryHost();
    let verified = 0;
    const verify = host.verify.bind(host);
    host.verify = (...args) => (verified++, verify(...args));
    const broker = offered(image("1.1.0", "esp32"));
    // A flood of signed-looking offers under ids of their own, each needing a signature check.
    for (let i = 0; i < 50; i++) broker.set(`t/update/${i.toString(16).padStart(16, "0")}/offer`, broker.get([...broker.keys()].find((t) => t.endsWith("/offer"))!)!);
    wake(host, broker);
    assert.equal(verified, OFFERS_PER_WAKE);
  });

  it("ignores an offer for other nodes and one for the version it runs", () => {
    const host = new MemoryHost();
    wake(host, offered(image("1.1.0"), { nodes: ["n2"] }));
    wake(host, offered(image("1.0.0")));
    assert.deepEqual(statusOf.get(host), { state: "idle", refused: 0 });
  });

  it("takes no more than its budget a wake, and resumes at the next", () => {
    const host = new MemoryHost();
    const broker = offered(image("1.1.0"));
    const total = Math.ceil(image("1.1.0").length / CHUNK);
    const fetched: string[] = [];
    for (let i = 0; i < total && !host.staged; i++) {
      const got = wake(host, broker, { ...roomy, wakeBytes: 2 * CHUNK });
      assert.ok(got.length <= 2, `wake ${i} took ${got.length} chunks`);
      fetched.push(...got);
    }
    assert.equal(host.staged, "1.1.0");
    assert.equal(new Set(fetched).size, fetched.length, "no chunk fetched twice");
  });

  it("takes no more than its daily budget, whatever the wakes, and goes on the next day", () => {
    const host = new MemoryHost();
    const broker = offered(image("1.1.0"));
    const day = Date.UTC(2026, 0, 1);
    const budget = { ...roomy, dayBytes: 3 * CHUNK };
    const sameDay = [0, 1, 2].flatMap((h) => wake(host, broker, budget, day + h * 3_600_000));
    assert.equal(sameDay.length, 3);
    assert.equal(wake(host, broker, budget, day + 86_400_000).length, 3);
  });

  it("refuses, counts and discards an image the host cannot stage, or a chunk it cannot write", () => {
    const host = new MemoryHost();
    host.stage = () => {
      throw new Error("esp_ota_set_boot_partition failed (ESP_ERR_OTA_VALIDATE_FAILED)");
    };
    wake(host, offered(image("1.1.0")));
    assertRefused(host, /not staged: esp_ota_set_boot_partition failed/);
    const small = new MemoryHost();
    small.writeChunk = (offset) => {
      if (offset > 0) throw new RangeError("past the OTA slot");
    };
    wake(small, offered(image("1.1.0")));
    assertRefused(small, /chunk 1 not staged: past the OTA slot/);
  });

  it("refuses the offer of a version it rolled back from, once, and takes a newer one", () => {
    const host = new MemoryHost();
    host.rolledBack = "1.1.0";
    const broker = offered(image("1.1.0"));
    assert.deepEqual(wake(host, broker), []);
    assertRefused(host, /version 1\.1\.0 was rolled back here/);
    wake(host, broker);
    assert.equal(statusOf.get(host)!.refused, 1, "the same retained offer is counted once");
    assert.ok(wake(host, offered(image("1.1.1"))).length > 0);
  });

  it("ends a transfer of the version it rolled back from that a cut left fetching with every chunk held", () => {
    const broker = offered(image("1.1.0"));
    const host = new MemoryHost();
    let held: MemoryHost | undefined;
    // The last write before the staging: every chunk held, the record still fetching.
    host.onWrite = () => {
      if ((JSON.parse(host.progress!) as { transfer: { phase: string } }).transfer.phase === "fetching") held = host.copy();
    };
    wake(host, broker);
    assert.equal(host.staged, "1.1.0");
    // Staged, booted, given up; the cut had come before the record said staged.
    const back = held!;
    back.rolledBack = "1.1.0";
    assert.deepEqual(wake(back, broker), []);
    assert.equal(back.staged, undefined, "not staged again");
    assert.equal(statusOf.get(back)!.state, "idle");
  });

  it("takes no chunk while the running image is still pending, and takes them once it is kept", () => {
    const host = new MemoryHost();
    host.pending = true;
    const broker = offered(image("1.1.0"));
    assert.deepEqual(wake(host, broker), []);
    assert.equal(statusOf.get(host)!.state, "fetching");
    host.markValid();
    assert.ok(wake(host, broker).length > 0);
    assert.equal(host.staged, "1.1.0");
  });

  it("resumes without fetching again after a cut at any progress write", () => {
    const broker = offered(image("1.1.0"));
    const snapshots: MemoryHost[] = [];
    const first = new MemoryHost();
    first.onWrite = () => snapshots.push(first.copy());
    wake(first, broker);
    assert.ok(snapshots.length > 10);
    for (const [k, snapshot] of snapshots.entries()) {
      const progress = JSON.parse(snapshot.progress!) as { transfer: { phase: string; held?: string; offer?: { size: number } } };
      const heldBefore = new Set<number>();
      if (progress.transfer.phase === "fetching") {
        const bitmap = fromHex(progress.transfer.held!, progress.transfer.held!.length / 2)!;
        bitmap.forEach((byte, i) => { for (let b = 0; b < 8; b++) if (byte & (1 << b)) heldBefore.add(i * 8 + b); });
      }
      const got = wake(snapshot, broker).map((t) => Number(t.split("/").at(-1)));
      if (progress.transfer.phase === "staged") continue;
      assert.equal(snapshot.staged, "1.1.0", `cut after write ${k}`);
      for (const i of got) assert.ok(!heldBefore.has(i), `cut after write ${k}: chunk ${i} fetched again`);
      assert.equal(new Set(got).size, got.length);
    }
  });
});
