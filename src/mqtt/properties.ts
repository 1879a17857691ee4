// MQTT 5 properties (§2.2.2): one table says, for every property, its identifier, its data type and
// the packets that may carry it (§2.2.2.2 Table 2-4). Reading and writing both follow the table, so
// a property outside its packet is refused the same way in both directions, and writing emits
// properties in identifier order, a canonical form that tests can compare byte for byte.

import type { Properties } from "./packets";
import { topicNameError } from "./topic";
import { Cursor, hex, MAX_VARINT, Sink, varintSize } from "./wire";

/** Which property set a packet carries. "ack" is PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK. */
export type PropertyContext = "connect" | "will" | "connack" | "publish" | "ack" | "subscribe" | "unsubscribe" | "disconnect" | "auth";

type Key = keyof Properties;
/** The property names whose value type is exactly T. */
type KeysOf<T> = { [K in Key]-?: NonNullable<Properties[K]> extends T ? (T extends NonNullable<Properties[K]> ? K : never) : never }[Key];

type Entry = { id: number; in: readonly PropertyContext[] } & (
  | { kind: "u16" | "u32" | "varint"; name: KeysOf<number>; min: number }
  | { kind: "zeroOne"; name: KeysOf<0 | 1> }
  | { kind: "bool"; name: KeysOf<boolean> }
  | { kind: "string" | "topic"; name: KeysOf<string> }
  | { kind: "binary"; name: KeysOf<Uint8Array> }
  | { kind: "pairs"; name: "userProperties" }
  | { kind: "varints"; name: "subscriptionIdentifiers" }
);

const all: readonly PropertyContext[] = ["connect", "will", "connack", "publish", "ack", "subscribe", "unsubscribe", "disconnect", "auth"];

// A minimum of 1 marks the values the specification calls a Protocol Error when 0.
const table: readonly Entry[] = [
  { id: 0x01, name: "payloadFormatIndicator", kind: "zeroOne", in: ["publish", "will"] },
  { id: 0x02, name: "messageExpiryInterval", kind: "u32", min: 0, in: ["publish", "will"] },
  { id: 0x03, name: "contentType", kind: "string", in: ["publish", "will"] },
  { id: 0x08, name: "responseTopic", kind: "topic", in: ["publish", "will"] },
  { id: 0x09, name: "correlationData", kind: "binary", in: ["publish", "will"] },
  { id: 0x0b, name: "subscriptionIdentifiers", kind: "varints", in: ["publish"] },
  { id: 0x0b, name: "subscriptionIdentifier", kind: "varint", min: 1, in: ["subscribe"] },
  { id: 0x11, name: "sessionExpiryInterval", kind: "u32", min: 0, in: ["connect", "connack", "disconnect"] },
  { id: 0x12, name: "assignedClientIdentifier", kind: "string", in: ["connack"] },
  { id: 0x13, name: "serverKeepAlive", kind: "u16", min: 0, in: ["connack"] },
  { id: 0x15, name: "authenticationMethod", kind: "string", in: ["connect", "connack", "auth"] },
  { id: 0x16, name: "authenticationData", kind: "binary", in: ["connect", "connack", "auth"] },
  { id: 0x17, name: "requestProblemInformation", kind: "bool", in: ["connect"] },
  { id: 0x18, name: "willDelayInterval", kind: "u32", min: 0, in: ["will"] },
  { id: 0x19, name: "requestResponseInformation", kind: "bool", in: ["connect"] },
  { id: 0x1a, name: "responseInformation", kind: "string", in: ["connack"] },
  { id: 0x1c, name: "serverReference", kind: "string", in: ["connack", "disconnect"] },
  { id: 0x1f, name: "reasonString", kind: "string", in: ["connack", "ack", "disconnect", "auth"] },
  { id: 0x21, name: "receiveMaximum", kind: "u16", min: 1, in: ["connect", "connack"] },
  { id: 0x22, name: "topicAliasMaximum", kind: "u16", min: 0, in: ["connect", "connack"] },
  { id: 0x23, name: "topicAlias", kind: "u16", min: 1, in: ["publish"] },
  { id: 0x24, name: "maximumQoS", kind: "zeroOne", in: ["connack"] },
  { id: 0x25, name: "retainAvailable", kind: "bool", in: ["connack"] },
  { id: 0x26, name: "userProperties", kind: "pairs", in: all },
  { id: 0x27, name: "maximumPacketSize", kind: "u32", min: 1, in: ["connect", "connack"] },
  { id: 0x28, name: "wildcardSubscriptionAvailable", kind: "bool", in: ["connack"] },
  { id: 0x29, name: "subscriptionIdentifiersAvailable", kind: "bool", in: ["connack"] },
  { id: 0x2a, name: "sharedSubscriptionAvailable", kind: "bool", in: ["connack"] },
];

