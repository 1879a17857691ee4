// Starts a real mosquitto (Debian's package) on a free loopback port with a config of its own, for
// integration tests, benchmarks and check-moddable's simulator runs. Callers call
// `mosquittoMissing()` first and skip with its message when it is absent.
// A test gives the broker's limits as config lines: global ones (max_inflight_messages,
// message_size_limit, max_packet_size, max_keepalive, retain_available, persistence …) anywhere,
// per-listener ones (max_qos) in `listener`, which go right after the listener line they apply to.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export interface Mosquitto {
  url: string;
  port: number;
  /** The broker's process id: for its CPU time (bench/fleet.ts). */
  pid: number;
  /** What mosquitto logged so far (connections, refusals, disconnect reasons): for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Config lines for the whole broker. */
  config?: string[];
  /** Config lines for its one listener (MQTT 5 listener options such as `max_qos`). */
  listener?: string[];
  /** User name → password: written to a password file (mosquitto_passwd), anonymous clients refused. */
  users?: Record<string, string>;
  /** The port to listen on (default: a free one): a broker restarted where its clients knew it. */
  port?: number;
}

const binary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"].find((p) => fs.existsSync(p));
const passwd = ["/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd"].find((p) => fs.existsSync(p));

export function mosquittoMissing(): string | undefined {
  return binary ? undefined : "mosquitto is not installed (apt-get install mosquitto; .ci/run does this)";
}

export async function freePort(): Promise<number> {
  const held = await holdPort();
  await held.close();
  return held.port;
}

/** Listens on loopback `port` (0: a free one) as another program would: for a test of a tool whose
 *  port is taken. A `port` someone else holds already is the same situation: `close` then has
 *  nothing to close. */
export async function holdPort(port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" && port !== 0 ? resolve() : reject(e)));
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    port: server.listening ? (server.address() as net.AddressInfo).port : port,
    close: () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
  };
}

/** `options` as a list: config lines for the whole broker. */
export async function startMosquitto(options: string[] | MosquittoOptions = []): Promise<Mosquitto> {
  if (!binary) throw new Error(mosquittoMissing());
  const { config = [], listener = [], users, port = await freePort() } = Array.isArray(options) ? { config: options } : options;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-mosquitto-"));
  const conf = path.join(dir, "mosquitto.conf");
  const access = users ? ["allow_anonymous false", `password_file ${passwordFile(dir, users)}`] : ["allow_anonymous true"];
  fs.writeFileSync(conf, [`listener ${port} 127.0.0.1`, ...listener, ...access, "persistence false", ...config, ""].join("\n"));
  const child: ChildProcess = spawn(binary, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => stderr);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: `mqtt://127.0.0.1:${port}`, port, pid: child.pid!, log: () => stderr, stop };
}

function passwordFile(dir: string, users: Record<string, string>): string {
  if (!passwd) throw new Error("mosquitto_passwd is not installed (it comes with mosquitto)");
  const file = path.join(dir, "passwd");
  Object.entries(users).forEach(([user, password], i) => execFileSync(passwd, ["-b", ...(i === 0 ? ["-c"] : []), file, user, password]));
  // mosquitto reads it after dropping root, when it runs as root.
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(file, 0o644);
  return file;
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port}: ${stderr()}`);
}
