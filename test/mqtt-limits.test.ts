// The sans-IO parts that keep a node connected when a peer sends more than it holds or breaks the
// order of an exchange: the reader reads past an oversized PUBLISH in any chunking, the session
// acknowledges it and refuses acknowledgements before CONNACK, failure codes outside the spec's
// tables read as failures, and command results always fit the retained link memory.

import { applyCommand, noteResult, type CommandLimits } from "../src/uplink/commands";
import { encode, PacketReader, ProtocolError } from "../src/mqtt/codec";
import type { Packet, Version } from "../src/mqtt/packets";
import { publishRefusal } from "../src/mqtt/reasons";
import { emptySession, PublisherSession } from "../src/mqtt/session";
import { fitLink, linkBytes, MAX_LINK_BYTES, type LinkMemory } from "../src/retained/link-memory";
import { MAX_BROKERS } from "../src/config";
import { concat, text } from "./mqtt-support";
import fc from "fast-check";
import assert from "node:assert/strict";
import { describe, it } from "node:test";

const publishOf = (size: number, qos: 0 | 1 | 2, packetId = 7): Packet => ({
  type: "publish",
  topic: "torpor/n/cmd",
  payload: new Uint8Array(size).fill(0x61),
  qos,
  retain: false,
  dup: false,
  ...(qos ? { packetId } : {}),
});

describe("an oversized PUBLISH", () => {
  for (const version of [4, 5] as Version[]) {
    it(`is read past in any chunking, keeping only its id, and the packets behind it are read (MQTT ${version})`, () => {
      fc.assert(
        fc.property(fc.constantFrom(0, 1, 2), fc.integer({ min: 200, max: 3000 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 5 }), (qos, size, chunks) => {
          const big = encode(publishOf(size, qos as 0 | 1 | 2), version);
          const after = encode({ type: "pingresp" }, version);
          const reader = new PacketReader(version, { maximumPacketSize: 128, discardOversized: true });
          const bytes = concat([big, after]);
          const out: unknown[] = [];
          for (let pos = 0, i = 0; pos < bytes.length; i++) {
            const n = chunks[i % chunks.length]!;
            reader.push(bytes.slice(pos, pos + n));
            pos += n;
            for (let p = reader.next(); p; p = reader.next()) out.push(p);
          }
          assert.deepEqual(out, [{ type: "discarded", qos, size: big.length, ...(qos ? { packetId: 7 } : {}) }, { type: "pingresp" }]);
        }),
        { numRuns: 300 },
      );
    });
  }

  it("is acknowledged by the session and reported, and the connection goes on", () => {
    const session = new PublisherSession(4, emptySession(), 128);
    session.receive(encode({ type: "connack", sessionPresent: false, reasonCode: 0 }, 4));
    const events = session.receive(encode(publishOf(1000, 1, 42), 4));
    assert.deepEqual(events, [{ type: "discarded", size: encode(publishOf(1000, 1, 42), 4).length }]);
    assert.deepEqual(session.takeOutput(Infinity), encode({ type: "puback", packetId: 42 }, 4));
    assert.equal(session.takeOutput(Infinity), undefined);
  });

  it("is still a protocol error for a reader not told to discard it", () => {
    const reader = new PacketReader(4, { maximumPacketSize: 128 });
    reader.push(encode(publishOf(1000, 1), 4));
    assert.throws(() => reader.next(), (e) => e instanceof ProtocolError && e.reasonCode === 0x95);
  });
});

