// Bytes → packet, for one packet whose fixed header has been read. Strict and total: every
// deviation from MQTT 3.1.1 / 5.0 that the receiver can see is a ProtocolError naming the packet
// and the field, and every field is bounds-checked, so nothing else can escape. Decoded packets are
// in the canonical form described in packets.ts.

import {
  allowedReasonCodes,
  toleratedReasonCode,
  type AckPacket,
  type AuthPacket,
  type ConnackPacket,
  type ConnectPacket,
  type DisconnectPacket,
  type Packet,
  type PacketType,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type SubscribePacket,
  type Subscription,
  type UnsubackPacket,
  type UnsubscribePacket,
  type Version,
  type Will,
} from "./packets";
import { ProtocolError } from "./protocol-error";
import { readProperties } from "./properties";
import { isSharedSubscription, topicFilterError, topicNameError } from "./topic";
import { Cursor, hex, packetName, packetTypes } from "./wire";

const Malformed = 0x81;
const ProtocolViolation = 0x82;

/**
 * Checks the first byte of a fixed header (§2.2.1, §2.2.2) as soon as it arrives, before the rest
 * of the packet is waited for, and returns the packet's type.
 */
export function packetTypeOf(first: number, version: Version): PacketType {
  const code = first >> 4;
  const type = packetTypes[code];
  if (type === undefined) throw new ProtocolError(Malformed, "packet type 0 is reserved");
  if (type === "auth" && version === 4) throw new ProtocolError(Malformed, "packet type 15 (AUTH) does not exist in MQTT 3.1.1");
  const flags = first & 0x0f;
  if (type === "publish") {
    if ((flags & 0x06) === 0x06) throw new ProtocolError(Malformed, "PUBLISH: QoS 3 in the fixed header");
    return type;
  }
  const expected = type === "pubrel" || type === "subscribe" || type === "unsubscribe" ? 0b0010 : 0b0000;
  if (flags !== expected) {
    throw new ProtocolError(Malformed, `${packetName(type)}: reserved header flags must be 0b${bin4(expected)}, got 0b${bin4(flags)}`);
  }
  return type;
}

/** Decodes the variable header and payload `bytes[start..end)` of a packet whose first byte is `first`. */
export function decodePacket(first: number, bytes: Uint8Array, start: number, end: number, version: Version): Packet {
  const type = packetTypeOf(first, version);
  const c: Cursor = new Cursor(packetName(type), bytes, start, end);
  switch (type) {
    case "connect":
      return connect(c, version);
    case "connack":
      return connack(c, version);
    case "publish":
      return publish(c, first, version);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return ack(c, type, version);
    case "subscribe":
      return subscribe(c, version);
    case "suback": {
      const packetId = id(c);
      const properties = version === 5 ? readProperties(c, "ack") : undefined;
      return withProperties<SubackPacket>({ type, packetId, reasonCodes: reasonCodes(c, type, version) }, properties);
    }
    case "unsubscribe": {
      const packetId = id(c);
      const properties = version === 5 ? readProperties(c, "unsubscribe") : undefined;
      const topics: string[] = [];
      while (c.left > 0) topics.push(filter(c, version));
      if (topics.length === 0) c.fail(ProtocolViolation, "no topic filters");
      return withProperties<UnsubscribePacket>({ type, packetId, topics }, properties);
    }
    case "unsuback": {
      const packetId = id(c);
      if (version === 4) {
        c.done();
        return { type, packetId };
      }
      const properties = readProperties(c, "ack");
      const p: UnsubackPacket = { type, packetId, reasonCodes: reasonCodes(c, type, version) };
      return withProperties(p, properties);
    }
    case "pingreq":
    case "pingresp":
      c.done();
      return { type };
    case "disconnect": {
      if (version === 4) {
        c.done();
        return { type };
      }
      // §3.14.2.1: no bytes means Normal disconnection; a lone reason code means no properties.
      const reasonCode = c.left > 0 ? reason(c, type, version) : 0;
      const properties = c.left > 0 ? readProperties(c, "disconnect") : undefined;
      c.done();
      return withProperties<DisconnectPacket>({ type, reasonCode }, properties);
    }
    case "auth": {
      // §3.15.2.1: both may be omitted, but there is no reason-code-only form as DISCONNECT has.
      if (c.left === 0) return { type, reasonCode: 0 };
      const reasonCode = reason(c, type, version);
      const properties = readProperties(c, "auth");
      c.done();
      return withProperties<AuthPacket>({ type, reasonCode }, properties);
    }
  }
}

