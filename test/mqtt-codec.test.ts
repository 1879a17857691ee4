import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encode, encodedLength, encodeInto, PacketReader, ProtocolError } from "../src/mqtt/codec";
import type { Packet, Version } from "../src/mqtt/packets";
import { arbPacket, concat, hex, oracleBytes, oracleBytesShortest, readAll, text, toHex } from "./mqtt-support";

/** Hand-written packets that mqtt-packet can express, in canonical (decoded) form. */
const cases: Record<Version, [string, Packet][]> = {
  4: [
    ["CONNECT, minimal", { type: "connect", clientId: "node-1", cleanStart: true, keepAlive: 60 }],
    ["CONNECT, empty client id", { type: "connect", clientId: "", cleanStart: true, keepAlive: 0 }],
    [
      "CONNECT, persistent session, credentials, will",
      {
        type: "connect",
        clientId: "torpor-ab12",
        cleanStart: false,
        keepAlive: 0xffff,
        will: { topic: "torpor/ab12/status", payload: text('{"state":"offline"}'), qos: 1, retain: true },
        username: "node",
        password: Uint8Array.of(0, 1, 2, 0xff),
      },
    ],
    ["CONNECT, will QoS 2 with empty payload", { type: "connect", clientId: "x", cleanStart: true, keepAlive: 5, will: { topic: "w", payload: new Uint8Array(0), qos: 2, retain: false } }],
    ["CONNACK, accepted, session present", { type: "connack", sessionPresent: true, reasonCode: 0 }],
    ["CONNACK, not authorized", { type: "connack", sessionPresent: false, reasonCode: 5 }],
    ["PUBLISH, QoS 0", { type: "publish", topic: "torpor/n/telemetry", payload: text("[]"), qos: 0, retain: false, dup: false }],
    ["PUBLISH, QoS 1, DUP, retain", { type: "publish", topic: "a/b", payload: text("x"), qos: 1, retain: true, dup: true, packetId: 1 }],
    ["PUBLISH, QoS 2, empty payload, astral topic", { type: "publish", topic: "ünï/😀/€", payload: new Uint8Array(0), qos: 2, retain: false, dup: false, packetId: 0xffff }],
    ["PUBLISH, 200-byte payload (two-byte length)", { type: "publish", topic: "t", payload: new Uint8Array(200).fill(7), qos: 0, retain: false, dup: false }],
    ["PUBACK", { type: "puback", packetId: 42 }],
    ["PUBREC", { type: "pubrec", packetId: 43 }],
    ["PUBREL", { type: "pubrel", packetId: 44 }],
    ["PUBCOMP", { type: "pubcomp", packetId: 45 }],
    [
      "SUBSCRIBE, wildcards",
      { type: "subscribe", packetId: 7, subscriptions: [{ topic: "torpor/+/cmd", qos: 1 }, { topic: "#", qos: 0 }, { topic: "a/b/#", qos: 2 }] },
    ],
    ["SUBACK", { type: "suback", packetId: 7, reasonCodes: [1, 0, 2, 0x80] }],
    ["UNSUBSCRIBE", { type: "unsubscribe", packetId: 8, topics: ["torpor/+/cmd", "a/b/#"] }],
    ["UNSUBACK", { type: "unsuback", packetId: 8 }],
    ["PINGREQ", { type: "pingreq" }],
    ["PINGRESP", { type: "pingresp" }],
    ["DISCONNECT", { type: "disconnect" }],
  ],
  5: [
    ["CONNECT, minimal", { type: "connect", clientId: "node-1", cleanStart: true, keepAlive: 60 }],
    [
      "CONNECT, every property, will with every property",
      {
        type: "connect",
        clientId: "torpor-ab12",
        cleanStart: false,
        keepAlive: 300,
        properties: {
          sessionExpiryInterval: 86_400,
          authenticationMethod: "SCRAM-SHA-1",
          authenticationData: Uint8Array.of(1, 2, 3),
          requestProblemInformation: false,
          requestResponseInformation: true,
          receiveMaximum: 20,
          topicAliasMaximum: 10,
          userProperties: [["fw", "0.1.0"], ["board", "esp32"]],
          maximumPacketSize: 4096,
        },
        will: {
          topic: "torpor/ab12/status",
          payload: text("offline"),
          qos: 1,
          retain: true,
          properties: {
            payloadFormatIndicator: 1,
            messageExpiryInterval: 3600,
            contentType: "text/plain",
            responseTopic: "torpor/ab12/reply",
            correlationData: Uint8Array.of(9, 9),
            willDelayInterval: 86_400,
            userProperties: [["why", "sleep"]],
          },
        },
        username: "node",
        password: text("secret"),
      },
    ],
    ["CONNACK, minimal", { type: "connack", sessionPresent: false, reasonCode: 0 }],
    [
      "CONNACK, every property",
      {
        type: "connack",
        sessionPresent: true,
        reasonCode: 0,
        properties: {
          sessionExpiryInterval: 0xffff_ffff,
          assignedClientIdentifier: "auto-1",
          serverKeepAlive: 120,
          authenticationMethod: "m",
          authenticationData: new Uint8Array(0),
          responseInformation: "resp",
          serverReference: "other:1883",
          reasonString: "ok",
          receiveMaximum: 65535,
          topicAliasMaximum: 0,
          maximumQoS: 1,
          retainAvailable: false,
          userProperties: [["a", ""]],
          maximumPacketSize: 1,
          wildcardSubscriptionAvailable: true,
          subscriptionIdentifiersAvailable: false,
          sharedSubscriptionAvailable: true,
        },
      },
    ],
    ["CONNACK, refused", { type: "connack", sessionPresent: false, reasonCode: 0x86, properties: { reasonString: "bad credentials" } }],
    [
      "PUBLISH, QoS 1 with every property",
      {
        type: "publish",
        topic: "torpor/n/telemetry",
        payload: text('[{"bn":"n"}]'),
        qos: 1,
        retain: false,
        dup: false,
        packetId: 3,
        properties: {
          payloadFormatIndicator: 1,
          messageExpiryInterval: 600,
          contentType: "application/senml+json",
          responseTopic: "r/x",
          correlationData: Uint8Array.of(0xca, 0xfe),
          subscriptionIdentifiers: [1, 127, 128, 16_383, 16_384, 268_435_455],
          topicAlias: 1,
          userProperties: [["k", "v1"], ["k", "v2"], ["k2", "😀"]],
        },
      },
    ],
    ["PUBLISH, empty topic with topic alias", { type: "publish", topic: "", payload: text("1"), qos: 0, retain: false, dup: false, properties: { topicAlias: 65535 } }],
    ["PUBACK, success", { type: "puback", packetId: 1, reasonCode: 0 }],
    ["PUBACK, no matching subscribers", { type: "puback", packetId: 2, reasonCode: 0x10 }],
    ["PUBACK, with reason string", { type: "puback", packetId: 3, reasonCode: 0x97, properties: { reasonString: "quota" } }],
    ["PUBACK, success with user property", { type: "puback", packetId: 4, reasonCode: 0, properties: { userProperties: [["x", "y"]] } }],
    ["PUBREC", { type: "pubrec", packetId: 5, reasonCode: 0x80 }],
    ["PUBREL, packet identifier not found", { type: "pubrel", packetId: 6, reasonCode: 0x92 }],
    ["PUBCOMP", { type: "pubcomp", packetId: 7, reasonCode: 0 }],
    [
      "SUBSCRIBE, options, identifier, shared subscription",
      {
        type: "subscribe",
        packetId: 9,
        properties: { subscriptionIdentifier: 300, userProperties: [["u", "p"]] },
        subscriptions: [
          { topic: "torpor/n/cmd", qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 },
          { topic: "$share/group/a/+", qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 1 },
        ],
      },
    ],
    ["SUBACK", { type: "suback", packetId: 9, reasonCodes: [1, 0x9e], properties: { reasonString: "no shared" } }],
    ["UNSUBSCRIBE", { type: "unsubscribe", packetId: 10, topics: ["torpor/n/cmd"], properties: { userProperties: [["a", "b"]] } }],
    ["UNSUBACK", { type: "unsuback", packetId: 10, reasonCodes: [0, 0x11] }],
    ["PINGREQ", { type: "pingreq" }],
    ["PINGRESP", { type: "pingresp" }],
    ["DISCONNECT, normal", { type: "disconnect", reasonCode: 0 }],
    ["DISCONNECT, with will message", { type: "disconnect", reasonCode: 0x04 }],
    ["DISCONNECT, session expiry and server reference", { type: "disconnect", reasonCode: 0x9c, properties: { sessionExpiryInterval: 0, serverReference: "b:1883" } }],
    ["AUTH, success", { type: "auth", reasonCode: 0 }],
    ["AUTH, continue", { type: "auth", reasonCode: 0x18, properties: { authenticationMethod: "SCRAM-SHA-1", authenticationData: text("c=biws") } }],
    ["AUTH, re-authenticate without properties", { type: "auth", reasonCode: 0x19 }],
  ],
};

