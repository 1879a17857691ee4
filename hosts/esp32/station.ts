// Wi-Fi for the ESP32 host, brought up by the wake itself instead of the SDK's setup/network (which
// waits for an access point forever, before main even runs): bounded by a deadline, failing early
// when the access point turns the node away, straight to the access point of the last connection
// when its channel and BSSID are known, an optional static address (no DHCP exchange), and the
// clock set from SNTP when it is unset or a day old.
//
// The SDK's ECMA-419 Wi-Fi (embedded:network/interface/wifi, modules/io/wifi/esp32) takes a channel
// but no BSSID in connect(), and scans all channels either way (WIFI_ALL_CHANNEL_SCAN). So a known
// access point is joined by the native wifiDirect (channel and BSSID given, one channel probed), the
// SDK's object reporting the connection as if it had made it; when that fails, or has not
// associated within DIRECT_WAIT_MS, the SDK's connect() scans every channel. Both are counted
// (NetCache.counters).

import WiFi from "embedded:network/interface/wifi";
import SNTP from "sntp";
import Time from "time";
import Timer from "timer";
import { DIRECT_FAILED, DIRECT_TRYING, radio, setDNS, wifiDirect, wifiDirectAbandon, wifiDirectState } from "./native/power";
import { parseMAC, type NetCache, type NetMemory } from "./net-cache";

export interface StaticAddress {
  address: string;
  mask: string;
  gateway: string;
  /** The DNS server; without DHCP nothing else names one. */
  dns: string;
}

export interface StationSettings {
  ssid: string;
  password: string;
  staticAddress: StaticAddress | undefined;
  /** SNTP server name; "" turns clock setting off. */
  sntp: string;
}

/** Before this the RTC has not been set since power-on (it starts at the epoch). */
const CLOCK_VALID_AFTER_S = 1_704_067_200; // 2024-01-01
const SYNC_EVERY_S = 86_400;
const SNTP_TIMEOUT_MS = 3000;
const MAX_ATTEMPTS = 2;
/** A direct connection that has not associated by then is given up for a full scan: one channel
 *  probed and the handshake take a few hundred ms (docs/power.md, Wi-Fi). */
const DIRECT_WAIT_MS = 2000;
const DIRECT_POLL_MS = 50;

type Done = (error?: Error) => void;

export class Station {
  #settings: StationSettings;
  #cache: NetCache;
  #log: (message: string) => void;
  #wifi: WiFi | undefined;
  #waiting: Done[] = [];
  #deadline: Timer | undefined;
  #connected = false;
  #started = 0;
  #attempts = 0;
  /** Set while a connection made by wifiDirect is under way: how it ends is counted. */
  #direct: { started: number; poll: Timer | undefined } | undefined;

  constructor(settings: StationSettings, cache: NetCache, log: (message: string) => void) {
    this.#settings = settings;
    this.#cache = cache;
    this.#log = log;
  }

  /** True when the RTC holds no real time yet (after a power-on, before the first SNTP answer). */
  static clockUnset(): boolean {
    return Date.now() / 1000 < CLOCK_VALID_AFTER_S;
  }

