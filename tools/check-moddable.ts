// `npm run check:moddable`: the builds that need the Moddable SDK, from the repository root, as a
// Moddable developer runs them, but into a private output folder (mcconfig -o) so that a
// developer's own builds in $MODDABLE/build are left alone: the simulator build (debug and release);
// the JavaScript half of the ESP32 build (manifest, TypeScript, xsc, xsl; the C half needs ESP-IDF)
// for esp32, esp32 debug, esp32/nodemcu, esp32/esp32s3 and esp32/xiao_esp32c3; the mc/config that
// board targets with keys of their own (moddable_two, wt32_eth01) build, checked as the ESP32 host
// checks it at boot, and the sdkconfig that keeps PHY calibration data; and, where xvfb-run and
// mosquitto exist, headless runs of the simulator that must publish telemetry to a mosquitto started
// for it: once as built, once over mqtts:// (where openssl exists too), taking a signed update offer
// to staged and refusing a stranger's offer and a corrupted chunk, and under the XS memory limits of
// each ESP32 target family (memoryLimits) through a full batch; and the update's crypto
// (updateCrypto) against malformed keys and signatures. Without $MODDABLE it says so and succeeds:
// CI has no SDK.
//
//   MODDABLE=/path/to/moddable npm run check:moddable
//   MODDABLE=/path/to/moddable npm run check:moddable -- "sim update"
//
// An argument runs only the checks whose label (checkAll's list) contains it.

import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vm from "node:vm";
import { acceptedKeys } from "../hosts/esp32/sdk-config";
import { builtinVersion, imageText } from "../hosts/node/firmware";
import { ConfigError, parseConfig } from "../src/config";
import { toHex } from "../src/encoding/hex";
import { parseUpdateKey } from "../src/update/key";
import { mosquittoMissing, startMosquitto } from "./mosquitto";
import { decodePayload } from "./payload-decoder";
import { TelemetryVerifier } from "./telemetry-verifier";
import { keygen, readSigningKey } from "./update/keys";
import { DEFAULT_CHUNK_BYTES, offerMessages, type Message } from "./update/offer";
import type { ResolvedRecord } from "./senml";

export const SKIP_MESSAGE = "MODDABLE is not set: the Moddable SDK builds are skipped (CI has no SDK)";

export const repoRoot = findRepoRoot(__dirname);
/** mcconfig names the build after the manifest's directory. */
const app = path.basename(repoRoot);

export interface Sdk {
  root: string;
  /** The SDK's tools: mcconfig, xsc, xsl, mcsim. */
  bin: string;
  /** mcconfig's name for this machine's platform. */
  desktop: "lin" | "mac" | "win";
  /** The output folder every build here goes to (mcconfig -o), not the SDK's own build folder. */
  out: string;
}

export function findSdk(env: NodeJS.ProcessEnv = process.env): Sdk | undefined {
  const root = env.MODDABLE;
  if (!root) return undefined;
  const desktop = process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : "lin";
  return { root, bin: path.join(root, "build", "bin", desktop, "release"), desktop, out: path.join(os.tmpdir(), `torpor-moddable-${process.pid}`) };
}

/** Removes the private output folder. */
export function removeOutput(sdk: Sdk): void {
  fs.rmSync(sdk.out, { recursive: true, force: true });
}

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Set when the check could not run here, and why. */
  skipped?: string;
  detail: string;
}