describe("the exchange's order", () => {
  it("refuses an acknowledgement before an accepting CONNACK (it could release readings a refusal never took)", () => {
    const state = emptySession();
    const session = new PublisherSession(5, state);
    session.publish({ topic: "t", payload: text("x"), qos: 1, retain: false }, 0, 0, 1);
    const early = concat([encode({ type: "puback", packetId: 1, reasonCode: 0 }, 5), encode({ type: "connack", sessionPresent: false, reasonCode: 0x87 }, 5)]);
    assert.throws(() => session.receive(early), /PUBACK before an accepting CONNACK/);
    assert.equal(state.inflight.length, 1, "the message is still in flight");
  });

  it("names a QoS 2 message answered with PUBACK (RabbitMQ), and takes it as delivered", () => {
    const session = new PublisherSession(4, emptySession());
    session.publish({ topic: "t", payload: text("x"), qos: 2, retain: false }, 0, 0, 3);
    session.receive(encode({ type: "connack", sessionPresent: false, reasonCode: 0 }, 4));
    const [event] = session.receive(encode({ type: "puback", packetId: 1 }, 4));
    assert.deepEqual(event && event.type === "acked" && { asQoS1: event.asQoS1, count: event.entry.count }, { asQoS1: true, count: 3 });
  });

  it("reads a failure code outside the table (PUBACK 0x95 from mosquitto) as a failure to classify", () => {
    const session = new PublisherSession(5, emptySession());
    session.publish({ topic: "t", payload: text("x"), qos: 1, retain: false }, 0, 0, 1);
    session.receive(encode({ type: "connack", sessionPresent: false, reasonCode: 0 }, 5));
    const [event] = session.receive(Uint8Array.from([0x40, 0x03, 0x00, 0x01, 0x95]));
    assert.equal(event?.type === "acked" && event.reasonCode, 0x95);
    assert.equal(publishRefusal(0x95), "later", "too large for it now: kept, re-split, sent again");
    assert.equal(publishRefusal(0x97), "later");
    assert.equal(publishRefusal(0xa7), "later", "a code nobody defined keeps the readings");
    assert.equal(publishRefusal(0x87), "never");
    // An unknown success code still changes the meaning of the exchange, and stays fatal.
    assert.throws(() => new PublisherSession(5, emptySession()).receive(Uint8Array.from([0x20, 0x03, 0x00, 0x05, 0x00])), ProtocolError);
  });
});

describe("command results", () => {
  const limits: CommandLimits = { minSampleInterval: 10, minBatchSize: 1, awakeBudget: 900, awakeThisWake: 0, nowS: 1_800_000_000 };

  it("always fit the link memory, newest kept, whatever arrives", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 500 }), fc.string({ unit: "binary", maxLength: 500 })), { maxLength: 40 }), (payloads) => {
        const link: LinkMemory = { version: 5, receiveMaximum: 20, maximumPacketSize: 268435455, subscribed: true, overrides: { sampleInterval: 86400, batchSize: 1000 } };
        let last = "";
        for (const p of payloads) {
          const effect = applyCommand(text(p), link, limits);
          noteResult(link, effect.result);
          last = effect.result;
          assert.ok(linkBytes(link) <= MAX_LINK_BYTES, `${linkBytes(link)} bytes`);
        }
        if (payloads.length) assert.equal(link.results!.at(-1)!.slice(0, 20), last.slice(0, 20));
      }),
    );
  });

  it("give way to the rest of the link memory, oldest first", () => {
    const link: LinkMemory = { results: Array.from({ length: 8 }, (_, i) => `${i}: error: ${"e".repeat(70)}`) };
    fitLink(link);
    assert.ok(linkBytes(link) <= MAX_LINK_BYTES);
    assert.equal(link.results!.at(-1)!.slice(0, 2), "7:");
  });

  it("leave room for the newest result when every other field of the link memory is at its largest", () => {
    // Required<>: a field added to LinkMemory must be added here, at its largest, or this fails to compile.
    const u32 = 0xffffffff;
    const largest: Required<Omit<LinkMemory, "results">> = {
      broker: MAX_BROKERS - 1, version: 4, v5RetryAt: u32, v5Closed: u32, receiveMaximum: 65535,
      maximumPacketSize: 268435460, refusedSize: 268435460, provenSize: 268435460, suspectSize: 268435460,
      maximumQoS: 1, retainAvailable: false, qos2AsPuback: true, subscribed: true,
      overrides: { sampleInterval: 86400, batchSize: 1000 }, epoch: u32, sealEpoch: u32, sealNext: u32,
      // A signed command's counter has at most 15 digits (MAX_LINE_BYTES).
      commandCounter: 999_999_999_999_999, statusAt: u32, statusPrint: u32,
      awake: { day: Math.floor(u32 / 86400), seconds: 86400 }, discovery: u32,
    };
    const link: LinkMemory = { ...largest, results: [`31: error: ${"e".repeat(60)}`] };
    assert.ok(linkBytes(link) <= MAX_LINK_BYTES, `${linkBytes(link)} bytes, room for ${MAX_LINK_BYTES}`);
  });

  it("refuse a payload nested deep enough to overflow the parser's stack, without parsing it", () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const effect = applyCommand(text(deep), {}, limits);
    assert.deepEqual(effect, { result: "?: error: nested deeper than 4 levels", ok: false });
  });

  it("never take a prototype key for a command", () => {
    for (const cmd of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const effect = applyCommand(text(JSON.stringify({ cmd, id: cmd })), {}, limits);
      assert.equal(effect.ok, false);
      assert.match(effect.result, /unknown command/);
    }
  });
});
