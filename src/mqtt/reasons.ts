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
