// Shared by the mqtt-*.test.ts suites: fast-check arbitraries for valid packets in canonical form
// (see src/mqtt/packets.ts), the mapping of our packets onto mqtt-packet's object shape, and a
// helper that feeds bytes through a PacketReader in arbitrary chunks.

import fc from "fast-check";
import * as mqttPacket from "mqtt-packet";
import { PacketReader } from "../src/mqtt/codec";
import type { Packet, Properties, QoS, Subscription, UserProperties, Version, Will } from "../src/mqtt/packets";

export const hex = (s: string): Uint8Array => Uint8Array.from((s.match(/[0-9a-f]{2}/gi) ?? []).map((b) => parseInt(b, 16)));
export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
export const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "utf8"));

/** Feeds `bytes` to a fresh reader in chunks of the given sizes (cycled) and collects the packets. */
export function readAll(bytes: Uint8Array, version: Version, chunkSizes: number[] = [bytes.length || 1]): Packet[] {
  const reader = new PacketReader(version);
  const out: Packet[] = [];
  let pos = 0;
  for (let i = 0; pos < bytes.length; i++) {
    const size = Math.max(1, chunkSizes[i % chunkSizes.length]!);
    reader.push(bytes.slice(pos, pos + size));
    pos += size;
    for (let p = reader.next(); p !== undefined; p = reader.next()) out.push(p);
  }
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** `oracle`: only packets mqtt-packet can express (see userProperties and connect below). */
export interface ArbOptions {
  oracle?: boolean;
}

const segment = fc.string({ unit: "binary", maxLength: 6 }).map((s) => s.replace(/[+#/\u0000]/g, "x"));
const asciiSegment = fc.string({ unit: fc.constantFrom("a", "b", "z", "0", "-", "_", "$", "é", "€", "😀"), maxLength: 5 });
const mqttString = fc.oneof(fc.string({ unit: "binary", maxLength: 12 }).map((s) => s.replace(/\u0000/g, "0")), fc.constantFrom("", "x"));

export const topicName = fc
  .array(fc.oneof(segment, asciiSegment), { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join("/"))
  .filter((t) => t !== "");

export function topicFilter(version: Version): fc.Arbitrary<string> {
  const level = fc.oneof({ weight: 3, arbitrary: fc.oneof(segment, asciiSegment) }, { weight: 1, arbitrary: fc.constant("+") });
  const plain = fc
    .tuple(fc.array(level, { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
    .filter((t) => t !== "");
  if (version === 4) return fc.oneof(plain, fc.constant("#"));
  const shareName = asciiSegment.map((s) => s.replace(/[/+#]/g, "x")).filter((s) => s !== "");
  return fc.oneof({ weight: 4, arbitrary: plain }, { weight: 1, arbitrary: fc.tuple(shareName, plain).map(([n, f]) => `$share/${n}/${f}`) });
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const positive16 = fc.integer({ min: 1, max: 0xffff });
const varint = fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 268_435_455 }));
const binary = fc.uint8Array({ maxLength: 24 });
const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.oneof(fc.constantFrom(1, 0xffff), positive16);

function userProperties(options: ArbOptions): fc.Arbitrary<UserProperties> {
  if (!options.oracle) return fc.array(fc.tuple(mqttString, mqttString), { minLength: 1, maxLength: 4 });
  // mqtt-packet takes user properties as an object, name → value or values: so names must be
  // distinct, each name's values adjacent, and no name may look like an array index (those keys
  // enumerate first in JavaScript). Prefixing names with a letter keeps them ordinary keys.
  return fc
    .uniqueArray(fc.tuple(mqttString.map((n) => `k${n}`), fc.array(mqttString, { minLength: 1, maxLength: 2 })), {
      minLength: 1,
      maxLength: 3,
      selector: ([name]) => name,
    })
    .map((groups) => groups.flatMap(([name, values]) => values.map((v): [string, string] => [name, v])));
}

/** Optional properties, canonical: absent (not undefined) when not chosen; undefined when none. */
function props<T extends Properties>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T | undefined> {
  return fc.record(model, { requiredKeys: [] }).map((p) => {
    // fast-check builds records without a prototype; decoded properties are plain objects.
    const q = { ...p } as T;
    if (q.authenticationData !== undefined && q.authenticationMethod === undefined) delete q.authenticationData;
    return Object.keys(q).length === 0 ? undefined : q;
  });
}

const ackProps = (o: ArbOptions) => props<Properties>({ reasonString: mqttString, userProperties: userProperties(o) });

function withProps<P extends object>(p: P, properties: Properties | undefined): P {
  return properties === undefined ? p : Object.assign(p, { properties });
}

export function arbPacket(version: Version, options: ArbOptions = {}): fc.Arbitrary<Packet> {
  const v5 = version === 5;
  const up = userProperties(options);
  const none = fc.constant(undefined);

  const will = fc
    .record({
      topic: topicName,
      payload: binary,
      qos,
      retain: fc.boolean(),
      properties: v5
        ? props<Properties>({
            willDelayInterval: u32,
            payloadFormatIndicator: fc.constantFrom<0 | 1>(0, 1),
            messageExpiryInterval: u32,
            contentType: mqttString,
            responseTopic: topicName,
            correlationData: binary,
            userProperties: up,
          })
        : none,
    })
    .map(({ properties, ...w }): Will => withProps(w, properties));

  const connect = fc
    .record({
      clientId: mqttString,
      cleanStart: fc.boolean(),
      keepAlive: u16,
      username: fc.option(mqttString, { nil: undefined }),
      password: fc.option(binary, { nil: undefined }),
      will: fc.option(will, { nil: undefined }),
      properties: v5
        ? props<Properties>({
            sessionExpiryInterval: u32,
            receiveMaximum: positive16,
            maximumPacketSize: fc.integer({ min: 1, max: 0xffff_ffff }),
            topicAliasMaximum: u16,
            requestResponseInformation: fc.boolean(),
            requestProblemInformation: fc.boolean(),
            userProperties: up,
            authenticationMethod: mqttString,
            authenticationData: binary,
          })
        : none,
    })
    .map((r): Packet => {
      const p: Packet = { type: "connect", clientId: r.clientId, cleanStart: r.cleanStart, keepAlive: r.keepAlive };
      // 3.1.1 (and mqtt-packet in 5, which deviates from 5.0 §3.1.3.1 and §3.1.2.9 here): an empty
      // client id needs clean start, and a password needs a user name.
      if ((version === 4 || options.oracle) && p.clientId === "") p.cleanStart = true;
      if (r.will) p.will = r.will;
      if (r.username !== undefined) p.username = r.username;
      if (r.password !== undefined && (r.username !== undefined || (v5 && !options.oracle))) p.password = r.password;
      return withProps(p, r.properties);
    });

  const connack = fc
    .record({
      sessionPresent: fc.boolean(),
      reasonCode: v5
        ? fc.constantFrom(0, 0, 0x80, 0x81, 0x84, 0x85, 0x86, 0x87, 0x8a, 0x95, 0x9c, 0x9f)
        : fc.constantFrom(0, 0, 1, 2, 3, 4, 5),
      properties: v5
        ? props<Properties>({
            sessionExpiryInterval: u32,
            receiveMaximum: positive16,
            maximumQoS: fc.constantFrom<0 | 1>(0, 1),
            retainAvailable: fc.boolean(),
            maximumPacketSize: fc.integer({ min: 1, max: 0xffff_ffff }),
            assignedClientIdentifier: mqttString,
            topicAliasMaximum: u16,
            reasonString: mqttString,
            userProperties: up,
            wildcardSubscriptionAvailable: fc.boolean(),
            subscriptionIdentifiersAvailable: fc.boolean(),
            sharedSubscriptionAvailable: fc.boolean(),
            serverKeepAlive: u16,
            responseInformation: mqttString,
            serverReference: mqttString,
            authenticationMethod: mqttString,
            authenticationData: binary,
          })
        : none,
    })
    .map((r): Packet => withProps({ type: "connack", sessionPresent: r.sessionPresent && r.reasonCode === 0, reasonCode: r.reasonCode }, r.properties));

  const publish = fc
    .record({
      topic: topicName,
      payload: fc.oneof({ weight: 5, arbitrary: fc.uint8Array({ maxLength: 64 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 400 }) }),
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      packetId,
      emptyTopic: fc.boolean(),
      properties: v5
        ? props<Properties>({
            payloadFormatIndicator: fc.constantFrom<0 | 1>(0, 1),
            messageExpiryInterval: u32,
            topicAlias: positive16,
            responseTopic: topicName,
            correlationData: binary,
            userProperties: up,
            subscriptionIdentifiers: fc.array(varint, { minLength: 1, maxLength: 3 }),
            contentType: mqttString,
          })
        : none,
    })
    .map((r): Packet => {
      const p: Packet = { type: "publish", topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain, dup: r.dup && r.qos > 0 };
      if (r.qos > 0) p.packetId = r.packetId;
      if (r.emptyTopic && r.properties?.topicAlias !== undefined) p.topic = "";
      return withProps(p, r.properties);
    });

  const ack = fc
    .record({
      type: fc.constantFrom("puback" as const, "pubrec" as const, "pubrel" as const, "pubcomp" as const),
      packetId,
      code: fc.constantFrom(0, 0, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99, 0x92),
      properties: v5 ? ackProps(options) : none,
    })
    .map((r): Packet => {
      if (!v5) return { type: r.type, packetId: r.packetId };
      const fits = r.type === "pubrel" || r.type === "pubcomp" ? r.code === 0 || r.code === 0x92 : r.code !== 0x92;
      return withProps({ type: r.type, packetId: r.packetId, reasonCode: fits ? r.code : 0 }, r.properties);
    });

  const subscription = fc
    .record({ topic: topicFilter(version), qos, noLocal: fc.boolean(), retainAsPublished: fc.boolean(), retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2) })
    .map((s): Subscription => {
      if (!v5) return { topic: s.topic, qos: s.qos };
      return { ...s, noLocal: s.noLocal && !s.topic.startsWith("$share/") };
    });

  const subscribe = fc
    .record({
      packetId,
      subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }),
      properties: v5 ? props<Properties>({ subscriptionIdentifier: varint, userProperties: up }) : none,
    })
    .map((r): Packet => withProps({ type: "subscribe", packetId: r.packetId, subscriptions: r.subscriptions }, r.properties));

  const suback = fc
    .record({
      packetId,
      reasonCodes: fc.array(v5 ? fc.constantFrom(0, 1, 2, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2) : fc.constantFrom(0, 1, 2, 0x80), {
        minLength: 1,
        maxLength: 5,
      }),
      properties: v5 ? ackProps(options) : none,
    })
    .map((r): Packet => withProps({ type: "suback", packetId: r.packetId, reasonCodes: r.reasonCodes }, r.properties));

  const unsubscribe = fc
    .record({
      packetId,
      topics: fc.array(topicFilter(version), { minLength: 1, maxLength: 4 }),
      properties: v5 ? props<Properties>({ userProperties: up }) : none,
    })
    .map((r): Packet => withProps({ type: "unsubscribe", packetId: r.packetId, topics: r.topics }, r.properties));

  const unsuback = fc
    .record({
      packetId,
      reasonCodes: fc.array(fc.constantFrom(0, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91), { minLength: 1, maxLength: 5 }),
      properties: v5 ? ackProps(options) : none,
    })
    .map((r): Packet => (v5 ? withProps({ type: "unsuback", packetId: r.packetId, reasonCodes: r.reasonCodes }, r.properties) : { type: "unsuback", packetId: r.packetId }));

  const ping = fc.constantFrom<Packet>({ type: "pingreq" }, { type: "pingresp" });

  const disconnect = fc
    .record({
      reasonCode: fc.constantFrom(0, 0, 0x04, 0x80, 0x81, 0x82, 0x8b, 0x8e, 0x95, 0x9c, 0xa2),
      properties: v5
        ? props<Properties>({ sessionExpiryInterval: u32, reasonString: mqttString, serverReference: mqttString, userProperties: up })
        : none,
    })
    .map((r): Packet => (v5 ? withProps({ type: "disconnect", reasonCode: r.reasonCode }, r.properties) : { type: "disconnect" }));

  const auth = fc
    .record({
      reasonCode: fc.constantFrom(0, 0x18, 0x19),
      properties: props<Properties>({ authenticationMethod: mqttString, authenticationData: binary, reasonString: mqttString, userProperties: up }),
    })
    .map((r): Packet => withProps({ type: "auth", reasonCode: r.reasonCode }, r.properties));

  const all: fc.Arbitrary<Packet>[] = [connect, connack, publish, publish, ack, subscribe, suback, unsubscribe, unsuback, ping, disconnect];
  if (v5) all.push(auth);
  return fc.oneof(...all);
}

// ---------------------------------------------------------------------------------------------
// mqtt-packet as an oracle

type Obj = Record<string, unknown>;

const buf = (b: Uint8Array) => Buffer.from(b);

/** Our properties as mqtt-packet's object, keys in our (identifier) order, which it writes in. */
function oracleProperties(p: Properties | undefined): Obj | undefined {
  if (p === undefined) return undefined;
  const order: (keyof Properties)[] = [
    "payloadFormatIndicator",
    "messageExpiryInterval",
    "contentType",
    "responseTopic",
    "correlationData",
    "subscriptionIdentifiers",
    "subscriptionIdentifier",
    "sessionExpiryInterval",
    "assignedClientIdentifier",
    "serverKeepAlive",
    "authenticationMethod",
    "authenticationData",
    "requestProblemInformation",
    "willDelayInterval",
    "requestResponseInformation",
    "responseInformation",
    "serverReference",
    "reasonString",
    "receiveMaximum",
    "topicAliasMaximum",
    "topicAlias",
    "maximumQoS",
    "retainAvailable",
    "userProperties",
    "maximumPacketSize",
    "wildcardSubscriptionAvailable",
    "subscriptionIdentifiersAvailable",
    "sharedSubscriptionAvailable",
  ];
  const out: Obj = {};
  for (const key of order) {
    const v = p[key];
    if (v === undefined) continue;
    if (key === "userProperties") {
      const o: Record<string, string | string[]> = {};
      for (const [name, value] of v as UserProperties) {
        const prev = o[name];
        o[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      }
      out.userProperties = o;
    } else if (key === "subscriptionIdentifiers") out.subscriptionIdentifier = v;
    else if (key === "payloadFormatIndicator") out[key] = v === 1; // mqtt-packet types it as a boolean
    else if (v instanceof Uint8Array) out[key] = buf(v);
    else out[key] = v;
  }
  return out;
}

/** Our packet in mqtt-packet's shape. */
export function toOracle(p: Packet, version: Version): Obj {
  const props = "properties" in p ? oracleProperties(p.properties) : undefined;
  switch (p.type) {
    case "connect":
      return {
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: version,
        clientId: p.clientId,
        clean: p.cleanStart,
        keepalive: p.keepAlive,
        ...(p.username !== undefined && { username: p.username }),
        ...(p.password !== undefined && { password: buf(p.password) }),
        ...(p.will && {
          will: { topic: p.will.topic, payload: buf(p.will.payload), qos: p.will.qos, retain: p.will.retain, properties: oracleProperties(p.will.properties) },
        }),
        properties: props,
      };
    case "connack":
      return { cmd: "connack", sessionPresent: p.sessionPresent, [version === 5 ? "reasonCode" : "returnCode"]: p.reasonCode, properties: props };
    case "publish":
      return { cmd: "publish", topic: p.topic, payload: buf(p.payload), qos: p.qos, retain: p.retain, dup: p.dup, messageId: p.packetId, properties: props };
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return { cmd: p.type, messageId: p.packetId, reasonCode: p.reasonCode ?? 0, properties: props };
    case "subscribe":
      return {
        cmd: "subscribe",
        messageId: p.packetId,
        subscriptions: p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos, nl: s.noLocal ?? false, rap: s.retainAsPublished ?? false, rh: s.retainHandling ?? 0 })),
        properties: props,
      };
    case "suback":
      return { cmd: "suback", messageId: p.packetId, granted: p.reasonCodes, properties: props };
    case "unsubscribe":
      return { cmd: "unsubscribe", messageId: p.packetId, unsubscriptions: p.topics, properties: props };
    case "unsuback":
      return { cmd: "unsuback", messageId: p.packetId, granted: p.reasonCodes, properties: props };
    case "pingreq":
    case "pingresp":
      return { cmd: p.type };
    case "disconnect":
      return { cmd: "disconnect", reasonCode: p.reasonCode ?? 0, properties: props };
    case "auth":
      return { cmd: "auth", reasonCode: p.reasonCode, properties: props };
  }
}

/** mqtt-packet's bytes for our packet, exactly as it generates them. */
export function oracleBytes(p: Packet, version: Version): Uint8Array {
  return new Uint8Array(mqttPacket.generate(toOracle(p, version) as unknown as mqttPacket.Packet, { protocolVersion: version }));
}

/**
 * mqtt-packet's bytes with its one systematic difference undone. Where MQTT 5 lets the property
 * length (and, for Success, the reason code) be left out of PUBACK/PUBREC/PUBREL/PUBCOMP, DISCONNECT
 * and AUTH (§3.4.2.1, §3.14.2.1, §3.15.2.1), mqtt-packet still writes them when the reason code is
 * not Success (acks) or always (DISCONNECT, AUTH); both forms are valid, we write the shortest, as
 * mosquitto does. So drop the trailing zero property length, and a Success reason code before it.
 */
export function oracleBytesShortest(p: Packet, version: Version): Uint8Array {
  const b = oracleBytes(p, version);
  if (version !== 5 || !["puback", "pubrec", "pubrel", "pubcomp", "disconnect", "auth"].includes(p.type)) return b;
  const fixed = p.type === "disconnect" || p.type === "auth" ? 0 : 2;
  // Without properties the remaining length is fixed + 2 (code, zero length), so one byte.
  if (b[1] !== fixed + 2) return b;
  const code = b[2 + fixed]!;
  if (code !== 0) return p.type === "auth" ? b : Uint8Array.of(b[0]!, fixed + 1, ...b.subarray(2, 3 + fixed));
  return Uint8Array.of(b[0]!, fixed, ...b.subarray(2, 2 + fixed));
}
