// What both Moddable hosts — the ESP32 host (hosts/esp32) and the desktop simulator (hosts/sim) —
// build the same way from the SDK's runtime modules: timers on "timer", the clock on Date.now and
// Time.ticks, log lines through trace (xsbug's console, or stdout when no xsbug is listening), and
// names resolved through the SDK's resolver.

import { BlockCipher, Digest } from "crypt";
import GCM from "gcm";
import HMAC from "hmac";
import Net from "net";
import Time from "time";
import Timer from "timer";
import type { Clock, Crypto, Timers } from "../../src/host";

/**
 * Host timers handing out numbers: Host.timer.clear takes `unknown`, and a number finds its Timer
 * without a cast. A fired timer leaves the table itself, so a late clear is harmless.
 */
export function timers(): Timers {
  const live = new Map<number, Timer>();
  let next = 1;
  return {
    set(callback, ms) {
      const id = next++;
      live.set(id, Timer.set(() => {
        live.delete(id);
        callback();
      }, Math.max(0, ms)));
      return id;
    },
    clear(id) {
      if (typeof id !== "number") return;
      const timer = live.get(id);
      if (timer === undefined) return;
      live.delete(id);
      Timer.clear(timer);
    },
  };
}

/** Wall time from the host's clock (the RTC on ESP32, kept across deep sleep); ticks from this wake's start. */
export function clock(): Clock {
  const start = Time.ticks;
  return {
    now: () => Date.now(),
    // Time.delta copes with the tick counter wrapping, which an always-connected node can live to see.
    ticks: () => Time.delta(start),
  };
}

/** A log line carrying the node's own time, as the Node host prints it. */
export function log(message: string): void {
  trace(`${new Date(Date.now()).toISOString().slice(11, 19)} ${message}\n`);
}

/**
 * IPv4 literals pass through; host names go to the SDK's resolver (Net.resolve: lwip's on ESP32, the
 * system's on lin, mac and win), which answers with an IPv4 address: the SDK's TCP is IPv4 only.
 */
export function resolve(name: string, callback: (error: Error | undefined, address?: string) => void): void {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return void Timer.set(() => callback(undefined, name), 0);
  Net.resolve(name, (_name, address) => {
    if (address) callback(undefined, address);
    else callback(new Error(`DNS: no address for ${name}`));
  });
}

/** HMAC-SHA-256 and AES-128-GCM from the SDK's crypt modules (the TLS socket's manifest brings
 *  them in): the Digest, AES and GHASH are native code, the HMAC and GCM constructions around them
 *  a few lines of script. */
const own = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer;
export const crypto: Crypto = {
  hmacSha256(key, message) {
    return new Uint8Array(new HMAC(new Digest("SHA256"), own(key)).process(own(message)));
  },
  aesGcm: {
    seal: (key, nonce, aad, plaintext) => new Uint8Array(new GCM(new BlockCipher("AES", own(key))).process(own(plaintext), undefined, own(nonce), own(aad), true)!),
    open(key, nonce, aad, sealed) {
      const opened = new GCM(new BlockCipher("AES", own(key))).process(sealed.slice(), undefined, own(nonce), own(aad), false);
      return opened && new Uint8Array(opened);
    },
  },
};
