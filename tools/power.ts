// `npm run power`: projects a node's battery life from its config and named parameters, each with
// its source (`parameters`): the ESP32's currents from Espressif's datasheet, the boot and Wi-Fi
// times (assumed: nobody has measured them on a board yet, so a sensitivity table shows what they
// move), the CPU time of a wake as XS compute measured on the real engine (@agoric/xsnap) converted
// at a stated rate, and the sensors' conversion waits and the bytes of each publish from real wakes
// on the Node host against an embedded broker — one run per batch size shown, up to a full batch of
// 60 — or the energy totals a node kept in its state directory.
//
//   npm run power -- [--config FILE] [--state DIR] [--wakes N] [--battery-mah N] [--boot-ms N]
//                    [--wifi-ms N] [--rf-calibration-ms N] [--xs-per-ms N] [--cpu-ma N] [--rx-ma N]
//                    [--tx-ma N] [--sleep-ua N] [--json]

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, type Config } from "../src/config";
import { layeredConfig, manifestConfig, readConfigFile, type RawConfig } from "../hosts/node/config-file";
import { wakeOnce } from "../hosts/node/wake";
import { RetainedSlots } from "../src/retained/slots";
import { defaultAssumptions, effectiveBatch, project, type Assumptions, type Measured as ModelMeasured, type Projection, type Schedule } from "../src/power/projection";
import { bufferCapacity, readState, STATE_VERSION } from "../src/retained/state";
import { channelsOf } from "../src/sensors/registry";
import { xsComputeByFill } from "./xs/compute";
import { optionEffects, optionLines } from "./power-options";
import { startEmbeddedBroker } from "./broker";
import { flags, runCommand, UsageError } from "./command";
import { esp32Factor, rttMs, tlsCosts, tlsProjections, tlsReport } from "./power-tls";
import { tagCost, tagCostLine } from "./power-security";
import { updateCost, updateCostLine } from "./power-update";

/** What the model takes from measurements, and where the figures come from (for the report). */
export interface Measured extends ModelMeasured {
  source: string;
}

/** A figure of the model and where it comes from. */
export interface Parameter {
  value: number;
  unit: string;
  source: string;
}

/**
 * Every figure the model assumes, named, with its source. The currents are Espressif's *ESP32 Series
 * Datasheet*, §5 "Power Consumption by Power Modes" and "RF Power-Consumption Specifications"; the
 * boot and Wi-Fi times are nobody's measurement yet (docs/power.md says how a board owner takes them).
 */
export const parameters = {
  sleepUa: { value: defaultAssumptions.sleepUa, unit: "µA", source: "datasheet: deep sleep, RTC timer + RTC memory (a board's regulator and LEDs add theirs: docs/hardware.md)" },
  cpuMa: { value: defaultAssumptions.cpuMa, unit: "mA", source: "datasheet: modem-sleep at 240 MHz, 30–68 mA, the upper end; also used for the boot" },
  rxMa: { value: defaultAssumptions.rxMa, unit: "mA", source: "datasheet: RX 802.11b/g/n, 95–100 mA; also for scanning, association and waiting for acks" },
  txMa: { value: defaultAssumptions.txMa, unit: "mA", source: "datasheet: TX 802.11b 1 Mbit/s at 19.5 dBm, over the airtime of the bytes sent" },
  txMbps: { value: defaultAssumptions.txMbps, unit: "Mbit/s", source: "the rate the TX current is quoted at, the slowest" },
  bootMs: { value: defaultAssumptions.bootMs, unit: "ms", source: "assumed, not measured: deep-sleep wake to the firmware's first instruction (ROM, bootloader, loading the image, XS)" },
  wifiMs: {
    value: defaultAssumptions.wifiMs,
    unit: "ms",
    source: "assumed, not measured: finding the access point (a full scan, or one channel probed for the access point the host remembers), association, WPA2 handshake, DHCP",
  },
  rfCalibrationMs: {
    value: defaultAssumptions.rfCalibrationMs,
    unit: "ms",
    source: "ESP-IDF RF calibration guide: none on a wake from deep sleep with the PHY calibration data kept in NVS, as torpor's ESP32 builds keep it; about 100 ms at every Wi-Fi start where a target's own sdkconfig does not keep it",
  },
  xsPerMs: { value: defaultAssumptions.xsPerMs, unit: "XS compute/ms", source: "assumed, not measured: XS on a 240 MHz Xtensa at about 100 cycles per unit of its meter (about one bytecode)" },
  batteryMah: { value: defaultAssumptions.batteryMah, unit: "mAh", source: "a typical 18650 cell, no derating for self-discharge or cut-off voltage" },
} satisfies Record<keyof Assumptions, Parameter>;

