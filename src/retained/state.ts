// Everything a node remembers across deep sleep, and its byte layout inside a retained slot
// (docs/retained-state.md documents it byte by byte). The readings buffer is sized, in bytes, to
// what the slot holds besides the rest, so a commit never fails for lack of room.

import { ByteReader, ByteWriter } from "../encoding/bytes";
import { fnv1a } from "../encoding/fnv";
import { utf8Decode, utf8Encode } from "../encoding/utf8";
import { emptySession, IN_FLIGHT_TABLE_SIZE, type InFlight, type SessionState } from "../mqtt/session";
import { ReadingBuffer } from "../telemetry/reading-buffer";
import { maxBlockBytes } from "../telemetry/sprintz";
import { fitLink, MAX_LINK_BYTES, type LinkMemory } from "./link-memory";
import type { RetainedSlots } from "./slots";

/** Bumped whenever the payload layout below changes. */
export const STATE_VERSION = 4;

/**
 * The oldest layout readState still reads: a firmware update keeps the readings an older firmware
 * buffered. What a newer layout added reads as its zero (`ADDED_IN`); a layout older than this
 * reads as foreign, and the node starts clean.
 */
export const OLDEST_STATE_VERSION = 3;

export interface Counters {
  /** Wakes since the node started clean. */
  wakes: number;
  /** Clean starts because retained state was corrupt, foreign or for other sensor channels. */
  cold: number;
  /** Readings acknowledged by the broker. */
  delivered: number;
  /** Wakes whose publish attempt failed (network, broker, timeout). */
  publishFailures: number;
  /** Starts from the flash copy because retained memory was lost (a real power loss). */
  restored: number;
  /** Readings released without delivery: the broker refused them for good (a reason code meaning
   *  "never"), or no packet the broker takes could hold them. */
  refused: number;
  /** Optional packets (status, sync marker) left out because the broker's packet limit is smaller. */
  skipped: number;
  /** Commands answered with an error: malformed, unknown, out of bounds, oversized or refused. */
  commandErrors: number;
  /** Wakes that found the clock behind the newest reading (a clock stepped back, a lost RTC). */
  clockBack: number;
  /** mqtts connections that resumed the TLS session the host kept from an earlier wake. */
  tlsResumed: number;
  /** mqtts connections whose kept session the broker refused: a full handshake in its place. */
  tlsRefused: number;
}

/** Field order of the retained layout (docs/retained-state.md): u32 each, wrapping. */
export const counterFields = ["wakes", "cold", "delivered", "publishFailures", "restored", "refused", "skipped", "commandErrors", "clockBack", "tlsResumed", "tlsRefused"] as const;

/** Counters a layout after OLDEST_STATE_VERSION added, with the version that added them. */
const ADDED_IN: Partial<Record<(typeof counterFields)[number], number>> = { tlsResumed: 4, tlsRefused: 4 };

/** Where the battery went, all wakes added (WakeMeter books each wake): published in the status. */
export interface EnergyTotals {
  /** Milliseconds awake, from the firmware's start to its sleep, all wakes added. */
  awakeMs: number;
  /** Of which spent sampling sensors. */
  sampleMs: number;
  /** Of which spent with the radio up: network, broker exchange and disconnect. */
  radioMs: number;
  /** Wakes that brought the radio up. */
  radioWakes: number;
  bytesUp: number;
  bytesDown: number;
}

export const emptyEnergy = (): EnergyTotals => ({ awakeMs: 0, sampleMs: 0, radioMs: 0, radioWakes: 0, bytesUp: 0, bytesDown: 0 });

/** Field order of the retained layout (docs/retained-state.md): six u32, wrapping. */
export const energyFields = ["awakeMs", "sampleMs", "radioMs", "radioWakes", "bytesUp", "bytesDown"] as const;

export interface NodeState {
  counters: Counters;
  /** Fingerprint of the channel list the buffered readings were taken with. */
  layout: number;
  /** Unix seconds of the last wake that tried to publish (0: never). */
  lastAttempt: number;
  /** Consecutive failed publish attempts: the backoff exponent. */
  failures: number;
  /** What the node learnt about its broker and its downlink (LinkMemory); kept as JSON. */
  link: LinkMemory;
  /** Per configured sensor, the samples it failed. */
  sensorErrors: number[];
  /** Readings from this sequence number on have not been put in any message yet. */
  unsent: number;
  session: SessionState;
  buffer: ReadingBuffer;
  energy: EnergyTotals;
  /** Per channel, the newest value put in a message (null: none yet): thresholds measure from it. */
  lastSent: (number | null)[];
  /** Wakes since the state was last copied to flash. */
  sinceSpill: number;
  /** Readings from this sequence number on were stamped by a clock not yet set (undefined: none). */
  unsyncedFrom: number | undefined;
}

export function freshState(channels: number, capacity: number, layout: number, cold: number, sensors: number): NodeState {
  return {
    counters: { wakes: 0, cold, delivered: 0, publishFailures: 0, restored: 0, refused: 0, skipped: 0, commandErrors: 0, clockBack: 0, tlsResumed: 0, tlsRefused: 0 },
    sensorErrors: new Array<number>(sensors).fill(0),
    layout,
    lastAttempt: 0,
    failures: 0,
    link: {},
    unsent: 0,
    session: emptySession(),
    buffer: new ReadingBuffer(channels, capacity),
    energy: emptyEnergy(),
    lastSent: new Array<number | null>(channels).fill(null),
    sinceSpill: 0,
    unsyncedFrom: undefined,
  };
}

