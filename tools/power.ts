// `npm run power`: projects a node's battery life from its config, the awake times measured on the
// Node host (a short run of real wakes against an embedded broker, or the energy totals a node kept
// in its state directory) and the ESP32's currents from Espressif's datasheet (docs/power.md cites
// them), and shows how batch size and sampling interval move it.
//
//   npm run power -- [--config FILE] [--state DIR] [--wakes N] [--battery-mah N] [--boot-ms N]
//                    [--wifi-ms N] [--cpu-ma N] [--rx-ma N] [--tx-ma N] [--sleep-ua N] [--json]

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, type Config } from "../src/config";
import { layeredConfig, manifestConfig, readConfigFile, type RawConfig } from "../hosts/node/config-file";
import { wakeOnce } from "../hosts/node/wake";
import { RetainedSlots } from "../src/power/retained";
import { DOWNLINK_PERIOD_S } from "../src/power/schedule";
import { bufferCapacity, readState, STATE_VERSION } from "../src/power/state";
import { channelsOf } from "../src/sensors/registry";
import { startEmbeddedBroker } from "./broker";
import { UsageError } from "./usage-error";

/** What the model takes from measurements: per wake, and per wake that used the radio. */
export interface Measured {
  /** Awake per wake without the radio: sampling, commits, the rest (the boot is not in it). */
  awakeMs: number;
  /** Of which sampling. */
  sampleMs: number;
  /** Radio up per publishing wake, as measured (on the Node host: the broker exchange only). */
  radioMs: number;
  bytesUp: number;
  bytesDown: number;
  /** Where the figures come from, for the report. */
  source: string;
}

/** Currents (ESP32 datasheet, docs/power.md) and the figures a host cannot measure for us. */
export interface Assumptions {
  /** Deep sleep with the RTC timer and RTC memory on, µA. */
  sleepUa: number;
  /** CPU running, radio off (modem-sleep, 240 MHz), mA. */
  cpuMa: number;
  /** Radio receiving or idle-listening, mA: association, waiting for CONNACK and PUBACKs. */
  rxMa: number;
  /** Radio transmitting, mA, over the airtime of the bytes sent at txMbps. */
  txMa: number;
  txMbps: number;
  /** From the wake-up to the firmware's first instruction: ROM, bootloader, XS. */
  bootMs: number;
  /** Bringing Wi-Fi up: association and DHCP (the Node host has no radio to measure). */
  wifiMs: number;
  batteryMah: number;
}

export const datasheet: Assumptions = {
  sleepUa: 10,
  cpuMa: 68,
  rxMa: 100,
  txMa: 240,
  txMbps: 1,
  bootMs: 250,
  wifiMs: 1000,
  batteryMah: 2500,
};

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
  const awakeMs = wakesPerDay * (a.bootMs + m.awakeMs);
  const airMs = (m.bytesUp * 8) / (a.txMbps * 1000);
  const radioMs = radioWakesPerDay * (a.wifiMs + m.radioMs);
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

/** Per-wake figures from the energy totals a node keeps in its retained state. */
export function measuredFromState(dir: string, config: Config): Measured {
  const file = path.join(dir, "retained.bin");
  if (!fs.existsSync(file)) throw new UsageError(`--state ${dir}: no retained.bin (run a node with --state first)`);
  const bytes = new Uint8Array(8192);
  bytes.set(fs.readFileSync(file).subarray(0, bytes.length));
  const slots = new RetainedSlots({ bytes, commit: () => {} }, STATE_VERSION);
  const loaded = slots.load();
  if (loaded.status !== "ok") throw new UsageError(`--state ${dir}: retained state is ${loaded.status}`);
  const channels = channelsOf(config.sensors).length;
  const state = readState(loaded.payload, channels, bufferCapacity(slots, channels, config.sensors.length), config.sensors.length);
  const e = state.energy;
  const wakes = state.counters.wakes;
  if (wakes < 2 || e.radioWakes < 1) throw new UsageError(`--state ${dir}: too few wakes recorded (${wakes} wakes, ${e.radioWakes} with the radio)`);
  return {
    awakeMs: (e.awakeMs - e.radioMs) / wakes,
    sampleMs: e.sampleMs / wakes,
    radioMs: e.radioMs / e.radioWakes,
    bytesUp: e.bytesUp / e.radioWakes,
    bytesDown: e.bytesDown / e.radioWakes,
    source: `energy totals in ${dir} (${wakes} wakes, ${e.radioWakes} with the radio)`,
  };
}

