// XS-side half of the XS benchmark and of `npm run power`'s CPU term: the firmware's wake cycle (src/app.ts) on a host made of the
// simulator's virtual SHT3x and battery, RTC memory in a Uint8Array and a clock that timers move
// forward. xsnap has no timers, so `settle` runs the promise jobs and then the earliest timer, in
// simulated time, until the wake is done. There is no network: the first wake's publish fails at
// once, and the schedule (batch 1000, latency a week) publishes no more, so every other wake is
// the core of a wake — restore, sample, append, commit, schedule, commit.
//
// The XS benchmark bundles this with crc-metered.ts in place of src/encoding/crc32.ts, so that each
// wake also reports the compute its CRCs took; "nibble-crc" measures what the CRCs of the same wake
// cost before the byte table and incremental commits (the reference in crc32-nibble.ts).

import { wake } from "../../src/app";
import { parseConfig } from "../../src/config";
import type { Host } from "../../src/host";
import { RetainedSlots } from "../../src/retained/slots";
import { RetainedStore } from "../../src/retained/store";
import { channelsOf } from "../../src/sensors/registry";
import { STATE_VERSION } from "../../src/retained/state";
import { virtualBoard } from "../../hosts/virtual/board";
import { SyntheticEnvironment } from "../../hosts/virtual/environment";
import { serveJson } from "./serve";
import { crcCompute } from "./crc-metered";
import { crc32Nibble } from "./crc32-nibble";

declare const resetMeter: (limit: number, index: number) => number;

const config = parseConfig({
  batchSize: 1000,
  maxLatency: 7 * 86400,
  flashEvery: 0,
  sensors: [{ type: "sht3x", address: 0x44 }, { type: "battery", pin: 34 }],
});

let time = 1_700_000_040_000;
let wakeStart = time;
const clock = { now: () => time, ticks: () => time - wakeStart };
interface Timer { due: number; callback: () => void; cleared: boolean }
let timers: Timer[] = [];
const retained = { bytes: new Uint8Array(8192), commit: () => {} };
const board = virtualBoard(config, undefined, new SyntheticEnvironment(1), clock);
const unused = () => {
  throw new Error("no network on this host");
};

const host: Host = {
  name: "xs-bench",
  id: "xs-bench",
  io: board.io,
  i2c: { data: 21, clock: 22, hz: 100_000 },
  network: {
    up: (_ms, callback) => void timers.push({ due: time, callback: () => callback(new Error("no network")), cleared: false }),
    resolve: unused,
    down: () => {},
    TCP: unused as unknown as Host["network"]["TCP"],
  },
  clock,
  timer: {
    set(callback, ms) {
      const timer = { due: time + ms, callback, cleared: false };
      timers.push(timer);
      return timer;
    },
    clear: (timer) => {
      if (timer) (timer as Timer).cleared = true;
    },
  },
  retained,
  wakeCause: "timer",
  log: () => {},
  sleep: () => {},
  nap: unused,
};

/** Runs promise jobs, then the earliest timer at its time, until `promise` settles. */
async function settle<T>(promise: Promise<T>): Promise<T> {
  let done = false;
  let value: T | undefined;
  void promise.then((v) => {
    done = true;
    value = v;
  });
  while (!done) {
    for (let i = 0; i < 50 && !done; i++) await null;
    if (done) break;
    timers = timers.filter((t) => !t.cleared).sort((a, b) => a.due - b.due);
    const next = timers.shift();
    if (!next) throw new Error("the wake waits for nothing");
    time = Math.max(time, next.due);
    next.callback();
  }
  return value as T;
}

async function oneWake(): Promise<{ crc: number }> {
  wakeStart = time;
  crcCompute();
  const summary = await settle(wake(host, config));
  timers = [];
  time = summary.nextWake;
  return { crc: crcCompute() };
}

/** The compute of the CRCs of a load alone (the whole newest slot, hashed once): the part of a
 *  wake's CRC work no commit can spare. */
function loadCrc(): number {
  crcCompute();
  new RetainedSlots(retained, STATE_VERSION).load();
  return crcCompute();
}

/** The old wake's CRC work on the current slot: the whole slot hashed at the load and at each of
 *  the two commits, with the nibble table. Returns its compute alone. */
function nibbleCrc(): number {
  const slots = new RetainedSlots(retained, STATE_VERSION);
  slots.load();
  const image = slots.image();
  const before = resetMeter(0, 0);
  for (let pass = 0; pass < 3; pass++) crc32Nibble(image, 16, image.length, crc32Nibble(image, 0, 12));
  const used = resetMeter(0, 0);
  resetMeter(0, before + used);
  return used;
}

/**
 * The compute of range() for the oldest `count` readings kept, the middle `count` and the newest,
 * each on the buffer as a wake finds it: freshly loaded, nothing decoded yet.
 */
function rangeCost(count: number): { from: number; compute: number; readings: number }[] {
  const fresh = () => new RetainedStore(host, channelsOf(config.sensors), config.sensors.length).state.buffer;
  const kept = fresh().length;
  return [0, Math.floor((kept - count) / 2), kept - count].map((start) => {
    const buffer = fresh();
    const first = (buffer.first + start) >>> 0;
    const before = resetMeter(0, 0);
    const readings = buffer.range(first, count).length;
    const used = resetMeter(0, 0);
    resetMeter(0, before + used);
    return { from: start, compute: used, readings };
  });
}

type Request =
  | { op: "wakes"; count: number }
  | { op: "wake" }
  | { op: "idle" }
  | { op: "gc" }
  | { op: "nibble-crc" }
  | { op: "range"; count: number };

serveJson<Request>(async (request) => {
  switch (request.op) {
    case "wakes":
      for (let i = 0; i < request.count; i++) await oneWake();
      return {};
    case "wake":
      return oneWake();
    case "gc": {
      // xsnap's collector, so that the next meter counts live slots only.
      (globalThis as { gc?: () => void }).gc?.();
      const loaded = new RetainedSlots(retained, STATE_VERSION).load();
      return { payloadBytes: loaded.status === "ok" ? loaded.payload.length : 0 };
    }
    case "range":
      return rangeCost(request.count);
    case "nibble-crc":
      return { compute: nibbleCrc(), load: loadCrc() };
    case "idle":
      return {};
  }
});
