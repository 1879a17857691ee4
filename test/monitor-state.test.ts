// The monitor's live table and exports, driven by recorded messages (what a node and its Will
// publish, with the times they arrived), no terminal and no broker: a node's state as it wakes,
// sleeps, misses its publishes and dies; its last values, battery, counters; CSV; every format.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../src/config";
import { channelsOf } from "../src/sensors/registry";
import { encodePayload } from "../src/telemetry/payload";
import { TelemetryMonitor, type Reading } from "../tools/monitor/events";
import { FleetState, health, HISTORY, MAX_NODE_CHANNELS, nextExpected } from "../tools/monitor/state";
import { age, csvHeader, csvLine, renderTable } from "../tools/monitor/table";
import { snapshot } from "../tools/monitor/dashboard";

const config = parseConfig({ sensors: [{ type: "sht3x", address: 0x44 }, { type: "battery", pin: 34 }] });
const channels = channelsOf(config.sensors);
const T0 = 1_764_000_000;

/** A batch as the node encodes it: readings at T0 + 60 i, each [temperature, humidity, battery] in resolution steps. */
function batch(format: "senml-json" | "senml-cbor" | "compact", first: number, values: (number | null)[][], faults: { sensor: number; fault: number }[][] = []) {
  const readings = values.map((v, i) => ({ seq: first + i, time: T0 + 60 * (first + i), values: v, faults: faults[i] ?? [] }));
  return encodePayload(format, { baseName: "urn:dev:torpor:n1:", channels, sensorIds: config.sensors.map((s) => s.id), readings, dropped: 0 });
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** Feeds recorded messages [arrival, topic, payload] to a monitor and a fleet state. */
function replay(messages: [number, string, Uint8Array, string?][]) {
  const monitor = new TelemetryMonitor();
  const fleet = new FleetState();
  const events = messages.flatMap(([at, topic, payload, contentType]) => {
    const out = monitor.handle(topic, payload, contentType);
    for (const e of out) fleet.apply(e, at);
    return out;
  });
  return { fleet, events, node: fleet.nodes.get("n1")! };
}

const status = (nextWake: number, extra: Record<string, unknown> = {}) =>
  json({ state: "asleep", nextWake, buffered: 0, dropped: 0, wakes: 3, sensorErrors: { sht3x: 0, battery: 0 }, ...extra });

describe("monitor state and table", () => {
  it("decodes every format to the same readings, and drops a re-sent batch in any of them", () => {
    const values = [[2150, 4010, 3301], [2151, 4012, 3300]];
    const [a, b, c] = (["senml-json", "senml-cbor", "compact"] as const).map((f) => batch(f, 0, values));
    const { events } = replay([
      [T0, "torpor/n1/telemetry", a!.payload, a!.contentType],
      [T0 + 1, "torpor/n1/telemetry", b!.payload],
      [T0 + 2, "torpor/n1/telemetry", c!.payload, c!.contentType],
    ]);
    const readings = events.filter((e) => e.kind === "reading").map((e) => (e.kind === "reading" ? [e.reading.name, e.reading.time, e.reading.value] : []));
    assert.deepEqual(readings, [
      ["urn:dev:torpor:n1:sht3x/temperature", T0, 21.5], ["urn:dev:torpor:n1:sht3x/temperature", T0 + 60, 21.51],
      ["urn:dev:torpor:n1:sht3x/humidity", T0, 40.1], ["urn:dev:torpor:n1:sht3x/humidity", T0 + 60, 40.12],
      ["urn:dev:torpor:n1:battery/voltage", T0, 3.301], ["urn:dev:torpor:n1:battery/voltage", T0 + 60, 3.3],
    ]);
    assert.deepEqual(events.filter((e) => e.kind === "duplicate").map((e) => (e.kind === "duplicate" ? e.count : 0)), [6, 6]);
  });

  it("follows a node through awake, asleep, overdue and offline, on arrival times", () => {
    const first = batch("senml-json", 0, [[2150, 4010, 3301]]);
    for (const every of [300, undefined]) {
      // A node that says how often it connects (`every`), and one that does not: then the time
      // between its telemetry messages tells.
      const run = replay([
        [T0 + 1, "torpor/n1/telemetry", first.payload],
        [T0 + 2, "torpor/n1/status", json({ state: "asleep", at: T0 + 2, nextWake: T0 + 60, ...(every ? { every } : {}) })],
      ]);
      assert.equal(health(run.node, T0 + 10), "asleep");
      assert.equal(nextExpected(run.node), every ? T0 + 2 + every : undefined, "its connection (the status's `at`) and its period, not the status's next sampling wake");
      // The next connection brings telemetry and, with nothing new to say, no status (the lean status).
      run.fleet.apply({ kind: "reading", reading: { node: "n1", name: "urn:dev:torpor:n1:sht3x/temperature", time: T0 + 300, unit: "Cel", value: 21.6 } }, T0 + 301);
      assert.equal(health(run.node, T0 + 302), "awake", "in its exchange");
      assert.equal(health(run.node, T0 + 340), "asleep");
      assert.equal(nextExpected(run.node), T0 + 600, "its newest reading and its period (or its telemetry's cadence)");
      // Overdue once one and a half periods and 10 s have passed without a word.
      assert.equal(health(run.node, T0 + 301 + 460), "asleep", `every ${every}`);
      assert.equal(health(run.node, T0 + 301 + 461), "overdue", `every ${every}`);
      run.fleet.apply({ kind: "status", node: "n1", status: { state: "offline" } }, T0 + 2000);
      assert.equal(health(run.node, T0 + 2001), "offline", "the Will");
      run.fleet.apply({ kind: "reading", reading: { node: "n1", name: "urn:dev:torpor:n1:sht3x/temperature", time: T0 + 2400, unit: "Cel", value: 21 } }, T0 + 2400);
      assert.equal(health(run.node, T0 + 2401), "awake", "heard from again after its Will");
    }
    const silent = replay([[T0 + 1, "torpor/n1/telemetry", first.payload]]).node;
    assert.equal(health(silent, T0 + 2), "awake", "telemetry, no status yet: in its exchange");
    assert.equal(health(silent, T0 + 100), "asleep", "heard, and quiet since");
    assert.equal(nextExpected(silent), undefined, "no period known yet");
  });

  it("keeps a healthy node between heartbeats asleep, its next connection ahead of its newest reading, in real and simulated time", () => {
    // The lean status: one at the first connection (hourly heartbeat), then telemetry alone. A node
    // connecting every 300 s of its clock; a real one (its clock = the monitor's, readings arriving
    // 2 s after their sample), and a simulated one at 600 simulated s per real s, whose clock started
    // a day behind the monitor's.
    for (const [label, scale, skew] of [["real", 1, 0], ["simulated", 600, -86_400]] as const) {
      const fleet = new FleetState();
      const arrival = (nodeTime: number) => T0 + (nodeTime - (T0 + skew)) / scale + 2;
      const at = (k: number) => T0 + skew + 300 * k;
      fleet.apply({ kind: "status", node: "n1", status: { state: "asleep", at: at(0), nextWake: at(0) + 60, every: 300 } }, arrival(at(0)));
      for (let k = 0; k <= 6; k++) {
        for (const [name, value] of [["sht3x/temperature", 21.5], ["battery/voltage", 3.3]] as const) {
          // Readings sampled through the batch, the newest at the connection.
          for (const back of [240, 120, 0]) fleet.apply({ kind: "reading", reading: { node: "n1", name: `urn:dev:torpor:n1:${name}`, time: at(k) - back, value } }, arrival(at(k)));
        }
        const node = fleet.nodes.get("n1")!;
        const newest = at(k);
        // Mid-way to the next connection, on the monitor's clock.
        const between = arrival(newest + 150);
        assert.equal(health(node, between), "asleep", `${label}, connection ${k}`);
        assert.equal(nextExpected(node), newest + 300, `${label}, connection ${k}: the next one ahead of its newest reading`);
        if (k >= 2) {
          // Its clock learnt: overdue once one and a half periods (and 10 s) of it passed in silence.
          assert.equal(health(node, arrival(newest + 450)), "asleep", `${label}, connection ${k}`);
          assert.equal(health(node, arrival(newest + 470)), "overdue", `${label}, connection ${k}`);
        }
      }
    }
  });

  it("shows each node's last values with their age, battery, next connection and the counts", () => {
    const values = [[2150, 4010, 3301], [2151, 4011, 3301], [null, null, 3300]];
    const faults = [[], [], [{ sensor: 0, fault: 2 }]];
    const faulty = batch("compact", 0, values, faults);
    const resent = batch("senml-json", 0, values, faults);
    const after = batch("senml-json", 5, [[2170, 4030, 3290]]);
    const { fleet } = replay([
      [T0 + 121, "torpor/n1/telemetry", faulty.payload, faulty.contentType],
      [T0 + 122, "torpor/n1/telemetry", resent.payload],
      [T0 + 301, "torpor/n1/telemetry", after.payload],
      [T0 + 302, "torpor/n1/status", status(T0 + 360, { buffered: 2, dropped: 7, sensorErrors: { sht3x: 1, battery: 0 } })],
      [T0 + 303, "torpor/n2/status", json({ state: "offline" })],
    ]);
    const table = renderTable(fleet, T0 + 310).split("\n");
    assert.match(table[0]!, /^node +state +seen +battery +next connection +buffered +dropped +sensor errors +missed +dups +version +update +last values$/);
    const cells = table[1]!.split(/ {2,}/);
    // Two wakes missed between T0 + 120 and T0 + 300; the re-sent batch's 8 records dropped.
    // Its next connection: its newest reading (T0 + 300) and its telemetry's cadence (180 s).
    // A status with no version: a host that does not say (no update capability).
    assert.deepEqual(cells.slice(0, 12), ["n1", "asleep", "8s ago", "3.29 V", "16:08:00Z", "2", "7", "1 (1 seen)", "2", "8", "—", "—"]);
    // Ages on the node's clock: its newest reading came 1 s after its sample time, 9 s before now.
    assert.equal(cells.slice(12).join("  "), "sht3x/temperature=21.7 Cel (9s)  sht3x/humidity=40.3 %RH (9s)  battery/voltage=3.29 V (9s)");
    assert.match(table[2]!, /^n2 +offline +— +— +— /, "only its Will heard: the node itself never seen");
  });

  it("shows each node's running version and its update's state and progress, kept across its Will", () => {
    const update = { state: "fetching", refused: 1, version: "0.3.0", id: "0123456789abcdef", held: 5, of: 137, last: "offer 1: bad signature" };
    const { fleet } = replay([
      [T0 + 10, "torpor/n1/status", status(T0 + 60, { version: "0.2.0", update })],
      [T0 + 11, "torpor/n2/status", status(T0 + 60, { version: "0.3.0", update: { state: "idle", refused: 0 } })],
      [T0 + 12, "torpor/n3/status", status(T0 + 60, { version: "0.2.0", update: { state: "staged", refused: 0, version: "0.3.0", id: "0123456789abcdef" } })],
      [T0 + 13, "torpor/n3/status", json({ state: "offline" })],
    ]);
    const table = renderTable(fleet, T0 + 20).split("\n");
    const column = (name: string) => table[0]!.split(/ {2,}/).indexOf(name);
    const cell = (row: number, name: string) => table[row]!.split(/ {2,}/)[column(name)];
    assert.equal(cell(1, "version"), "0.2.0");
    assert.equal(cell(1, "update"), "fetching → 0.3.0 5/137, 1 refused");
    assert.equal(cell(2, "version"), "0.3.0");
    assert.equal(cell(2, "update"), "idle");
    assert.equal(cell(3, "update"), "staged → 0.3.0", "what the last status said, the Will says nothing of it");
    const rows = (snapshot(fleet, T0 + 20) as { nodes: { node: string; version: string | null; update: string | null }[] }).nodes;
    assert.deepEqual(rows.map(({ node, version, update }) => ({ node, version, update })), [
      { node: "n1", version: "0.2.0", update: "fetching → 0.3.0 5/137, 1 refused" },
      { node: "n2", version: "0.3.0", update: "idle" },
      { node: "n3", version: "0.2.0", update: "staged → 0.3.0" },
    ]);
  });

  it("keeps the history in the node's own time order, a late batch filling in its stretch", () => {
    const late = batch("senml-json", 0, [[2100, 4000, 3300], [2101, 4000, 3300]]);
    const early = batch("senml-json", 2, [[2102, 4000, 3300], [2103, 4000, 3300]]);
    const { node } = replay([
      [T0 + 200, "torpor/n1/telemetry", early.payload],
      [T0 + 260, "torpor/n1/telemetry", late.payload],
    ]);
    const temperature = node.channels.get("sht3x/temperature")!;
    assert.deepEqual(temperature.times, [T0, T0 + 60, T0 + 120, T0 + 180]);
    assert.deepEqual(temperature.values, [21, 21.01, 21.02, 21.03]);
    const long = new FleetState();
    for (let i = 0; i < HISTORY + 5; i++) long.apply({ kind: "reading", reading: { node: "x", name: "t", time: i, value: i } }, i);
    assert.equal(long.nodes.get("x")!.channels.get("t")!.times.length, HISTORY, "bounded, oldest dropped");
    assert.equal(long.nodes.get("x")!.channels.get("t")!.times[0], 5);
  });

  it("keeps a bounded number of channels per node, whatever the payloads name", () => {
    const fleet = new FleetState();
    for (let i = 0; i < MAX_NODE_CHANNELS + 10; i++) fleet.apply({ kind: "reading", reading: { node: "x", name: `c${i}`, time: T0, value: i } }, T0);
    fleet.apply({ kind: "reading", reading: { node: "x", name: "c0", time: T0 + 60, value: 1 } }, T0 + 60);
    const node = fleet.nodes.get("x")!;
    assert.equal(node.channels.size, MAX_NODE_CHANNELS);
    assert.equal(node.errors, 10, "the readings left out are counted");
    assert.equal(node.channels.get("c0")!.times.length, 2, "a known channel still takes readings");
  });

  it("exports readings as CSV", () => {
    const r: Reading = { node: "n1", name: "urn:dev:torpor:n1:sht3x/temperature", time: T0, unit: "Cel", value: 21.5 };
    assert.equal(csvHeader, "node,channel,time,value,unit");
    assert.equal(csvLine(r), "n1,sht3x/temperature,2025-11-24T16:00:00.000Z,21.5,Cel");
    assert.equal(csvLine({ node: "n1", name: "urn:dev:torpor:n1:sht3x/error", time: T0, stringValue: 'a,"b"' }), 'n1,sht3x/error,2025-11-24T16:00:00.000Z,"a,""b""",');
  });

  it("writes ages at a glance", () => {
    assert.deepEqual([age(-5), age(42), age(300), age(7200), age(200000)], ["0s", "42s", "5m", "2h", "2d"]);
  });
});
