// Every rule the codec enforces, one test each, asserting ProtocolError, its reason code and its
// message. Packets are written as hex with the remaining length computed, so that each case shows
// only the bytes that matter.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encode, encodedLength, PacketReader, ProtocolError } from "../src/mqtt/codec";
import type { Packet, Version } from "../src/mqtt/packets";
import { concat, hex, text } from "./mqtt-support";

/** A packet: first byte, computed remaining length, body given as hex. */
function frame(first: number, body: string): Uint8Array {
  const b = hex(body);
  const length: number[] = [];
  let n = b.length;
  do {
    length.push((n % 128) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return concat([Uint8Array.of(first, ...length), b]);
}

/** A UTF-8 Encoded String field as hex. */
function str(s: string): string {
  const b = text(s);
  return Buffer.from([b.length >> 8, b.length & 0xff, ...b]).toString("hex");
}

function refuses(version: Version, bytes: Uint8Array, reasonCode: number, message: string | RegExp, options?: { maximumPacketSize?: number }) {
  const reader = new PacketReader(version, options);
  reader.push(bytes);
  assert.throws(
    () => reader.next(),
    (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `expected a ProtocolError, got ${String(e)}`);
      if (typeof message === "string") assert.equal(e.message, message);
      else assert.match(e.message, message);
      assert.equal(e.reasonCode, reasonCode, `reason code of "${e.message}"`);
      return true;
    },
  );
}

function encodeRefuses(version: Version, packet: Packet, reasonCode: number, message: string | RegExp) {
  for (const f of [() => encode(packet, version), () => encodedLength(packet, version)]) {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof ProtocolError, `expected a ProtocolError, got ${String(e)}`);
      if (typeof message === "string") assert.equal(e.message, message);
      else assert.match(e.message, message);
      assert.equal(e.reasonCode, reasonCode, `reason code of "${e.message}"`);
      return true;
    });
  }
}

type Case = [name: string, version: Version, bytes: Uint8Array, reasonCode: number, message: string | RegExp];

const publishA = (props: string) => frame(0x30, `${str("a")} ${props}`);

