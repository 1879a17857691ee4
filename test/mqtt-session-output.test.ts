// The session's output as the driver takes it: piece by piece, each no larger than the room the
// socket has, in order, and never copied into one buffer the size of the whole batch.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { emptySession, PublisherSession } from "../src/mqtt/session";
import { concat } from "./mqtt-support";

const message = (size: number) => ({ topic: "torpor/n/telemetry", payload: new Uint8Array(size).fill(0x61), qos: 1 as const, retain: false });

describe("the session's output", () => {
  it("comes out in pieces no larger than the room, in order, whatever the room each time", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1 }), (sizes, rooms) => {
        const session = new PublisherSession(5, emptySession());
        const reference = new PublisherSession(5, emptySession());
        for (const size of sizes) {
          session.publish(message(size));
          reference.publish(message(size));
        }
        const expected: Uint8Array[] = [];
        for (let packet = reference.takeOutput(Infinity); packet; packet = reference.takeOutput(Infinity)) expected.push(packet);
        const pieces: Uint8Array[] = [];
        for (let i = 0; session.hasOutput; i++) {
          const room = rooms[i % rooms.length]!;
          const piece = session.takeOutput(room)!;
          assert.ok(piece.length > 0 && piece.length <= room, `${piece.length} bytes for room ${room}`);
          pieces.push(piece);
        }
        assert.deepEqual(concat(pieces), concat(expected));
        assert.equal(session.takeOutput(1000), undefined);
      }),
    );
  });

  it("hands out a queued packet itself, or views into it: no copy", () => {
    const session = new PublisherSession(5, emptySession());
    session.publish(message(100));
    session.publish(message(100));
    const first = session.takeOutput(1000)!;
    const head = session.takeOutput(10)!;
    const rest = session.takeOutput(1000)!;
    assert.equal(head.buffer, rest.buffer, "both parts of the second packet view one buffer");
    assert.notEqual(first.buffer, head.buffer);
    assert.equal(head.byteOffset + head.length, rest.byteOffset);
  });

  it("takes nothing with no room, and drops everything on discardOutput()", () => {
    const session = new PublisherSession(5, emptySession());
    session.ping();
    assert.equal(session.takeOutput(0), undefined);
    assert.equal(session.hasOutput, true);
    session.discardOutput();
    assert.equal(session.hasOutput, false);
    assert.equal(session.takeOutput(1000), undefined);
  });
});
