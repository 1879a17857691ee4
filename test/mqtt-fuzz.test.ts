// Seeded, deterministic fuzzing of PacketReader: random byte strings and mutations of valid
// encodings (bit flips, byte edits, truncations, insertions, deletions, remaining-length edits,
// splices), fed in random chunks. The only exception allowed out is ProtocolError; and whatever the
// reader accepts, the encoder must accept too and write bytes that read back to the same packet.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encode, PacketReader, ProtocolError } from "../src/mqtt/codec";
import type { Packet, Version } from "../src/mqtt/packets";
import { arbPacket, concat, readAll, toHex } from "./mqtt-support";

const INPUTS_PER_VERSION = 100_000;

/** mulberry32: small, fast, good enough to drive mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function fuzz(version: Version, seed: number) {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  const corpus = fc.sample(arbPacket(version), { numRuns: 500, seed }).map((p) => encode(p, version));
  const interesting = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0x26, 0x0b, 0x2b, 0x23];

  const mutate = (input: Uint8Array): Uint8Array => {
    let b = Array.from(input);
    for (let k = 1 + int(3); k > 0; k--) {
      const at = b.length === 0 ? 0 : int(b.length);
      switch (int(9)) {
        case 0:
          if (b.length) b[at]! ^= 1 << int(8);
          break;
        case 1:
          if (b.length) b[at] = int(256);
          break;
        case 2:
          if (b.length) b[at] = interesting[int(interesting.length)]!;
          break;
        case 3:
          b = b.slice(0, at);
          break;
        case 4:
          b.splice(at, 1);
          break;
        case 5:
          b.splice(at, 0, int(256));
          break;
        case 6: // remaining length: nudge, replace, or stretch to a multi-byte form
          if (b.length > 1) {
            const choice = int(3);
            if (choice === 0) b[1] = (b[1]! + (random() < 0.5 ? 1 : 255)) & 0xff;
            else if (choice === 1) b[1] = int(256);
            else b.splice(1, 1, 0x80 | int(128), 0x80 | int(128), int(128));
          }
          break;
        case 7:
          b.push(...Array.from({ length: 1 + int(8) }, () => int(256)));
          break;
        default: {
          const other = corpus[int(corpus.length)]!;
          b = b.slice(0, at).concat(Array.from(other.subarray(int(other.length))));
        }
      }
    }
    return Uint8Array.from(b);
  };

  let packets = 0;
  let refusals = 0;
  for (let n = 0; n < INPUTS_PER_VERSION; n++) {
    let input: Uint8Array;
    const kind = int(10);
    if (kind < 2) input = Uint8Array.from({ length: int(40) }, () => int(256));
    else if (kind < 3) input = Uint8Array.from([int(256), int(128), ...Array.from({ length: int(24) }, () => int(256))]);
    else {
      const base = corpus[int(corpus.length)]!;
      input = mutate(random() < 0.2 ? concat([base, corpus[int(corpus.length)]!]) : base);
    }
    const reader = new PacketReader(version, random() < 0.3 ? { maximumPacketSize: 2 + int(300) } : undefined);
    const accepted: Packet[] = [];
    try {
      for (let pos = 0; pos < input.length; ) {
        const size = 1 + int(random() < 0.5 ? 4 : input.length);
        reader.push(input.slice(pos, pos + size));
        pos += size;
        for (let p = reader.next(); p !== undefined; p = reader.next()) accepted.push(p);
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) assert.fail(`v${version} input ${toHex(input)}: ${String(e)}`);
      assert.ok(e.reasonCode >= 0x80 && e.message.length > 0);
      refusals++;
    }
    for (const p of accepted) {
      packets++;
      let again: Packet[];
      try {
        again = readAll(encode(p, version), version);
      } catch (e) {
        assert.fail(`v${version} input ${toHex(input)}: read ${JSON.stringify(p)} but cannot re-encode it: ${String(e)}`);
      }
      assert.deepEqual(again, [p], `v${version} input ${toHex(input)}`);
    }
  }
  return { packets, refusals };
}

describe("MQTT codec: fuzzing PacketReader", () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: ${INPUTS_PER_VERSION} inputs, only ProtocolError escapes`, { timeout: 60_000 }, () => {
      const started = performance.now();
      const { packets, refusals } = fuzz(version, 0xf0220 + version);
      const seconds = (performance.now() - started) / 1000;
      // The mutations should exercise both sides: plenty of refusals and plenty of packets read.
      assert.ok(refusals > INPUTS_PER_VERSION / 4, `only ${refusals} refusals`);
      assert.ok(packets > INPUTS_PER_VERSION / 10, `only ${packets} packets read`);
      assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`);
    });
  }
});