export { defaultAssumptions, effectiveBatch, project, type Assumptions, type Projection, type Schedule };

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
    xsCompute: undefined,
    awakeMs: (e.awakeMs - e.radioMs - e.sampleMs) / wakes,
    sampleMs: e.sampleMs / wakes,
    radioMs: e.radioMs / e.radioWakes,
    bytesUp: e.bytesUp / e.radioWakes,
    bytesDown: e.bytesDown / e.radioWakes,
    source: `energy totals in ${dir} (${wakes} wakes, ${e.radioWakes} with the radio)`,
  };
}

/** Runs `wakes` wakes of the config on the Node host against an embedded broker, and reads the
 *  totals they recorded; the CPU part comes from `xsCompute` (XS compute per wake at each buffer fill,
 *  from 1), averaged over the fills a batch goes through. */
export async function measureOnNodeHost(raw: RawConfig, wakes: number, xsCompute?: readonly number[]): Promise<Measured> {
  const broker = await startEmbeddedBroker();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-power-"));
  try {
    const configFile = path.join(dir, "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ ...raw, broker: broker.url, mode: "deep-sleep" }));
    const state = path.join(dir, "node");
    for (let i = 0; i < wakes; i++) await wakeOnce({ state, config: configFile, timeScale: 1e6 }, () => {});
    const config = layeredConfig(manifestConfig(), raw).config;
    const measured = measuredFromState(state, config);
    const batch = Math.min(effectiveBatch(config), xsCompute?.length ?? 0);
    const compute = xsCompute && batch > 0 ? xsCompute.slice(0, batch).reduce((x, y) => x + y, 0) / batch : undefined;
    return {
      ...measured,
      xsCompute: compute,
      source: `${wakes} wakes on the Node host against an embedded broker${compute === undefined ? "" : `; XS compute of ${batch} wakes on XS 13`}`,
    };
  } finally {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The batch sizes the report shows, the config's own among them. */
export function batchSizes(config: Schedule): number[] {
  return [...new Set([1, 5, 12, 60, config.batchSize])].sort((x, y) => x - y);
}

/** The schedule with another batch size, maxLatency raised so that the batch, not it, decides. */
export function withBatch(config: Schedule, batchSize: number): Schedule {
  return { ...config, batchSize, maxLatency: Math.max(config.maxLatency, batchSize * config.sampleInterval) };
}

/**
 * A measurement per batch size shown: each a run on the Node host long enough for two full batches
 * (so the largest, 60, is measured from a real publish of 60 readings), with XS compute per wake
 * measured on XS 13 up to the largest batch.
 */
export async function measureBatches(raw: RawConfig, config: Config, wakes: number): Promise<Map<number, Measured>> {
  const batches = batchSizes(config);
  const xs = await xsComputeByFill(Math.min(Math.max(...batches), 1440));
  const compute = "skipped" in xs ? undefined : xs.compute;
  const result = new Map<number, Measured>();
  for (const batchSize of batches) {
    const schedule = withBatch(config, batchSize);
    result.set(batchSize, await measureOnNodeHost({ ...raw, batchSize, maxLatency: schedule.maxLatency }, Math.max(wakes, 2 * batchSize + 2), compute));
  }
  return result;
}

const usage = `usage: npm run power -- [options]

Projects battery life on an ESP32 from the config and named parameters (docs/power.md gives each
its source), with the CPU time of a wake from XS compute measured on XS, and the sensors' waits and
each publish's bytes from real wakes on the Node host (one run per batch size shown, up to 60); then
shows how batch size and interval move it, and how much the assumed figures do.

  --config FILE          JSON file of config keys (default: the manifest's config)
  --state DIR            take the measured figures from the energy totals of a node's state directory
                         (default: real wakes on the Node host against an embedded broker)
  --wakes N              wakes of each such run, at least two batches' worth (default 24)
${Object.entries(parameters)
  .map(([key, p]) => `  --${flagOf(key).padEnd(21)}${p.unit}, default ${p.value}`)
  .join("\n")}
  --json                 print the figures as JSON
  --help                 show this help
`;

/** bootMs → boot-ms */
function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface PowerOptions {
  config?: string;
  state?: string;
  wakes: number;
  json: boolean;
  assumptions: Assumptions;
}

export function parsePowerArgs(argv: string[]): PowerOptions | "help" {
  const values = flags({
    args: argv,
    options: {
      config: { type: "string" },
      state: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
      ...Object.fromEntries(["wakes", ...Object.keys(parameters).map(flagOf)].map((flag) => [flag, { type: "string" as const }])),
    },
    strict: true,
    allowPositionals: false,
  }).values as Record<string, string | boolean | undefined>;
  if (values.help) return "help";
  const number = (flag: string, fallback: number, integer = false): number => {
    const v = values[flag];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n < 2))) {
      throw new UsageError(`--${flag} must be ${integer ? "a whole number of at least 2" : "a number of at least 0"}, got "${String(v)}"`);
    }
    return n;
  };
  const assumptions: Assumptions = { ...defaultAssumptions };
  for (const key of Object.keys(defaultAssumptions) as (keyof Assumptions)[]) assumptions[key] = number(flagOf(key), defaultAssumptions[key]);
  const options: PowerOptions = { wakes: number("wakes", 24, true), json: values.json === true, assumptions };
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

/** What the sensitivity table varies: the assumed figures, each over a range a board may show. */
export const sensitivity: readonly { key: keyof Assumptions; values: readonly number[] }[] = [
  { key: "bootMs", values: [100, 250, 500] },
  { key: "wifiMs", values: [300, 1000, 3000] },
  { key: "rfCalibrationMs", values: [0, 100] },
  { key: "sleepUa", values: [10, 25, 100, 1000] },
  { key: "xsPerMs", values: [600, 2400, 9600] },
];

/**
 * The projection for the config; the same with other batch sizes (each with its own measurement)
 * and intervals; and the config's battery life with each assumed figure varied alone.
 */
export function sweep(config: Schedule, measured: ReadonlyMap<number, Measured>, a: Assumptions) {
  const m = measured.get(config.batchSize)!;
  const intervals = [...new Set([30, 60, 300, 900, config.sampleInterval])].sort((x, y) => x - y);
  return {
    config: project(config, m, a),
    byBatch: batchSizes(config).map((batchSize) => project(withBatch(config, batchSize), measured.get(batchSize) ?? m, a)),
    // Latency raised with the interval, so that the batch, not maxLatency, decides.
    byInterval: intervals.map((sampleInterval) => project({ ...config, sampleInterval, maxLatency: Math.max(config.maxLatency, config.batchSize * sampleInterval) }, m, a)),
    sensitivity: sensitivity.map(({ key, values }) => ({ key, days: values.map((value) => ({ value, batteryDays: project(config, m, { ...a, [key]: value }).batteryDays })) })),
    options: optionEffects(config, m, a),
  };
}

function report(raw: Config, measured: ReadonlyMap<number, Measured>, a: Assumptions, figures: ReturnType<typeof sweep>): string {
  const c = figures.config;
  const m = measured.get(raw.batchSize)!;
  const days = (d: number) => (d >= 730 ? `${(d / 365).toFixed(1)} years` : `${d.toFixed(0)} days`);
  const row = (p: Projection) =>
    `  ${String(p.sampleInterval).padStart(6)} s ${String(p.batchSize).padStart(6)} ${String(p.effectiveBatch).padStart(9)} ${p.radioWakesPerDay.toFixed(1).padStart(11)} ${p.averageUa.toFixed(0).padStart(8)} µA  ${days(p.batteryDays)}`;
  const header = "  interval   batch  effective  radio/day   average   battery";
  const cpu = m.xsCompute === undefined ? `CPU ${m.awakeMs.toFixed(1)} ms measured` : `XS compute ${(m.xsCompute / 1000).toFixed(0)} k = ${(m.xsCompute / a.xsPerMs).toFixed(1)} ms at ${a.xsPerMs}/ms`;
  const value = (key: keyof Assumptions) => `${a[key]} ${parameters[key].unit}${a[key] === parameters[key].value ? "" : " (given)"}`;
  const lines = [
    `torpor power budget: ${raw.sampleInterval} s interval, batch ${raw.batchSize}, maxLatency ${raw.maxLatency} s`,
    `measured (${m.source}):`,
    `  per wake: ${cpu}, sensors ${m.sampleMs.toFixed(1)} ms; per publish: broker exchange ${m.radioMs.toFixed(1)} ms, ${m.bytesUp.toFixed(0)} B up / ${m.bytesDown.toFixed(0)} B down`,
    "parameters:",
    ...(Object.keys(parameters) as (keyof Assumptions)[]).map((key) => `  ${key} ${value(key)}: ${parameters[key].source}`),
    "",
    `this config: ${c.averageUa.toFixed(0)} µA on average (sleep ${(100 * c.shares.sleep).toFixed(0)} %, awake ${(100 * c.shares.awake).toFixed(0)} %, radio ${(100 * c.shares.radio).toFixed(0)} %): ${days(c.batteryDays)}`,
  ];
  if (c.effectiveBatch < c.batchSize) lines.push(`note: maxLatency ${c.maxLatency} s publishes every ${c.effectiveBatch} readings, before a batch of ${c.batchSize} is full`);
  lines.push("", "by batch size:", header, ...figures.byBatch.map(row), "", "by interval:", header, ...figures.byInterval.map(row));
  lines.push("", ...tlsReport(raw, m, a, days));
  lines.push("", "sensitivity (this config, one figure varied at a time):");
  for (const s of figures.sensitivity) lines.push(`  ${s.key.padEnd(16)}${s.days.map((d) => `${d.value} ${parameters[s.key].unit}: ${days(d.batteryDays)}`).join("   ")}`);
  lines.push(...optionLines(figures.options, days));
  return lines.join("\n");
}

async function printProjection(options: PowerOptions): Promise<void> {
  const raw: RawConfig = options.config ? readConfigFile(options.config) : {};
  const config = layeredConfig(manifestConfig(), raw).config;
  const measured = options.state
    ? new Map(batchSizes(config).map((b) => [b, measuredFromState(options.state!, config)] as const))
    : await measureBatches(raw, config, options.wakes);
  const figures = sweep(config, measured, options.assumptions);
  const tags = tagCost(config, measured.get(config.batchSize)!, options.assumptions);
  const sealing = tagCost(config, measured.get(config.batchSize)!, options.assumptions, "payloadKey");
  if (options.json) {
    const tls = { costs: tlsCosts, esp32Factor, rttMs, projections: tlsProjections(config, measured.get(config.batchSize)!, options.assumptions) };
    process.stdout.write(`${JSON.stringify({ measured: Object.fromEntries(measured), parameters, assumptions: options.assumptions, ...figures, tls, telemetryTag: tags, payloadEncryption: sealing }, null, 2)}\n`);
  }
  else process.stdout.write(`${report(config, measured, options.assumptions, figures)}\n\n${tagCostLine(tags)}\n${tagCostLine(sealing)}\n${updateCostLine(updateCost(config, measured.get(config.batchSize)!, options.assumptions))}\n`);
}

if (require.main === module) {
  void runCommand({
    name: "power",
    usage,
    // A bad flag is its line alone: the usage runs to many lines.
    afterUsageError: "",
    parse: parsePowerArgs,
    run: printProjection,
    // A config that does not hold is as bad as a bad flag.
    exitCode: (e) => (e instanceof UsageError || e instanceof ConfigError || (e as Error).message.startsWith("--config") ? 2 : 1),
  });
}
