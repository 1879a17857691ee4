// The MQTT control packets as plain objects, one interface per packet, tagged by `type`, for both
// protocol levels: 4 is MQTT 3.1.1, 5 is MQTT 5.0. What the codec accepts is a little looser than
// what it returns; the decoded ("canonical") form is exact, so that tests and sessions can compare
// packets with a deep equality:
//   - `properties` (and `will.properties`) is present only if the packet carried at least one
//     property, and `userProperties` only if it carried at least one user property;
//   - in MQTT 5, PUBACK/PUBREC/PUBREL/PUBCOMP, DISCONNECT and AUTH always carry `reasonCode` (0 when
//     the wire form omitted it), and every subscription carries `noLocal`, `retainAsPublished` and
//     `retainHandling`; in MQTT 3.1.1 those fields are absent;
//   - `packetId` of a PUBLISH is present exactly when its QoS is above 0;
//   - binary fields are views into the bytes the reader was given, not copies.

export type Version = 4 | 5;
export type QoS = 0 | 1 | 2;

/** User Property pairs in wire order; a name may repeat (MQTT 5 §3.1.2.11.8). */
export type UserProperties = [string, string][];

/**
 * Every MQTT 5 property (§2.2.2.2), with its identifier. Each packet allows a subset, named by the
 * `…Properties` types below; the codec refuses the others in both directions.
 */
export type Properties = {
  /** 0x01: 0 = unspecified bytes, 1 = UTF-8 text. */
  payloadFormatIndicator?: 0 | 1;
  /** 0x02, seconds. */
  messageExpiryInterval?: number;
  /** 0x03, e.g. a MIME type such as "application/senml+json". */
  contentType?: string;
  /** 0x08 */
  responseTopic?: string;
  /** 0x09 */
  correlationData?: Uint8Array;
  /** 0x0B in SUBSCRIBE: 1..268,435,455. */
  subscriptionIdentifier?: number;
  /** 0x0B in PUBLISH: one per matching subscription, so it may repeat. */
  subscriptionIdentifiers?: number[];
  /** 0x11, seconds; 0xFFFFFFFF means the session never expires. */
  sessionExpiryInterval?: number;
  /** 0x12 */
  assignedClientIdentifier?: string;
  /** 0x13, seconds. */
  serverKeepAlive?: number;
  /** 0x15 */
  authenticationMethod?: string;
  /** 0x16: only together with authenticationMethod. */
  authenticationData?: Uint8Array;
  /** 0x17 */
  requestProblemInformation?: boolean;
  /** 0x18, seconds. */
  willDelayInterval?: number;
  /** 0x19 */
  requestResponseInformation?: boolean;
  /** 0x1A */
  responseInformation?: string;
  /** 0x1C */
  serverReference?: string;
  /** 0x1F */
  reasonString?: string;
  /** 0x21: 1..65535. */
  receiveMaximum?: number;
  /** 0x22 */
  topicAliasMaximum?: number;
  /** 0x23: 1..65535. */
  topicAlias?: number;
  /** 0x24 */
  maximumQoS?: 0 | 1;
  /** 0x25 */
  retainAvailable?: boolean;
  /** 0x26 */
  userProperties?: UserProperties;
  /** 0x27, bytes, 1..4,294,967,295. */
  maximumPacketSize?: number;
  /** 0x28 */
  wildcardSubscriptionAvailable?: boolean;
  /** 0x29 */
  subscriptionIdentifiersAvailable?: boolean;
  /** 0x2A */
  sharedSubscriptionAvailable?: boolean;
};

export type ConnectProperties = Pick<
  Properties,
  | "sessionExpiryInterval"
  | "receiveMaximum"
  | "maximumPacketSize"
  | "topicAliasMaximum"
  | "requestResponseInformation"
  | "requestProblemInformation"
  | "userProperties"
  | "authenticationMethod"
  | "authenticationData"
>;
export type WillProperties = Pick<
  Properties,
  | "willDelayInterval"
  | "payloadFormatIndicator"
  | "messageExpiryInterval"
  | "contentType"
  | "responseTopic"
  | "correlationData"
  | "userProperties"
>;
export type ConnackProperties = Pick<
  Properties,
  | "sessionExpiryInterval"
  | "receiveMaximum"
  | "maximumQoS"
  | "retainAvailable"
  | "maximumPacketSize"
  | "assignedClientIdentifier"
  | "topicAliasMaximum"
  | "reasonString"
  | "userProperties"
  | "wildcardSubscriptionAvailable"
  | "subscriptionIdentifiersAvailable"
  | "sharedSubscriptionAvailable"
  | "serverKeepAlive"
  | "responseInformation"
  | "serverReference"
  | "authenticationMethod"
  | "authenticationData"
>;
export type PublishProperties = Pick<
  Properties,
  | "payloadFormatIndicator"
  | "messageExpiryInterval"
  | "topicAlias"
  | "responseTopic"
  | "correlationData"
  | "userProperties"
  | "subscriptionIdentifiers"
  | "contentType"
