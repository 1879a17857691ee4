// The Node.js host: the same virtual sensor devices as the Moddable simulator, ECMA-419 TCP over
// node:net, retained memory and an RTC-like clock in files under the node's state directory, and
// deep sleep as the end of the process (the runner in tools/ starts the next wake after the sleep).

import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import * as dns from "node:dns";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import type { Config } from "../../src/config";
import type { Crypto, Host, RetainedMemory } from "../../src/host";
import { RetainedSlots } from "../../src/retained/slots";
import { bufferCapacity, type NodeState, OLDEST_STATE_VERSION, readState, STATE_VERSION } from "../../src/retained/state";
import { channelsOf } from "../../src/sensors/registry";
import type { UpdateHost } from "../../src/update/capability";
import type { Environment } from "../virtual/environment";
import { virtualBoard } from "../virtual/board";
import { ScaledClock } from "./clock";
import { FlashFiles } from "./flash-file";
import { RetainedFile } from "./retained-file";
import { keepingTLS, NodeTCP } from "./tcp";
import { sessionFile } from "./tls-session";
import { wakeStart, writeMarker } from "./wake-start";

export interface NodeHostOptions {
  /** Directory holding this node's retained memory, clock and sleep marker. */
  stateDir: string;
  /** Simulated seconds per real second. */
  timeScale: number;
  config: Config;
  /** The config's `sim` value: simulation settings for the virtual board. */
  sim?: unknown;
  environment: Environment;
  /** Where log lines go (default: stdout). */
  log?: (line: string) => void;
  /** The update capability of the image booted (bootFirmware). */
  update?: UpdateHost;
}

export interface NodeHost extends Host {
  /** Resolves with the sleep duration (simulated ms) when the firmware goes to sleep. */
  readonly asleep: Promise<number>;
  close(): void;
}

export function createNodeHost(options: NodeHostOptions): NodeHost {
  fs.mkdirSync(options.stateDir, { recursive: true });
  const file = (name: string) => path.join(options.stateDir, name);
  const hasState = fs.existsSync(file("retained.bin"));
  const retained = new RetainedFile(file("retained.bin"));
  const start = wakeStart({
    marker: file("sleep.json"),
    clock: file("clock.json"),
    scale: options.timeScale,
    realNow: Date.now(),
    hasState,
    floor: () => afterNewestReading(retained, options.config),
  });
  const wakeCause = start.cause;
  const clock = new ScaledClock(file("clock.json"), options.timeScale, start.simMs);

  const board = virtualBoard(options.config, options.sim, options.environment, clock);

  let wakeUp: (ms: number) => void = () => {};
  const asleep = new Promise<number>((resolve) => (wakeUp = resolve));
  // Lines carry the node's own (simulated) time: that is the time its readings are stamped with.
  const log = options.log ?? ((line: string) => process.stdout.write(`${new Date(clock.now()).toISOString().slice(11, 19)} ${line}\n`));
  if (start.problem) log(start.problem);

  return {
    name: "node",
    id: hostId(options.stateDir),
    io: board.io,
    i2c: { data: 21, clock: 22, hz: 100_000 },
    network: {
      up: (_timeoutMs, callback) => setImmediate(callback),
      resolve(host, callback) {
        if (net.isIP(host)) return callback(undefined, host);
        dns.lookup(host, { family: 4 }, (error, address) => callback(error ?? undefined, address));
      },
      down: () => {},
      TCP: NodeTCP,
      // The TLS session beside retained.bin: what a board keeps in RTC memory across deep sleep.
      TLS: keepingTLS({ memory: sessionFile(file("tls-session.json")), now: () => clock.now() }),
    },
    clock,
    timer: {
      set: (callback, ms) => setTimeout(callback, ms),
      clear: (id) => clearTimeout(id as NodeJS.Timeout),
    },
    retained,
    flash: new FlashFiles(options.stateDir),
    crypto: nodeCrypto,
    wakeCause,
    ...(options.update ? { update: options.update } : {}),
    log,
    sleep(ms) {
      writeMarker(file("sleep.json"), clock.now() + ms);
      clock.sleep();
      wakeUp(ms);
    },
    nap: (ms, callback) => clock.nap(ms, callback),
    asleep,
    close: () => retained.close(),
  };
}

/** HMAC-SHA-256 and AES-128-GCM from node:crypto: what the operator's tools use too. */
export const nodeCrypto: Crypto = {
  hmacSha256: (key, message) => new Uint8Array(createHmac("sha256", key).update(message).digest()),
  aesGcm: {
    seal(key, nonce, aad, plaintext) {
      const cipher = createCipheriv("aes-128-gcm", key, nonce).setAAD(aad);
      return new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
    },
    open(key, nonce, aad, sealed) {
      if (sealed.length < GCM_TAG_BYTES) return undefined;
      const decipher = createDecipheriv("aes-128-gcm", key, nonce, { authTagLength: GCM_TAG_BYTES }).setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
      const body = decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES));
      try {
        return new Uint8Array(Buffer.concat([body, decipher.final()]));
      } catch {
        return undefined; // The tag is wrong.
      }
    },
  },
};

const GCM_TAG_BYTES = 16;

/** One sampling interval after the newest reading the retained state holds (kept or already
 *  published), in ms: where a lost clock restarts. Undefined when there is no usable state. */
function afterNewestReading(retained: RetainedMemory, config: Config): number | undefined {
  const newest = heldState(retained, config)?.buffer.newestTime;
  return newest === undefined ? undefined : (newest + config.sampleInterval) * 1000;
}

/** The node state retained memory holds, read as the firmware would read it; undefined when there
 *  is none usable. For hosts and runners that look at a node from outside. */
export function heldState(retained: RetainedMemory, config: Config): NodeState | undefined {
  try {
    const channels = channelsOf(config.sensors);
    const slots = new RetainedSlots(retained, STATE_VERSION, OLDEST_STATE_VERSION);
    const loaded = slots.load();
    if (loaded.status !== "ok") return undefined;
    return readState(loaded.payload, channels.length, bufferCapacity(slots, channels.length, config.sensors.length), config.sensors.length, loaded.version);
  } catch {
    return undefined;
  }
}

/** The node's name when the config gives none: its state directory's, made one that topics and
 *  SenML names take (the rule of config's `node`), so that a directory such as `a+b` cannot put a
 *  wildcard into the node's topics. */
export function hostId(stateDir: string): string {
  const id = path.basename(path.resolve(stateDir)).replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 64);
  return /^[A-Za-z0-9]/.test(id) ? id : `n${id}`.slice(0, 64);
}