function connect(c: Cursor, version: Version): ConnectPacket {
  const protocol = c.string("protocol name");
  if (protocol !== "MQTT") c.fail(0x84, `protocol name '${protocol}' is not 'MQTT'`);
  const level = c.u8("protocol level");
  if (level !== version) c.fail(0x84, `protocol level ${level}, expected ${version}`);
  const flags = c.u8("connect flags");
  if (flags & 0x01) c.fail(Malformed, "reserved connect flag bit 0 is set");
  const hasWill = (flags & 0x04) !== 0;
  const willQoS = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  if (willQoS === 3) c.fail(Malformed, "will QoS 3");
  if (!hasWill && (willQoS !== 0 || willRetain)) c.fail(Malformed, "will QoS or will retain set without the will flag");
  const hasUsername = (flags & 0x80) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  if (version === 4 && hasPassword && !hasUsername) c.fail(Malformed, "password flag set without the user name flag");
  const cleanStart = (flags & 0x02) !== 0;
  const keepAlive = c.u16("keep alive");
  const properties = version === 5 ? readProperties(c, "connect") : undefined;
  const clientId = c.string("client identifier");
  if (version === 4 && clientId === "" && !cleanStart) c.fail(0x85, "an empty client identifier needs clean session");
  const p: ConnectPacket = { type: "connect", clientId, cleanStart, keepAlive };
  if (hasWill) {
    const willProperties = version === 5 ? readProperties(c, "will", "will property") : undefined;
    const topic = c.string("will topic");
    if (topic === "") c.fail(0x90, "will topic is empty");
    const problem = topicNameError(topic, "will topic");
    if (problem !== undefined) c.fail(0x90, problem);
    const will: Will = { topic, payload: c.binary("will payload"), qos: willQoS as QoS, retain: willRetain };
    p.will = withProperties(will, willProperties);
  }
  if (hasUsername) p.username = c.string("user name");
  if (hasPassword) p.password = c.binary("password");
  c.done();
  return withProperties(p, properties);
}

function connack(c: Cursor, version: Version): ConnackPacket {
  // A 3.1.1 server answers an MQTT 5 CONNECT in 3.1.1 form: two bytes, return code 1 ("unacceptable
  // protocol version"), which is not an MQTT 5 reason code. Report it as the MQTT 5 equivalent so that
  // a session can fall back to 3.1.1, as mosquitto's client does.
  if (version === 5 && c.left === 2 && c.bytes[c.pos] === 0 && c.bytes[c.pos + 1] === 0x01) {
    return { type: "connack", sessionPresent: false, reasonCode: 0x84 };
  }
  const flags = c.u8("acknowledge flags");
  if (flags & 0xfe) c.fail(Malformed, "reserved acknowledge flag bits are set");
  const reasonCode = reason(c, "connack", version);
  const sessionPresent = flags === 1;
  if (sessionPresent && reasonCode !== 0) c.fail(ProtocolViolation, "session present with a non-zero reason code");
  const properties = version === 5 ? readProperties(c, "connack") : undefined;
  c.done();
  return withProperties<ConnackPacket>({ type: "connack", sessionPresent, reasonCode }, properties);
}

