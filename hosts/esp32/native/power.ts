// JavaScript face of torpor's ESP32 power layer (power.c, rtc.c). The SDK has none of this for
// ESP32: its System.deepSleep does nothing there, and it has no RTC memory API. Every function is a
// native call; none may run while the module is preloaded (xsl refuses to link one), so the host
// calls them only once a wake is running.

import type { WakeCause } from "../../../src/host";

/** The retained-state region in RTC slow memory, as a host buffer: writes land in RTC memory. */
export function retainedRegion(this: unknown): HostBuffer {
  return native("xs_torpor_retained").call(this);
}

/** The host's own 192 bytes of RTC memory after the state region (net-cache, then tls-cache). */
export function hostArea(this: unknown): HostBuffer {
  return native("xs_torpor_host_area").call(this);
}

export function wakeCause(this: unknown): WakeCause {
  return native("xs_torpor_wake_cause").call(this);
}

/** "power-on", "deep-sleep", "software", "panic", "watchdog", "brownout", …: for the log. */
export function resetReason(this: unknown): string {
  return native("xs_torpor_reset_reason").call(this);
}

/** GPIOs that woke the chip (ext1 or GPIO wake) as a mask; 0 for any other cause. */
export function wakePins(this: unknown): number {
  return native("xs_torpor_wake_pins").call(this);
}

/**
 * Arms a pin wake: each GPIO in `pins` (a mask: 2 ** gpio) wakes the chip at the level its bit in
 * `high` gives, keeping the pull its bit in `pullUp` / `pullDown` asks for. Returns why the chip
 * cannot, or undefined when armed.
 */
export function armWake(this: unknown, pins: number, high: number, pullUp: number, pullDown: number): string | undefined {
  return native("xs_torpor_arm_wake").call(this, pins, high, pullUp, pullDown);
}

/** Radio off, timer wake after `microseconds` (0: pins only), deep sleep. Does not return. */
export function deepSleep(this: unknown, microseconds: number): void {
  native("xs_torpor_deep_sleep").call(this, microseconds);
}

/** Starts or stops the Wi-Fi driver (the radio); true when it is in that state. */
export function radio(this: unknown, on: boolean): boolean {
  return native("xs_torpor_radio").call(this, on);
}

/** The station MAC address, 12 hex digits, readable before Wi-Fi starts. */
export function macAddress(this: unknown): string {
  return native("xs_torpor_mac").call(this);
}

/** The DNS server for a static IP configuration. */
export function setDNS(this: unknown, address: string): boolean {
  return native("xs_torpor_set_dns").call(this, address);
}

/**
 * Connects to `ssid` on `channel` at the access point `bssid` (6 bytes) without a scan of every
 * channel: the SDK's Wi-Fi object, already constructed, reports the connection. True if started.
 */
export function wifiDirect(this: unknown, ssid: string, password: string, channel: number, bssid: ArrayBuffer): boolean {
  return native("xs_torpor_wifi_direct").call(this, ssid, password, channel, bssid);
}

/** Where the last wifiDirect got to: DIRECT_* (native/wifi-direct.h). */
export function wifiDirectState(this: unknown): number {
  return native("xs_torpor_wifi_direct_state").call(this);
}

export const DIRECT_TRYING = 1;
export const DIRECT_FAILED = 2;

/** Gives up a wifiDirect still under way, before a full scan. */
export function wifiDirectAbandon(this: unknown): void {
  native("xs_torpor_wifi_direct_abandon").call(this);
}
