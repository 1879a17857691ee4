// What test/mqtt-xs.test.ts runs on both engines, XS 13 (through mqtt-xs.entry.ts) and Node, so
// that their answers can be compared whole: packets, bytes and error messages.

import { utf8Decode, utf8Encode } from "../src/encoding/utf8";
import { encode, PacketReader, ProtocolError } from "../src/mqtt/codec";
import type { Packet, Version } from "../src/mqtt/packets";

export type XsRequest =
  | { op: "read"; version: Version; inputs: Uint8Array[]; chunk: number }
  | { op: "encode"; version: Version; packets: Packet[] }
  | { op: "utf8"; strings: string[]; bytes: Uint8Array[] };

export interface ReadResult {
  packets: Packet[];
  error?: string;
}

function describe(e: unknown): string {
  return e instanceof ProtocolError ? `ProtocolError 0x${e.reasonCode.toString(16)}: ${e.message}` : `${e instanceof Error ? e.name : "thrown"}: ${String(e)}`;
}

export function read(version: Version, input: Uint8Array, chunk: number): ReadResult {
  const reader = new PacketReader(version);
  const packets: Packet[] = [];
  try {
    for (let pos = 0; pos < input.length; pos += chunk) {
      reader.push(input.slice(pos, pos + chunk));
      for (let p = reader.next(); p !== undefined; p = reader.next()) packets.push(p);
    }
    return { packets };
  } catch (e) {
    return { packets, error: describe(e) };
  }
}

export function handle(request: XsRequest): unknown {
  switch (request.op) {
    case "read":
      return request.inputs.map((input) => read(request.version, input, request.chunk));
    case "encode":
      return request.packets.map((p) => {
        try {
          return encode(p, request.version);
        } catch (e) {
          return describe(e);
        }
      });
    case "utf8":
      return {
        encoded: request.strings.map(utf8Encode),
        decoded: request.bytes.map((b) => {
          try {
            return utf8Decode(b);
          } catch (e) {
            return describe(e);
          }
        }),
      };
  }
}
