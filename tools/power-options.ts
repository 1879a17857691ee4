// The boot and Wi-Fi options of a deep-sleep wake (issue 19), for `npm run power`: each with the
// boot or Wi-Fi time that published measurements give with it off and on, and what that is worth
// in battery days for the config. None of these figures was measured on a torpor node: they are
// other firmware's measurements on ESP32 boards, and XS's own start comes on top of any boot figure.

import { project, type Assumptions, type Measured, type Schedule } from "../src/power/projection";

/** A wake option: the figure it moves, off and on, and where both come from. */
export interface WakeOption {
  name: string;
  /** What torpor's ESP32 build does about it. */
  torpor: string;
  key: "bootMs" | "wifiMs";
  off: number;
  on: number;
  source: string;
}

const GLENN20 = "glenn20/upy-esp32-experiments (MicroPython, ESP32)";
const VONEICKEN = "voneicken.com, lp-wifi-esp32 (ESP-IDF, ESP32)";

export const wakeOptions: readonly WakeOption[] = [
  {
    name: "fast boot: image validation skipped on a deep-sleep wake, boot logs off",
    torpor: "on: hosts/esp32/sdkconfig (CONFIG_BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP, *_LOG_LEVEL_NONE)",
    key: "bootMs",
    off: 635,
    on: 48.8,
    source: `${GLENN20}: deep-sleep wake to the app, 635 ms unoptimised, 48.8 ms optimised`,
  },
  {
    name: "direct connect: channel and BSSID given, no scan of every channel (static IP)",
    torpor: "on once a connection has been made: the host's RTC memory keeps them (native wifiDirect)",
    key: "wifiMs",
    off: 1000,
    on: 200,
    source: `${VONEICKEN}: Wi-Fi and TCP up in about 200 ms with a static IP, channel and BSSID given; off: this model's assumed 1 s`,
  },
  {
    name: "static IP instead of DHCP",
    torpor: "with the staticIP config key; DHCP otherwise (CONFIG_LWIP_DHCP_RESTORE_LAST_IP asks for the last address first)",
    key: "wifiMs",
    off: 1052,
    on: 200,
    source: `${GLENN20}: boot and MQTT in 774 ms with a static IP, 1,626 ms with DHCP, so DHCP adds 852 ms to ${VONEICKEN}'s 200 ms`,
  },
];

export interface OptionEffect {
  option: WakeOption;
  offDays: number;
  onDays: number;
}

/** Battery days for the config with each option off and on, every other figure as given. */
export function optionEffects(config: Schedule, m: Measured, a: Assumptions): OptionEffect[] {
  return wakeOptions.map((option) => ({
    option,
    offDays: project(config, m, { ...a, [option.key]: option.off }).batteryDays,
    onDays: project(config, m, { ...a, [option.key]: option.on }).batteryDays,
  }));
}

/** The report's section: one line per option, then its source. */
export function optionLines(effects: readonly OptionEffect[], days: (d: number) => string): string[] {
  const lines = ["", "boot and Wi-Fi options (this config, one at a time; published figures, not measured on torpor):"];
  for (const { option, offDays, onDays } of effects) {
    lines.push(`  ${option.name}: ${option.key} ${option.off} → ${option.on} ms, ${days(offDays)} → ${days(onDays)}`);
    lines.push(`    torpor: ${option.torpor}`, `    source: ${option.source}`);
  }
  return lines;
}