/** Runs `wakes` wakes of the config on the Node host against an embedded broker, and reads the
 *  totals they recorded. */
export async function measureOnNodeHost(raw: RawConfig, wakes: number): Promise<Measured> {
  const broker = await startEmbeddedBroker();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-power-"));
  try {
    const configFile = path.join(dir, "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ ...raw, broker: broker.url, mode: "deep-sleep" }));
    const state = path.join(dir, "node");
    for (let i = 0; i < wakes; i++) await wakeOnce({ state, config: configFile, timeScale: 1e6 }, () => {});
    const measured = measuredFromState(state, layeredConfig(manifestConfig(), raw).config);
    return { ...measured, source: `${wakes} wakes on the Node host against an embedded broker` };
  } finally {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const usage = `usage: npm run power -- [options]

Projects battery life on an ESP32 from the config, awake times measured on the Node host and the
ESP32 datasheet's currents (docs/power.md), and shows how batch size and interval move it.

  --config FILE      JSON file of config keys (default: the manifest's config)
  --state DIR        take the measured times from the energy totals of a node's state directory
                     (default: run --wakes wakes on the Node host against an embedded broker)
  --wakes N          wakes of that run (default 24)
  --battery-mah N    battery capacity (default ${datasheet.batteryMah})
  --boot-ms N        wake-up to firmware start (default ${datasheet.bootMs})
  --wifi-ms N        Wi-Fi association and DHCP per publish (default ${datasheet.wifiMs})
  --cpu-ma N         CPU active, radio off (default ${datasheet.cpuMa})
  --rx-ma N          radio on, receiving (default ${datasheet.rxMa})
  --tx-ma N          radio transmitting (default ${datasheet.txMa})
  --sleep-ua N       deep sleep (default ${datasheet.sleepUa})
  --json             print the figures as JSON
  --help             show this help
`;

const numeric = ["wakes", "battery-mah", "boot-ms", "wifi-ms", "cpu-ma", "rx-ma", "tx-ma", "sleep-ua"] as const;

export interface PowerOptions {
  config?: string;
  state?: string;
  wakes: number;
  json: boolean;
  assumptions: Assumptions;
}

export function parsePowerArgs(argv: string[]): PowerOptions | "help" {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        state: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean" },
        ...Object.fromEntries(numeric.map((flag) => [flag, { type: "string" as const }])),
      },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
  if (values.help) return "help";
  const number = (flag: (typeof numeric)[number], fallback: number, integer = false): number => {
    const v = values[flag];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n < 2))) {
      throw new UsageError(`--${flag} must be ${integer ? "a whole number of at least 2" : "a number of at least 0"}, got "${String(v)}"`);
    }
    return n;
  };
  const options: PowerOptions = {
    wakes: number("wakes", 24, true),
    json: values.json === true,
    assumptions: {
      ...datasheet,
      batteryMah: number("battery-mah", datasheet.batteryMah),
      bootMs: number("boot-ms", datasheet.bootMs),
      wifiMs: number("wifi-ms", datasheet.wifiMs),
      cpuMa: number("cpu-ma", datasheet.cpuMa),
      rxMa: number("rx-ma", datasheet.rxMa),
      txMa: number("tx-ma", datasheet.txMa),
      sleepUa: number("sleep-ua", datasheet.sleepUa),
    },
  };
  if (typeof values.config === "string") {
    if (!fs.existsSync(values.config)) throw new UsageError(`--config ${values.config}: no such file`);
    options.config = values.config;
  }
  if (typeof values.state === "string") {
    if (!fs.existsSync(values.state)) throw new UsageError(`--state ${values.state}: no such directory`);
    options.state = values.state;
  }
  return options;
}

