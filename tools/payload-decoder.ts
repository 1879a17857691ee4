// Decodes a torpor telemetry payload in any of its three formats into resolved SenML records
// (tools/senml.ts): what the monitor shows and what any Node program can import. The format comes
// from the MQTT 5 Content Type when there is one, else from the first byte, which tells the three
// apart over MQTT 3.1.1: "[" SenML JSON, 0x80..0x9f a CBOR array (SenML CBOR), 0xf_ compact.
//
//   import { decodePayload } from "torpor/dist/tools/payload-decoder";
//   decodePayload(bytes, { baseName: "urn:dev:torpor:node-1:" }).records
//
// decodeStatus reads the retained status (and the Will) the same way: JSON, or the compact CBOR
// status of the compact formats (`encodeStatus`), into the JSON status's fields.

import { decode as decodeCbor } from "cbor2";
import { sensorFaults } from "../src/sensors/sensor";
import { mqttLevels, statusKeys, statusStates, zeroCounts } from "../src/uplink/status-encoding";
import { contentType as compactType, decodeCompact, type CompactBatch } from "../src/telemetry/compact";
import { scale } from "../src/sensors/resolution";
import { SEALED_MARK } from "../src/telemetry/payload-seal";
import { contentType as cborType } from "../src/telemetry/senml-cbor";
import { contentType as jsonType } from "../src/telemetry/senml-json";
import { resolveSenml, SenmlError, type ResolvedRecord } from "./senml";

export type PayloadFormatName = "senml-json" | "senml-cbor" | "compact";

export class PayloadError extends Error {}

const byContentType: Record<string, PayloadFormatName> = { [jsonType]: "senml-json", [cborType]: "senml-cbor", [compactType]: "compact" };

/** RFC 8428 Table 4: SenML CBOR's integer labels and the JSON names they stand for. */
const cborLabels = new Map<number, string>([
  [-1, "bver"], [-2, "bn"], [-3, "bt"], [-4, "bu"], [-5, "bv"], [-6, "bs"],
  [0, "n"], [1, "u"], [2, "v"], [3, "vs"], [4, "vb"], [5, "s"], [6, "t"], [7, "ut"], [8, "vd"],
]);

/** Which format a payload is in: named by its Content Type (MQTT 5), else told by its first byte. */
export function payloadFormatOf(payload: Uint8Array, contentType?: string): PayloadFormatName {
  if (contentType !== undefined) {
    const format = byContentType[contentType.split(";")[0]!.trim().toLowerCase()];
    if (!format) throw new PayloadError(`unknown Content Type "${contentType}"`);
    return format;
  }
  const first = payload[0];
  if (first === undefined) throw new PayloadError("empty payload");
  if (first === SEALED_MARK) throw new PayloadError("encrypted (the node has a payloadKey): give the node's payload key");
  if (first === 0x5b || first === 0x20 || first === 0x09 || first === 0x0a || first === 0x0d) return "senml-json";
  if (first >= 0x80 && first <= 0x9f) return "senml-cbor";
  if (first >= 0xf0) return "compact";
  throw new PayloadError(`not a torpor payload: first byte 0x${first.toString(16).padStart(2, "0")}`);
}

export interface DecodeOptions {
  /** MQTT 5 Content Type, when the message had one. */
  contentType?: string;
  /** Put before compact channel names (SenML payloads carry their own): "urn:dev:torpor:<node>:". */
  baseName?: string;
  /** For SenML times below 2^28, which RFC 8428 makes relative to now. */
  nowS?: number;
  /** Tagged telemetry (a node with a telemetryKey): the payload inside the message, checked
   *  (`TelemetryVerifier.open` for the message's topic and node); it throws what it refuses. */
  verify?: (format: PayloadFormatName, message: Uint8Array) => Uint8Array;
  /** Encrypted telemetry (a node with a payloadKey): the message inside, before `verify`
   *  (`TelemetryVerifier.unseal`); it throws what it refuses. */
  unseal?: (message: Uint8Array) => Uint8Array;
}

export interface DecodedPayload {
  format: PayloadFormatName;
  records: ResolvedRecord[];
  /** Compact only: the node's count of readings lost to a full buffer. */
  dropped?: number;
}

