// Human names for the CONNACK codes a broker refuses with, so a log line says "not authorized"
// rather than "5". MQTT 3.1.1 §3.2.2.3 return codes and MQTT 5 §3.2.2.2 reason codes differ.

const v4: Record<number, string> = {
  1: "unacceptable protocol version",
  2: "client identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
};

const v5: Record<number, string> = {
  0x80: "unspecified error",
  0x81: "malformed packet",
  0x82: "protocol error",
  0x83: "implementation specific error",
  0x84: "unsupported protocol version",
  0x85: "client identifier not valid",
  0x86: "bad user name or password",
  0x87: "not authorized",
  0x88: "server unavailable",
  0x89: "server busy",
  0x8a: "banned",
  0x8c: "bad authentication method",
  0x90: "topic name invalid",
  0x95: "packet too large",
  0x97: "quota exceeded",
  0x99: "payload format invalid",
  0x9a: "retain not supported",
  0x9b: "QoS not supported",
  0x9c: "use another server",
  0x9d: "server moved",
  0x9f: "connection rate exceeded",
};

export function connackReason(version: 4 | 5, code: number): string {
  const name = (version === 5 ? v5 : v4)[code] ?? "unknown reason";
  return `${name} (0x${code.toString(16).padStart(2, "0")})`;
}

/** Reason codes of a PUBACK or PUBREC that mean the broker will never take that message, whenever it
 *  is sent: not authorized for the topic, a topic name it refuses, a payload format it refuses. */
const refusedForGood = new Set([0x87, 0x90, 0x99]);

/**
 * What a negative acknowledgement (≥ 0x80) of a PUBLISH means for the readings it carried: "never"
 * (release and count them), or "later" (keep them and back off) — quota exceeded (0x97), Receive
 * Maximum exceeded (0x93), busy, unspecified, implementation specific, and every code a broker sends
 * outside the spec's table: a reading is worth more than a retry.
 */
export function publishRefusal(code: number): "never" | "later" {
  return refusedForGood.has(code) ? "never" : "later";
}

/** A reason code's name, for a log line: "quota exceeded (0x97)". */
export function reasonName(code: number): string {
  return connackReason(5, code);
}