/** The projection for the config, and the same with other batch sizes and intervals. */
export function sweep(config: Schedule, m: Measured, a: Assumptions) {
  const batches = [...new Set([1, 5, 12, 60, config.batchSize])].sort((x, y) => x - y);
  const intervals = [...new Set([30, 60, 300, 900, config.sampleInterval])].sort((x, y) => x - y);
  return {
    config: project(config, m, a),
    // Latency raised with the batch, so that the batch, not maxLatency, decides.
    byBatch: batches.map((batchSize) => project({ ...config, batchSize, maxLatency: Math.max(config.maxLatency, batchSize * config.sampleInterval) }, m, a)),
    byInterval: intervals.map((sampleInterval) => project({ ...config, sampleInterval, maxLatency: Math.max(config.maxLatency, config.batchSize * sampleInterval) }, m, a)),
  };
}

function report(raw: Config, m: Measured, a: Assumptions, figures: ReturnType<typeof sweep>): string {
  const c = figures.config;
  const days = (p: Projection) => (p.batteryDays >= 730 ? `${(p.batteryDays / 365).toFixed(1)} years` : `${p.batteryDays.toFixed(0)} days`);
  const row = (p: Projection) =>
    `  ${String(p.sampleInterval).padStart(6)} s ${String(p.batchSize).padStart(6)} ${String(p.effectiveBatch).padStart(9)} ${p.radioWakesPerDay.toFixed(1).padStart(11)} ${p.averageUa.toFixed(0).padStart(8)} µA  ${days(p)}`;
  const header = "  interval   batch  effective  radio/day   average   battery";
  const lines = [
    `torpor power budget: ${raw.sampleInterval} s interval, batch ${raw.batchSize}, maxLatency ${raw.maxLatency} s`,
    `measured (${m.source}):`,
    `  awake per wake ${m.awakeMs.toFixed(1)} ms (sampling ${m.sampleMs.toFixed(1)} ms), broker exchange ${m.radioMs.toFixed(1)} ms, ${m.bytesUp.toFixed(0)} B up / ${m.bytesDown.toFixed(0)} B down per publish`,
    `assumed: boot ${a.bootMs} ms, Wi-Fi up ${a.wifiMs} ms; currents (ESP32 datasheet): deep sleep ${a.sleepUa} µA, CPU ${a.cpuMa} mA, RX ${a.rxMa} mA, TX ${a.txMa} mA at ${a.txMbps} Mbit/s; battery ${a.batteryMah} mAh`,
    "",
    `this config: ${c.averageUa.toFixed(0)} µA on average (sleep ${(100 * c.shares.sleep).toFixed(0)} %, awake ${(100 * c.shares.awake).toFixed(0)} %, radio ${(100 * c.shares.radio).toFixed(0)} %): ${days(c)}`,
  ];
  if (c.effectiveBatch < c.batchSize) lines.push(`note: maxLatency ${c.maxLatency} s publishes every ${c.effectiveBatch} readings, before a batch of ${c.batchSize} is full`);
  lines.push("", "by batch size:", header, ...figures.byBatch.map(row), "", "by interval:", header, ...figures.byInterval.map(row));
  return lines.join("\n");
}

async function main(): Promise<void> {
  let options: PowerOptions | "help";
  let config: Config;
  let raw: RawConfig;
  try {
    options = parsePowerArgs(process.argv.slice(2));
    if (options === "help") {
      process.stdout.write(usage);
      return;
    }
    raw = options.config ? readConfigFile(options.config) : {};
    config = layeredConfig(manifestConfig(), raw).config;
  } catch (e) {
    process.stderr.write(`power: ${(e as Error).message}\n`);
    process.exit(e instanceof UsageError || e instanceof ConfigError || (e as Error).message.startsWith("--config") ? 2 : 1);
  }
  try {
    const measured = options.state ? measuredFromState(options.state, config) : await measureOnNodeHost(raw, options.wakes);
    const figures = sweep(config, measured, options.assumptions);
    if (options.json) process.stdout.write(`${JSON.stringify({ measured, assumptions: options.assumptions, ...figures }, null, 2)}\n`);
    else process.stdout.write(`${report(config, measured, options.assumptions, figures)}\n`);
  } catch (e) {
    process.stderr.write(`power: ${(e as Error).message}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
}

if (require.main === module) void main();