/** Decodes a payload; anything it cannot read is a PayloadError saying why. */
export function decodePayload(message: Uint8Array, options: DecodeOptions = {}): DecodedPayload {
  const inner = options.unseal ? options.unseal(message) : message;
  // An encrypted message carries no Content Type: the format is told by the bytes inside.
  const format = payloadFormatOf(inner, inner === message ? options.contentType : undefined);
  const payload = options.verify ? options.verify(format, inner) : inner;
  try {
    switch (format) {
      case "senml-json":
        return { format, records: resolveSenml(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload)), options.nowS) };
      case "senml-cbor":
        return { format, records: resolveSenml(senmlFromCbor(decodeCbor(payload)), options.nowS) };
      case "compact": {
        const batch = decodeCompact(payload);
        return { format, records: compactRecords(batch, options.baseName ?? ""), dropped: batch.dropped };
      }
    }
  } catch (e) {
    // Whatever the decoders throw (cbor2 throws plain Errors), it is this payload that is wrong.
    throw new PayloadError(`${format}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** A decoded SenML CBOR pack with its integer labels turned into the JSON names. */
function senmlFromCbor(pack: unknown): unknown {
  if (!Array.isArray(pack)) throw new SenmlError("a SenML CBOR pack is a CBOR array");
  return pack.map((record: unknown, i) => {
    if (!(record instanceof Map)) throw new SenmlError(`record ${i} is not a CBOR map`);
    const out: Record<string, unknown> = {};
    for (const [label, value] of record) out[typeof label === "number" ? (cborLabels.get(label) ?? `label${label}`) : String(label)] = value;
    return out;
  });
}

/** The records SenML JSON would carry for the same batch, in the same order: each failed sensor
 *  as "<sensor>/error" naming the fault, then each channel's values. */
export function compactRecords(batch: CompactBatch, baseName: string): ResolvedRecord[] {
  const records: ResolvedRecord[] = [];
  for (const reading of batch.readings) {
    for (const { sensor, fault } of reading.faults) {
      records.push({ name: `${baseName}${batch.sensors[sensor]!.id}/error`, time: reading.time, stringValue: sensorFaults[fault] ?? "unknown" });
    }
  }
  let c = 0;
  for (const sensor of batch.sensors) {
    for (const channel of sensor.channels) {
      for (const reading of batch.readings) {
        const value = reading.values[c];
        if (value !== null && value !== undefined) records.push({ name: baseName + channel.name, time: reading.time, unit: channel.unit, value: scale(value, channel.resolution) });
      }
      c++;
    }
  }
  return records;
}

/**
 * A status or Will payload as the JSON status's fields: JSON text, or a CBOR map (first byte
 * 0xa0..0xbf) with the compact status's integer keys. A compact status gets back the zero counts it
 * left out and its absolute `nextWake`; a compact Will is {state: "offline"}, as the JSON one.
 */
export function decodeStatus(payload: Uint8Array): Record<string, unknown> {
  const first = payload[0];
  if (first === undefined || first < 0xa0 || first > 0xbf) {
    try {
      const status: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
      if (typeof status !== "object" || status === null || Array.isArray(status)) throw new Error("not an object");
      return status as Record<string, unknown>;
    } catch (e) {
      throw new PayloadError(`status: not a JSON object: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let map: unknown;
  try {
    map = decodeCbor(payload);
  } catch (e) {
    throw new PayloadError(`status: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!(map instanceof Map)) throw new PayloadError("status: a compact status is a CBOR map with integer keys");
  const status: Record<string, unknown> = {};
  for (const [key, value] of map) status[typeof key === "number" ? (statusKeys[key] ?? `key${key}`) : String(key)] = value;
  if (typeof status.state === "number") status.state = statusStates[status.state] ?? `state ${status.state}`;
  if (typeof status.mqtt === "number") status.mqtt = Object.keys(mqttLevels).find((name) => mqttLevels[name] === status.mqtt) ?? String(status.mqtt);
  if (typeof status.at === "number") {
    if (typeof status.nextWake === "number") status.nextWake += status.at;
    for (const name of zeroCounts) status[name] ??= 0;
    status.sensorErrors ??= {};
  }
  return status;
}