  up(timeoutMs: number, callback: Done): void {
    if (this.#connected) return void Timer.set(() => callback(), 0);
    this.#waiting.push(callback);
    if (this.#waiting.length > 1) return;
    const { ssid, staticAddress } = this.#settings;
    if (!ssid) return this.#settle(new Error("no Wi-Fi network configured (build with ssid=… password=…)"));
    this.#started = Time.ticks;
    this.#deadline = Timer.set(() => {
      this.#deadline = undefined;
      this.#settle(new Error(`no Wi-Fi connection to "${ssid}" within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    try {
      // After a down() in this wake (always-connected mode) the driver is stopped; before the first
      // connection this does nothing and the Wi-Fi object starts it.
      radio(true);
      const wifi = new WiFi({ onChanged: () => this.#changed() });
      this.#wifi = wifi;
      if (staticAddress) {
        wifi.configure({ static: { address: staticAddress.address, mask: staticAddress.mask, gateway: staticAddress.gateway } });
        if (!setDNS(staticAddress.dns)) this.#log(`Wi-Fi: cannot use DNS server ${staticAddress.dns}`);
      }
      this.#attempts = 0;
      const memory = this.#cache.read(ssid);
      if (!this.#connectDirect(memory)) this.#connect(memory.channel);
    } catch (e) {
      this.#settle(new Error(`Wi-Fi: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  /** True between up() and down(): the radio is, or is being, used. */
  get active(): boolean {
    return this.#wifi !== undefined;
  }

  #connect(channel: number): void {
    const { ssid, password } = this.#settings;
    this.#attempts++;
    this.#wifi?.connect({ SSID: ssid, ...(password ? { password } : {}), ...(channel ? { channel } : {}) });
  }

  /** Straight to the remembered access point; false when it is not known or the driver refused. */
  #connectDirect(memory: NetMemory): boolean {
    const bssid = parseMAC(memory.bssid);
    if (!memory.channel || !bssid) return false;
    const { ssid, password } = this.#settings;
    if (!wifiDirect(ssid, password, memory.channel, bssid.buffer as ArrayBuffer)) return false;
    this.#attempts++;
    this.#direct = { started: Time.ticks, poll: Timer.repeat(() => this.#watchDirect(), DIRECT_POLL_MS) };
    return true;
  }

  /** The SDK's object hears nothing of a direct attempt that fails (it never began one): polled here. */
  #watchDirect(): void {
    const direct = this.#direct;
    if (!direct) return;
    const state = wifiDirectState();
    if (state === DIRECT_TRYING && Time.delta(direct.started) < DIRECT_WAIT_MS) return;
    this.#stopPolling();
    if (state !== DIRECT_FAILED && state !== DIRECT_TRYING) return; // associated: the SDK's object reports the rest
    wifiDirectAbandon();
    // Abandoning an attempt under way disconnects, and that event may reach the SDK's object after
    // its connect() has begun, where it reads as a refusal: the scan keeps both its tries then.
    if (state === DIRECT_TRYING) this.#attempts = 0;
    this.#fellBack(state === DIRECT_FAILED ? "turned away" : `not associated within ${DIRECT_WAIT_MS} ms`);
    try {
      this.#connect(0);
    } catch (e) {
      this.#settle(new Error(`Wi-Fi: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  #stopPolling(): void {
    if (this.#direct?.poll !== undefined) Timer.clear(this.#direct.poll);
    if (this.#direct) this.#direct.poll = undefined;
  }

  /** A direct attempt failed: a full scan follows. */
  #fellBack(why: string): void {
    this.#stopPolling();
    this.#direct = undefined;
    this.#cache.count("fallbacks");
    this.#log(`Wi-Fi: the remembered access point ${why}; scanning every channel`);
  }

  /** Radio off: the connection, the Wi-Fi object and the driver. */
  down(): void {
    this.#settle(new Error("Wi-Fi turned off"));
    this.#connected = false;
    const wifi = this.#wifi;
    this.#wifi = undefined;
    if (wifi) {
      try {
        wifi.disconnect();
        wifi.close();
      } catch {
        // Already disconnected by the access point.
      }
    }
    radio(false);
  }

  #changed(): void {
    const wifi = this.#wifi;
    if (!wifi || this.#waiting.length === 0) return;
    const connection = wifi.connection;
    const { ssid } = this.#settings;
    if (connection >= 500) {
      this.#connected = true;
      if (this.#direct) {
        this.#stopPolling();
        this.#direct = undefined;
        this.#cache.count("direct");
      }
      const before = this.#cache.read(ssid);
      const channel = wifi.channel ?? 0;
      const bssid = wifi.BSSID ?? "";
      if (before.bssid && bssid && before.bssid !== bssid) this.#log(`Wi-Fi: "${ssid}" is now served by ${bssid} (was ${before.bssid})`);
      this.#cache.write(ssid, { channel, bssid, syncedAt: before.syncedAt });
      this.#log(`Wi-Fi up in ${Time.delta(this.#started)} ms: ${wifi.address ?? "?"} on channel ${channel}`);
      this.#syncClock(before.syncedAt, () => this.#settle());
    } else if (connection <= 200) {
      // Turned away. Once more without the channel hint (the access point may have moved, or the
      // handshake timed out); after that, waiting longer only costs battery.
      if (this.#direct) this.#fellBack("dropped the connection");
      this.#cache.write(ssid, { channel: 0, bssid: "", syncedAt: this.#cache.read(ssid).syncedAt });
      if (this.#attempts < MAX_ATTEMPTS) {
        try {
          return this.#connect(0);
        } catch {
          // Reported below, as the failure it is.
        }
      }
      this.#settle(new Error(`Wi-Fi: "${ssid}" did not accept the connection after ${this.#attempts} attempts (password, or out of range)`));
    }
  }

  /** SNTP when the clock is unset or its last sync is a day old; bounded, and never an error. */
  #syncClock(syncedAt: number, done: () => void): void {
    const host = this.#settings.sntp;
    const now = Math.floor(Date.now() / 1000);
    if (!host || (!Station.clockUnset() && now - syncedAt < SYNC_EVERY_S)) return done();
    let sntp: SNTP | undefined;
    let finished = false;
    // The SNTP object closes itself when it answers or gives up; only a timeout must close it.
    const finish = (message: string, close = false) => {
      if (finished) return;
      finished = true;
      Timer.clear(timeout);
      if (close) sntp?.close();
      this.#log(message);
      done();
    };
    const timeout = Timer.set(() => finish(`SNTP: no answer from ${host} within ${SNTP_TIMEOUT_MS} ms`, true), SNTP_TIMEOUT_MS);
    try {
      sntp = new SNTP({ host }, (message, value) => {
        if (message === SNTP.time && value !== undefined) {
          Time.set(value);
          const ssid = this.#settings.ssid;
          this.#cache.write(ssid, { ...this.#cache.read(ssid), syncedAt: value });
          finish(`clock set from ${host}`);
        } else if (message === SNTP.error) {
          finish(`SNTP: ${host} did not answer`);
        }
      });
    } catch (e) {
      finish(`SNTP: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  #settle(error?: Error): void {
    this.#stopPolling();
    this.#direct = undefined;
    if (this.#deadline !== undefined) {
      Timer.clear(this.#deadline);
      this.#deadline = undefined;
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const callback of waiting) callback(error);
  }
}
