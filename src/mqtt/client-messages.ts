// What an application and MQTTClient hand each other besides the options: what write() takes,
// what onReadable says of a message, what onControl reports, and the operations' numbers.

import type { ConnackProperties, PublishProperties, QoS, Subscription } from "./packets";

/** The operations of write() and onControl, as the pattern numbers them (MQTTClient's statics). */
export const Operation = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/** What onReadable says of the message it announces. The whole payload comes at once. */
export interface ReadableOptions {
  topic: string;
  QoS: QoS;
  retain: boolean;
  dup: boolean;
  byteLength: number;
  more: false;
  properties?: PublishProperties;
}

export interface ControlMessage {
  operation: number;
  /** The packet id the answer is for. */
  id?: number;
  /** CONNACK's return code (3.1.1) or any MQTT 5 reason code; 0 is success. */
  reasonCode?: number;
  /** SUBACK/UNSUBACK: one per filter. */
  reasonCodes?: number[];
  sessionPresent?: boolean;
  properties?: ConnackProperties;
}

export interface WriteOptions {
  operation?: number;
  topic?: string;
  QoS?: QoS;
  retain?: boolean;
  /** MQTT 5 PUBLISH properties (topicAlias is the client's to assign). */
  properties?: Omit<PublishProperties, "topicAlias">;
  /** SUBSCRIBE / UNSUBSCRIBE. */
  items?: ({ topic: string; QoS?: QoS } & Omit<Subscription, "topic" | "qos">)[];
  /** DISCONNECT, MQTT 5. */
  reasonCode?: number;
}
