// The ESP32 host (mcconfig -p esp32 or esp32/<board>): ECMA-419 IO from the SDK with the I2C pins
// from the config, the board's provider, or the ESP32 DevKit's 21/22; Wi-Fi brought up by the wake
// with a deadline (station.ts); TCP over lwip; retained memory, wake cause, deep sleep and pin wake
// from torpor's native module (native/), because the SDK has none of them for ESP32; firmware
// updates staged in the next OTA partition, with ESP-IDF's app rollback (`otaUpdate`).

import mcConfig from "mc/config";
import Analog from "embedded:io/analog";
import Digital from "embedded:io/digital";
import I2C from "embedded:io/i2c";
import device from "embedded:provider/builtin";
import Preference from "preference";
import Timer from "timer";
import { ConfigError } from "../../src/config-error";
import { parseConfig, type Config } from "../../src/config";
import type { BusOptions, Flash, Host } from "../../src/host";
import { parseContactOptions } from "../../src/sensors/contact";
import type { CheckHostConfig, HostOptions, MakeHost } from "../../types/host";
import { romCrc32 } from "./native/crc";
import { otaSlot, restart } from "./native/ota-stage";
import * as power from "./native/power";
import { NET_CACHE_SIZE, NetCache } from "./net-cache";
import { otaUpdate, type OtaUpdate } from "./ota-update";
import { acceptedKeys } from "./sdk-config";
import { firmwareVersion } from "../moddable/firmware-version";
import { clock, crypto, log, resolve, timers } from "../moddable/runtime";
import { SDKTCP } from "../moddable/sdk-tcp";
import { sdkTLS } from "../moddable/sdk-tls";
import { TLS_CACHE_SIZE } from "../moddable/tls-cache";
import { sha256Digest, updateCrypto } from "../moddable/update-crypto";
import { Station, type StaticAddress } from "./station";

/**
 * The keys of mc/config that are not torpor's but belong here: the SDK's and this board target's,
 * whatever the target defines (sdk-config.ts says how they are told apart from a misspelt key), and
 * `staticIP`, read here. mcconfig's `format` never reaches parseConfig (main.ts drops it).
 */
export const configKeys: readonly string[] = Object.freeze(acceptedKeys(mcConfig));

export const checkHostConfig: CheckHostConfig = (raw) => {
  staticAddress(raw.staticIP);
};

/** Waiting for the last bytes (the DISCONNECT) to leave before the radio goes off: lwip sends
 *  them after write() returns, and the driver closes the socket only once its last write is made. */
const LINGER_MS = 50;

const makeHost: MakeHost = ({ raw, config }: HostOptions): Host => {
  const parsed: Config = config ?? parseConfig({});
  // The host's RTC bytes: the network cache, then the TLS session (native/rtc.h sizes the area).
  const hostArea = new Uint8Array(power.hostArea());
  const netCache = new NetCache(hostArea.subarray(0, NET_CACHE_SIZE));
  const station = new Station(
    {
      ssid: parsed.ssid,
      password: parsed.password,
      staticAddress: config ? staticAddress(raw.staticIP) : undefined,
      sntp: typeof raw.sntp === "string" ? raw.sntp : "",
    },
    netCache,
    log,
  );
  const wakeCause = power.wakeCause();
  if (wakeCause === "reset") log(`reset (${power.resetReason()})`);
  if (wakeCause === "pin") log(`woken by ${describePins(power.wakePins()) || "a wake pin"}`);
  let cancelRadioOff = () => {};
  const ota = updates(parsed);

  return {
    name: "esp32",
    id: `esp32-${power.macAddress()}`,
    io: { I2C, Analog, Digital },
    i2c: parsed.i2c ?? boardBus(),
    network: {
      up(timeoutMs, callback) {
        cancelRadioOff();
        station.up(timeoutMs, callback);
      },
      resolve,
      down() {
        if (!station.active) return;
        cancelRadioOff();
        cancelRadioOff = afterSending(() => station.down());
      },
      TCP: SDKTCP,
      // RTC memory, never flash: see tls-cache for what the session is worth to whoever reads it.
      TLS: sdkTLS({ memory: { bytes: hostArea.subarray(NET_CACHE_SIZE, NET_CACHE_SIZE + TLS_CACHE_SIZE), commit: () => {} }, now: () => Date.now() }),
      // Connections straight to the remembered access point, and full scans after one failed.
      counters: () => {
        const { direct, fallbacks } = netCache.counters();
        return { wifiDirect: direct, wifiScans: fallbacks };
      },
    },
    // After a power loss the RTC counts from 1970 until SNTP sets it, which the station does while
    // bringing the network up; the firmware retimes what it sampled meanwhile (src/power/time-sync).
    clock: { ...clock(), synced: () => !Station.clockUnset() },
    timer: timers(),
    // RTC memory: a write is already where it survives deep sleep, so commit has nothing to do.
    retained: { bytes: new Uint8Array(power.retainedRegion()), commit: () => {} },
    flash: preferences(),
    crypto,
    wakeCause,
    log,
    sleep(ms) {
      cancelRadioOff();
      const sleep = () => {
        station.down();
        if (ota?.restart) return restart();
        armPinWake(parsed);
        // Whole microseconds, at least one: a zero would arm no timer at all.
        power.deepSleep(Math.max(1, Math.round(ms)) * 1000);
      };
      if (station.active) afterSending(sleep);
      else sleep();
    },
    nap: (ms, callback) => void Timer.set(() => callback(), Math.max(0, ms)),
    crc32: romCrc32,
    ...(ota ? { update: ota.update } : {}),
  };
};