const maxOf = { u16: 0xffff, u32: 0xffff_ffff, varint: MAX_VARINT } as const;

const Malformed = 0x81;
const ProtocolViolation = 0x82;

/**
 * Reads a property block (length, then properties) for `context`. Returns undefined when the block
 * is empty, so that decoded packets carry `properties` only when there are some.
 */
export function readProperties(outer: Cursor, context: PropertyContext, what = "property"): Properties | undefined {
  const length = outer.varint(`${what} length`);
  outer.need(length, `${what} block`);
  if (length === 0) return undefined;
  // A cursor of its own, so that a property running past the block is caught as exactly that.
  const c: Cursor = new Cursor(outer.packet, outer.bytes, outer.pos, outer.pos + length, `${what} block`);
  outer.pos += length;
  const out: Properties = {};
  while (c.left > 0) {
    const id = c.varint(`${what} identifier`);
    const entry = table.find((e) => e.id === id && e.in.includes(context));
    if (!entry) {
      const known = table.find((e) => e.id === id);
      c.fail(Malformed, known ? `${what} ${known.name} (0x${hex(id)}) is not allowed here` : `unknown ${what} identifier 0x${hex(id)}`);
    }
    const field = `${what} ${entry.name}`;
    if (entry.kind !== "pairs" && entry.kind !== "varints" && out[entry.name] !== undefined) {
      c.fail(ProtocolViolation, `${field} appears more than once`);
    }
    switch (entry.kind) {
      case "u16":
      case "u32":
      case "varint": {
        const v = entry.kind === "u16" ? c.u16(field) : entry.kind === "u32" ? c.u32(field) : c.varint(field);
        if (v < entry.min) c.fail(ProtocolViolation, `${field} is ${v}, below ${entry.min}`);
        out[entry.name] = v;
        break;
      }
      case "zeroOne": {
        const v = c.u8(field);
        if (v !== 0 && v !== 1) c.fail(ProtocolViolation, `${field} is ${v}, not 0 or 1`);
        out[entry.name] = v;
        break;
      }
      case "bool": {
        const v = c.u8(field);
        if (v !== 0 && v !== 1) c.fail(ProtocolViolation, `${field} is ${v}, not 0 or 1`);
        out[entry.name] = v === 1;
        break;
      }
      case "string":
      case "topic": {
        const v = c.string(field);
        if (entry.kind === "topic") {
          const problem = v === "" ? `${field} is empty` : topicNameError(v, field);
          if (problem !== undefined) c.fail(ProtocolViolation, problem);
        }
        out[entry.name] = v;
        break;
      }
      case "binary":
        out[entry.name] = c.binary(field);
        break;
      case "pairs": {
        const name = c.string(`${field} name`);
        (out.userProperties ??= []).push([name, c.string(`${field} value`)]);
        break;
      }
      case "varints": {
        const v = c.varint(field);
        if (v === 0) c.fail(ProtocolViolation, `${field} is 0`);
        (out.subscriptionIdentifiers ??= []).push(v);
        break;
      }
    }
  }
  if (out.authenticationData !== undefined && out.authenticationMethod === undefined) {
    c.fail(ProtocolViolation, `${what} authenticationData without authenticationMethod`);
  }
  return out;
}