>;
/** PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK. */
export type AckProperties = Pick<Properties, "reasonString" | "userProperties">;
export type SubscribeProperties = Pick<Properties, "subscriptionIdentifier" | "userProperties">;
export type UnsubscribeProperties = Pick<Properties, "userProperties">;
export type DisconnectProperties = Pick<Properties, "sessionExpiryInterval" | "reasonString" | "serverReference" | "userProperties">;
export type AuthProperties = Pick<Properties, "authenticationMethod" | "authenticationData" | "reasonString" | "userProperties">;

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties?: WillProperties;
}

export interface ConnectPacket {
  type: "connect";
  clientId: string;
  cleanStart: boolean;
  /** Seconds, 0..65535; 0 turns keep-alive off. */
  keepAlive: number;
  username?: string;
  /** MQTT 3.1.1 allows a password only together with a username. */
  password?: Uint8Array;
  will?: Will;
  properties?: ConnectProperties;
}

export interface ConnackPacket {
  type: "connack";
  sessionPresent: boolean;
  /** MQTT 3.1.1: a ConnectReturnCode; MQTT 5: a ReasonCode. */
  reasonCode: number;
  properties?: ConnackProperties;
}

export interface PublishPacket {
  type: "publish";
  /** May be empty only in MQTT 5 with a topicAlias property. */
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** Only with QoS > 0. */
  dup: boolean;
  /** 1..65535, present if and only if qos > 0. */
  packetId?: number;
  properties?: PublishProperties;
}

export interface AckPacket {
  type: "puback" | "pubrec" | "pubrel" | "pubcomp";
  packetId: number;
  /** MQTT 5 only; omitted means Success. */
  reasonCode?: number;
  properties?: AckProperties;
}

export interface Subscription {
  /** A topic filter: `+` and `#` allowed as whole levels, `#` last. */
  topic: string;
  qos: QoS;
  /** MQTT 5 only, as are the two below. Not allowed on a shared subscription ($share/…). */
  noLocal?: boolean;
  retainAsPublished?: boolean;
  /** 0: send retained messages at subscribe; 1: only if the subscription is new; 2: never. */
  retainHandling?: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: "subscribe";
  packetId: number;
  /** At least one. */
  subscriptions: Subscription[];
  properties?: SubscribeProperties;
}

export interface SubackPacket {
  type: "suback";
  packetId: number;
  /** One per subscription: the granted QoS (0, 1, 2) or a failure code (0x80 and up). */
  reasonCodes: number[];
  properties?: AckProperties;
}

export interface UnsubscribePacket {
  type: "unsubscribe";
  packetId: number;
  /** Topic filters, at least one. */
  topics: string[];
  properties?: UnsubscribeProperties;
}

export interface UnsubackPacket {
  type: "unsuback";
  packetId: number;
  /** MQTT 5 only (and then required): one per topic filter. */
  reasonCodes?: number[];
  properties?: AckProperties;
}

export interface PingreqPacket {
  type: "pingreq";
}

export interface PingrespPacket {
  type: "pingresp";
}

export interface DisconnectPacket {
  type: "disconnect";
  /** MQTT 5 only; omitted means Normal disconnection. */
  reasonCode?: number;
  properties?: DisconnectProperties;
}

/** MQTT 5 only. */
export interface AuthPacket {
  type: "auth";
  reasonCode: number;
  properties?: AuthProperties;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;

export type PacketType = Packet["type"];

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const ConnectReturnCode = {
  Accepted: 0x00,
  UnacceptableProtocolVersion: 0x01,
  IdentifierRejected: 0x02,
  ServerUnavailable: 0x03,
  BadUserNameOrPassword: 0x04,
  NotAuthorized: 0x05,
} as const;

/** MQTT 3.1.1 SUBACK return code for a refused subscription (§3.9.3); 0..2 are granted QoS. */
export const SubackFailure = 0x80;

/** MQTT 5 reason codes (§2.4). Several names share a value; the packet gives the meaning. */
export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

/**
 * The codes each packet may carry (MQTT 5 §3.x.2.1 tables; MQTT 3.1.1 §3.2.2.3 and §3.9.3). The codec
 * refuses any other in either direction: the specification lists them exhaustively.
 */
/**
 * A failure code (≥ 0x80) outside a packet's table, which real brokers send (mosquitto answers an
 * oversized PUBLISH with PUBACK 0x95): tolerated in MQTT 5 on the acknowledgements and refusals a
 * broker sends, both ways, so that it reads as the failure it is rather than as a broken stream.
 */
export function toleratedReasonCode(version: Version, type: PacketType, code: number): boolean {
  return version === 5 && code >= 0x80 && code <= 0xff && type !== "auth" && type !== "connect" && type !== "subscribe";
}

export const allowedReasonCodes: Readonly<Record<Version, Partial<Record<PacketType, readonly number[]>>>> = {
  4: {
    connack: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05],
    suback: [0x00, 0x01, 0x02, 0x80],
  },
  5: {
    connack: [0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f],
    puback: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
    pubrec: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
    pubrel: [0x00, 0x92],
    pubcomp: [0x00, 0x92],
    suback: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
    unsuback: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
    disconnect: [
      0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b,
      0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
    ],
    auth: [0x00, 0x18, 0x19],
  },
};
