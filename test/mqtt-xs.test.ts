// The codec on the XS engine itself (XS 13 via @agoric/xsnap): the same inputs must give the same
// packets, bytes and error messages as on Node, so the fuzzing and oracle tests done on Node hold
// for the firmware too.

import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import fc from "fast-check";
import { encode } from "../src/mqtt/codec";
import type { Version } from "../src/mqtt/packets";
import { bundle, repoRoot } from "./support/bundle";
import { findXsnapWorker, XsWorker } from "./support/xsnap";
import { decodeJson, encodeJson } from "../tools/xs/json";
import { arbPacket, concat } from "./mqtt-support";
import { handle, type XsRequest } from "./mqtt-xs-ops";

const available = findXsnapWorker() !== undefined;
const code = available ? bundle(join(repoRoot, "test", "mqtt-xs.entry.ts")) : "";

async function onXS(t: TestContext, requests: XsRequest[]): Promise<void> {
  if (!available) return t.skip("xsnap-worker is not built: @agoric/xsnap builds it at install (npm ci, with allowScripts)");
  const worker = await XsWorker.start({ meteringLimit: 0 });
  try {
    await worker.evaluate(code);
    for (const request of requests) {
      const { result } = await worker.call(request);
      // Through the harness's JSON both ways, so that Node's answer has the shape of the one that
      // crossed the pipe (views become plain arrays, and so on).
      assert.deepEqual(result, decodeJson(encodeJson(handle(request))));
    }
  } finally {
    await worker.close();
  }
}

/** Valid streams, and the same streams with one byte changed or cut short. */
function inputs(version: Version, seed: number): Uint8Array[] {
  const packets = fc.sample(arbPacket(version), { numRuns: 300, seed });
  const streams = packets.map((p) => encode(p, version));
  const out: Uint8Array[] = [concat(streams)];
  streams.forEach((s, i) => {
    out.push(s);
    const flipped = s.slice();
    flipped[i % s.length]! ^= 1 << (i % 8);
    out.push(flipped, s.subarray(0, Math.floor(s.length / 2)));
  });
  return out;
}

describe("MQTT codec on XS", () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: reads and writes exactly as on Node`, (t) => {
      const packets = fc.sample(arbPacket(version), { numRuns: 300, seed: 0x75 + version });
      return onXS(t, [
        { op: "read", version, inputs: inputs(version, 0x1 + version), chunk: 1 },
        { op: "read", version, inputs: inputs(version, 0x2 + version), chunk: 7 },
        { op: "encode", version, packets },
      ]);
    });
  }

  it("utf8 agrees with Node, errors included", (t) =>
    onXS(t, [
      {
        op: "utf8",
        strings: ["", "ascii", "é€😀\u{10ffff}", "ab😀".repeat(600)],
        bytes: [Uint8Array.of(0xc0, 0x80), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xf4, 0x90, 0x80, 0x80), Uint8Array.of(0xe2, 0x82), Uint8Array.of(0x68, 0xc3, 0xa9)],
      },
    ]));
});
