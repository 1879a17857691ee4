// Starts a private RabbitMQ (Debian's rabbitmq-server 3.10, its MQTT plugin on) as an ordinary
// user-space process on free loopback ports, for interop tests: its own node name, its own epmd on
// its own port (started and stopped here, so runs in parallel never share one), an Erlang cookie in
// a private HOME, and its database, logs and config in a temporary directory; nothing of the
// packaged service (/etc/rabbitmq, /var/lib/rabbitmq) is read or touched. Startup takes seconds: start
// it once per test file. `members > 1` starts that many nodes and joins them in one cluster (the
// first is the seed); each has its own MQTT port. Tests call `rabbitmqMissing()` and skip with its
// message when the package is not installed.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { connectAsync } from "mqtt";
import { freePort } from "./mosquitto";

const bin = "/usr/lib/rabbitmq/bin";
const epmdBinary = ["/usr/bin/epmd", "/usr/lib/erlang/bin/epmd"].find((p) => fs.existsSync(p));

export function rabbitmqMissing(): string | undefined {
  if (!fs.existsSync(path.join(bin, "rabbitmq-server")) || !epmdBinary) return "rabbitmq-server is not installed (apt-get install rabbitmq-server; .ci/run does this)";
  return undefined;
}

export interface RabbitMember {
  /** Erlang node name, name@localhost. */
  nodename: string;
  /** mqtt://127.0.0.1:PORT, this member's MQTT listener. */
  url: string;
  port: number;
  /** What the member printed so far (startup, errors): for failure messages. */
  log(): string;
  /** Stops this member alone (the others carry on as a cluster): a failover test's outage. */
  stop(): Promise<void>;
}

export interface RabbitMQ {
  members: RabbitMember[];
  /** The first member's MQTT URL. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Long enough for a cold start on a loaded 2-core machine (a quiet one takes 5-15 s). */
const START_MS = 90_000;

/** `config`: more rabbitmq.conf lines for every member (`mqtt.durable_queue_type = quorum`, say). */
export async function startRabbitMQ(members = 1, config: string[] = []): Promise<RabbitMQ> {
  const missing = rabbitmqMissing();
  if (missing) throw new Error(missing);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-rabbitmq-"));
  const id = `torpor-${process.pid}-${randomBytes(3).toString("hex")}`;
  const cookie = randomBytes(16).toString("hex").toUpperCase();
  const epmdPort = await freePort();
  const epmd = spawn(epmdBinary!, ["-port", String(epmdPort), "-address", "127.0.0.1"], { stdio: "ignore" });
  const started: Started[] = [];
  const stop = async () => {
    await Promise.all(started.map((m) => m.stop()));
    await kill(epmd, "SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => listening(epmdPort), 10_000, () => `epmd did not listen on ${epmdPort}`);
    // One after the other: members joining a cluster need the seed running; and two cold starts at
    // once on two cores would only make each slower.
    for (let i = 0; i < members; i++) started.push(await startMember(path.join(dir, `member-${i + 1}`), `${id}-${i + 1}@localhost`, cookie, epmdPort, config));
    for (const member of started.slice(1)) await member.join(started[0]!.nodename);
  } catch (e) {
    await stop();
    throw e;
  }
  return { members: started, url: started[0]!.url, port: started[0]!.port, stop };
}

interface Started extends RabbitMember {
  join(seed: string): Promise<void>;
}

async function startMember(dir: string, nodename: string, cookie: string, epmdPort: number, extra: string[]): Promise<Started> {
  const home = path.join(dir, "home");
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, ".erlang.cookie"), cookie, { mode: 0o400 });
  const [amqp, dist, cli, mqtt] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = path.join(dir, "rabbitmq.conf");
  fs.writeFileSync(
    config,
    [
      `mqtt.listeners.tcp.default = 127.0.0.1:${mqtt}`,
      // Anonymous MQTT clients log in as the default user, as the plugin's own docs set it up.
      "mqtt.allow_anonymous = true",
      "mqtt.default_user = guest",
      "mqtt.default_pass = guest",
      "default_user = guest",
      "default_pass = guest",
      "log.console = true",
      "log.console.level = warning",
      "log.file.level = info",
      ...extra,
      "",
    ].join("\n"),
  );
  fs.writeFileSync(path.join(dir, "enabled_plugins"), "[rabbitmq_mqtt].\n");
  fs.writeFileSync(path.join(dir, "rabbitmq-env.conf"), "");
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("RABBITMQ_") && !key.startsWith("ERL_"))),
    HOME: home,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(amqp),
    RABBITMQ_DIST_PORT: String(dist),
    RABBITMQ_CTL_DIST_PORT_MIN: String(cli),
    RABBITMQ_CTL_DIST_PORT_MAX: String(cli),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: "127.0.0.1",
    RABBITMQ_MNESIA_BASE: path.join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: path.join(dir, "log"),
    RABBITMQ_CONFIG_FILE: config,
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, "advanced.config"),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, "enabled_plugins"),
    RABBITMQ_CONF_ENV_FILE: path.join(dir, "rabbitmq-env.conf"),
    RABBITMQ_PID_FILE: path.join(dir, "pid"),
  };
  // Its own process group: the shell script, the Erlang VM and its helpers go down together.
  const child = spawn(path.join(bin, "rabbitmq-server"), [], { env, cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const log = () => output;
  const ctl = (...args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(path.join(bin, "rabbitmqctl"), ["-n", nodename, ...args], { env, cwd: dir, timeout: 60_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`rabbitmqctl ${args.join(" ")}: ${error.message}\n${stdout}${stderr}`)) : resolve(),
      ),
    );
  const member: Started = {
    nodename,
    url: `mqtt://127.0.0.1:${mqtt}`,
    port: mqtt,
    log,
    join: async (seed) => {
      await ctl("stop_app");
      await ctl("join_cluster", seed);
      await ctl("start_app");
      await waitFor(() => answersMqtt(mqtt), START_MS, () => `${nodename} did not take MQTT on ${mqtt} after joining ${seed}:\n${log()}`);
    },
    stop: async () => {
      await kill(child, "SIGTERM", -child.pid!);
    },
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`rabbitmq-server exited with ${child.exitCode}:\n${log()}`);
        return answersMqtt(mqtt);
      },
      START_MS,
      () => `rabbitmq-server did not take MQTT on ${mqtt} within ${START_MS / 1000} s:\n${log()}`,
    );
  } catch (e) {
    await member.stop();
    throw e;
  }
  return member;
}

/** Sends `signal` (to the process group `target`, when given) and waits for the exit; SIGKILL after 30 s. */
async function kill(child: ChildProcess, signal: NodeJS.Signals, target = child.pid!): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const send = (s: NodeJS.Signals) => {
    try {
      process.kill(target, s);
    } catch {
      // Gone already.
    }
  };
  send(signal);
  const timer = setTimeout(() => send("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
  // The VM's helpers (erl_child_setup, inet_gethost) leave with it; make sure of the group too.
  if (target < 0) send("SIGKILL");
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
    socket.on("error", () => resolve(false));
  });
}

/** An MQTT 3.1.1 client gets a CONNACK: the plugin is up, not merely its port. */
async function answersMqtt(port: number): Promise<boolean> {
  if (!(await listening(port))) return false;
  try {
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 2000 });
    await client.endAsync();
    return true;
  } catch {
    return false;
  }
}

async function waitFor(ready: () => Promise<boolean>, ms: number, message: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 200));
  }
}
