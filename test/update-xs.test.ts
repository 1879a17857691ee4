// The update agent's transfer and verification on the XS engine itself (XS 13 via @agoric/xsnap):
// the same run of wakes — a good offer among one signed by a stranger and one for another board,
// budgets that split it over wakes and days, power cuts after a progress write, a broker that lost
// the session, then an offer with a corrupted chunk — gives on XS exactly the progress records,
// subscriptions, log lines and statuses it gives on Node. XS has no node:crypto: it runs the
// harness's script SHA-256 and ECDSA P-256 (tools/xs), each checked against node:crypto.

import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { it, type TestContext } from "node:test";
import { toHex } from "../src/encoding/hex";
import { parseUpdateKey } from "../src/update/key";
import { publicLine } from "../tools/update/keys";
import { offerMessages } from "../tools/update/offer";
import { decodeJson, encodeJson } from "../tools/xs/json";
import { runUpdateScenario, type UpdateCrypto, type UpdateScenario, type UpdateWake } from "./fixtures/xs/update-ops";
import { bundle, xsFixture } from "./support/bundle";
import { findXsnapWorker, XsWorker } from "./support/xsnap";

const available = findXsnapWorker() !== undefined;
const CHUNK = 256;

const nodeUpdateCrypto: UpdateCrypto = {
  verify(publicKey, message, signature) {
    const b64 = (from: number) => Buffer.from(publicKey.subarray(from, from + 32)).toString("base64url");
    const key = crypto.createPublicKey({ key: { kty: "EC", crv: "P-256", x: b64(1), y: b64(33) }, format: "jwk" });
    return crypto.verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
  },
  sha256: (bytes) => new Uint8Array(crypto.createHash("sha256").update(bytes).digest()),
};

function image(version: string, board = "node", bytes = 3000): Buffer {
  const body = Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 7 + version.length) & 0xff));
  return Buffer.concat([Buffer.from(`${JSON.stringify({ torpor: "image", version, board })}\n`), body]);
}

function retained(img: Buffer, key: crypto.KeyObject): [string, Uint8Array][] {
  const { messages } = offerMessages(img, key, { prefix: "t", nodes: [], chunk: CHUNK, battery: 0, downgrade: false });
  return messages.map((m) => [m.topic, new Uint8Array(m.payload)]);
}

function scenario(): UpdateScenario {
  const operator = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const stranger = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const good = image("1.1.0");
  const first = [...retained(image("1.2.0"), stranger.privateKey), ...retained(image("1.3.0", "esp32"), operator.privateKey), ...retained(good, operator.privateKey)];
  const corrupted = retained(image("1.4.0"), operator.privateKey);
  corrupted[2]![1][40]! ^= 1;
  const day = Date.UTC(2026, 0, 1);
  const budget = { wakeBytes: 1024, dayBytes: 2560, wakeMs: 60_000 };
  const wakes: UpdateWake[] = [
    { retained: first, budget, wall: day },
    { retained: first, budget, wall: day + 600_000, cutAfterWrite: 2 },
    { retained: first, budget, wall: day + 1_200_000, sessionLost: true },
    { retained: first, budget, wall: day + 86_400_000, cutAfterWrite: 1 },
    { retained: first, budget: { ...budget, wakeBytes: 1 << 20, dayBytes: 1 << 20 }, wall: day + 86_400_000 + 600_000 },
    { retained: corrupted, budget, wall: day + 2 * 86_400_000, sessionLost: true },
  ];
  return { key: parseUpdateKey(publicLine(operator.publicKey))!, node: "n1", prefix: "t", version: "1.0.0", board: "node", wakes };
}

it("the update agent runs the same transcript on Node and on XS", async (t: TestContext) => {
  if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
  const s = scenario();
  const onNode = runUpdateScenario(s, nodeUpdateCrypto);
  // The transcript is worth comparing: the run refuses, pauses, cuts, resumes and stages.
  assert.equal(onNode.staged, "1.1.0");
  assert.equal(onNode.staging, toHex(nodeUpdateCrypto.sha256(new Uint8Array(0))), "the corrupted offer's staging is discarded");
  assert.ok(onNode.events.flat().some((e) => /bad signature/.test(e)));
  assert.ok(onNode.events.flat().some((e) => /for board esp32/.test(e)));
  assert.ok(onNode.events.flat().some((e) => /corrupted/.test(e)));
  assert.deepEqual(onNode.events.map((e) => e.includes("cut")), [false, true, false, true, false, false]);
  assert.deepEqual(onNode.status.at(-1), { state: "idle", refused: 3, last: onNode.status.at(-1)!.last });
  assert.ok(onNode.records.length > 20);

  const worker = await XsWorker.start({ meteringLimit: 0 });
  try {
    await worker.evaluate(bundle(xsFixture("update.entry.ts")));
    const { result: onXs } = await worker.call({ op: "run", scenario: s });
    assert.deepEqual(onXs, decodeJson(encodeJson(onNode)));
  } finally {
    await worker.close();
  }
});