const decoding: Record<string, Case[]> = {
  "fixed header": [
    ["remaining length of 5 bytes", 4, hex("30 ff ff ff ff 01"), 0x81, "PUBLISH: remaining length is longer than 4 bytes"],
    ["non-minimal remaining length", 4, hex("c0 80 00"), 0x81, "PINGREQ: remaining length is not minimally encoded"],
    ["PUBREL flags 0", 4, frame(0x60, "0001"), 0x81, "PUBREL: reserved header flags must be 0b0010, got 0b0000"],
    ["SUBSCRIBE flags 0", 5, frame(0x80, `0001 00 ${str("a")} 00`), 0x81, "SUBSCRIBE: reserved header flags must be 0b0010, got 0b0000"],
    ["UNSUBSCRIBE flags 3", 4, frame(0xa3, `0001 ${str("a")}`), 0x81, "UNSUBSCRIBE: reserved header flags must be 0b0010, got 0b0011"],
    ["PUBACK flags 1", 4, frame(0x41, "0001"), 0x81, "PUBACK: reserved header flags must be 0b0000, got 0b0001"],
    ["PINGREQ flags 8", 4, hex("c8 00"), 0x81, "PINGREQ: reserved header flags must be 0b0000, got 0b1000"],
    ["CONNACK flags 2", 5, frame(0x22, "00 00 00"), 0x81, "CONNACK: reserved header flags must be 0b0000, got 0b0010"],
    ["PUBLISH QoS 3", 4, frame(0x36, `${str("a")} 0001`), 0x81, "PUBLISH: QoS 3 in the fixed header"],
    ["reserved packet type 0", 4, hex("00 00"), 0x81, "packet type 0 is reserved"],
    ["AUTH in MQTT 3.1.1", 4, hex("f0 00"), 0x81, "packet type 15 (AUTH) does not exist in MQTT 3.1.1"],
  ],
  "lengths": [
    ["QoS 1 PUBLISH without packet id", 4, frame(0x32, str("a")), 0x81, "PUBLISH: packet id overruns the packet (needs 2 bytes, 0 left)"],
    ["string overrunning the packet", 4, frame(0x30, "0005 61"), 0x81, "PUBLISH: topic overruns the packet (needs 5 bytes, 1 left)"],
    ["string length cut off", 4, frame(0x30, "00"), 0x81, "PUBLISH: topic length overruns the packet (needs 2 bytes, 1 left)"],
    ["bytes after CONNACK", 4, frame(0x20, "00 00 00"), 0x81, "CONNACK: 1 unexpected bytes after the last field"],
    ["bytes after PINGRESP", 4, frame(0xd0, "00"), 0x81, "PINGRESP: 1 unexpected bytes after the last field"],
    ["PUBACK of 3 bytes in 3.1.1", 4, frame(0x40, "0001 00"), 0x81, "PUBACK: remaining length must be 2 in MQTT 3.1.1, got 3"],
    ["UNSUBACK of 3 bytes in 3.1.1", 4, frame(0xb0, "0001 00"), 0x81, "UNSUBACK: 1 unexpected bytes after the last field"],
    ["PUBACK of 1 byte", 5, frame(0x40, "00"), 0x81, "PUBACK: packet id overruns the packet (needs 2 bytes, 1 left)"],
    ["property block past the packet", 5, publishA("05 03 0001"), 0x81, "PUBLISH: property block overruns the packet (needs 5 bytes, 3 left)"],
    ["property past its block", 5, publishA("02 03 00 01 61"), 0x81, "PUBLISH: property contentType length overruns the property block (needs 2 bytes, 1 left)"],
    ["property length varint cut off", 5, publishA("80"), 0x81, "PUBLISH: property length overruns the packet"],
    ["AUTH with a reason code and no property length", 5, frame(0xf0, "18"), 0x81, "AUTH: property length overruns the packet"],
    ["MQTT 5 CONNACK without property length", 5, frame(0x20, "00 00"), 0x81, "CONNACK: property length overruns the packet"],
    ["CONNECT cut after flags", 4, frame(0x10, `${str("MQTT")} 04 02`), 0x81, "CONNECT: keep alive overruns the packet (needs 2 bytes, 0 left)"],
  ],
  "packet ids": [
    ["PUBLISH packet id 0", 4, frame(0x32, `${str("a")} 0000`), 0x82, "PUBLISH: packet id 0"],
    ["PUBACK packet id 0", 4, frame(0x40, "0000"), 0x82, "PUBACK: packet id 0"],
    ["SUBSCRIBE packet id 0", 4, frame(0x82, `0000 ${str("a")} 00`), 0x82, "SUBSCRIBE: packet id 0"],
  ],
  "strings": [
    ["overlong UTF-8", 4, frame(0x30, "0002 c0 80"), 0x81, "PUBLISH: topic is not valid UTF-8 (utf8: overlong encoding at byte 0)"],
    ["encoded surrogate", 4, frame(0x30, "0003 ed a0 80"), 0x81, "PUBLISH: topic is not valid UTF-8 (utf8: encoded surrogate U+D800 at byte 0)"],
    ["truncated UTF-8", 5, frame(0x30, `${str("a")} 04 03 0001 e2`), 0x81, "PUBLISH: property contentType is not valid UTF-8 (utf8: truncated sequence at byte 0)"],
    ["U+0000 in a topic", 4, frame(0x30, "0002 61 00"), 0x81, "PUBLISH: topic contains U+0000"],
    ["U+0000 in a user property", 5, publishA(`07 26 ${str("a")} 0001 00`), 0x81, "PUBLISH: property userProperties value contains U+0000"],
    ["'+' in a PUBLISH topic", 4, frame(0x30, str("a/+")), 0x90, "PUBLISH: topic contains '+'"],
    ["'#' in a PUBLISH topic", 5, frame(0x30, `${str("#")} 00`), 0x90, "PUBLISH: topic contains '#'"],
    ["empty PUBLISH topic in 3.1.1", 4, frame(0x30, "0000 6869"), 0x90, "PUBLISH: topic is empty"],
    ["empty PUBLISH topic without alias", 5, frame(0x30, "0000 00"), 0x82, "PUBLISH: topic is empty and there is no topic alias"],
    ["wildcard in a response topic", 5, publishA(`06 08 ${str("a/#")}`), 0x82, "PUBLISH: property responseTopic contains '#'"],
  ],
  "properties": [
    ["property not allowed in PUBLISH", 5, publishA("05 11 00000001"), 0x81, "PUBLISH: property sessionExpiryInterval (0x11) is not allowed here"],
    ["will property in CONNECT properties", 5, frame(0x10, `${str("MQTT")} 05 02 0000 05 18 00000001 ${str("a")}`), 0x81, "CONNECT: property willDelayInterval (0x18) is not allowed here"],
    ["unknown property", 5, publishA("02 05 00"), 0x81, "PUBLISH: unknown property identifier 0x05"],
    ["non-minimal property identifier", 5, publishA("03 83 00 00"), 0x81, "PUBLISH: property identifier is not minimally encoded"],
    ["duplicated property", 5, publishA(`08 03 ${str("a")} 03 ${str("b")}`), 0x82, "PUBLISH: property contentType appears more than once"],
    ["duplicated subscription identifier in SUBSCRIBE", 5, frame(0x82, `0001 04 0b 01 0b 02 ${str("a")} 00`), 0x82, "SUBSCRIBE: property subscriptionIdentifier appears more than once"],
    ["receive maximum 0", 5, frame(0x20, "00 00 03 21 0000"), 0x82, "CONNACK: property receiveMaximum is 0, below 1"],
    ["topic alias 0", 5, publishA("03 23 0000"), 0x82, "PUBLISH: property topicAlias is 0, below 1"],
    ["subscription identifier 0", 5, publishA("02 0b 00"), 0x82, "PUBLISH: property subscriptionIdentifiers is 0"],
    ["payload format indicator 2", 5, publishA("02 01 02"), 0x82, "PUBLISH: property payloadFormatIndicator is 2, not 0 or 1"],
    ["retain available 7", 5, frame(0x20, "00 00 02 25 07"), 0x82, "CONNACK: property retainAvailable is 7, not 0 or 1"],
    ["authentication data without method", 5, frame(0x20, "00 00 04 16 0001 ff"), 0x82, "CONNACK: property authenticationData without authenticationMethod"],
    ["MQTT 5 PUBACK in a 3.1.1 stream", 4, frame(0x40, "0001 10 00"), 0x81, "PUBACK: remaining length must be 2 in MQTT 3.1.1, got 4"],
    ["MQTT 5 CONNACK in a 3.1.1 stream", 4, frame(0x20, "00 00 03 21 0001"), 0x81, "CONNACK: 4 unexpected bytes after the last field"],
    ["MQTT 5 DISCONNECT in a 3.1.1 stream", 4, frame(0xe0, "8e 00"), 0x81, "DISCONNECT: 2 unexpected bytes after the last field"],
  ],
  "PUBLISH, SUBSCRIBE and friends": [
    ["DUP on QoS 0", 4, frame(0x38, str("a")), 0x82, "PUBLISH: DUP set on a QoS 0 message"],
    ["SUBSCRIBE without subscriptions", 4, frame(0x82, "0001"), 0x82, "SUBSCRIBE: no subscriptions"],
    ["reserved subscription option bits (3.1.1)", 4, frame(0x82, `0001 ${str("a")} 04`), 0x81, "SUBSCRIBE: reserved subscription option bits are set for 'a'"],
    ["reserved subscription option bits (5)", 5, frame(0x82, `0001 00 ${str("a")} 40`), 0x81, "SUBSCRIBE: reserved subscription option bits are set for 'a'"],
    ["subscription QoS 3", 4, frame(0x82, `0001 ${str("a")} 03`), 0x81, "SUBSCRIBE: QoS 3 requested for 'a'"],
    ["retain handling 3", 5, frame(0x82, `0001 00 ${str("a")} 30`), 0x82, "SUBSCRIBE: retain handling 3 for 'a'"],
    ["no local on a shared subscription", 5, frame(0x82, `0001 00 ${str("$share/g/t")} 04`), 0x82, "SUBSCRIBE: noLocal set on shared subscription '$share/g/t'"],
    ["subscription options missing", 4, frame(0x82, `0001 ${str("a")}`), 0x81, "SUBSCRIBE: subscription options overruns the packet (needs 1 bytes, 0 left)"],
    ["'#' not last", 4, frame(0x82, `0001 ${str("a/#/b")} 00`), 0x8f, "SUBSCRIBE: topic filter 'a/#/b' has '#' other than as the whole last level"],
    ["'#' inside a level", 4, frame(0xa2, `0001 ${str("a#")}`), 0x8f, "UNSUBSCRIBE: topic filter 'a#' has '#' other than as the whole last level"],
    ["'+' inside a level", 4, frame(0x82, `0001 ${str("a+/b")} 00`), 0x8f, "SUBSCRIBE: topic filter 'a+/b' has '+' inside a level"],
    ["empty topic filter", 4, frame(0x82, `0001 0000 00`), 0x8f, "SUBSCRIBE: topic filter is empty"],
    ["shared subscription without a filter", 5, frame(0x82, `0001 00 ${str("$share/g")} 00`), 0x8f, "SUBSCRIBE: shared subscription '$share/g' has no topic filter"],
    ["wildcard share name", 5, frame(0x82, `0001 00 ${str("$share/+/t")} 00`), 0x8f, "SUBSCRIBE: share name in '$share/+/t' contains a wildcard"],
    ["UNSUBSCRIBE without topic filters", 4, frame(0xa2, "0001"), 0x82, "UNSUBSCRIBE: no topic filters"],
    ["SUBACK without reason codes", 4, frame(0x90, "0001"), 0x82, "SUBACK: no reason codes"],
    ["SUBACK return code 3 in 3.1.1", 4, frame(0x90, "0001 03"), 0x82, "SUBACK: reason code 0x03 is not allowed"],
    ["UNSUBACK without reason codes", 5, frame(0xb0, "0001 00"), 0x82, "UNSUBACK: no reason codes"],
    ["PUBACK reason code 0x05", 5, frame(0x40, "0001 05"), 0x82, "PUBACK: reason code 0x05 is not allowed"],
    ["PUBREL reason code 0x10", 5, frame(0x62, "0001 10"), 0x82, "PUBREL: reason code 0x10 is not allowed"],
    ["DISCONNECT reason code 0x01", 5, frame(0xe0, "01"), 0x82, "DISCONNECT: reason code 0x01 is not allowed"],
    ["AUTH reason code 0x01", 5, frame(0xf0, "01 00"), 0x82, "AUTH: reason code 0x01 is not allowed"],
  ],
  "CONNECT and CONNACK": [
    ["CONNACK return code 6", 4, frame(0x20, "00 06"), 0x82, "CONNACK: reason code 0x06 is not allowed"],
    ["CONNACK reason code 0x01 in MQTT 5 form", 5, frame(0x20, "00 01 00"), 0x82, "CONNACK: reason code 0x01 is not allowed"],
    ["session present with a refusal", 4, frame(0x20, "01 05"), 0x82, "CONNACK: session present with a non-zero reason code"],
    ["reserved acknowledge flags", 4, frame(0x20, "02 00"), 0x81, "CONNACK: reserved acknowledge flag bits are set"],
    ["protocol name", 4, frame(0x10, `${str("MQIsdp")} 03 02 003c ${str("a")}`), 0x84, "CONNECT: protocol name 'MQIsdp' is not 'MQTT'"],
    ["protocol level", 4, frame(0x10, `${str("MQTT")} 05 02 003c 00 ${str("a")}`), 0x84, "CONNECT: protocol level 5, expected 4"],
    ["reserved connect flag", 4, frame(0x10, `${str("MQTT")} 04 03 003c ${str("a")}`), 0x81, "CONNECT: reserved connect flag bit 0 is set"],
    ["will QoS without will", 4, frame(0x10, `${str("MQTT")} 04 0a 003c ${str("a")}`), 0x81, "CONNECT: will QoS or will retain set without the will flag"],
    ["will retain without will", 5, frame(0x10, `${str("MQTT")} 05 22 003c 00 ${str("a")}`), 0x81, "CONNECT: will QoS or will retain set without the will flag"],
    ["will QoS 3", 4, frame(0x10, `${str("MQTT")} 04 1e 003c ${str("a")} ${str("w")} 0000`), 0x81, "CONNECT: will QoS 3"],
    ["will topic with a wildcard", 4, frame(0x10, `${str("MQTT")} 04 06 003c ${str("a")} ${str("w/+")} 0000`), 0x90, "CONNECT: will topic contains '+'"],
    ["password without user name (3.1.1)", 4, frame(0x10, `${str("MQTT")} 04 42 003c ${str("a")} 0001 70`), 0x81, "CONNECT: password flag set without the user name flag"],
    ["empty client id without clean session (3.1.1)", 4, frame(0x10, `${str("MQTT")} 04 00 003c 0000`), 0x85, "CONNECT: an empty client identifier needs clean session"],
    ["user name flag without user name", 4, frame(0x10, `${str("MQTT")} 04 82 003c ${str("a")}`), 0x81, "CONNECT: user name length overruns the packet (needs 2 bytes, 0 left)"],
  ],
};

