// The first 64 bytes of the ESP32 host's RTC memory, after the firmware's state region (native/rtc.h): what
// the last Wi-Fi connection learnt, for the next one, and when the clock was last set from SNTP.
// ESP-IDF never initialises this memory, so it is trusted only with its magic and CRC.
//
//    0 u32 magic "TNC1"          4 u32 FNV-1a of the SSID     8 u8 channel (0: unknown)
//    9 6 × u8 BSSID             15 u8 flags (bit 0: BSSID known)
//   16 u32 last SNTP sync, Unix seconds (0: never)
//   20 u32 connections made straight to the remembered access point (no scan)
//   24 u32 full scans after such a connection failed                   28..59 spare
//   60 u32 CRC-32 of bytes 0..59

import { crc32 } from "../../src/encoding/crc32";

const MAGIC = 0x31434e54; // "TNC1" read little-endian
export const NET_CACHE_SIZE = 64;

export interface NetMemory {
  /** The access point's channel at the last connection to this SSID; 0 when unknown. */
  channel: number;
  /** Its MAC address, "aa:bb:cc:dd:ee:ff"; "" when unknown. */
  bssid: string;
  /** Unix seconds of the last SNTP sync, whatever the network; 0 when never. */
  syncedAt: number;
}

/** How the connections since the last power-on came up (the status's `network`). */
export interface NetCounters {
  direct: number;
  fallbacks: number;
}

export class NetCache {
  #bytes: Uint8Array;
  #view: DataView;

  constructor(bytes: Uint8Array) {
    if (bytes.length < NET_CACHE_SIZE) throw new RangeError(`network cache needs ${NET_CACHE_SIZE} bytes, got ${bytes.length}`);
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, NET_CACHE_SIZE);
  }

  #valid(): boolean {
    const v = this.#view;
    return v.getUint32(0, true) === MAGIC && v.getUint32(60, true) === crc32(this.#bytes, 0, 60);
  }

  /** What is known for `ssid`; channel and BSSID only if they were learnt on that SSID. */
  read(ssid: string): NetMemory {
    const v = this.#view;
    if (!this.#valid()) return { channel: 0, bssid: "", syncedAt: 0 };
    const syncedAt = v.getUint32(16, true);
    if (v.getUint32(4, true) !== fnv1a(ssid)) return { channel: 0, bssid: "", syncedAt };
    const channel = v.getUint8(8);
    const bssid = v.getUint8(15) & 1 ? formatMAC(this.#bytes.subarray(9, 15)) : "";
    return { channel: channel >= 1 && channel <= 14 ? channel : 0, bssid, syncedAt };
  }

  /** Since the area was last cleared (a power-on). */
  counters(): NetCounters {
    if (!this.#valid()) return { direct: 0, fallbacks: 0 };
    return { direct: this.#view.getUint32(20, true), fallbacks: this.#view.getUint32(24, true) };
  }

  /** One more connection of that kind. */
  count(kind: keyof NetCounters): void {
    // An area never written (or corrupt) starts as one that knows no network.
    if (!this.#valid()) this.write("", { channel: 0, bssid: "", syncedAt: 0 });
    const offset = kind === "direct" ? 20 : 24;
    this.#view.setUint32(offset, (this.#view.getUint32(offset, true) + 1) >>> 0, true);
    this.#view.setUint32(60, crc32(this.#bytes, 0, 60), true);
  }

  /** What was learnt on `ssid`; the counters are kept. */
  write(ssid: string, memory: NetMemory): void {
    const v = this.#view;
    const counters = this.counters();
    this.#bytes.fill(0, 0, NET_CACHE_SIZE);
    v.setUint32(0, MAGIC, true);
    v.setUint32(4, fnv1a(ssid), true);
    v.setUint8(8, memory.channel);
    const mac = parseMAC(memory.bssid);
    if (mac) {
      this.#bytes.set(mac, 9);
      v.setUint8(15, 1);
    }
    v.setUint32(16, Math.max(0, Math.floor(memory.syncedAt)) >>> 0, true);
    v.setUint32(20, counters.direct >>> 0, true);
    v.setUint32(24, counters.fallbacks >>> 0, true);
    v.setUint32(60, crc32(this.#bytes, 0, 60), true);
  }
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function formatMAC(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** "aa:bb:cc:dd:ee:ff" as its 6 bytes; undefined when it is not one. */
export function parseMAC(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) return undefined;
  return Uint8Array.from(s.split(":"), (h) => parseInt(h, 16));
}
