// What MQTTClient's options say of the connection itself, and the CONNECT they make: client id,
// keep-alive, clean or persistent session, credentials, Will, and the MQTT 5 limits this client
// states.

import type { ConnectPacket, QoS, Version } from "./packets";
import { utf8Encode } from "../encoding/utf8";

/** MQTT 5 Session Expiry Interval meaning "never": what `clean: false` asks for unless told otherwise,
 *  so that a persistent session means the same in both versions. */
const SESSION_NEVER_EXPIRES = 0xffffffff;

export interface WillOptions {
  topic: string;
  message: Uint8Array | ArrayBuffer | string;
  QoS?: QoS;
  retain?: boolean;
}

export interface ConnectOptions {
  id?: string;
  /** Milliseconds, as the SDK's client takes it; 0 (the default) turns keep-alive off. */
  keepalive?: number;
  /** Default true, as in the SDK's client. False: a persistent session, kept in `store`. */
  clean?: boolean;
  user?: string;
  password?: string | Uint8Array;
  will?: WillOptions;
  /** MQTT 5, seconds; default 0 with `clean`, never expiring without. */
  sessionExpiry?: number;
  /** MQTT 5: what this client accepts, sent in CONNECT. */
  receiveMaximum?: number;
  maximumPacketSize?: number;
  topicAliasMaximum?: number;
}

export const bytesOf = (data: Uint8Array | ArrayBuffer | string): Uint8Array =>
  typeof data === "string" ? utf8Encode(data) : data instanceof Uint8Array ? data : new Uint8Array(data);

/** The CONNECT of `options` (the session adds its type). */
export function connectOf(options: ConnectOptions, version: Version): Omit<ConnectPacket, "type"> {
  const clean = options.clean ?? true;
  const connect: Omit<ConnectPacket, "type"> = {
    clientId: options.id ?? "",
    cleanStart: clean,
    keepAlive: Math.ceil((options.keepalive ?? 0) / 1000),
  };
  if (options.user !== undefined) connect.username = options.user;
  if (options.password !== undefined) connect.password = bytesOf(options.password);
  const will = options.will;
  if (will) connect.will = { topic: will.topic, payload: bytesOf(will.message), qos: will.QoS ?? 0, retain: will.retain ?? false };
  if (version === 5) {
    const properties: NonNullable<ConnectPacket["properties"]> = {};
    const expiry = options.sessionExpiry ?? (clean ? 0 : SESSION_NEVER_EXPIRES);
    if (expiry) properties.sessionExpiryInterval = expiry;
    if (options.receiveMaximum !== undefined) properties.receiveMaximum = options.receiveMaximum;
    if (options.maximumPacketSize !== undefined) properties.maximumPacketSize = options.maximumPacketSize;
    if (options.topicAliasMaximum) properties.topicAliasMaximum = options.topicAliasMaximum;
    if (Object.keys(properties).length) connect.properties = properties;
  }
  return connect;
}