describe("MQTT codec: encoding is byte-exact against mqtt-packet", () => {
  for (const version of [4, 5] as const) {
    for (const [name, packet] of cases[version]) {
      it(`v${version} ${name}`, () => {
        const ours = encode(packet, version);
        assert.equal(toHex(ours), toHex(oracleBytesShortest(packet, version)));
        assert.equal(encodedLength(packet, version), ours.length);
        assert.deepEqual(readAll(oracleBytes(packet, version), version), [packet], "reads mqtt-packet's bytes back");
        assert.deepEqual(readAll(ours, version, [1]), [packet], "reads its own bytes back, one byte at a time");
      });
    }
  }
});

describe("MQTT codec: exact bytes", () => {
  const exact: [string, Version, Packet, string][] = [
    ["v4 CONNECT (3.1.1 §3.1)", 4, { type: "connect", clientId: "a", cleanStart: true, keepAlive: 60 }, "100d 00044d515454 04 02 003c 000161"],
    ["v5 CONNECT (5.0 §3.1)", 5, { type: "connect", clientId: "a", cleanStart: true, keepAlive: 60 }, "100e 00044d515454 05 02 003c 00 000161"],
    // mqtt-packet refuses both of these, which MQTT 5 allows (§3.1.2.9, §3.1.3.1).
    ["v5 CONNECT, password without user name", 5, { type: "connect", clientId: "a", cleanStart: true, keepAlive: 0, password: Uint8Array.of(1) }, "1011 00044d515454 05 42 0000 00 000161 000101"],
    ["v5 CONNECT, empty client id, no clean start", 5, { type: "connect", clientId: "", cleanStart: false, keepAlive: 0 }, "100d 00044d515454 05 00 0000 00 0000"],
    ["v5 PUBACK, success, shortest form", 5, { type: "puback", packetId: 1, reasonCode: 0 }, "4002 0001"],
    ["v5 PUBACK, reason code without properties", 5, { type: "puback", packetId: 1, reasonCode: 0x10 }, "4003 0001 10"],
    ["v5 PUBREL", 5, { type: "pubrel", packetId: 258, reasonCode: 0 }, "6202 0102"],
    ["v5 DISCONNECT, normal", 5, { type: "disconnect", reasonCode: 0 }, "e000"],
    ["v5 DISCONNECT, reason code only", 5, { type: "disconnect", reasonCode: 0x04 }, "e001 04"],
    ["v5 AUTH, success", 5, { type: "auth", reasonCode: 0 }, "f000"],
    ["v5 AUTH, reason code needs its property length", 5, { type: "auth", reasonCode: 0x19 }, "f002 19 00"],
    ["v4 PINGREQ", 4, { type: "pingreq" }, "c000"],
  ];
  for (const [name, version, packet, bytes] of exact) {
    it(name, () => {
      assert.equal(toHex(encode(packet, version)), bytes.replace(/ /g, ""));
      assert.deepEqual(readAll(hex(bytes), version), [packet]);
    });
  }

  it("accepts the loose forms and decodes them to the canonical one", () => {
    assert.equal(toHex(encode({ type: "puback", packetId: 1 }, 5)), "40020001");
    assert.equal(toHex(encode({ type: "puback", packetId: 1, reasonCode: 0, properties: {} }, 4)), "40020001");
    assert.equal(toHex(encode({ type: "disconnect" }, 5)), "e000");
    assert.equal(toHex(encode({ type: "disconnect", reasonCode: 0 }, 4)), "e000");
    assert.equal(toHex(encode({ type: "publish", topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, dup: false, properties: { userProperties: [] } }, 5)), "300400017400");
    assert.deepEqual(readAll(hex("4002 0001"), 5), [{ type: "puback", packetId: 1, reasonCode: 0 }]);
    assert.deepEqual(readAll(hex("8207 0001 00 000161 00"), 5), [
      { type: "subscribe", packetId: 1, subscriptions: [{ topic: "a", qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] },
    ]);
  });

  it("reads the 3.1.1 refusal a 3.1.1-only broker sends an MQTT 5 client as Unsupported Protocol Version", () => {
    assert.deepEqual(readAll(hex("2002 00 01"), 5), [{ type: "connack", sessionPresent: false, reasonCode: 0x84 }]);
  });

  it("writes and reads the longest remaining length (4 bytes) like mqtt-packet", () => {
    const packet: Packet = { type: "publish", topic: "big", payload: new Uint8Array(2_097_152).fill(0x5a), qos: 1, retain: false, dup: false, packetId: 9 };
    const ours = encode(packet, 5);
    assert.deepEqual(ours.subarray(0, 5), Uint8Array.of(0x32, 0x88, 0x80, 0x80, 0x01));
    assert.deepEqual(ours, oracleBytes(packet, 5));
    assert.deepEqual(readAll(ours, 5, [65_536, 1, 1000]), [packet]);
  });
});

describe("MQTT codec: PacketReader", () => {
  const a: Packet = { type: "publish", topic: "a", payload: text("one"), qos: 1, retain: false, dup: false, packetId: 1 };
  const b: Packet = { type: "pingresp" };
  const c: Packet = { type: "puback", packetId: 2 };

  it("returns several packets from one chunk, as views of it", () => {
    const bytes = concat([encode(a, 4), encode(b, 4), encode(c, 4)]);
    const reader = new PacketReader(4);
    reader.push(bytes);
    const first = reader.next();
    assert.deepEqual(first, a);
    assert.equal(first?.type === "publish" && first.payload.buffer, bytes.buffer, "payload is a view, not a copy");
    assert.deepEqual(reader.next(), b);
    assert.deepEqual(reader.next(), c);
    assert.equal(reader.next(), undefined);
  });

  it("waits for the rest of a packet, whatever the chunking", () => {
    const bytes = concat([encode(a, 5), encode(b, 5), encode(c, 5)]);
    for (let split = 0; split <= bytes.length; split++) {
      assert.deepEqual(readAll(bytes, 5, [split || 1, bytes.length]), [a, b, c].map((p) => readAll(encode(p, 5), 5)[0]));
    }
    const reader = new PacketReader(4);
    assert.equal(reader.next(), undefined);
    reader.push(new Uint8Array(0));
    assert.equal(reader.next(), undefined);
  });

  it("accepts a packet of exactly maximumPacketSize bytes", () => {
    const bytes = encode(a, 4);
    const reader = new PacketReader(4, { maximumPacketSize: bytes.length });
    reader.push(bytes);
    assert.deepEqual(reader.next(), a);
  });

  it("refuses a bad version, limit or chunk", () => {
    assert.throws(() => new PacketReader(3 as Version), RangeError);
    assert.throws(() => new PacketReader(4, { maximumPacketSize: 1 }), RangeError);
    assert.throws(() => encode({ type: "pingreq" }, 3 as Version), RangeError);
    assert.throws(() => new PacketReader(4).push(new ArrayBuffer(2) as unknown as Uint8Array), { name: "TypeError", message: /must be a Uint8Array/ });
  });
});

describe("MQTT codec: encodeInto and encodedLength", () => {
  it("pipelines several packets into one buffer", () => {
    const packets: Packet[] = [
      { type: "connect", clientId: "n", cleanStart: false, keepAlive: 30, properties: { sessionExpiryInterval: 3600 } },
      { type: "publish", topic: "t", payload: text("1"), qos: 1, retain: false, dup: true, packetId: 1 },
      { type: "publish", topic: "t", payload: text("2"), qos: 1, retain: false, dup: false, packetId: 2 },
    ];
    const total = packets.reduce((n, p) => n + encodedLength(p, 5), 0);
    const buffer = new Uint8Array(total + 3);
    let offset = 3;
    for (const p of packets) offset += encodeInto(p, 5, buffer, offset);
    assert.equal(offset, buffer.length);
    assert.deepEqual(buffer.subarray(3), concat(packets.map((p) => encode(p, 5))));
    assert.throws(() => encodeInto(packets[1]!, 5, buffer, buffer.length - 2), { name: "RangeError", message: /do not fit/ });
  });
});

describe("MQTT codec: properties (fast-check)", () => {
  for (const version of [4, 5] as const) {
    it(`v${version}: our bytes equal mqtt-packet's, and we read mqtt-packet's bytes back`, () => {
      fc.assert(
        fc.property(arbPacket(version, { oracle: true }), (p) => {
          assert.equal(toHex(encode(p, version)), toHex(oracleBytesShortest(p, version)));
          assert.deepEqual(readAll(oracleBytes(p, version), version), [p]);
        }),
        { numRuns: 2500, seed: 0x70c0 + version },
      );
    });

    it(`v${version}: decode(encode(stream)) is the stream, in any chunking`, () => {
      fc.assert(
        fc.property(fc.array(arbPacket(version), { minLength: 1, maxLength: 4 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 6 }), (packets, chunks) => {
          const bytes = concat(packets.map((p) => encode(p, version)));
          assert.equal(bytes.length, packets.reduce((n, p) => n + encodedLength(p, version), 0));
          assert.deepEqual(readAll(bytes, version, chunks), packets);
        }),
        { numRuns: 2500, seed: 0x5eed + version },
      );
    });
  }

  it("errors are ProtocolErrors", () => {
    assert.throws(() => encode({ type: "puback", packetId: 0 }, 4), ProtocolError);
  });
});
