// Wi-Fi for the ESP32 host, brought up by the wake itself instead of the SDK's setup/network (which
// waits for an access point forever, before main even runs): bounded by a deadline, failing early
// when the access point turns the node away, with the last channel as a hint, an optional static
// address (no DHCP exchange), and the clock set from SNTP when it is unset or a day old.
//
// The SDK's ECMA-419 Wi-Fi (embedded:network/interface/wifi, modules/io/wifi/esp32) takes a channel
// but no BSSID in connect(), and scans all channels either way (WIFI_ALL_CHANNEL_SCAN), so the
// cached channel orders the scan rather than skipping it; the BSSID is cached and a change of
// access point is logged, ready for an SDK that accepts it.

import WiFi from "embedded:network/interface/wifi";
import SNTP from "sntp";
import Time from "time";
import Timer from "timer";
import { radio, setDNS } from "./native/power";
import type { NetCache } from "./net-cache";

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
      this.#connect(this.#cache.read(ssid).channel);
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
    if (this.#deadline !== undefined) {
      Timer.clear(this.#deadline);
      this.#deadline = undefined;
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const callback of waiting) callback(error);
  }
}
