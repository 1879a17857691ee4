// How long the broker keeps the node's session and waits for its packets.

import type { Config } from "../config";

/**
 * Keepalive, seconds. Deep sleep: it only has to cover the awake window. Always connected: a publish
 * period plus a sampling interval, so the batches themselves keep the connection alive and a PINGREQ
 * is needed only when publishing stalls (and then goes out at a sampling wake: runConnected).
 */
export function keepAlive(config: Config, persistent: boolean): number {
  return persistent ? Math.min(65535, config.sampleInterval * (config.batchSize + 1)) : config.awakeTimeout;
}

/** MQTT 5 Session Expiry (and Will Delay), seconds: a few publish periods, so a sleeping node keeps
 *  its session and "offline" is announced only for a node that misses its wakes. */
export function sessionExpiry(config: Config): number {
  const publishPeriod = Math.min(config.sampleInterval * config.batchSize, Math.max(config.maxLatency, config.sampleInterval));
  return config.sessionPeriods * publishPeriod;
}

/** When a connection owes its broker a packet: its keepalive after the node's last write, less a
 *  margin for the way there (1 s, or a quarter of a keepalive under 4 s). */
export class KeepAliveClock {
  #lastWrite = 0;

  wrote(ticks: number): void {
    this.#lastWrite = ticks;
  }

  /** Milliseconds since the node last sent anything. */
  idleMs(ticks: number): number {
    return ticks - this.#lastWrite;
  }

  /** Ticks by which a packet is owed under `seconds` of keepalive (undefined: none). */
  dueAt(seconds: number): number | undefined {
    const ms = seconds * 1000;
    return ms > 0 ? this.#lastWrite + ms - Math.min(1000, ms / 4) : undefined;
  }
}
