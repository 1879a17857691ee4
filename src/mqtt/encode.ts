// Packet → bytes, byte-exact per MQTT 3.1.1 and 5.0. Each packet is serialized twice by the same
// code: once into a counting Sink, which validates every field and yields the Remaining Length, and
// once into an array of exactly the right size. So nothing is allocated for a packet that is refused,
// and `encodedLength` costs no allocation at all.
//
// Where the specification allows a shorter form, this writes the shortest: an MQTT 5 PUBACK,
// PUBREC, PUBREL or PUBCOMP without properties omits the property length (and the reason code if
// it is Success), likewise DISCONNECT and AUTH (§3.4.2.1, §3.14.2.1, §3.15.2.1). Radio time is the
// budget, and mosquitto writes the same forms.

import {
  allowedReasonCodes,
  toleratedReasonCode,
  type AckPacket,
  type ConnackPacket,
  type ConnectPacket,
  type Packet,
  type Properties,
  type PublishPacket,
  type SubscribePacket,
  type Version,
} from "./packets";
import { propertiesLength, putProperties, writeProperties, type PropertyContext } from "./properties";
import { isSharedSubscription, topicFilterError, topicNameError } from "./topic";
import { hex, MAX_VARINT, packetName, packetTypes, Sink, varintSize } from "./wire";

const Malformed = 0x81;
const ProtocolViolation = 0x82;

/** The packet's bytes. Throws ProtocolError, naming the field, if the packet is not valid for `version`. */
export function encode(packet: Packet, version: Version): Uint8Array {
  const remaining = remainingLength(packet, version);
  const bytes = new Uint8Array(1 + varintSize(remaining) + remaining);
  write(packet, version, remaining, bytes, 0);
  return bytes;
}

/**
 * Writes the packet's bytes into `target` at `offset` and returns how many were written, so that a
 * session can pipeline several packets into one preallocated buffer (size it with `encodedLength`).
 * Throws ProtocolError like `encode`, or a RangeError if the packet does not fit.
 */
export function encodeInto(packet: Packet, version: Version, target: Uint8Array, offset: number): number {
  const remaining = remainingLength(packet, version);
  const total = 1 + varintSize(remaining) + remaining;
  if (!Number.isInteger(offset) || offset < 0 || offset + total > target.length) {
    throw new RangeError(`${packetName(packet.type)}: ${total} bytes do not fit at offset ${offset} of ${target.length}`);
  }
  write(packet, version, remaining, target, offset);
  return total;
}

/**
 * How many bytes `encode` would produce, without producing them: what a session needs to respect
 * the broker's Maximum Packet Size or to split a batch. Validates like `encode`.
 */
export function encodedLength(packet: Packet, version: Version): number {
  const remaining = remainingLength(packet, version);
  return 1 + varintSize(remaining) + remaining;
}

function remainingLength(packet: Packet, version: Version): number {
  if (version !== 4 && version !== 5) throw new RangeError(`MQTT version must be 4 (3.1.1) or 5, got ${String(version)}`);
  const w = new Sink(packetName(packet.type));
  body(w, packet, version);
  if (w.pos > MAX_VARINT) w.fail(0x95, `remaining length ${w.pos} exceeds ${MAX_VARINT}`);
  return w.pos;
}

function write(packet: Packet, version: Version, remaining: number, target: Uint8Array, offset: number): void {
  const w = new Sink(packetName(packet.type), target, offset);
  w.u8(firstByte(packet));
  w.varint(remaining);
  body(w, packet, version);
}

function firstByte(p: Packet): number {
  const type = packetTypes.indexOf(p.type) << 4;
  switch (p.type) {
    case "publish":
      return type | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 0x01 : 0);
    case "pubrel":
    case "subscribe":
    case "unsubscribe":
      return type | 0x02;
    default:
      return type;
  }
}

