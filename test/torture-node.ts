// What the torture tests share: a wake of a Node-hosted node as its own process (hosts/node/wake),
// which a test may kill -9 at any moment; an aedes broker that knows which clients are connected;
// an MQTT.js subscriber; and the node's retained state read back with the firmware's own code.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { parseConfig } from "../src/config";
import { crc32 } from "../src/encoding/crc32";
import { RetainedSlots } from "../src/retained/slots";
import { bufferCapacity, readState, STATE_VERSION, type NodeState } from "../src/retained/state";
import { channelsOf } from "../src/sensors/registry";
import { resolveSenml } from "../tools/senml";

const wakeScript = path.join(__dirname, "..", "hosts", "node", "wake.js");

export interface WakeRun {
  lines: string[];
  /** True when the process was still running when the kill came. */
  killed: boolean;
  code: number | null;
}

/**
 * Runs one wake with `--state dir --config file`; kills it (SIGKILL: a power cut) `killAfterMs`
 * after the spawn, or when the test calls `control.kill`, if it is still running then. `onKill`
 * runs at the moment of the kill.
 */
export function runWake(
  dir: string,
  configFile: string,
  options: { timeScale: number; killAfterMs?: number; env?: Record<string, string>; onKill?: () => void; control?: { kill?: () => void } },
): Promise<WakeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wakeScript, "--state", dir, "--config", configFile, "--time-scale", String(options.timeScale)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    let killed = false;
    let exited = false;
    const kill = () => {
      if (exited || killed) return;
      killed = true;
      options.onKill?.();
      child.kill("SIGKILL");
    };
    if (options.control) options.control.kill = kill;
    const timer = options.killAfterMs === undefined ? undefined : setTimeout(kill, options.killAfterMs);
    child.once("error", reject);
    child.once("close", (code) => {
      exited = true;
      clearTimeout(timer);
      resolve({ lines: out.split("\n").filter((l) => l !== ""), killed, code });
    });
    child.once("exit", () => (exited = true));
  });
}

/** The node's retained state as the firmware would load it: "empty" before its first commit,
 *  undefined if there is none usable. */
export function nodeState(dir: string, raw: Record<string, unknown>, size = 8192): NodeState | "empty" | undefined {
  if (!fs.existsSync(path.join(dir, "retained.bin"))) return "empty";
  const bytes = retainedBytes(dir, size);
  const config = parseConfig(raw);
  const channels = channelsOf(config.sensors);
  const slots = new RetainedSlots({ bytes, commit: () => {} }, STATE_VERSION);
  const loaded = slots.load();
  if (loaded.status === "empty") return "empty";
  if (loaded.status !== "ok") return undefined;
  return readState(loaded.payload, channels.length, bufferCapacity(slots, channels.length, config.sensors.length), config.sensors.length);
}

/** The retained region as the host sees it: the file, and zeros past its end. */
function retainedBytes(dir: string, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.set(fs.readFileSync(path.join(dir, "retained.bin")).subarray(0, size));
  return bytes;
}

/** Slots of the retained file caught half-written: a header that is not blank and fails its CRC. */
export function tornSlots(dir: string, size = 8192): number {
  const bytes = retainedBytes(dir, size);
  const half = size >> 1;
  let torn = 0;
  for (const base of [0, half]) {
    const view = new DataView(bytes.buffer, base, 16);
    const length = view.getUint16(6, true);
    if (view.getUint32(0, true) === 0 && view.getUint32(8, true) === 0) continue;
    if (16 + length > half) {
      torn++;
      continue;
    }
    const crc = crc32(bytes, base + 16, base + 16 + length, crc32(bytes, base, base + 12));
    if (crc !== view.getUint32(12, true)) torn++;
  }
  return torn;
}

export interface TestBroker {
  url: string;
  port: number;
  /** Client ids connected now. */
  connected: Set<string>;
  /** Calls `listener` with the id of each client that connects from now on. */
  onConnect(listener: (id: string) => void): () => void;
  close(): Promise<void>;
}

/** aedes on 127.0.0.1 (on `port`, or a free one). */
export async function startBroker(port = 0): Promise<TestBroker> {
  const { Aedes } = await import("aedes");
  const aedes = await Aedes.createBroker();
  const connected = new Set<string>();
  const listeners = new Set<(id: string) => void>();
  aedes.on("client", (client) => {
    connected.add(client.id);
    for (const listener of listeners) listener(client.id);
  });
  aedes.on("clientDisconnect", (client) => connected.delete(client.id));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    connected,
    onConnect(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}

/** One telemetry reading as a subscriber sees it: a time and the node's channel values. */
export interface Received {
  time: number;
  values: Record<string, number>;
}

/** An MQTT.js subscriber to a node's telemetry; readings arrive in `received`, in arrival order. */
export async function subscribe(url: string, node: string): Promise<{ received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const client: MqttClient = await connectAsync(url, { clean: true, reconnectPeriod: 0 });
  client.on("message", (_topic, payload) => {
    const byTime = new Map<number, Received>();
    for (const record of resolveSenml(JSON.parse(payload.toString("utf8")))) {
      if (record.value === undefined) continue;
      const reading = byTime.get(record.time) ?? { time: record.time, values: {} };
      reading.values[record.name.slice(record.name.lastIndexOf(":") + 1)] = record.value;
      if (!byTime.has(record.time)) {
        byTime.set(record.time, reading);
        received.push(reading);
      }
    }
  });
  await client.subscribeAsync(`torpor/${node}/telemetry`, { qos: 1 });
  return { received, close: () => client.endAsync() };
}

/** Waits until `done()` or the time is up. */
export async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return done();
}
