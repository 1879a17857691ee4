// BytesStore: a session written to a region of bytes loads back as it was — messages, QoS 2 progress,
// the broker's limits — and a region it did not write, or one torn mid-write, is refused with an
// error that says so rather than loaded as a session. And what the client refuses without a broker
// to ask: a write its store cannot hold, options the codec cannot encode.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MQTTClient } from "../src/mqtt/client";
import type { ClientSocketOptions } from "../src/mqtt/client-io";
import { emptyClientSession } from "../src/mqtt/client-store";
import { BytesStore } from "../src/mqtt/client-store-bytes";

function region(size = 256) {
  return { bytes: new Uint8Array(size), commits: 0, commit() { this.commits++; } };
}

function sample() {
  const session = emptyClientSession();
  session.nextPacketId = 9;
  session.receiveMaximum = 20;
  session.maximumPacketSize = 4096;
  session.inflight.push({ packetId: 7, kind: 0, first: 0, count: 0, qos: 1, state: "sent" }, { packetId: 8, kind: 0, first: 0, count: 0, qos: 2, state: "released" });
  session.messages.set(7, { topic: "a/b", payload: Uint8Array.of(1, 2, 3), retain: true, properties: { contentType: "x/y" } });
  return session;
}

describe("BytesStore", () => {
  it("loads what it saved, and nothing once cleared", () => {
    const r = region();
    const store = new BytesStore(r);
    assert.equal(store.load(), undefined);
    store.save(sample());
    assert.ok(r.commits > 0);
    assert.deepEqual(new BytesStore(r).load(), sample());
    store.clear();
    assert.equal(new BytesStore(r).load(), undefined);
  });

  it("refuses a torn or foreign region, naming what is wrong", () => {
    const r = region();
    new BytesStore(r).save(sample());
    const torn = region();
    torn.bytes.set(r.bytes);
    // The length one byte short: the last packet (the PUBREL, 4 bytes) ends mid-packet.
    torn.bytes[3]! -= 1;
    assert.throws(() => new BytesStore(torn).load(), /MQTT session store: 3 bytes of a packet cut short/);
    const foreign = region();
    foreign.bytes.fill(0xff);
    assert.throws(() => new BytesStore(foreign).load(), /MQTT session store: header says/);
  });

  it("says when the in-flight table does not fit", () => {
    assert.throws(() => new BytesStore(region(20)).save(sample()), /MQTT session store: 2 messages in flight take \d+ bytes, the region has 20/);
  });

});

describe("MQTTClient over a fake socket: what it refuses", () => {
  it("a write the store cannot hold is refused, and its connection closed before it goes out", () => {
    const r = region(40);
    const { socket, sent, state } = fakeSocket();
    const errors: string[] = [];
    const client = new MQTTClient({
      address: "192.0.2.1",
      id: "small-store",
      clean: false,
      store: new BytesStore(r),
      socket: { io: socket },
      onError(error) {
        errors.push(String(error));
      },
    });
    state.options!.onWritable(1000);
    const closed = state.closed;
    client.write("one", { topic: "t", QoS: 1 });
    assert.throws(() => client.write("two, which does not fit", { topic: "t", QoS: 1 }), /MQTT session store: 2 messages in flight/);
    assert.ok(state.closed && !closed);
    assert.equal(errors.length, 1);
    const stored = new BytesStore(r).load()!;
    assert.deepEqual([...stored.messages.values()].map((m) => String.fromCharCode(...m.payload)), ["one"]);
    assert.ok(!sent.some((b) => String.fromCharCode(...b).includes("two")), "the refused message never left");
  });

  it("options the codec refuses (a will topic with a wildcard) are an error, not an exception in a socket callback", () => {
    const { socket, sent, state } = fakeSocket();
    const errors: string[] = [];
    new MQTTClient({ address: "192.0.2.1", socket: { io: socket }, will: { topic: "a/#", message: "gone" }, onError: (e) => errors.push(String(e)) });
    state.options!.onWritable(1000);
    assert.deepEqual(errors, ["ProtocolError: CONNECT: will topic contains '#'"]);
    assert.ok(state.closed);
    assert.equal(sent.length, 0);
  });
});

/** An ECMA-419 socket that connects when the test calls its onWritable, and keeps what is written. */
function fakeSocket() {
  const state: { options?: ClientSocketOptions; closed: boolean } = { closed: false };
  const sent: Uint8Array[] = [];
  const socket = class {
    constructor(options: ClientSocketOptions) {
      state.options = options;
    }
    read() {
      return undefined;
    }
    write(bytes: Uint8Array) {
      sent.push(bytes.slice());
      return 1000;
    }
    close() {
      state.closed = true;
    }
  };
  return { socket, sent, state };
}
