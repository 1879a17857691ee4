// `npm run check:moddable`: the builds that need the Moddable SDK, from the repository root, as a
// Moddable developer runs them — the simulator build (debug and release), the JavaScript half of
// the ESP32 build (manifest, TypeScript, xsc, xsl; the C half needs ESP-IDF), and, where xvfb-run and
// mosquitto exist, a short headless run of the simulator that must publish telemetry to a mosquitto
// started for it — and, where openssl exists too, the same over mqtts:// to a mosquitto with a test
// CA that the build carries as a resource. Without $MODDABLE it says so and succeeds: CI has no SDK.
//
//   MODDABLE=/path/to/moddable npm run check:moddable

import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { resolveSenml } from "./senml";

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
}

export function findSdk(env: NodeJS.ProcessEnv = process.env): Sdk | undefined {
  const root = env.MODDABLE;
  if (!root) return undefined;
  const desktop = process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : "lin";
  return { root, bin: path.join(root, "build", "bin", desktop, "release"), desktop };
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

function sdkEnv(sdk: Sdk, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, MODDABLE: sdk.root, PATH: `${sdk.bin}${path.delimiter}${process.env.PATH ?? ""}`, ...extra };
}

function tail(text: string, lines = 25): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

export function simulatorBinary(sdk: Sdk, variant: "debug" | "release", name = app): string {
  return path.join(sdk.root, "build", "bin", sdk.desktop, "mc", variant, name, "mc.so");
}

/** `mcconfig [-d] -m -p lin -t build`: `-t build` so that a debug build never launches, or pkills, a simulator. */
export async function buildSimulator(sdk: Sdk, variant: "debug" | "release", settings: string[] = [], dir = repoRoot): Promise<CheckResult> {
  const name = `mcconfig ${variant === "debug" ? "-d " : ""}-m -p ${sdk.desktop} -t build`;
  const binary = simulatorBinary(sdk, variant, path.basename(dir));
  fs.rmSync(binary, { force: true });
  const r = await run("mcconfig", [...(variant === "debug" ? ["-d"] : []), "-m", "-p", sdk.desktop, "-t", "build", ...settings], sdkEnv(sdk), 300_000, dir);
  const ok = r.code === 0 && fs.existsSync(binary);
  return { name, ok, detail: ok ? `built ${binary}` : `exit ${r.code}\n${tail(r.output)}` };
}

/**
 * The ESP32 build up to the XS archive. mcconfig stops at "$IDF_PATH not set" only after it has
 * resolved the manifest and written the makefile; that makefile's mc.xs.c target runs tsc, xsc and
 * xsl for every module but depends on ESP-IDF only through SDKCONFIG_H and a check that IDF_PATH is
 * a git checkout, so an empty git repository and /dev/null stand in for them. With a real ESP-IDF
 * ($IDF_PATH set), the whole build runs instead.
 */
