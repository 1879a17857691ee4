// The monitor a user watches telemetry with: decodes, drops the duplicates QoS 1 brings, and says
// when wakes were missed.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatEvent, TelemetryMonitor, type MonitorEvent } from "../tools/monitor/events";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const batch = (bt: number, ...values: number[]) =>
  encode(values.map((v, i) => ({ ...(i === 0 ? { bn: "urn:dev:torpor:n1:", bt } : {}), n: "sht3x/temperature", u: "Cel", v, ...(i ? { t: 60 * i } : {}) })));
const readings = (events: MonitorEvent[]) => events.filter((e) => e.kind === "reading").map((e) => (e.kind === "reading" ? e.reading.value : 0));

describe("telemetry monitor", () => {
  it("decodes a batch into readings with node, absolute time and unit", () => {
    const events = new TelemetryMonitor().handle("torpor/n1/telemetry", batch(1_764_000_000, 21.5, 21.6));
    assert.deepEqual(events, [
      { kind: "reading", reading: { node: "n1", name: "urn:dev:torpor:n1:sht3x/temperature", time: 1_764_000_000, unit: "Cel", value: 21.5 } },
      { kind: "reading", reading: { node: "n1", name: "urn:dev:torpor:n1:sht3x/temperature", time: 1_764_000_060, unit: "Cel", value: 21.6 } },
    ]);
    assert.match(formatEvent(events[0]!), /^n1 +2025-11-24 16:00:00Z +sht3x\/temperature +21\.5 Cel$/);
  });

  it("drops a re-sent batch's duplicates and says how many", () => {
    const monitor = new TelemetryMonitor();
    monitor.handle("torpor/n1/telemetry", batch(1_764_000_000, 21.5, 21.6));
    const events = monitor.handle("torpor/n1/telemetry", batch(1_764_000_000, 21.5, 21.6, 21.7));
    assert.deepEqual(events[0], { kind: "duplicate", node: "n1", count: 2 });
    assert.deepEqual(readings(events), [21.7]);
  });

  it("flags missed wakes from a gap in the sampling grid", () => {
    const monitor = new TelemetryMonitor();
    monitor.handle("torpor/n1/telemetry", batch(1_764_000_000, 21.5, 21.6, 21.7));
    const events = monitor.handle("torpor/n1/telemetry", batch(1_764_000_300, 21.9));
    assert.deepEqual(events[0], { kind: "gap", node: "n1", from: 1_764_000_120, to: 1_764_000_300, missed: 2 });
  });

  it("does not take a power-on wake off the grid for the interval", () => {
    const monitor = new TelemetryMonitor();
    // Power-on at :47, then the 60 s grid.
    monitor.handle("torpor/n1/telemetry", encode([{ bn: "urn:dev:torpor:n1:", bt: 1_764_000_047, n: "t", v: 1 }]));
    const events = monitor.handle("torpor/n1/telemetry", batch(1_764_000_060, 1, 2, 3, 4));
    assert.ok(events.every((e) => e.kind === "reading"), JSON.stringify(events));
  });

  it("reports a payload it cannot read instead of failing, and keeps going", () => {
    const monitor = new TelemetryMonitor();
    const [bad] = monitor.handle("torpor/n1/telemetry", new TextEncoder().encode("not json"));
    assert.equal(bad!.kind, "error");
    assert.deepEqual(readings(monitor.handle("torpor/n1/telemetry", batch(1_764_000_000, 20))), [20]);
  });

  it("passes status messages through and ignores other prefixes", () => {
    const monitor = new TelemetryMonitor("torpor");
    assert.deepEqual(monitor.handle("torpor/n1/status", encode({ state: "asleep" })), [{ kind: "status", node: "n1", status: { state: "asleep" } }]);
    assert.deepEqual(monitor.handle("other/n1/telemetry", batch(1_764_000_000, 20)), []);
  });
});