function body(w: Sink, p: Packet, version: Version): void {
  switch (p.type) {
    case "connect":
      return connect(w, p, version);
    case "connack":
      return connack(w, p, version);
    case "publish":
      return publish(w, p, version);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return ack(w, p, version);
    case "subscribe":
      return subscribe(w, p, version);
    case "suback":
      w.u16(packetId(w, p.packetId));
      properties(w, p.properties, "ack", version);
      return reasonCodes(w, p.reasonCodes, "suback", version);
    case "unsubscribe":
      w.u16(packetId(w, p.packetId));
      properties(w, p.properties, "unsubscribe", version);
      if (!w.buf && (!Array.isArray(p.topics) || p.topics.length === 0)) w.fail(ProtocolViolation, "no topic filters");
      for (const topic of p.topics) {
        if (!w.buf) filter(w, topic, version);
        w.string(topic, "topic filter");
      }
      return;
    case "unsuback":
      w.u16(packetId(w, p.packetId));
      if (version === 4) {
        if (p.reasonCodes !== undefined) w.fail(ProtocolViolation, "reason codes need MQTT 5");
        return properties(w, p.properties, "ack", version);
      }
      properties(w, p.properties, "ack", version);
      return reasonCodes(w, p.reasonCodes, "unsuback", version);
    case "pingreq":
    case "pingresp":
      return;
    case "disconnect":
      return reasonAndProperties(w, p.reasonCode, p.properties, "disconnect", "disconnect", version);
    case "auth":
      if (version === 4) w.fail(ProtocolViolation, "AUTH needs MQTT 5");
      return reasonAndProperties(w, p.reasonCode, p.properties, "auth", "auth", version);
    default:
      w.fail(Malformed, `unknown packet type '${String((p as { type: unknown }).type)}'`);
  }
}

function connect(w: Sink, p: ConnectPacket, version: Version): void {
  const { will } = p;
  if (!w.buf) {
    if (version === 4 && p.password !== undefined && p.username === undefined) {
      w.fail(ProtocolViolation, "a password needs a user name in MQTT 3.1.1");
    }
    if (version === 4 && p.clientId === "" && !p.cleanStart) {
      w.fail(0x85, "an empty client identifier needs cleanStart in MQTT 3.1.1");
    }
    if (will) {
      qos(w, will.qos, "will QoS");
      if (will.topic === "") w.fail(0x90, "will topic is empty");
      topicName(w, will.topic, "will topic");
    }
  }
  w.string("MQTT", "protocol name");
  w.u8(version);
  w.u8(
    (p.username !== undefined ? 0x80 : 0) |
      (p.password !== undefined ? 0x40 : 0) |
      (will?.retain ? 0x20 : 0) |
      (will ? (will.qos << 3) | 0x04 : 0) |
      (p.cleanStart ? 0x02 : 0),
  );
  w.u16(w.int(p.keepAlive, 0, 0xffff, "keep alive"));
  properties(w, p.properties, "connect", version);
  w.string(p.clientId, "client identifier");
  if (will) {
    properties(w, will.properties, "will", version, "will property");
    w.string(will.topic, "will topic");
    w.binary(will.payload, "will payload");
  }
  if (p.username !== undefined) w.string(p.username, "user name");
  if (p.password !== undefined) w.binary(p.password, "password");
}

function connack(w: Sink, p: ConnackPacket, version: Version): void {
  if (!w.buf) {
    reasonCode(w, p.reasonCode, "connack", version);
    if (p.sessionPresent && p.reasonCode !== 0) w.fail(ProtocolViolation, "session present with a non-zero reason code");
  }
  w.u8(p.sessionPresent ? 1 : 0);
  w.u8(p.reasonCode);
  properties(w, p.properties, "connack", version);
}

function publish(w: Sink, p: PublishPacket, version: Version): void {
  if (!w.buf) {
    qos(w, p.qos, "QoS");
    if (p.dup && p.qos === 0) w.fail(ProtocolViolation, "DUP set on a QoS 0 message");
    if (p.qos === 0 && p.packetId !== undefined) w.fail(ProtocolViolation, "packet id given for a QoS 0 message");
    if (p.topic === "" && (version === 4 || p.properties?.topicAlias === undefined)) {
      w.fail(version === 4 ? 0x90 : ProtocolViolation, version === 4 ? "topic is empty" : "topic is empty and there is no topic alias");
    }
    topicName(w, p.topic, "topic");
    if (!(p.payload instanceof Uint8Array)) w.fail(Malformed, "payload must be a Uint8Array");
  }
  w.string(p.topic, "topic");
  if (p.qos > 0) w.u16(packetId(w, p.packetId));
  properties(w, p.properties, "publish", version);
  w.bytes(p.payload);
}

function ack(w: Sink, p: AckPacket, version: Version): void {
  w.u16(packetId(w, p.packetId));
  reasonAndProperties(w, p.reasonCode, p.properties, p.type, "ack", version);
}