function publish(c: Cursor, first: number, version: Version): PublishPacket {
  const qos = ((first >> 1) & 0x03) as QoS;
  const dup = (first & 0x08) !== 0;
  if (dup && qos === 0) c.fail(ProtocolViolation, "DUP set on a QoS 0 message");
  const topic = c.string("topic");
  const problem = topicNameError(topic);
  if (problem !== undefined) c.fail(0x90, problem);
  const packetId = qos > 0 ? id(c) : undefined;
  const properties = version === 5 ? readProperties(c, "publish") : undefined;
  if (topic === "") {
    if (version === 4) c.fail(0x90, "topic is empty");
    if (properties?.topicAlias === undefined) c.fail(ProtocolViolation, "topic is empty and there is no topic alias");
  }
  const p: PublishPacket = { type: "publish", topic, payload: c.rest(), qos, retain: (first & 0x01) !== 0, dup };
  if (packetId !== undefined) p.packetId = packetId;
  return withProperties(p, properties);
}

function ack(c: Cursor, type: AckPacket["type"], version: Version): AckPacket {
  const packetId = id(c);
  if (version === 4) {
    if (c.left !== 0) c.fail(Malformed, `remaining length must be 2 in MQTT 3.1.1, got ${2 + c.left}`);
    return { type, packetId };
  }
  // §3.4.2.1 and §3.4.2.2.1: the reason code may be omitted (Success), and then the property length.
  const reasonCode = c.left > 0 ? reason(c, type, version) : 0;
  const properties = c.left > 0 ? readProperties(c, "ack") : undefined;
  c.done();
  return withProperties<AckPacket>({ type, packetId, reasonCode }, properties);
}

function subscribe(c: Cursor, version: Version): SubscribePacket {
  const packetId = id(c);
  const properties = version === 5 ? readProperties(c, "subscribe") : undefined;
  const subscriptions: Subscription[] = [];
  while (c.left > 0) {
    const topic = filter(c, version);
    const options = c.u8("subscription options");
    if (options & (version === 4 ? 0xfc : 0xc0)) c.fail(Malformed, `reserved subscription option bits are set for '${topic}'`);
    const qos = options & 0x03;
    if (qos === 3) c.fail(Malformed, `QoS 3 requested for '${topic}'`);
    const s: Subscription = { topic, qos: qos as QoS };
    if (version === 5) {
      const retainHandling = (options >> 4) & 0x03;
      if (retainHandling === 3) c.fail(ProtocolViolation, `retain handling 3 for '${topic}'`);
      s.noLocal = (options & 0x04) !== 0;
      s.retainAsPublished = (options & 0x08) !== 0;
      s.retainHandling = retainHandling as 0 | 1 | 2;
      if (s.noLocal && isSharedSubscription(topic, version)) c.fail(ProtocolViolation, `noLocal set on shared subscription '${topic}'`);
    }
    subscriptions.push(s);
  }
  if (subscriptions.length === 0) c.fail(ProtocolViolation, "no subscriptions");
  return withProperties<SubscribePacket>({ type: "subscribe", packetId, subscriptions }, properties);
}

function id(c: Cursor): number {
  const v = c.u16("packet id");
  if (v === 0) c.fail(ProtocolViolation, "packet id 0");
  return v;
}

function filter(c: Cursor, version: Version): string {
  const topic = c.string("topic filter");
  const problem = topicFilterError(topic, version);
  if (problem !== undefined) c.fail(0x8f, problem);
  return topic;
}

function reason(c: Cursor, type: PacketType, version: Version): number {
  const code = c.u8("reason code");
  // A failure is still a failure, and the receiver decides what it means; only an unknown *success*
  // code (below 0x80) changes the meaning of the exchange, so only that is fatal.
  if (!toleratedReasonCode(version, type, code) && !allowedReasonCodes[version][type]?.includes(code)) c.fail(ProtocolViolation, `reason code 0x${hex(code)} is not allowed`);
  return code;
}

function reasonCodes(c: Cursor, type: "suback" | "unsuback", version: Version): number[] {
  const codes: number[] = [];
  while (c.left > 0) codes.push(reason(c, type, version));
  if (codes.length === 0) c.fail(ProtocolViolation, "no reason codes");
  return codes;
}

function withProperties<P extends { properties?: object }>(p: P, properties: P["properties"] | undefined): P {
  if (properties !== undefined) p.properties = properties;
  return p;
}

function bin4(n: number): string {
  return n.toString(2).padStart(4, "0");
}
