// What mqtts costs a battery, for `npm run power`: a connecting wake over TLS keeps the radio up for
// the handshake's extra round trips and for the client's handshake compute (the radio waits,
// listening, while the CPU works), and sends and receives the handshake's bytes. Each figure is
// named with its source; the result is the config's battery life plain, over mqtts with a full
// handshake at every connecting wake (ECDHE, and the DHE a broker's default order used to pick for
// Moddable's client), and over mqtts resuming the session kept across deep sleep.

import { project, type Assumptions, type Measured, type Projection, type Schedule } from "../src/power/projection";

/** A figure and where it comes from. */
export interface Figure {
  value: number;
  unit: string;
  source: string;
}

/** The ESP32 does a desktop's XS work this many times slower. */
export const esp32Factor: Figure = {
  value: 12,
  unit: "×",
  source:
    "derived, not measured on a board: Moddable's full DHE handshake takes 170 ms of client work in mcsim on a desktop (issue 22); the published full-handshake times on a 240 MHz ESP32 are 1.7–2.6 s (espressif/esp-idf#18919, haumacher/phoneblock#322) and Moddable's MQTT over TLS blocks JS for about 2 s (Moddable-OpenSource/moddable#389): 2 s / 170 ms ≈ 12",
};

export const rttMs: Figure = { value: 100, unit: "ms", source: "assumed: a slow Wi-Fi link to a remote broker, 50 ms each way, as bench:mqtt and bench:tls delay it" };

/** One way of connecting: over plain MQTT, what it adds. */
export interface TlsCost {
  name: string;
  /** Round trips after TCP connect beyond plain MQTT's one. */
  extraRoundTrips: number;
  extraBytesUp: number;
  extraBytesDown: number;
  /** The client's handshake compute on the desktop (mcsim), ms. */
  desktopMs: number;
}

/** Moddable's TLS in mcsim against mosquitto 2.0.11 (RSA-2048 CA, two-certificate chain), MQTT 3.1.1,
 *  medians of many wakes: issue 22's table. Full: 3 round trips after TCP, resumed 2, plain 1. */
export const tlsCosts: { source: string; plain: { bytesUp: number; bytesDown: number }; ways: readonly TlsCost[] } = {
  source: "Moddable's TLS in mcsim against mosquitto 2.0.11, RSA-2048 CA (issue 22's measurements; bench:tls measures the Node host's)",
  plain: { bytesUp: 351, bytesDown: 53 },
  ways: [
    { name: "mqtts, full handshake, ECDHE", extraRoundTrips: 2, extraBytesUp: 647 - 351, extraBytesDown: 2300 - 53, desktopMs: 15 },
    { name: "mqtts, full handshake, DHE (the SDK's suites under mosquitto's default order)", extraRoundTrips: 2, extraBytesUp: 944 - 351, extraBytesDown: 2917 - 53, desktopMs: 170 },
    { name: "mqtts, resumed session", extraRoundTrips: 1, extraBytesUp: 709 - 351, extraBytesDown: 478 - 53, desktopMs: 1 },
  ],
};

/** A connecting wake's figures with `cost` added: the radio stays up through the extra round trips
 *  and the handshake compute on the ESP32. */
export function withTls(m: Measured, cost: TlsCost): Measured {
  return {
    ...m,
    radioMs: m.radioMs + cost.extraRoundTrips * rttMs.value + cost.desktopMs * esp32Factor.value,
    bytesUp: m.bytesUp + cost.extraBytesUp,
    bytesDown: m.bytesDown + cost.extraBytesDown,
  };
}

/** The config's projection plain and over each way of mqtts. */
export function tlsProjections(config: Schedule, m: Measured, a: Assumptions): { name: string; handshakeMs: number; projection: Projection }[] {
  return [
    { name: "plain mqtt", handshakeMs: 0, projection: project(config, m, a) },
    ...tlsCosts.ways.map((cost) => ({ name: cost.name, handshakeMs: cost.desktopMs * esp32Factor.value, projection: project(config, withTls(m, cost), a) })),
  ];
}

/** The report's lines for them. */
export function tlsReport(config: Schedule, m: Measured, a: Assumptions, days: (d: number) => string): string[] {
  return [
    "mqtts (per connecting wake, over plain: handshake compute on the ESP32, extra round trips, extra bytes up/down):",
    `  from ${tlsCosts.source}; ESP32 factor ${esp32Factor.value}${esp32Factor.unit}: ${esp32Factor.source}; round trip ${rttMs.value} ms: ${rttMs.source}`,
    ...tlsProjections(config, m, a).map(({ name, handshakeMs, projection }) => {
      const cost = tlsCosts.ways.find((w) => w.name === name);
      const extra = cost ? ` (${handshakeMs.toFixed(0)} ms compute, +${cost.extraRoundTrips} RTT, +${cost.extraBytesUp} B / +${cost.extraBytesDown} B)` : "";
      return `  ${name}${extra}: ${projection.averageUa.toFixed(0)} µA, ${days(projection.batteryDays)}`;
    }),
  ];
}