/**
 * Writes a property block (length, then properties) for `context`. Undefined values and empty
 * lists count as absent; a property the context does not allow is refused.
 */
export function writeProperties(w: Sink, props: Properties | undefined, context: PropertyContext, what = "property"): void {
  if (w.buf) {
    w.varint(propertiesLength(props, context, w.packet, what));
    putProperties(w, props, context, what);
  } else {
    // Counting: count the properties where they stand, then make room for their length in front.
    const start = w.pos;
    putProperties(w, props, context, what);
    w.pos += varintSize(w.pos - start);
  }
}

/** Bytes the properties (without their length field) take; validates them. */
export function propertiesLength(props: Properties | undefined, context: PropertyContext, packet: string, what = "property"): number {
  const m = new Sink(packet);
  putProperties(m, props, context, what);
  return m.pos;
}

/** Writes the properties themselves, without the block length. */
export function putProperties(w: Sink, props: Properties | undefined, context: PropertyContext, what = "property"): void {
  if (props === undefined) return;
  if (!w.buf) {
    if (typeof props !== "object" || props === null) w.fail(Malformed, `${what} set must be an object`);
    for (const [name, value] of Object.entries<unknown>(props)) {
      if (value !== undefined && !table.some((e) => e.name === name && e.in.includes(context))) {
        w.fail(Malformed, table.some((e) => e.name === name) ? `${what} ${name} is not allowed here` : `unknown ${what} ${name}`);
      }
    }
    if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
      w.fail(ProtocolViolation, `${what} authenticationData without authenticationMethod`);
    }
  }
  for (const entry of table) {
    if (!entry.in.includes(context)) continue;
    const field = `${what} ${entry.name}`;
    switch (entry.kind) {
      case "u16":
      case "u32":
      case "varint": {
        const v = props[entry.name];
        if (v === undefined) break;
        w.int(v, entry.min, maxOf[entry.kind], field);
        w.u8(entry.id);
        if (entry.kind === "u16") w.u16(v);
        else if (entry.kind === "u32") w.u32(v);
        else w.varint(v);
        break;
      }
      case "zeroOne": {
        const v = props[entry.name];
        if (v === undefined) break;
        w.int(v, 0, 1, field);
        w.u8(entry.id);
        w.u8(v);
        break;
      }
      case "bool": {
        const v = props[entry.name];
        if (v === undefined) break;
        if (typeof v !== "boolean") w.fail(Malformed, `${field} must be a boolean`);
        w.u8(entry.id);
        w.u8(v ? 1 : 0);
        break;
      }
      case "string":
      case "topic": {
        const v = props[entry.name];
        if (v === undefined) break;
        if (entry.kind === "topic" && !w.buf) {
          const problem = v === "" ? `${field} is empty` : topicNameError(v, field);
          if (problem !== undefined) w.fail(ProtocolViolation, problem);
        }
        w.u8(entry.id);
        w.string(v, field);
        break;
      }
      case "binary": {
        const v = props[entry.name];
        if (v === undefined) break;
        w.u8(entry.id);
        w.binary(v, field);
        break;
      }
      case "pairs": {
        const list = props.userProperties;
        if (list === undefined) break;
        if (!Array.isArray(list)) w.fail(Malformed, `${field} must be an array of [name, value] pairs`);
        for (const pair of list) {
          if (!Array.isArray(pair) || pair.length !== 2) w.fail(Malformed, `${field} must be an array of [name, value] pairs`);
          w.u8(entry.id);
          w.string(pair[0], `${field} name`);
          w.string(pair[1], `${field} value`);
        }
        break;
      }
      case "varints": {
        const list = props.subscriptionIdentifiers;
        if (list === undefined) break;
        if (!Array.isArray(list)) w.fail(Malformed, `${field} must be an array`);
        for (const v of list) {
          w.int(v, 1, MAX_VARINT, field);
          w.u8(entry.id);
          w.varint(v);
        }
        break;
      }
    }
  }
}