export async function buildEsp32(sdk: Sdk, platform = "esp32", variant: "debug" | "release" = "release"): Promise<CheckResult> {
  const settings = ["ssid=torpor-check", "password=not-a-secret", "broker=mqtt://broker.example.com:1883"];
  const flags = [...(variant === "debug" ? ["-d"] : []), "-m", "-p", platform, "-t", "build", ...settings];
  const name = `mcconfig ${flags.slice(0, -3).join(" ")} ssid=… password=… broker=…`;
  const idf = process.env.IDF_PATH;
  if (idf && fs.existsSync(path.join(idf, "export.sh"))) {
    const r = await run("mcconfig", flags, sdkEnv(sdk), 1_800_000);
    return { name, ok: r.code === 0, detail: r.code === 0 ? `built with ESP-IDF at ${idf}` : `exit ${r.code}\n${tail(r.output)}` };
  }
  if (!has("git")) return { name, ok: true, skipped: "git is needed to stand in for ESP-IDF's checkout", detail: "" };
  const sub = platform.includes("/") ? platform.split("/")[1]! : "";
  const tmp = path.join(sdk.root, "build", "tmp", "esp32", ...(sub ? [sub] : []), variant, app);
  const makefile = path.join(tmp, "makefile");
  const archive = path.join(tmp, "mc.xs.c");
  fs.rmSync(archive, { force: true });
  const env = sdkEnv(sdk);
  delete env.IDF_PATH;
  const configured = await run("mcconfig", flags, env, 300_000);
  if (!configured.output.includes("$IDF_PATH not set") || !fs.existsSync(makefile)) {
    return { name, ok: false, detail: `manifest resolution failed (exit ${configured.code})\n${tail(configured.output)}` };
  }
  const fakeIdf = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-no-idf-"));
  try {
    const git = (...args: string[]) => spawnSync("git", ["-C", fakeIdf, "-c", "user.email=check@torpor", "-c", "user.name=torpor", ...args], { stdio: "ignore" });
    git("init", "-q");
    git("commit", "-q", "--allow-empty", "-m", "stand-in for ESP-IDF");
    const r = await run("make", ["-f", makefile, "SDKCONFIG_H=/dev/null", archive], { ...env, IDF_PATH: fakeIdf }, 600_000);
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

const mosquittoBinary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"].find((p) => fs.existsSync(p));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The files of a mosquitto TLS listener (PEM). */
interface BrokerTLS {
  cafile: string;
  certfile: string;
  keyfile: string;
}

async function startMosquitto(tls?: BrokerTLS): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-check-mosquitto-"));
  const conf = path.join(dir, "mosquitto.conf");
  const secure = tls ? `cafile ${tls.cafile}\ncertfile ${tls.certfile}\nkeyfile ${tls.keyfile}\n` : "";
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n${secure}`);
  const child = spawn(mosquittoBinary!, ["-c", conf], { stdio: "ignore" });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
      socket.on("error", () => resolve(false));
    });
    if (up) return { url: `${tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`mosquitto did not listen on ${port}`);
}

/**
 * Builds the simulator app for a mosquitto started here, runs it headless (xvfb-run) until a
 * subscriber has received one telemetry batch, then stops the simulator, the X server and mosquitto.
 */
export async function simulatorPublishes(sdk: Sdk, timeoutMs = 60_000): Promise<CheckResult> {
  return publishes(sdk, "the app in mcsim publishes telemetry to mosquitto", undefined, timeoutMs);
}

/**
 * The same over mqtts://: a test CA and a server certificate for 127.0.0.1 made with openssl, a
 * mosquitto TLS listener with them, and the app built from a manifest next to the CA (in a temporary
 * directory) that includes the repository's and lists the CA, in DER, under "resources" — as a
 * device build would — with tlsCa naming it.
 */
export async function simulatorPublishesTLS(sdk: Sdk, timeoutMs = 60_000): Promise<CheckResult> {
  const name = "the app in mcsim publishes telemetry to mosquitto over mqtts:// (test CA as a resource)";
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
    fs.writeFileSync(
      path.join(appDir, "manifest.json"),
      JSON.stringify({
        include: [path.join(repoRoot, "manifest.json")],
        resources: { "*": ["./check-ca"] },
        // The repository's manifest names tsc relative to $(MAIN_DIR), which is now this directory.
        typescript: { compiler: path.join(repoRoot, "node_modules", ".bin", "tsc") },
      }),
    );
    return await publishes(sdk, name, { cafile: file("ca.pem"), certfile: file("server.pem"), keyfile: file("server.key"), app: appDir, settings: ["tlsCa=check-ca.der"] }, timeoutMs);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function publishes(sdk: Sdk, name: string, tls: (BrokerTLS & { app: string; settings: string[] }) | undefined, timeoutMs: number): Promise<CheckResult> {
  const missing = sdk.desktop !== "lin" ? "a headless simulator run needs Linux" : !has("xvfb-run") ? "xvfb-run is not installed" : !mosquittoBinary ? "mosquitto is not installed" : undefined;
  if (missing) return { name, ok: true, skipped: missing, detail: "" };
  const broker = await startMosquitto(tls);
  const node = `check-${process.pid}${tls ? "-tls" : ""}`;
  const retained = path.join(os.tmpdir(), `torpor-${node}.retained`);
  fs.rmSync(retained, { force: true });
  const { connectAsync } = await import("mqtt");
  const subscriber = await connectAsync(broker.url, { clean: true, ...(tls ? { ca: fs.readFileSync(tls.cafile) } : {}) });
  let simulator: ReturnType<typeof spawn> | undefined;
  try {
    await subscriber.subscribeAsync(`torpor/${node}/telemetry`, { qos: 1 });
    const dir = tls?.app ?? repoRoot;
    const built = await buildSimulator(sdk, "debug", [`broker=${broker.url}`, `node=${node}`, "batchSize=1", "sampleInterval=2", ...(tls?.settings ?? [])], dir);
    if (!built.ok) return { ...built, name };
    let output = "";
    const received = new Promise<string>((resolve) => subscriber.on("message", (_topic, payload) => resolve(payload.toString())));
    // Its own process group, so that mcsim, Xvfb and xvfb-run all end together.
    simulator = spawn("xvfb-run", ["-a", "stdbuf", "-o0", "-e0", path.join(sdk.bin, "mcsim"), simulatorBinary(sdk, "debug", path.basename(dir))], {
      cwd: repoRoot,
      env: sdkEnv(sdk),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    simulator.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    simulator.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
    const payload = await Promise.race([received, timedOut]);
    clearTimeout(timer);
    const log = output.split("\n").filter((l) => l && !l.startsWith("instruments")).slice(0, 12).join("\n");
    if (payload === undefined) return { name, ok: false, detail: `no telemetry within ${timeoutMs / 1000} s; mcsim said:\n${log}` };
    // What any subscriber would make of it: a SenML temperature from the node, in Cel.
    let ok = false;
    try {
      ok = resolveSenml(JSON.parse(payload)).some((r) => r.name === `urn:dev:torpor:${node}:sht3x/temperature` && r.unit === "Cel" && typeof r.value === "number");
    } catch {
      ok = false;
    }
    return { name, ok, detail: `torpor/${node}/telemetry ${payload}\nmcsim said:\n${log}` };
  } finally {
    if (simulator?.pid !== undefined) await stopGroup(simulator);
    await subscriber.endAsync();
    await broker.stop();
    fs.rmSync(retained, { force: true });
  }
}

async function stopGroup(child: ReturnType<typeof spawn>): Promise<void> {
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

/** Every check, in order; `report` sees each result as it comes. */
export async function checkAll(sdk: Sdk, report: (result: CheckResult) => void = () => {}): Promise<CheckResult[]> {
  const steps: (() => Promise<CheckResult>)[] = [
    () => buildSimulator(sdk, "debug"),
    () => buildSimulator(sdk, "release"),
    () => buildEsp32(sdk, "esp32", "release"),
    () => buildEsp32(sdk, "esp32", "debug"),
    () => buildEsp32(sdk, "esp32/nodemcu", "release"),
    () => simulatorPublishes(sdk),
    () => simulatorPublishesTLS(sdk),
  ];
  const results: CheckResult[] = [];
  for (const step of steps) {
    const result = await step();
    results.push(result);
    report(result);
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
    }).then(
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
