// What the MQTT integration tests (test/mqtt-e2e-*.test.ts) and the round-trip benchmark share: a
// simulated node driven one wake at a time in-process (the Node host's `wakeOnce`, with its own state
// directory and config file), and a subscriber outside torpor (MQTT.js) that collects what a user
// would see on the broker.

import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import { wakeOnce, type WakeReport } from "../../hosts/node/wake";
import { resolveSenml, type ResolvedRecord } from "../../tools/senml";

export interface Sample {
  temperature: number;
  humidity: number;
}

export class TestNode {
  readonly dir: string;
  readonly configFile: string;
  /** Every log line of every wake, in order. */
  readonly lines: string[] = [];
  /** What each wake reported, in order. */
  readonly reports: WakeReport[] = [];
  #config: Record<string, unknown>;

  /** `root`: where the state directory goes (default: the system's temporary directory). */
  constructor(
    readonly name: string,
    config: Record<string, unknown>,
    root = os.tmpdir(),
  ) {
    this.dir = fs.mkdtempSync(path.join(root, `torpor-${name}-`));
    this.configFile = path.join(this.dir, "config.json");
    this.#config = {};
    this.configure({ node: name, sampleInterval: 60, batchSize: 1, awakeTimeout: 5, ...config });
  }

  get telemetryTopic(): string {
    return `torpor/${this.name}/telemetry`;
  }

  get statusTopic(): string {
    return `torpor/${this.name}/status`;
  }

  get commandTopic(): string {
    return `torpor/${this.name}/cmd`;
  }

  /** Changes config keys for the next wakes (the file is read at every wake, as on a reflash). */
  configure(changes: Record<string, unknown>): void {
    this.#config = { ...this.#config, ...changes };
    fs.writeFileSync(this.configFile, JSON.stringify(this.#config));
  }

  /** One wake: restore, sample, maybe publish, sleep. Returns its report; its lines are in `lines`. */
  async wake(): Promise<WakeReport & { lines: string[] }> {
    const lines: string[] = [];
    const report = await wakeOnce({ state: path.join(this.dir, "state"), config: this.configFile, timeScale: 1000 }, (line) => {
      lines.push(line);
      this.lines.push(line);
    });
    this.reports.push(report);
    return { ...report, lines };
  }

  /** One wake as its own process (`node dist/hosts/node/wake.js`), as the runner starts it: for
   *  tests that kill a wake mid-exchange (a power cut). Its log lines join `lines`. */
  spawnWake(): ChildProcess {
    const child = fork(path.join(__dirname, "..", "..", "hosts", "node", "wake.js"), ["--state", path.join(this.dir, "state"), "--config", this.configFile, "--time-scale", "1000"], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    readline.createInterface({ input: child.stdout! }).on("line", (line) => this.lines.push(line.replace(/^\d\d:\d\d:\d\d /, "")));
    return child;
  }

  /** The readings the node logged it sampled, wake by wake. */
  sampled(): Sample[] {
    return this.lines
      .map((l) => /^woke \([\w-]+\); sht3x\/temperature=(-?[\d.]+) Cel sht3x\/humidity=([\d.]+) %RH/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ temperature: Number(m[1]), humidity: Number(m[2]) }));
  }

  log(): string {
    return this.lines.join("\n");
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An MQTT.js client that keeps every message it gets, by topic. */
export class Subscriber {
  readonly messages: { topic: string; payload: Buffer; retain: boolean; qos: number; dup: boolean }[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({ topic, payload, retain: packet.retain, qos: packet.qos, dup: packet.dup });
      for (const w of this.#waiters) w();
    });
  }

  static async connect(url: string, topics: string[], options: IClientOptions = {}, qos: 0 | 1 | 2 = 1): Promise<Subscriber> {
    const client = await connectAsync(url, { clean: true, reconnectPeriod: 100, connectTimeout: 5000, ...options });
    const subscriber = new Subscriber(client);
    await client.subscribeAsync(topics, { qos });
    return subscriber;
  }

  /** Telemetry records (SenML, resolved), every copy the broker delivered. */
  records(topic: string): ResolvedRecord[] {
    return this.messages.filter((m) => m.topic === topic).flatMap((m) => resolveSenml(JSON.parse(m.payload.toString("utf8"))));
  }

  /** Status messages on a topic, parsed. */
  statuses(topic: string): Record<string, unknown>[] {
    return this.messages.filter((m) => m.topic === topic && m.payload.length > 0).map((m) => JSON.parse(m.payload.toString("utf8")) as Record<string, unknown>);
  }

  /** Waits until `done()` holds, for at most `ms`; returns whether it did. */
  async until(done: () => boolean, ms = 5000): Promise<boolean> {
    if (done()) return true;
    return new Promise<boolean>((resolve) => {
      const check = () => {
        if (!done()) return;
        finish(true);
      };
      const timer = setTimeout(() => finish(done()), ms);
      const finish = (result: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(result);
      };
      this.#waiters.add(check);
    });
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** The retained message on a topic, parsed as JSON, as a client connecting now gets it. */
export async function retainedJson(url: string, topic: string, options: IClientOptions = {}): Promise<Record<string, unknown>> {
  const reader = await Subscriber.connect(url, [topic], options);
  try {
    if (!(await reader.until(() => reader.messages.some((m) => m.retain)))) throw new Error(`no retained message on ${topic}`);
    return JSON.parse(reader.messages.find((m) => m.retain)!.payload.toString("utf8")) as Record<string, unknown>;
  } finally {
    await reader.end();
  }
}

/** Readings as the node sampled them, from SenML records: one per distinct (name, time), in time order. */
export function dedupe(records: ResolvedRecord[], node: string): { samples: Sample[]; copies: Map<string, number> } {
  const copies = new Map<string, number>();
  const byTime = new Map<number, Partial<Sample>>();
  for (const r of records) {
    const key = `${r.name}@${r.time}`;
    copies.set(key, (copies.get(key) ?? 0) + 1);
    const sample = byTime.get(r.time) ?? {};
    if (r.name === `urn:dev:torpor:${node}:sht3x/temperature`) sample.temperature = r.value!;
    else if (r.name === `urn:dev:torpor:${node}:sht3x/humidity`) sample.humidity = r.value!;
    byTime.set(r.time, sample);
  }
  const samples = [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => ({ temperature: s.temperature ?? NaN, humidity: s.humidity ?? NaN }));
  return { samples, copies };
}

/** mosquitto refuses to keep its files where it cannot write after dropping root: keep it root. */
export function asRoot(): string[] {
  return process.getuid?.() === 0 ? ["user root"] : [];
}

export function tempDir(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `torpor-${name}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}