function subscribe(w: Sink, p: SubscribePacket, version: Version): void {
  w.u16(packetId(w, p.packetId));
  properties(w, p.properties, "subscribe", version);
  if (!w.buf && (!Array.isArray(p.subscriptions) || p.subscriptions.length === 0)) w.fail(ProtocolViolation, "no subscriptions");
  for (const s of p.subscriptions) {
    const retainHandling = s.retainHandling ?? 0;
    if (!w.buf) {
      filter(w, s.topic, version);
      qos(w, s.qos, "subscription QoS");
      if (version === 4 && (s.noLocal || s.retainAsPublished || retainHandling !== 0)) {
        w.fail(ProtocolViolation, `subscription '${s.topic}': noLocal, retainAsPublished and retainHandling need MQTT 5`);
      }
      w.int(retainHandling, 0, 2, `subscription '${s.topic}' retainHandling`);
      if (s.noLocal && isSharedSubscription(s.topic, version)) w.fail(ProtocolViolation, `noLocal set on shared subscription '${s.topic}'`);
    }
    w.string(s.topic, "topic filter");
    w.u8(s.qos | (s.noLocal ? 0x04 : 0) | (s.retainAsPublished ? 0x08 : 0) | (retainHandling << 4));
  }
}

/**
 * The tail shared by the MQTT 5 acknowledgements, DISCONNECT and AUTH: a reason code and properties,
 * both omitted when they say nothing.
 */
function reasonAndProperties(
  w: Sink,
  code: number | undefined,
  props: Properties | undefined,
  type: "puback" | "pubrec" | "pubrel" | "pubcomp" | "disconnect" | "auth",
  context: PropertyContext,
  version: Version,
): void {
  if (version === 4) {
    if (!w.buf && code !== undefined && code !== 0) w.fail(ProtocolViolation, `reason code 0x${hex(code)} needs MQTT 5`);
    properties(w, props, context, version);
    return;
  }
  const rc = code ?? 0;
  if (!w.buf) reasonCode(w, rc, type, version);
  const length = propertiesLength(props, context, w.packet);
  // AUTH has no reason-code-only form: its property length may be omitted only with the code.
  if (length === 0 && (rc === 0 || type !== "auth")) {
    if (rc !== 0) w.u8(rc);
    return;
  }
  w.u8(rc);
  w.varint(length);
  putProperties(w, props, context);
}

function reasonCodes(w: Sink, codes: number[] | undefined, type: "suback" | "unsuback", version: Version): void {
  if (!Array.isArray(codes) || codes.length === 0) w.fail(ProtocolViolation, "no reason codes");
  for (const code of codes) {
    if (!w.buf) reasonCode(w, code, type, version);
    w.u8(code);
  }
}

function properties(w: Sink, props: Properties | undefined, context: PropertyContext, version: Version, what = "property"): void {
  if (version === 5) return writeProperties(w, props, context, what);
  if (!w.buf && props !== undefined && propertiesLength(props, context, w.packet, what) > 0) {
    w.fail(ProtocolViolation, `${what === "property" ? "properties" : "will properties"} need MQTT 5`);
  }
}

function reasonCode(w: Sink, code: number, type: "connack" | "suback" | "unsuback" | "puback" | "pubrec" | "pubrel" | "pubcomp" | "disconnect" | "auth", version: Version): void {
  const allowed = allowedReasonCodes[version][type];
  if (!Number.isInteger(code) || ((!allowed || !allowed.includes(code)) && !toleratedReasonCode(version, type, code))) {
    w.fail(ProtocolViolation, `reason code ${Number.isInteger(code) ? `0x${hex(code)}` : String(code)} is not allowed in MQTT ${version === 4 ? "3.1.1" : "5"}`);
  }
}

function packetId(w: Sink, id: number | undefined): number {
  if (id === undefined) w.fail(ProtocolViolation, "packet id is missing");
  return w.int(id, 1, 0xffff, "packet id");
}

function qos(w: Sink, q: number, field: string): void {
  if (q !== 0 && q !== 1 && q !== 2) w.fail(Malformed, `${field} must be 0, 1 or 2, got ${q}`);
}

function topicName(w: Sink, topic: string, field: string): void {
  if (typeof topic !== "string") w.fail(Malformed, `${field} must be a string`);
  const problem = topicNameError(topic, field);
  if (problem !== undefined) w.fail(0x90, problem);
}

function filter(w: Sink, topic: string, version: Version): void {
  if (typeof topic !== "string") w.fail(Malformed, "topic filter must be a string");
  const problem = topicFilterError(topic, version);
  if (problem !== undefined) w.fail(0x8f, problem);
}
