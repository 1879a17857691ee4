// Battery life from a schedule and what a wake costs: the model behind `npm run power` and the
// status's `batteryDays`. Pure arithmetic, so the node itself can say what the schedule in force
// (commands included) will cost. The currents are Espressif's ESP32 datasheet figures; the boot and
// Wi-Fi times are assumptions nobody has measured yet — tools/power.ts names each with its source
// and shows how much they move the answer.

import { DOWNLINK_PERIOD_S } from "./schedule";

/** What the model takes from measurements: per wake, and per wake that used the radio. */
export interface Measured {
  /** XS compute per wake, turned into CPU time at `xsPerMs`; undefined when `awakeMs` is a device's
   *  own measurement. */
  xsCompute: number | undefined;
  /** CPU time per wake without the radio or the sensors' waits, ms. */
  awakeMs: number;
  /** Waiting for the sensors' conversions per wake, ms. */
  sampleMs: number;
  /** Radio up per publishing wake, ms (the broker exchange). */
  radioMs: number;
  bytesUp: number;
  bytesDown: number;
}

/** The figures the model assumes (tools/power.ts gives each its unit and source). */
export interface Assumptions {
  sleepUa: number;
  cpuMa: number;
  rxMa: number;
  txMa: number;
  txMbps: number;
  bootMs: number;
  wifiMs: number;
  rfCalibrationMs: number;
  xsPerMs: number;
  batteryMah: number;
}

export const defaultAssumptions: Readonly<Assumptions> = Object.freeze({
  sleepUa: 10,
  cpuMa: 68,
  rxMa: 100,
  txMa: 240,
  txMbps: 1,
  bootMs: 250,
  wifiMs: 1000,
  rfCalibrationMs: 0,
  xsPerMs: 2400,
  batteryMah: 2500,
});

export interface Schedule {
  sampleInterval: number;
  batchSize: number;
  maxLatency: number;
}

export interface Projection extends Schedule {
  /** Readings per publish once maxLatency has had its say. */
  effectiveBatch: number;
  wakesPerDay: number;
  radioWakesPerDay: number;
  /** Average current, µA, and the share of it each part takes. */
  averageUa: number;
  shares: { sleep: number; awake: number; radio: number };
  batteryDays: number;
}

/** Readings per publish: the batch, unless maxLatency forces a publish first. */
export function effectiveBatch(s: Schedule): number {
  return Math.max(1, Math.min(s.batchSize, Math.floor(s.maxLatency / s.sampleInterval) + 1));
}

export function project(s: Schedule, m: Measured, a: Assumptions): Projection {
  const dayMs = 86_400_000;
  const wakesPerDay = 86_400 / s.sampleInterval;
  const batch = effectiveBatch(s);
  // At least one connection a day, for queued commands and the clock (schedule.ts).
  const radioWakesPerDay = Math.max(wakesPerDay / batch, 86_400 / DOWNLINK_PERIOD_S);
  const cpuMs = m.xsCompute === undefined ? m.awakeMs : m.xsCompute / a.xsPerMs;
  const awakeMs = wakesPerDay * (a.bootMs + m.sampleMs + cpuMs);
  const airMs = (m.bytesUp * 8) / (a.txMbps * 1000);
  const radioMs = radioWakesPerDay * (a.wifiMs + a.rfCalibrationMs + m.radioMs);
  // mA·ms per day, by part.
  const awake = awakeMs * a.cpuMa;
  const radio = radioMs * a.rxMa + radioWakesPerDay * airMs * (a.txMa - a.rxMa);
  const sleep = Math.max(0, dayMs - awakeMs - radioMs) * (a.sleepUa / 1000);
  const total = awake + radio + sleep;
  const averageUa = (total / dayMs) * 1000;
  return {
    ...s,
    effectiveBatch: batch,
    wakesPerDay,
    radioWakesPerDay,
    averageUa,
    shares: { sleep: sleep / total, awake: awake / total, radio: radio / total },
    batteryDays: a.batteryMah / (averageUa / 1000) / 24,
  };
}