describe("MQTT codec: decoding refuses", () => {
  for (const [group, list] of Object.entries(decoding)) {
    describe(group, () => {
      for (const [name, version, bytes, reasonCode, message] of list) {
        it(`${name} (v${version})`, () => refuses(version, bytes, reasonCode, message));
      }
    });
  }

  it("a packet larger than maximumPacketSize as soon as its fixed header arrives", () => {
    refuses(4, hex("30 0b"), 0x95, "PUBLISH: packet of 13 bytes exceeds the maximum packet size of 10", { maximumPacketSize: 10 });
    // 200 MB announced: refused on the 5 header bytes, nothing else buffered.
    refuses(5, hex("30 80 80 80 60"), 0x95, /PUBLISH: packet of 201326597 bytes exceeds the maximum packet size of 4096/, { maximumPacketSize: 4096 });
  });

  it("a bad first byte before the rest of the packet arrives", () => {
    refuses(4, hex("60"), 0x81, "PUBREL: reserved header flags must be 0b0010, got 0b0000");
  });
});

describe("MQTT codec: decoding accepts", () => {
  it("repeated user properties and subscription identifiers, in order", () => {
    const bytes = publishA(`13 26 ${str("k")} ${str("1")} 0b 05 26 ${str("k")} ${str("2")} 0b 81 01`);
    assert.deepEqual(new PacketReaderHelper(5).read(bytes), {
      type: "publish",
      topic: "a",
      payload: new Uint8Array(0),
      qos: 0,
      retain: false,
      dup: false,
      properties: { userProperties: [["k", "1"], ["k", "2"]], subscriptionIdentifiers: [5, 129] },
    });
  });

  it("an MQTT 5 acknowledgement with a reason code and no property length", () => {
    assert.deepEqual(new PacketReaderHelper(5).read(frame(0x50, "0009 80")), { type: "pubrec", packetId: 9, reasonCode: 0x80 });
  });

  it("a 3.1.1 shared-subscription-looking filter as an ordinary filter", () => {
    assert.deepEqual(new PacketReaderHelper(4).read(frame(0x82, `0001 ${str("$share/+/t")} 01`)), {
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topic: "$share/+/t", qos: 1 }],
    });
  });
});