export default makeHost;

/** The flash tier in NVS, through the SDK's Preference module: a blob per key, written whole or not
 *  at all by NVS itself. */
function preferences(domain = "torpor"): Flash {
  return {
    read(key) {
      const value = Preference.get(domain, key);
      return value instanceof ArrayBuffer ? value : undefined;
    },
    write: (key, bytes) => Preference.set(domain, key, bytes),
    delete: (key) => Preference.delete(domain, key),
  };
}

/**
 * Updates into the next OTA partition, the firmware's version being package.json's (firmwareVersion,
 * read from package.json itself at build time): ESP-IDF's own app version (esp_app_desc) is
 * whatever its build derives (Moddable's project sets none), not the version an offer names.
 * Undefined when the partition table has no two OTA slots (docs/updates.md says how to get them).
 */
function updates(config: Config): OtaUpdate | undefined {
  const slot = otaSlot();
  if (!slot) {
    if (config.updateKey !== "") log("update: no OTA partition to stage in (build with two OTA slots): updates off");
    return undefined;
  }
  return otaUpdate({
    slot,
    // Its own NVS namespace (15 characters at most), apart from the firmware's flash tier.
    flash: preferences("torpor-update"),
    crypto: updateCrypto,
    digest: sha256Digest,
    version: firmwareVersion,
    deepSleepWake: power.resetReason() === "deep-sleep",
    tries: config.updateTries,
    log,
  });
}

/** Calls `then` LINGER_MS later; returns what cancels it. */
function afterSending(then: () => void): () => void {
  let timer: Timer | undefined = Timer.set(() => {
    timer = undefined;
    then();
  }, LINGER_MS);
  return () => {
    if (timer !== undefined) Timer.clear(timer);
    timer = undefined;
  };
}

/** I2C pins: the board's provider has them for a board target (esp32/<board>); the plain esp32
 *  provider has none, and the ESP32 DevKit convention (SDA 21, SCL 22) stands in. */
function boardBus(): BusOptions {
  const i2c: unknown = Reflect.get(device, "I2C");
  const board = isRecord(i2c) ? i2c.default : undefined;
  if (isRecord(board) && typeof board.data === "number" && typeof board.clock === "number") {
    return {
      data: board.data,
      clock: board.clock,
      hz: typeof board.hz === "number" ? board.hz : 100_000,
      ...(typeof board.port === "number" ? { port: board.port } : {}),
    };
  }
  return { data: 21, clock: 22, hz: 100_000 };
}

/**
 * Contacts marked `wake: true` wake the node when they change: each pin is armed for the level
 * opposite to the one it reads now (a door left open must not wake the node again at once), with
 * the pull its contact uses.
 */
function armPinWake(config: Config): void {
  let pins = 0;
  let high = 0;
  let pullUp = 0;
  let pullDown = 0;
  for (const sensor of config.sensors) {
    if (sensor.type !== "contact" || sensor.pin === undefined) continue;
    const options = parseContactOptions(sensor.options);
    if (!options.wake) continue;
    const pull = options.pull ?? "up";
    const bit = 2 ** sensor.pin;
    try {
      const input = new Digital({ pin: sensor.pin, mode: pull === "up" ? Digital.InputPullUp : pull === "down" ? Digital.InputPullDown : Digital.Input });
      const level = input.read();
      input.close();
      pins += bit;
      if (level === 0) high += bit;
      if (pull === "up") pullUp += bit;
      if (pull === "down") pullDown += bit;
    } catch (e) {
      log(`pin wake: GPIO ${sensor.pin} unreadable (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (pins === 0) return;
  const error = power.armWake(pins, high, pullUp, pullDown);
  if (error !== undefined) log(`pin wake off: ${error}`);
}

/** `staticIP`: {"address", "mask", "gateway", "dns"} (JSON text from the command line), or absent. */
function staticAddress(value: unknown): StaticAddress | undefined {
  if (value === undefined || value === "") return undefined;
  let v: unknown = value;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      throw new ConfigError("staticIP", `expected JSON like {"address":"192.168.1.50","mask":"255.255.255.0","gateway":"192.168.1.1","dns":"192.168.1.1"}`);
    }
  }
  if (!isRecord(v)) throw new ConfigError("staticIP", "expected an object with address, mask, gateway and dns");
  const field = (key: "address" | "mask" | "gateway" | "dns"): string => {
    const s = v[key];
    if (typeof s !== "string" || !/^\d{1,3}(\.\d{1,3}){3}$/.test(s) || s.split(".").some((n) => Number(n) > 255)) {
      throw new ConfigError(`staticIP.${key}`, `expected an IPv4 address like 192.168.1.1, got ${JSON.stringify(s) ?? "nothing"}`);
    }
    return s;
  };
  return { address: field("address"), mask: field("mask"), gateway: field("gateway"), dns: field("dns") };
}

/** "GPIO 33, GPIO 34" from a wake-pin mask (ext0 reports none: it has one pin, the one armed). */
function describePins(mask: number): string {
  const pins: string[] = [];
  for (let pin = 0; pin < 49 && mask > 0; pin++) {
    if (Math.floor(mask / 2 ** pin) % 2 === 1) pins.push(`GPIO ${pin}`);
  }
  return pins.join(", ");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
