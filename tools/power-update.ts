// `npm run power`'s row for firmware updates (docs/updates.md): what taking a 1 MB image costs a
// node at the config's update budgets and schedule — the publishing wakes it spans, the days it
// takes to arrive, and the battery it spends, as days of the node's life on that schedule. Chunks
// come only in publishing wakes, after the telemetry, so the cost is the radio kept up for the
// chunks' bytes and each window's round trip, and the flash written; the hashing and the one
// signature check are left out (a device does them with the SDK's native crypt modules; bench
// update gives their XS cost with script crypto, an upper bound).

import type { Config } from "../src/config";
import { project, type Assumptions, type Measured } from "../src/power/projection";
import { WINDOW } from "../src/update/agent";
import { rttMs, type Figure } from "./power-tls";
import { DEFAULT_CHUNK_BYTES } from "./update/offer";

/** The image the row is for. */
export const UPDATE_IMAGE_BYTES = 1_000_000;

/** Bytes on the air, besides TCP/IP, per image byte: the chunks' PUBLISHes coming down, the
 *  SUBSCRIBEs and UNSUBSCRIBEs that ask for them going up, with the broker's acknowledgements. */
export const updateAir = {
  down: { value: 1.04, unit: "B/B", source: "bench update: bytes the broker sent the node per image byte over its wakes without an update, counted by a proxy on a real transfer, 2,048-byte chunks, 16 KB a wake" },
  up: { value: 0.07, unit: "B/B", source: "bench update: bytes the node sent the broker per image byte, the same transfer (its status, with the progress, goes out at each wake)" },
} satisfies Record<string, Figure>;

export const flashMsPerKiB: Figure = {
  value: 12.85,
  unit: "ms",
  source: "Winbond W25Q32JV datasheet (the ESP32-WROOM's kind of flash): sector erase 45 ms per 4 KB, page program 0.4 ms per 256 B, typical; the CPU waits at cpuMa",
};

export interface UpdateCost {
  imageBytes: number;
  chunk: number;
  /** Publishing wakes from the first chunk to the last, those the day's budget left idle included. */
  wakes: number;
  /** Those of them that took chunks. */
  takingWakes: number;
  /** Days from the offer to the image staged. */
  days: number;
  /** The charge it takes, mAh, and the same as days of the node's life on its schedule. */
  mAh: number;
  batteryDays: number;
}

/** Chunks one wake takes, within `room` bytes and its time budget: the agent asks for another
 *  window while the wake's seconds are not yet spent, so the first window always goes out. */
function chunksIn(room: number, config: Config, chunk: number, a: Assumptions): number {
  const windowMs = rttMs.value + (WINDOW * chunk * updateAir.down.value * 8) / (a.txMbps * 1000);
  const inTime = Math.ceil((config.updateSecondsPerWake * 1000) / windowMs) * WINDOW;
  return Math.min(Math.floor(room / chunk), inTime);
}

export function updateCost(config: Config, measured: Measured, a: Assumptions, imageBytes = UPDATE_IMAGE_BYTES): UpdateCost {
  const chunk = DEFAULT_CHUNK_BYTES;
  const projection = project(config, measured, a);
  const chunks = Math.ceil(imageBytes / chunk);
  const airMs = (bytes: number) => (bytes * 8) / (a.txMbps * 1000);
  const radioMs = airMs(imageBytes * updateAir.down.value) + Math.ceil(chunks / WINDOW) * rttMs.value;
  const charge = radioMs * a.rxMa + airMs(imageBytes * updateAir.up.value) * (a.txMa - a.rxMa) + (imageBytes / 1024) * flashMsPerKiB.value * a.cpuMa;
  const mAh = charge / 3_600_000;
  const batteryDays = mAh / ((projection.averageUa / 1000) * 24);
  // Publishing wakes evenly spread over the day, each taking what its budgets and the day's leave.
  const perDay = projection.radioWakesPerDay;
  let left = chunks;
  let wake = 0;
  let day = 0;
  let dayBytes = 0;
  let takingWakes = 0;
  for (; left > 0; wake++) {
    const today = Math.floor(wake / perDay);
    if (today !== day) [day, dayBytes] = [today, 0];
    // The config's budgets are at least the largest chunk, so a day's first wake always takes one.
    const take = Math.min(left, chunksIn(Math.min(config.updateBytesPerWake, config.updateBytesPerDay - dayBytes), config, chunk, a));
    left -= take;
    dayBytes += take * chunk;
    if (take > 0) takingWakes++;
  }
  return { imageBytes, chunk, wakes: wake, takingWakes, days: wake / perDay, mAh, batteryDays };
}

export function updateCostLine(cost: UpdateCost): string {
  const mb = (cost.imageBytes / 1e6).toFixed(cost.imageBytes % 1e6 === 0 ? 0 : 1);
  return `update of ${mb} MB: chunks in ${cost.takingWakes} of ${cost.wakes} publishing wakes over ${cost.days.toFixed(1)} days at the update budgets, ${cost.mAh.toFixed(2)} mAh, ${cost.batteryDays.toFixed(2)} days of battery life`;
}