class PacketReaderHelper {
  constructor(readonly version: Version) {}
  read(bytes: Uint8Array): Packet | undefined {
    const reader = new PacketReader(this.version);
    reader.push(bytes);
    const p = reader.next();
    assert.equal(reader.next(), undefined);
    return p;
  }
}

describe("MQTT codec: a failed reader stays failed", () => {
  it("rethrows the same error and ignores further bytes", () => {
    const reader = new PacketReader(4);
    reader.push(concat([encode({ type: "pingresp" }, 4), hex("00 00"), encode({ type: "pingresp" }, 4)]));
    assert.deepEqual(reader.next(), { type: "pingresp" });
    let first: unknown;
    assert.throws(() => reader.next(), (e) => ((first = e), e instanceof ProtocolError));
    reader.push(encode({ type: "pingresp" }, 4));
    assert.throws(() => reader.next(), (e) => e === first);
  });
});

const pub = (extra: Partial<Extract<Packet, { type: "publish" }>>): Packet => ({ type: "publish", topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, dup: false, ...extra });

describe("MQTT codec: encoding refuses", () => {
  const cases: [string, Version, Packet, number, string | RegExp][] = [
    ["'+' in a topic", 4, pub({ topic: "a/+/b" }), 0x90, "PUBLISH: topic contains '+'"],
    ["'#' in a topic", 5, pub({ topic: "#" }), 0x90, "PUBLISH: topic contains '#'"],
    ["a topic over 65535 bytes", 4, pub({ topic: "é".repeat(32_768) }), 0x81, "PUBLISH: topic is 65536 bytes of UTF-8, more than 65535"],
    ["a lone surrogate", 4, pub({ topic: "a\ud800" }), 0x81, "PUBLISH: topic is not well-formed UTF-16 (utf8: lone surrogate U+D800 at index 1)"],
    ["U+0000", 4, { type: "connect", clientId: "a\u0000", cleanStart: true, keepAlive: 0 }, 0x81, "CONNECT: client identifier contains U+0000"],
    ["an empty topic in 3.1.1", 4, pub({ topic: "" }), 0x90, "PUBLISH: topic is empty"],
    ["an empty topic without alias", 5, pub({ topic: "" }), 0x82, "PUBLISH: topic is empty and there is no topic alias"],
    ["QoS 1 without packet id", 4, pub({ qos: 1 }), 0x82, "PUBLISH: packet id is missing"],
    ["packet id 0", 4, pub({ qos: 1, packetId: 0 }), 0x81, "PUBLISH: packet id must be an integer in 1..65535, got 0"],
    ["packet id 65536", 5, { type: "puback", packetId: 65_536 }, 0x81, "PUBACK: packet id must be an integer in 1..65535, got 65536"],
    ["packet id 1.5", 4, { type: "subscribe", packetId: 1.5, subscriptions: [{ topic: "a", qos: 0 }] }, 0x81, "SUBSCRIBE: packet id must be an integer in 1..65535, got 1.5"],
    ["a packet id at QoS 0", 4, pub({ packetId: 1 }), 0x82, "PUBLISH: packet id given for a QoS 0 message"],
    ["QoS 3", 4, pub({ qos: 3 as 0 }), 0x81, "PUBLISH: QoS must be 0, 1 or 2, got 3"],
    ["DUP at QoS 0", 4, pub({ dup: true }), 0x82, "PUBLISH: DUP set on a QoS 0 message"],
    ["properties in 3.1.1", 4, pub({ properties: { contentType: "x" } }), 0x82, "PUBLISH: properties need MQTT 5"],
    [
      "will properties in 3.1.1",
      4,
      { type: "connect", clientId: "a", cleanStart: true, keepAlive: 0, will: { topic: "w", payload: new Uint8Array(0), qos: 0, retain: false, properties: { willDelayInterval: 5 } } },
      0x82,
      "CONNECT: will properties need MQTT 5",
    ],
    ["a reason code in 3.1.1", 4, { type: "puback", packetId: 1, reasonCode: 0x10 }, 0x82, "PUBACK: reason code 0x10 needs MQTT 5"],
    ["UNSUBACK reason codes in 3.1.1", 4, { type: "unsuback", packetId: 1, reasonCodes: [0] }, 0x82, "UNSUBACK: reason codes need MQTT 5"],
    ["UNSUBACK without reason codes in 5", 5, { type: "unsuback", packetId: 1 }, 0x82, "UNSUBACK: no reason codes"],
    ["AUTH in 3.1.1", 4, { type: "auth", reasonCode: 0 }, 0x82, "AUTH: AUTH needs MQTT 5"],
    ["a reason code not allowed for the packet", 5, { type: "pubrel", packetId: 1, reasonCode: 0x10 }, 0x82, "PUBREL: reason code 0x10 is not allowed in MQTT 5"],
    ["a 3.1.1 CONNACK return code 6", 4, { type: "connack", sessionPresent: false, reasonCode: 6 }, 0x82, "CONNACK: reason code 0x06 is not allowed in MQTT 3.1.1"],
    ["session present with a refusal", 5, { type: "connack", sessionPresent: true, reasonCode: 0x87 }, 0x82, "CONNACK: session present with a non-zero reason code"],
    ["a property not allowed for the packet", 5, pub({ properties: { sessionExpiryInterval: 5 } as object }), 0x81, "PUBLISH: property sessionExpiryInterval is not allowed here"],
    ["an unknown property", 5, pub({ properties: { colour: "red" } as object }), 0x81, "PUBLISH: unknown property colour"],
    ["topic alias 0", 5, pub({ properties: { topicAlias: 0 } }), 0x81, "PUBLISH: property topicAlias must be an integer in 1..65535, got 0"],
    ["message expiry above 32 bits", 5, pub({ properties: { messageExpiryInterval: 2 ** 32 } }), 0x81, "PUBLISH: property messageExpiryInterval must be an integer in 0..4294967295, got 4294967296"],
    ["subscription identifier above 268435455", 5, pub({ properties: { subscriptionIdentifiers: [268_435_456] } }), 0x81, "PUBLISH: property subscriptionIdentifiers must be an integer in 1..268435455, got 268435456"],
    ["payload format indicator 2", 5, pub({ properties: { payloadFormatIndicator: 2 as 1 } }), 0x81, "PUBLISH: property payloadFormatIndicator must be an integer in 0..1, got 2"],
    ["a wildcard response topic", 5, pub({ properties: { responseTopic: "r/+" } }), 0x82, "PUBLISH: property responseTopic contains '+'"],
    ["authentication data without method", 5, { type: "auth", reasonCode: 0x18, properties: { authenticationData: Uint8Array.of(1) } }, 0x82, "AUTH: property authenticationData without authenticationMethod"],
    ["keep alive above 65535", 4, { type: "connect", clientId: "a", cleanStart: true, keepAlive: 70_000 }, 0x81, "CONNECT: keep alive must be an integer in 0..65535, got 70000"],
    ["a password without user name in 3.1.1", 4, { type: "connect", clientId: "a", cleanStart: true, keepAlive: 0, password: Uint8Array.of(1) }, 0x82, "CONNECT: a password needs a user name in MQTT 3.1.1"],
    ["an empty client id without clean start in 3.1.1", 4, { type: "connect", clientId: "", cleanStart: false, keepAlive: 0 }, 0x85, "CONNECT: an empty client identifier needs cleanStart in MQTT 3.1.1"],
    [
      "a will payload over 65535 bytes",
      4,
      { type: "connect", clientId: "a", cleanStart: true, keepAlive: 0, will: { topic: "w", payload: new Uint8Array(65_536), qos: 0, retain: false } },
      0x81,
      "CONNECT: will payload is 65536 bytes, more than 65535",
    ],
    ["a will topic with a wildcard", 5, { type: "connect", clientId: "a", cleanStart: true, keepAlive: 0, will: { topic: "#", payload: new Uint8Array(0), qos: 0, retain: false } }, 0x90, "CONNECT: will topic contains '#'"],
    ["no subscriptions", 4, { type: "subscribe", packetId: 1, subscriptions: [] }, 0x82, "SUBSCRIBE: no subscriptions"],
    ["an invalid topic filter", 4, { type: "subscribe", packetId: 1, subscriptions: [{ topic: "a/#/b", qos: 0 }] }, 0x8f, /SUBSCRIBE: topic filter 'a\/#\/b'/],
    ["MQTT 5 subscription options in 3.1.1", 4, { type: "subscribe", packetId: 1, subscriptions: [{ topic: "a", qos: 0, noLocal: true }] }, 0x82, "SUBSCRIBE: subscription 'a': noLocal, retainAsPublished and retainHandling need MQTT 5"],
    ["retain handling 3", 5, { type: "subscribe", packetId: 1, subscriptions: [{ topic: "a", qos: 0, retainHandling: 3 as 2 }] }, 0x81, "SUBSCRIBE: subscription 'a' retainHandling must be an integer in 0..2, got 3"],
    ["no local on a shared subscription", 5, { type: "subscribe", packetId: 1, subscriptions: [{ topic: "$share/g/a", qos: 0, noLocal: true }] }, 0x82, "SUBSCRIBE: noLocal set on shared subscription '$share/g/a'"],
    ["no topic filters", 5, { type: "unsubscribe", packetId: 1, topics: [] }, 0x82, "UNSUBSCRIBE: no topic filters"],
    ["no SUBACK reason codes", 5, { type: "suback", packetId: 1, reasonCodes: [] }, 0x82, "SUBACK: no reason codes"],
  ];
  for (const [name, version, packet, reasonCode, message] of cases) {
    it(`${name} (v${version})`, () => encodeRefuses(version, packet, reasonCode, message));
  }

  it("a remaining length above 268,435,455, without touching the payload", () => {
    // A stand-in for a 256 MB payload: the counting pass reads only its length.
    const payload = new Uint8Array(0);
    Object.defineProperty(payload, "length", { value: 268_435_456 });
    encodeRefuses(4, pub({ payload }), 0x95, "PUBLISH: remaining length 268435459 exceeds 268435455");
  });
});
