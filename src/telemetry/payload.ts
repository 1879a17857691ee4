// The one entry point the publisher calls: a batch of readings in the configured payload format,
// with the MQTT 5 Content Type that names the SenML ones. The first byte tells the formats apart
// on every version ("[" SenML JSON, 0x80..0x9f SenML CBOR, 0xf1 compact; docs/payloads.md), so
// compact, whose point is bytes, goes without one: it would cost 34 bytes a batch.

import type { PayloadFormat } from "../config";
import type { Channel } from "../sensors/channel";
import { encodeCompact } from "./compact";
import { layoutOf } from "./compact-layout";
import type { Reading } from "./reading";
import { contentType as cborType, encodeSenmlCbor } from "./senml-cbor";
import { contentType as jsonType, encodeSenmlJson } from "./senml-json";

export interface Batch {
  /** SenML base name, "urn:dev:torpor:<node>:" (compact leaves it to the topic). */
  baseName: string;
  channels: readonly Channel[];
  /** Sensor ids in config order: a reading's faults name sensors by index in it. */
  sensorIds: readonly string[];
  /** Oldest first. */
  readings: readonly Reading[];
  /** Readings the node dropped because its buffer was full, since it started clean. */
  dropped: number;
}

export function encodePayload(format: PayloadFormat, batch: Batch): { payload: Uint8Array; contentType: string | undefined } {
  const { baseName, channels, sensorIds, readings } = batch;
  switch (format) {
    case "senml-json":
      return { payload: encodeSenmlJson(baseName, channels, sensorIds, readings), contentType: jsonType };
    case "senml-cbor":
      return { payload: encodeSenmlCbor(baseName, channels, sensorIds, readings), contentType: cborType };
    case "compact":
      return { payload: encodeCompact(layoutOf(channels, sensorIds), readings, batch.dropped), contentType: undefined };
  }
}