interface Ran {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, cwd = repoRoot): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs / 1000} s)`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, output: `${output}\n${e.message}` });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export function sdkEnv(sdk: Sdk, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, MODDABLE: sdk.root, PATH: `${sdk.bin}${path.delimiter}${process.env.PATH ?? ""}`, ...extra };
}

/** mcconfig, building into the private output folder. */
function mcconfig(sdk: Sdk, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, cwd = repoRoot): Promise<Ran> {
  fs.mkdirSync(sdk.out, { recursive: true });
  return run("mcconfig", [...args, "-o", sdk.out], env, timeoutMs, cwd);
}

function tail(text: string, lines = 25): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

export function simulatorBinary(sdk: Sdk, variant: "debug" | "release", name = app): string {
  return path.join(sdk.out, "bin", sdk.desktop, "mc", variant, name, "mc.so");
}

/** `mcconfig [-d] -m -p lin -t build`: `-t build` so that a debug build never launches, or pkills, a simulator. */
export async function buildSimulator(sdk: Sdk, variant: "debug" | "release", settings: string[] = [], dir = repoRoot): Promise<CheckResult> {
  const name = `mcconfig ${variant === "debug" ? "-d " : ""}-m -p ${sdk.desktop} -t build`;
  const binary = simulatorBinary(sdk, variant, path.basename(dir));
  fs.rmSync(binary, { force: true });
  const r = await mcconfig(sdk, [...(variant === "debug" ? ["-d"] : []), "-m", "-p", sdk.desktop, "-t", "build", ...settings], sdkEnv(sdk), 300_000, dir);
  const ok = r.code === 0 && fs.existsSync(binary);
  return { name, ok, detail: ok ? `built ${binary}` : `exit ${r.code}\n${tail(r.output)}` };
}

const esp32Settings = ["ssid=torpor-check", "password=not-a-secret", "broker=mqtt://broker.example.com:1883"];

/** Where mcconfig -o puts an ESP32 build's intermediate files (makefile, mc.config.js, sdkconfig.mc). */
function esp32TmpDir(sdk: Sdk, platform: string, variant: "debug" | "release"): string {
  const sub = platform.includes("/") ? platform.split("/")[1]! : "";
  return path.join(sdk.out, "tmp", "esp32", ...(sub ? [sub] : []), variant, app);
}

/**
 * mcconfig for an ESP32 platform without ESP-IDF: it resolves the manifest and writes the makefile,
 * mc.config.js and sdkconfig.mc, then stops at "$IDF_PATH not set". Resolves to that folder, or to
 * what went wrong.
 */
async function configureEsp32(sdk: Sdk, platform: string, variant: "debug" | "release", settings: string[]): Promise<{ tmp: string } | { failed: string }> {
  const env = sdkEnv(sdk);
  delete env.IDF_PATH;
  const tmp = esp32TmpDir(sdk, platform, variant);
  fs.rmSync(path.join(tmp, "makefile"), { force: true });
  const r = await mcconfig(sdk, [...(variant === "debug" ? ["-d"] : []), "-m", "-p", platform, "-t", "build", ...settings], env, 300_000);
  if (!r.output.includes("$IDF_PATH not set") || !fs.existsSync(path.join(tmp, "makefile"))) return { failed: `manifest resolution failed (exit ${r.code})\n${tail(r.output)}` };
  return { tmp };
}

/**
 * The ESP32 build up to the XS archive. mcconfig stops at "$IDF_PATH not set" only after it has
 * resolved the manifest and written the makefile; that makefile's mc.xs.c target runs tsc, xsc and
 * xsl for every module but depends on ESP-IDF only through SDKCONFIG_H and a check that IDF_PATH is
 * a git checkout, so an empty git repository and /dev/null stand in for them. With a real ESP-IDF
 * ($IDF_PATH set), the whole build runs instead.
 */
export async function buildEsp32(sdk: Sdk, platform = "esp32", variant: "debug" | "release" = "release"): Promise<CheckResult> {
  const name = `mcconfig ${variant === "debug" ? "-d " : ""}-m -p ${platform} -t build ssid=… password=… broker=…`;
  const idf = process.env.IDF_PATH;
  if (idf && fs.existsSync(path.join(idf, "export.sh"))) {
    const r = await mcconfig(sdk, [...(variant === "debug" ? ["-d"] : []), "-m", "-p", platform, "-t", "build", ...esp32Settings], sdkEnv(sdk), 1_800_000);
    return { name, ok: r.code === 0, detail: r.code === 0 ? `built with ESP-IDF at ${idf}` : `exit ${r.code}\n${tail(r.output)}` };
  }
  if (!has("git")) return { name, ok: true, skipped: "git is needed to stand in for ESP-IDF's checkout", detail: "" };
  const configured = await configureEsp32(sdk, platform, variant, esp32Settings);
  if ("failed" in configured) return { name, ok: false, detail: configured.failed };
  const makefile = path.join(configured.tmp, "makefile");
  const archive = path.join(configured.tmp, "mc.xs.c");
  fs.rmSync(archive, { force: true });
  const fakeIdf = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-no-idf-"));
  try {
    const git = (...args: string[]) => spawnSync("git", ["-C", fakeIdf, "-c", "user.email=check@torpor", "-c", "user.name=torpor", ...args], { stdio: "ignore" });
    git("init", "-q");
    git("commit", "-q", "--allow-empty", "-m", "stand-in for ESP-IDF");
    const env = sdkEnv(sdk, { IDF_PATH: fakeIdf });
    const r = await run("make", ["-f", makefile, "SDKCONFIG_H=/dev/null", archive], env, 600_000);
    const ok = r.code === 0 && fs.existsSync(archive) && r.output.includes("# xsl modules");
    const kb = ok ? Math.round(fs.statSync(archive).size / 1024) : 0;
    return {
      name,
      ok,
      detail: ok
        ? `manifest, tsc, xsc and xsl passed: ${archive} (${kb} KB); compiling the C and linking the firmware need ESP-IDF`
        : `exit ${r.code}\n${tail(r.output)}`,
    };
  } finally {
    fs.rmSync(fakeIdf, { recursive: true, force: true });
  }
}

/**
 * The mc/config that mcconfig generated (mc.config.js), as the ESP32 sees it: evaluated with the
 * display and touch classes a board's config imports replaced by empty classes of the same names.
 */
export function evaluateMcConfig(source: string): Record<string, unknown> {
  const imports = [...source.matchAll(/^import (\w+) from "[^"]*";$/gm)].map((m) => m[1]!);
  const body = source
    .replace(/^import .*$/gm, "")
    .replace("export default Object.freeze(", "result = (")
    .replace(/\}, true\);\s*$/, "});");
  const context: { result?: Record<string, unknown> } = {};
  vm.runInNewContext(`${imports.map((n) => `class ${n} {}`).join("\n")}\n${body}`, context);
  if (!context.result) throw new Error("mc.config.js has no default export");
  return context.result;
}

/** What main.ts and the ESP32 host do with mc/config at boot: drop mcconfig's `format`, then parse. */
function bootConfig(config: Record<string, unknown>): void {
  const { format: _pixels, ...raw } = config;
  parseConfig(raw, acceptedKeys(config));
}

/**
 * A board target's mc/config passes the ESP32 host's config check at boot (the target's own keys
 * accepted), and the same build with a misspelt key on the command line fails it, naming the key.
 */
export async function boardConfigBoots(sdk: Sdk, board: string): Promise<CheckResult> {
  const name = `mcconfig -p esp32/${board}: its mc/config passes the host's check at boot; batchsize=12 does not`;
  const config = async (settings: string[]) => {
    const configured = await configureEsp32(sdk, `esp32/${board}`, "release", settings);
    if ("failed" in configured) throw new Error(configured.failed);
    return evaluateMcConfig(fs.readFileSync(path.join(configured.tmp, "mc.config.js"), "utf8"));
  };
  try {
    const good = await config(esp32Settings);
    bootConfig(good);
    const misspelt = await config([...esp32Settings, "batchsize=12"]);
    try {
      bootConfig(misspelt);
      return { name, ok: false, detail: "batchsize=12 was accepted" };
    } catch (e) {
      if (!(e instanceof ConfigError) || e.key !== "batchsize") throw e;
      return { name, ok: true, detail: `accepted ${Object.keys(good).join(", ")}; refused ${e.message}` };
    }
  } catch (e) {
    return { name, ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Whether an ESP32 build keeps the PHY calibration data in NVS, so that a wake from deep sleep skips
 * RF calibration (ESP-IDF's CONFIG_ESP_PHY_CALIBRATION_AND_DATA_STORAGE; Moddable's sdkconfig for the
 * ESP32 turns it off, and hosts/esp32/sdkconfig turns it on where the target brings no
 * sdkconfig of its own). `expected` is what the build must say; a target with its own sdkconfig
 * must also still have it.
 */
export async function phyCalibrationKept(sdk: Sdk, platform: string, expected: boolean, targetLine?: string): Promise<CheckResult> {
  const name = `mcconfig -p ${platform}: sdkconfig ${expected ? "keeps" : "does not keep"} PHY calibration data${targetLine ? `, and has the target's ${targetLine}` : ""}`;
  const configured = await configureEsp32(sdk, platform, "release", esp32Settings);
  if ("failed" in configured) return { name, ok: false, detail: configured.failed };
  const dir = fs.readdirSync(configured.tmp).find((d) => d.startsWith("xsProj-"));
  const file = dir ? path.join(configured.tmp, dir, "sdkconfig.mc") : "";
  if (!file || !fs.existsSync(file)) return { name, ok: false, detail: `no sdkconfig.mc under ${configured.tmp}` };
  const text = fs.readFileSync(file, "utf8");
  const kept = /^CONFIG_ESP_PHY_CALIBRATION_AND_DATA_STORAGE=y$/m.test(text);
  const ok = kept === expected && (!targetLine || text.split("\n").includes(targetLine));
  return { name, ok, detail: `${file}: CONFIG_ESP_PHY_CALIBRATION_AND_DATA_STORAGE ${kept ? "=y" : "off"}` };
}

/** The files of a mosquitto TLS listener (PEM). */
interface BrokerTLS {
  cafile: string;
  certfile: string;
  keyfile: string;
}

/** A mosquitto for the simulator, with a TLS listener when `tls` names its files. */
async function startBroker(tls?: BrokerTLS): Promise<{ url: string; stop(): Promise<void> }> {
  const broker = await startMosquitto({ listener: tls ? [`cafile ${tls.cafile}`, `certfile ${tls.certfile}`, `keyfile ${tls.keyfile}`] : [] });
  return { url: `${tls ? "mqtts" : "mqtt"}://127.0.0.1:${broker.port}`, stop: broker.stop };
}

/** A manifest in `dir` that includes the repository's, as a developer's own wrapper would, with `extra`. */
export function writeWrapperManifest(dir: string, extra: Record<string, unknown>): void {
  fs.writeFileSync(
    path.join(dir, "manifest.json"),
    JSON.stringify({
      include: [path.join(repoRoot, "manifest.json")],
      ...extra,
      // The repository's manifest names tsc relative to $(MAIN_DIR), which is now this directory.
      typescript: { compiler: path.join(repoRoot, "node_modules", ".bin", "tsc") },
    }),
  );
}

/** The node name a simulator run of the app in `dir` is built with: this run's own. */
function checkNode(dir: string): string {
  return `check-${process.pid}-${path.basename(dir)}`;
}

/** What the simulator host keeps of a node between wakes, each a file under the `file` module's
 *  root (/tmp/ on lin) named `torpor-<node><suffix>`. */
const stateFileSuffixes = [
  ".retained",
  ".flash-state",
  ".flash-epoch",
  ".flash-cmdctr",
  ".flash-sealepoch",
  ".tls",
  ".update-progress",
  ".update-progress.new",
  ".update-staging",
  ".update-staged",
];

function simFile(node: string, suffix: string): string {
  return path.join(os.tmpdir(), `torpor-${node}${suffix}`);
}

/** What mcsim printed, its instrument samples, and the payloads the subscriber received. */
interface SimulatorRun {
  ok: boolean;
  /** Why not, when not ok. */
  problem: string;
  log: string;
  payloads: Buffer[];
  /** The status messages, parsed (JSON statuses only: a run that wants them sets payloadFormat=senml-json). */
  statuses: Record<string, unknown>[];
  /** Per instruments line (about one a second), the instruments by name ("Slot used", "Chunk used", …). */
  samples: Record<string, number>[];
}

interface SimulatorOptions {
  /** The app's directory (its manifest.json); the repository by default. */
  app?: string;
  /** Retained messages on the broker before the node's first wake (an operator's update offer). */
  retained?: Message[];
  /** key=value settings for mcconfig, after broker= and node=. */
  settings?: string[];
  tls?: BrokerTLS;
  /** The topic filter the subscriber takes instead of the node's telemetry and status topics. */
  topic?: string;
  /** Telemetry and statuses received so far; true ends the run as a success. */
  enough(payloads: Buffer[], statuses: Record<string, unknown>[]): boolean;
  timeoutMs: number;
}

/**
 * Builds the simulator app (debug) for a mosquitto started here, runs it headless (xvfb-run) until
 * `enough` says so — or mcsim aborts, or the time is up — then stops the simulator, the X server and
 * mosquitto. Skipped (undefined) where it cannot run.
 */
async function runSimulator(sdk: Sdk, options: SimulatorOptions): Promise<SimulatorRun | { skipped: string }> {
  const missing = sdk.desktop !== "lin" ? "a headless simulator run needs Linux" : !has("xvfb-run") ? "xvfb-run is not installed" : mosquittoMissing() ? "mosquitto is not installed" : undefined;
  if (missing) return { skipped: missing };
  const broker = await startBroker(options.tls);
  const dir = options.app ?? repoRoot;
  const node = checkNode(dir);
  const stateFiles = stateFileSuffixes.map((suffix) => simFile(node, suffix));
  stateFiles.forEach((f) => fs.rmSync(f, { force: true }));
  const { connectAsync } = await import("mqtt");
  const subscriber = await connectAsync(broker.url, { clean: true, ...(options.tls ? { ca: fs.readFileSync(options.tls.cafile) } : {}) });
  let simulator: ReturnType<typeof spawn> | undefined;
  const result: SimulatorRun = { ok: false, problem: "", log: "", payloads: [], statuses: [], samples: [] };
  try {
    await subscriber.subscribeAsync(options.topic ? [options.topic] : [`torpor/${node}/telemetry`, `torpor/${node}/status`], { qos: 1 });
    for (const m of options.retained ?? []) await subscriber.publishAsync(m.topic, m.payload, { qos: 1, retain: true });
    const built = await buildSimulator(sdk, "debug", [`broker=${broker.url}`, `node=${node}`, ...(options.settings ?? [])], dir);
    if (!built.ok) return { ...result, problem: built.detail };
    let output = "";
    let settle: (problem: string) => void = () => {};
    const settled = new Promise<string>((resolve) => (settle = resolve));
    subscriber.on("message", (topic, payload) => {
      if (topic.endsWith("/status")) {
        try {
          result.statuses.push(JSON.parse(payload.toString()) as Record<string, unknown>);
        } catch {
          return;
        }
      } else result.payloads.push(payload);
      if (options.enough(result.payloads, result.statuses)) settle("");
    });
    // Its own process group, so that mcsim, Xvfb and xvfb-run all end together.
    simulator = spawn("xvfb-run", ["-a", "stdbuf", "-o0", "-e0", path.join(sdk.bin, "mcsim"), simulatorBinary(sdk, "debug", path.basename(dir))], {
      cwd: repoRoot,
      env: sdkEnv(sdk),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collect = (d: Buffer) => {
      output += d.toString();
      const abort = /XS abort: [^\n]*/.exec(output);
      if (abort) settle(abort[0]);
    };
    simulator.stdout!.on("data", collect);
    simulator.stderr!.on("data", collect);
    simulator.on("exit", () => settle("mcsim exited"));
    const timer = setTimeout(() => settle(`not done within ${options.timeoutMs / 1000} s (${result.payloads.length} telemetry messages)`), options.timeoutMs);
    result.problem = await settled;
    clearTimeout(timer);
    result.ok = result.problem === "";
    const lines = output.split("\n");
    const key = lines.find((l) => l.startsWith("instruments key: "))?.slice("instruments key: ".length).split(",") ?? [];
    for (const line of lines) {
      if (!line.startsWith("instruments: ")) continue;
      const values = line.slice("instruments: ".length).split(",").map(Number);
      result.samples.push(Object.fromEntries(key.map((k, i) => [k, values[i] ?? 0])));
    }
    result.log = lines.filter((l) => l && !l.startsWith("instruments")).slice(0, 12).join("\n");
    return result;
  } finally {
    if (simulator?.pid !== undefined) await stopGroup(simulator);
    await subscriber.endAsync();
    await broker.stop();
    stateFiles.forEach((f) => fs.rmSync(f, { force: true }));
  }
}

/** The MQTT client's example app (examples/mqtt-client), built from its folder for a mosquitto
 *  started here: every QoS 1 message it publishes across its restart must reach a subscriber. */
export async function exampleMqttClient(sdk: Sdk, timeoutMs = 60_000): Promise<CheckResult> {
  const name = "examples/mqtt-client in mcsim: QoS 1 messages across a restart reach mosquitto";
  const expected = ["hello 1", "hello 2", "hello 3", "hello 4"];
  const received = (payloads: Buffer[]) => new Set(payloads.map((p) => p.toString()));
  const r = await runSimulator(sdk, {
    app: path.join(repoRoot, "examples", "mqtt-client"),
    topic: "example/mqtt-client/+/out",
    enough: (payloads) => expected.every((m) => received(payloads).has(m)),
    timeoutMs,
  });
  if ("skipped" in r) return { name, ok: true, skipped: r.skipped, detail: "" };
  const got = [...received(r.payloads)].join(", ");
  return { name, ok: r.ok, detail: `${r.ok ? "" : `${r.problem}; `}received ${got}\nmcsim said:\n${r.log}` };
}

/** A telemetry payload as any subscriber decodes it (tools/payload-decoder.ts: every format). */
function records(payload: Buffer): ResolvedRecord[] {
  return decodePayload(payload, { baseName: "urn:dev:torpor:check:" }).records;
}

/** A subscriber's view of a telemetry payload: a temperature from the node, in Cel. */
function hasTemperature(payload: Buffer): boolean {
  try {
    return records(payload).some((r) => r.name.endsWith(":sht3x/temperature") && r.unit === "Cel" && typeof r.value === "number");
  } catch {
    return false;
  }
}

async function publishes(sdk: Sdk, name: string, options: Omit<SimulatorOptions, "enough">): Promise<CheckResult> {
  const r = await runSimulator(sdk, { ...options, enough: (payloads) => payloads.length > 0 });
  if ("skipped" in r) return { name, ok: true, skipped: r.skipped, detail: "" };
  const payload = r.payloads[0];
  if (!r.ok || payload === undefined) return { name, ok: false, detail: `${r.problem}; mcsim said:\n${r.log}` };
  const shown = payload[0] === 0x5b ? payload.toString() : `${payload.length} bytes, ${JSON.stringify(records(payload).map((x) => [x.name.split(":").at(-1), x.value]))}`;
  return { name, ok: hasTemperature(payload), detail: `telemetry ${shown}\nmcsim said:\n${r.log}` };
}

/** Builds the simulator app for a mosquitto started here and runs it until a subscriber has one telemetry batch. */
export async function simulatorPublishes(sdk: Sdk, timeoutMs = 60_000): Promise<CheckResult> {
  return publishes(sdk, "the app in mcsim publishes telemetry to mosquitto", { settings: ["batchSize=1", "sampleInterval=2"], timeoutMs });
}

/** The same in the binary payload formats, decoded as a subscriber decodes them. */
export async function simulatorPublishesFormat(sdk: Sdk, format: "senml-cbor" | "compact", timeoutMs = 60_000): Promise<CheckResult> {
  return publishes(sdk, `the app in mcsim publishes ${format} telemetry that decodes`, { settings: ["batchSize=2", "sampleInterval=2", `payloadFormat=${format}`], timeoutMs });
}

/** With a telemetryKey, in each format: every message mcsim publishes carries a tag that the
 *  verifier the monitor and the collector use accepts (the SDK's crypt Digest and hmac under
 *  Host.crypto). Four batches of two each: more readings than one, so that values exact in float32
 *  (which SenML CBOR writes as halves) come up too. */
export async function simulatorTagsTelemetry(sdk: Sdk, timeoutMs = 60_000): Promise<CheckResult> {
  const key = "check-moddable telemetry key 32c";
  return keyedTelemetry(sdk, "the app in mcsim tags its telemetry, in every format, and the tags verify", [`telemetryKey=${key}`], new TelemetryVerifier({ keys: [key] }), timeoutMs);
}

/** With a payloadKey too: every message is encrypted (the SDK's gcm over its native AES under
 *  Host.crypto.aesGcm), opens with the key and its tag verifies. */
export async function simulatorEncryptsTelemetry(sdk: Sdk, timeoutMs = 60_000): Promise<CheckResult> {
  const key = "check-moddable telemetry key 32c";
  const payloadKey = "check-moddable payload key, 32c.";
  const verifier = new TelemetryVerifier({ keys: [key] }, { keys: [payloadKey] });
  return keyedTelemetry(sdk, "the app in mcsim encrypts its telemetry, in every format, and it opens and verifies", [`telemetryKey=${key}`, `payloadKey=${payloadKey}`], verifier, timeoutMs);
}

async function keyedTelemetry(sdk: Sdk, name: string, keys: string[], verifier: TelemetryVerifier, timeoutMs: number): Promise<CheckResult> {
  const details: string[] = [];
  for (const format of ["senml-json", "senml-cbor", "compact"] as const) {
    let problem = "";
    const r = await runSimulator(sdk, {
      settings: ["batchSize=2", "sampleInterval=2", `payloadFormat=${format}`, ...keys],
      timeoutMs,
      enough: (payloads) => {
        const latest = payloads.at(-1)!;
        try {
          const node = checkNode(repoRoot);
          const topic = `torpor/${node}/telemetry`;
          decodePayload(latest, { unseal: (m) => verifier.unseal(topic, node, m), verify: (f, m) => verifier.open(topic, node, f, m) });
        } catch (e) {
          problem ||= e instanceof Error ? e.message : String(e);
        }
        return payloads.length >= 4;
      },
    });
    if ("skipped" in r) return { name, ok: true, skipped: r.skipped, detail: "" };
    if (!r.ok || problem) return { name, ok: false, detail: `${format}: ${problem || r.problem}; mcsim said:\n${r.log}` };
    details.push(`${format}: ${r.payloads.length} messages verified`);
  }
  return { name, ok: true, detail: details.join("\n") };
}

/** The update's part of a status, as the node publishes it. */
function updateOf(status: Record<string, unknown>): Record<string, unknown> | undefined {
  const update = status.update;
  return typeof update === "object" && update !== null ? (update as Record<string, unknown>) : undefined;
}

/** The next minor version after the one the simulator runs (package.json's). */
function nextVersion(): string {
  const [major, minor] = builtinVersion().split(".");
  return `${major}.${Number(minor) + 1}.0`;
}

/**
 * An operator's key pair (`update keygen`), a small image of `board` "sim" at the next version and
 * the retained messages that offer it (`update offer`, to the whole fleet under "torpor"), in chunks
 * of 1,024 bytes: five chunks, more than one window of a wake. `body` tells two images apart.
 */
function simOffer(dir: string, body: string): { pub: string; sign: ReturnType<typeof readSigningKey>; image: Buffer; messages: Message[] } {
  const { key, pub } = keygen(dir);
  const sign = readSigningKey(key);
  const image = Buffer.from(imageText({ version: nextVersion(), board: "sim" }, `// ${body}\n`.repeat(Math.ceil(4600 / (body.length + 4)))));
  const { messages } = offerMessages(image, sign, { prefix: "torpor", nodes: [], chunk: 1024, battery: 0, downgrade: false });
  return { pub: fs.readFileSync(pub, "utf8").trim(), sign, image, messages };
}

const updateSettings = (pub: string) => [`updateKey=${pub}`, "batchSize=1", "sampleInterval=2", "statusEvery=0", "payloadFormat=senml-json"];

/**
 * With an `updateKey`, a signed offer for board "sim" and a newer version on the broker: the node
 * fetches the chunks after its telemetry, checks them and the offer's signature with the SDK's
 * crypt modules (updateCrypto), and its retained status says the image is staged, at the offered
 * version, while it still runs its own — and says so still at the next wake
 * (the simulator keeps what it staged); the staged file holds the image byte for byte.
 */
export async function simulatorStagesUpdate(sdk: Sdk, timeoutMs = 90_000): Promise<CheckResult> {
  const name = "the app in mcsim takes a signed update offer: fetched, verified with the SDK's crypt, staged";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-check-update-"));
  try {
    const offer = simOffer(dir, "torpor check image");
    let stagedBytes: Buffer | undefined;
    const r = await runSimulator(sdk, {
      settings: updateSettings(offer.pub),
      retained: offer.messages,
      enough: (_payloads, statuses) => {
        if (statuses.filter((s) => updateOf(s)?.state === "staged").length < 2) return false;
        const file = simFile(checkNode(repoRoot), ".update-staged");
        stagedBytes = fs.existsSync(file) ? fs.readFileSync(file) : undefined;
        return true;
      },
      timeoutMs,
    });
    if ("skipped" in r) return { name, ok: true, skipped: r.skipped, detail: "" };
    const staged = r.statuses.filter((s) => updateOf(s)?.state === "staged").at(-1);
    const updates = JSON.stringify(r.statuses.filter(updateOf).map((s) => ({ running: s.version, update: updateOf(s) })));
    const detail = `statuses ${updates}; staged file ${stagedBytes?.length ?? "missing"} of ${offer.image.length} bytes\nmcsim said:\n${r.log}`;
    if (!r.ok || !staged) return { name, ok: false, detail: `${r.problem}; ${detail}` };
    const update = updateOf(staged)!;
    const ok = update.version === nextVersion() && update.refused === 0 && staged.version === builtinVersion() && stagedBytes !== undefined && stagedBytes.equals(offer.image);
    return { name, ok, detail };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same node offered two images it must refuse: one signed by a stranger's key, and one signed
 * by the operator whose chunk 2 is corrupted on the broker. Both are refused and counted in the
 * retained status, nothing stays staged, and the telemetry goes on.
 */
export async function simulatorRefusesUpdates(sdk: Sdk, timeoutMs = 90_000): Promise<CheckResult> {
  const name = "the app in mcsim refuses an offer signed by a stranger and an image with a corrupted chunk, and counts both";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-check-update-"));
  try {
    const operator = simOffer(path.join(dir, "operator"), "corrupted on the broker");
    const stranger = simOffer(path.join(dir, "stranger"), "signed by a stranger");
    const corrupted = operator.messages.map((m) => (m.topic.endsWith("/2") ? { topic: m.topic, payload: Buffer.from(m.payload.map((b, i) => (i === 40 ? b ^ 1 : b))) } : m));
    let leftOver: string[] = [];
    const r = await runSimulator(sdk, {
      settings: updateSettings(operator.pub),
      retained: [...corrupted, ...stranger.messages],
      enough: (_payloads, statuses) => {
        if (!statuses.some((s) => Number(updateOf(s)?.refused ?? 0) >= 2)) return false;
        leftOver = [".update-staging", ".update-staged"].filter((suffix) => fs.existsSync(simFile(checkNode(repoRoot), suffix)));
        return true;
      },
      timeoutMs,
    });
    if ("skipped" in r) return { name, ok: true, skipped: r.skipped, detail: "" };
    // The node's own statuses: its marker on the same topic carries no update.
    const last = r.statuses.filter(updateOf).at(-1);
    const updates = JSON.stringify(r.statuses.map(updateOf).filter(Boolean));
    const detail = `statuses ${updates}; ${r.payloads.length} telemetry messages; left over: ${leftOver.join(", ") || "nothing"}\nmcsim said:\n${r.log}`;
    if (!r.ok || !last) return { name, ok: false, detail: `${r.problem}; ${detail}` };
    const update = updateOf(last)!;
    const ok = update.refused === 2 && update.state === "idle" && leftOver.length === 0 && r.payloads.some(hasTemperature);
    return { name, ok, detail };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Calls of one operation in tools/update-crypto-app: ms per call, and whether each answered true. */
interface Measured {
  ms: number;
  calls: number;
  right: boolean;
}

/** What tools/update-crypto-app reports. */
export interface UpdateCryptoReport {
  verifies: boolean;
  hashes: boolean;
  /** Per malformed input: true when refused (false, no exception), else what happened. */
  refused: Record<string, boolean | string>;
  sdkVerify: Measured;
  scriptVerify: Measured;
  sdkSha256: Measured;
  scriptSha256: Measured;
}

/** tools/update-crypto-app's settings: a real offer's key, text and signature (`update keygen`,
 *  `update offer`), and a chunk of DEFAULT_CHUNK_BYTES with its SHA-256. */
function updateCryptoVectors(dir: string): string[] {
  const keys = keygen(dir);
  const image = Buffer.from(imageText({ version: "9.0.0", board: "sim" }, crypto.randomBytes(2 * DEFAULT_CHUNK_BYTES).toString("base64")));
  const { messages } = offerMessages(image, readSigningKey(keys.key), { prefix: "torpor", nodes: [], chunk: DEFAULT_CHUNK_BYTES, battery: 0, downgrade: false });
  const envelope = JSON.parse(messages.at(-1)!.payload.toString("utf8")) as { offer: string; sig: string };
  const chunk = image.subarray(0, DEFAULT_CHUNK_BYTES);
  return [
    `pub=${toHex(parseUpdateKey(fs.readFileSync(keys.pub, "utf8"))!)}`,
    `message=${toHex(Buffer.from(envelope.offer))}`,
    `signature=${envelope.sig}`,
    `chunk=${toHex(chunk)}`,
    `digest=${crypto.createHash("sha256").update(chunk).digest("hex")}`,
  ];
}

/** tools/update-crypto-app built (release) and run in mcsim: its report, or why there is none. */
export async function runUpdateCryptoApp(sdk: Sdk, timeoutMs = 60_000): Promise<UpdateCryptoReport | { skipped: string }> {
  if (sdk.desktop !== "lin" || !has("xvfb-run")) return { skipped: "a headless simulator run needs Linux and xvfb-run" };
  const app = path.join(repoRoot, "tools", "update-crypto-app");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-update-crypto-"));
  let simulator: ReturnType<typeof spawn> | undefined;
  try {
    const built = await buildSimulator(sdk, "release", updateCryptoVectors(dir), app);
    if (!built.ok) throw new Error(`mcsim build failed:\n${built.detail}`);
    simulator = spawn("xvfb-run", ["-a", "stdbuf", "-o0", "-e0", path.join(sdk.bin, "mcsim"), simulatorBinary(sdk, "release", path.basename(app))], {
      env: sdkEnv(sdk),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const child = simulator;
    let output = "";
    const line = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      const collect = (d: Buffer) => {
        output += d.toString();
        const done = /^update-crypto: .*$/m.exec(output) ?? /XS abort[^\n]*/.exec(output);
        if (done) {
          clearTimeout(timer);
          resolve(done[0]);
        }
      };
      child.stdout!.on("data", collect);
      child.stderr!.on("data", collect);
      child.on("exit", () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    if (!line?.startsWith("update-crypto: ")) throw new Error(`the app reported nothing (${line ?? `not within ${timeoutMs / 1000} s`}):\n${tail(output)}`);
    return JSON.parse(line.slice("update-crypto: ".length)) as UpdateCryptoReport;
  } finally {
    if (simulator?.pid !== undefined) await stopGroup(simulator);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** updateCrypto in mcsim: a real offer verifies, its chunk hashes right, and every malformed key
 *  or signature is refused without an exception (the SDK's ECDSA alone checks none of them). */
export async function simulatorUpdateCrypto(sdk: Sdk): Promise<CheckResult> {
  const name = "updateCrypto in mcsim: an offer signed by update keygen's key verifies, a chunk hashes right, malformed keys and signatures are refused";
  try {
    const r = await runUpdateCryptoApp(sdk);
    if ("skipped" in r) return { name, ok: true, skipped: r.skipped, detail: "" };
    const ok = r.verifies && r.hashes && Object.values(r.refused).every((v) => v === true);
    return { name, ok, detail: `verifies ${r.verifies}, hashes ${r.hashes}, refused ${JSON.stringify(r.refused)}` };
  } catch (e) {
    return { name, ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The same over mqtts://: a test CA and a server certificate for 127.0.0.1 made with openssl, a
 * mosquitto TLS listener with them, and the app built from a manifest next to the CA (in a temporary
 * directory) that includes the repository's and lists the CA, in DER, under "resources" — as a
 * device build would — with tlsCa naming it.
 */
export async function simulatorPublishesTLS(sdk: Sdk, timeoutMs = 60_000): Promise<CheckResult> {
  const name = "the app in mcsim publishes telemetry to mosquitto over mqtts:// (test CA as a resource), a full handshake first, then resuming the session the retained file keeps";
  if (!has("openssl")) return { name, ok: true, skipped: "openssl is not installed", detail: "" };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-check-tls-"));
  // Readable by the user mosquitto drops to when it starts as root.
  fs.chmodSync(dir, 0o755);
  try {
    const file = (f: string) => path.join(dir, f);
    const openssl = (...args: string[]) => spawnSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    const steps = [
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2", "-subj", "/CN=torpor check CA", "-keyout", file("ca.key"), "-out", file("ca.pem"),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
      ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", file("server.key"), "-out", file("server.csr")],
      ["x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-sha256", "-days", "2",
        "-extfile", file("server.ext"), "-out", file("server.pem")],
    ];
    fs.writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n");
    const appDir = path.join(dir, "torpor-tls");
    fs.mkdirSync(appDir);
    for (const args of [...steps, ["x509", "-in", file("ca.pem"), "-outform", "DER", "-out", path.join(appDir, "check-ca.der")]]) {
      const r = openssl(...args);
      if (r.status !== 0) return { name, ok: false, detail: `openssl ${args[0]} failed:\n${tail(r.stderr.toString())}` };
    }
    for (const f of ["ca.pem", "server.pem", "server.key"]) fs.chmodSync(file(f), 0o644);
    writeWrapperManifest(appDir, { resources: { "*": ["./check-ca"] } });
    // A status at every wake (statusEvery=0, as JSON) says how its handshake went: the emulated
    // deep sleep keeps the process, but only the retained file carries the session (tls-cache), so
    // the first wake is a full handshake and each after it resumes, as on a board.
    const r = await runSimulator(sdk, {
      app: appDir,
      tls: { cafile: file("ca.pem"), certfile: file("server.pem"), keyfile: file("server.key") },
      settings: ["batchSize=1", "sampleInterval=2", "tlsCa=check-ca.der", "statusEvery=0", "payloadFormat=senml-json"],
      enough: (payloads, statuses) => payloads.some(hasTemperature) && statuses.length >= 3,
      timeoutMs,
    });
    if ("skipped" in r) return { name, ok: true, skipped: r.skipped, detail: "" };
    const resumed = r.statuses.map((s) => Number(s.tlsResumed ?? 0));
    const refused = r.statuses.map((s) => Number(s.tlsRefused ?? 0));
    const detail = `tlsResumed by wake ${JSON.stringify(resumed)}, tlsRefused ${JSON.stringify(refused)}\nmcsim said:\n${r.log}`;
    if (!r.ok) return { name, ok: false, detail: `${r.problem}; ${detail}` };
    return { name, ok: resumed[0] === 0 && resumed.slice(1).every((n, i) => n === i + 1) && refused.every((n) => n === 0), detail };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** XS creation values (the manifest's `creation`) that stand for an ESP32 target family's memory. */
export interface MemoryLimit {
  name: string;
  creation: { chunk: { initial: number; incremental: number }; heap: { initial: number; incremental: number } };
}

const fixed = (slots: number, chunkBytes: number) => ({ chunk: { initial: chunkBytes, incremental: 0 }, heap: { initial: slots, incremental: 0 } });

/**
 * The target families docs/hardware.md lists, as the SDK 8.2 targets set them
 * ($MODDABLE/build/devices/esp32/targets/<board>/manifest.json, "creation"):
 * - esp32s3, esp32c6, xiao_esp32s3, nodemcu, moddable_two, wt32_eth01 and most others fix the heap at
 *   4,928 slots and 78,848 chunk bytes. Checked at 75 % of both: the 25 % headroom torpor keeps.
 * - esp32c3 and xiao_esp32c3 give XS one static block of 94,208 bytes that chunks and slots (16 bytes
 *   each on the chip) share, stack included; a batch of 60 over MQTT 5 does not fit in it beside
 *   torpor's 1,024-slot stack, so hosts/esp32/manifest.json raises it to 139,264 for those two
 *   targets, which leaves 122,880 bytes. mcsim has no static block, so it runs with half of that as
 *   fixed slots and half as fixed chunks: what fits in one split of the block fits in the block.
 * - plain `esp32` (no target) takes mcconfig's defaults, which grow.
 * mcsim is a 64-bit program: a slot is the same slot, but chunks that hold pointers are larger than on
 * the chip, so the chunk limits here are stricter than the device's.
 */
export const memoryLimits: readonly MemoryLimit[] = [
  { name: "the esp32s3/esp32c6 fixed heap less 25 % (3,696 of 4,928 slots, 59,136 of 78,848 chunk bytes)", creation: fixed(3_696, 59_136) },
  { name: "the esp32c3 static block, raised to 139,264 bytes (as 3,840 slots + 61,440 chunk bytes)", creation: fixed(3_840, 61_440) },
  { name: "plain esp32 (mcconfig's defaults: 2,048 slots and 32 KB of chunks, growing)", creation: { chunk: { initial: 32_768, incremental: 1_024 }, heap: { initial: 2_048, incremental: 64 } } },
];

/** The run the memory checks make: three sensors (six channels), MQTT 5, one full batch of 60. */
export const MEMORY_BATCH = 60;
const memorySettings = [
  "mqttVersion=5",
  `batchSize=${MEMORY_BATCH}`,
  "sampleInterval=1",
  `sensors=${JSON.stringify([{ type: "sht3x", address: 68 }, { type: "bme280", address: 118 }, { type: "battery", pin: 34, options: { divider: 2 } }])}`,
];

/** In mcsim's instruments, slots are counted in bytes: 32 a slot in a 64-bit simulator. */
const SIM_SLOT_BYTES = 32;

/**
 * The app in mcsim under `limit` (a wrapper manifest in a temporary directory that includes the
 * repository's and sets `creation`), waking every second until a subscriber has a telemetry batch
 * of MEMORY_BATCH samples: fails if XS aborts ("memory full") on the way. Reports the largest
 * slots and chunk bytes in use among mcsim's once-a-second samples, garbage included.
 */
export async function simulatorFitsMemory(sdk: Sdk, limit: MemoryLimit, timeoutMs = 150_000): Promise<CheckResult> {
  const name = `the app in mcsim within ${limit.name}: wakes and publishes a batch of ${MEMORY_BATCH}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-check-memory-"));
  const appDir = path.join(dir, "torpor-memory");
  fs.mkdirSync(appDir);
  try {
    writeWrapperManifest(appDir, { creation: limit.creation });
    const samples = (payload: Buffer) => {
      try {
        return new Set(records(payload).map((r) => r.time)).size;
      } catch {
        return 0;
      }
    };
    const r = await runSimulator(sdk, { app: appDir, settings: memorySettings, enough: (payloads) => payloads.some((p) => samples(p) >= MEMORY_BATCH), timeoutMs });
    if ("skipped" in r) return { name, ok: true, skipped: r.skipped, detail: "" };
    const peak = (instrument: string) => Math.max(0, ...r.samples.map((s) => s[instrument] ?? 0));
    const used = `peak sampled ${Math.round(peak("Slot used") / SIM_SLOT_BYTES)} slots, ${peak("Chunk used")} chunk bytes; ${r.payloads.length} telemetry messages`;
    return { name, ok: r.ok, detail: r.ok ? used : `${r.problem}; ${used}; mcsim said:\n${r.log}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function stopGroup(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // The group is gone already.
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Every check, in order, under a short label; `report` sees each result as it comes. With
 *  `only`, just the checks whose label contains it. */
export async function checkAll(sdk: Sdk, report: (result: CheckResult) => void = () => {}, only?: string): Promise<CheckResult[]> {
  const all: [string, () => Promise<CheckResult>][] = [
    ["sim build debug", () => buildSimulator(sdk, "debug")],
    ["sim build release", () => buildSimulator(sdk, "release")],
    ["esp32 build release", () => buildEsp32(sdk, "esp32", "release")],
    ["esp32 build debug", () => buildEsp32(sdk, "esp32", "debug")],
    ["esp32/nodemcu build", () => buildEsp32(sdk, "esp32/nodemcu", "release")],
    ["esp32/esp32s3 build", () => buildEsp32(sdk, "esp32/esp32s3", "release")],
    ["esp32/xiao_esp32c3 build", () => buildEsp32(sdk, "esp32/xiao_esp32c3", "release")],
    ["moddable_two config", () => boardConfigBoots(sdk, "moddable_two")],
    ["wt32_eth01 config", () => boardConfigBoots(sdk, "wt32_eth01")],
    ["esp32 phy", () => phyCalibrationKept(sdk, "esp32", true)],
    ["esp32/nodemcu phy", () => phyCalibrationKept(sdk, "esp32/nodemcu", true)],
    ["esp32/wt32_eth01 phy", () => phyCalibrationKept(sdk, "esp32/wt32_eth01", false, "CONFIG_ETH_ENABLED=y")],
    ["sim mqtt", () => simulatorPublishes(sdk)],
    ["sim mqtt senml-cbor", () => simulatorPublishesFormat(sdk, "senml-cbor")],
    ["sim mqtt compact", () => simulatorPublishesFormat(sdk, "compact")],
    ["sim mqtts", () => simulatorPublishesTLS(sdk)],
    ["sim example mqtt-client", () => exampleMqttClient(sdk)],
    ["sim telemetryKey", () => simulatorTagsTelemetry(sdk)],
    ["sim payloadKey", () => simulatorEncryptsTelemetry(sdk)],
    ["sim update crypto", () => simulatorUpdateCrypto(sdk)],
    ["sim update staged", () => simulatorStagesUpdate(sdk)],
    ["sim update refused", () => simulatorRefusesUpdates(sdk)],
    ...memoryLimits.map((limit, i): [string, () => Promise<CheckResult>] => [`sim memory ${i + 1}`, () => simulatorFitsMemory(sdk, limit)]),
  ];
  const steps = all.filter(([label]) => only === undefined || label.includes(only)).map(([, step]) => step);
  if (steps.length === 0) throw new Error(`no check's label contains "${only}": ${all.map(([label]) => label).join(", ")}`);
  const results: CheckResult[] = [];
  try {
    for (const step of steps) {
      const result = await step();
      results.push(result);
      report(result);
    }
  } finally {
    removeOutput(sdk);
  }
  return results;
}

function findRepoRoot(from: string): string {
  // Walk up rather than count "../": this runs from tools/ and from dist/tools/.
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "manifest.json")) && fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no manifest.json and package.json above ${from}`);
  }
}

if (require.main === module) {
  const sdk = findSdk();
  if (!sdk) {
    process.stdout.write(`${SKIP_MESSAGE}.\nSet MODDABLE to the SDK's directory (with its tools built) to run them.\n`);
  } else {
    process.stdout.write(`Moddable SDK at ${sdk.root}; building ${repoRoot}\n`);
    checkAll(sdk, (r) => {
      const mark = r.skipped !== undefined ? "-" : r.ok ? "✔" : "✖";
      const text = r.skipped !== undefined ? `skipped: ${r.skipped}` : r.detail;
      process.stdout.write(`${mark} ${r.name}\n${text.replace(/^/gm, "    ")}\n`);
    }, process.argv[2]).then(
      (results) => {
        const failed = results.filter((r) => !r.ok).length;
        process.stdout.write(failed ? `${failed} of ${results.length} checks failed\n` : `all ${results.length} checks passed\n`);
        process.exitCode = failed ? 1 : 0;
      },
      (e: unknown) => {
        process.stderr.write(`check:moddable: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 2;
      },
    );
  }
}