const FIXED_BYTES = 4 * counterFields.length + 4 + 4 + 2 + 2 + MAX_LINK_BYTES + 4 + 2 + 1 + IN_FLIGHT_TABLE_SIZE * 12 + 4 * energyFields.length + 2 + 5;

/** Bytes left for the encoded readings in a slot, next to the rest of the state at its largest. */
export function bufferCapacity(slots: RetainedSlots, channels: number, sensors: number): number {
  const room = slots.capacity - FIXED_BYTES - 4 * sensors - (4 + 4 * channels) - ReadingBuffer.overhead(channels);
  // Less than one block and every commit would overflow the slot: say so at boot, once.
  if (room <= maxBlockBytes(channels)) throw new RangeError(`retained memory of ${2 * (slots.capacity + 16)} bytes is too small for ${channels} channels`);
  return room;
}

export function writeState(state: NodeState, bytes: Uint8Array): number {
  const w = new ByteWriter(bytes);
  for (const key of counterFields) w.u32(state.counters[key] >>> 0);
  w.u32(state.layout);
  w.u32(state.lastAttempt);
  w.u16(state.failures);
  let link = utf8Encode(JSON.stringify(state.link));
  if (link.length > MAX_LINK_BYTES) {
    // Command results are the only part of the link memory that grows; the oldest give way.
    fitLink(state.link);
    link = utf8Encode(JSON.stringify(state.link));
  }
  if (link.length > MAX_LINK_BYTES) throw new RangeError(`link memory of ${link.length} bytes exceeds ${MAX_LINK_BYTES}`);
  w.u16(link.length);
  w.raw(link);
  for (const n of state.sensorErrors) w.u32(n);
  w.u32(state.unsent);
  w.u16(state.session.nextPacketId);
  const inflight = state.session.inflight;
  if (inflight.length > IN_FLIGHT_TABLE_SIZE) throw new RangeError(`more than ${IN_FLIGHT_TABLE_SIZE} messages in flight`);
  w.u8(inflight.length);
  for (const e of inflight) {
    w.u16(e.packetId); w.u8(e.kind); w.u32(e.first); w.u32(e.count);
    // Flags: bit 0 QoS 2 (else QoS 1), bit 1 released (PUBREC received), bit 2 retry (refused for now).
    w.u8((e.qos === 2 ? 1 : 0) | (e.state === "released" ? 2 : 0) | (e.state === "retry" ? 4 : 0));
  }
  for (const key of energyFields) w.u32(state.energy[key]);
  let known = 0;
  state.lastSent.forEach((v, i) => { if (v !== null) known |= 1 << i; });
  w.u32(known >>> 0);
  for (const v of state.lastSent) w.i32(v ?? 0);
  w.u16(Math.min(state.sinceSpill, 0xffff));
  w.u8(state.unsyncedFrom === undefined ? 0 : 1);
  w.u32(state.unsyncedFrom ?? 0);
  state.buffer.write(w);
  return w.offset;
}

/** Reads a state writeState wrote in layout `version` (OLDEST_STATE_VERSION..STATE_VERSION). */
export function readState(bytes: Uint8Array, channels: number, capacity: number, sensors: number, version = STATE_VERSION): NodeState {
  const r = new ByteReader(bytes);
  const counters = {} as Counters;
  for (const key of counterFields) counters[key] = (ADDED_IN[key] ?? OLDEST_STATE_VERSION) <= version ? r.u32() : 0;
  const layout = r.u32();
  const lastAttempt = r.u32();
  const failures = r.u16();
  const link = JSON.parse(utf8Decode(r.raw(r.u16()))) as LinkMemory;
  const sensorErrors: number[] = [];
  for (let i = 0; i < sensors; i++) sensorErrors.push(r.u32());
  const unsent = r.u32();
  const nextPacketId = r.u16();
  const count = r.u8();
  if (count > IN_FLIGHT_TABLE_SIZE) throw new RangeError(`retained state lists ${count} messages in flight`);
  const inflight: InFlight[] = [];
  for (let i = 0; i < count; i++) {
    const entry = { packetId: r.u16(), kind: r.u8(), first: r.u32(), count: r.u32() };
    const flags = r.u8();
    const e: InFlight = { ...entry, qos: flags & 1 ? 2 : 1, state: flags & 4 ? "retry" : flags & 2 ? "released" : "sent" };
    inflight.push(e);
  }
  const energy = emptyEnergy();
  for (const key of energyFields) energy[key] = r.u32();
  const known = r.u32();
  const lastSent: (number | null)[] = [];
  for (let i = 0; i < channels; i++) {
    const v = r.i32();
    lastSent.push(known & (1 << i) ? v : null);
  }
  const sinceSpill = r.u16();
  const unsynced = r.u8();
  const unsyncedSeq = r.u32();
  const unsyncedFrom = unsynced ? unsyncedSeq : undefined;
  const buffer = ReadingBuffer.read(r, channels, capacity);
  return { counters, layout, lastAttempt, failures, link, sensorErrors, unsent, session: { nextPacketId, inflight }, buffer, energy, lastSent, sinceSpill, unsyncedFrom };
}

/** A 32-bit FNV-1a hash of the channel names and resolutions: readings are only valid for these. */
export function layoutOf(channels: readonly { name: string; resolution: number }[]): number {
  return fnv1a(channels.map((c) => `${c.name}@${c.resolution};`).join(""));
}
