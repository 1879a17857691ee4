// The compact status (`encodeStatus`): what a node in `compact` or `senml-cbor` publishes as
// its retained status and its Will, read back by every tool a user reads statuses with — the shared
// decoder, the monitor and the collector — as the JSON status's fields; Home Assistant nodes keep
// the JSON it reads; and the sync marker that replaced {"sync":…} still knows earlier markers.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { IConnectPacket } from "mqtt-packet";
import { encodeStatus } from "../src/uplink/status-encoding";
import { isMarker, markerPayload } from "../src/uplink/sync-marker";
import { startEmbeddedBroker, type EmbeddedBroker } from "../tools/broker";
import { rowsOf } from "../tools/collect-store";
import { TelemetryMonitor } from "../tools/monitor/events";
import { FleetState, health } from "../tools/monitor/state";
import { decodeStatus } from "../tools/payload-decoder";
import { TestNode } from "./support/e2e-node";
import { decodeFrame, PacketType, publishInfo, settled, startProxy, type Proxy } from "./support/proxy";

const T0 = 1_764_000_000;

/** A status as the exchange builds it (Exchange#status), a few hours into a node's life. */
const status = {
  state: "asleep",
  host: "runner-1",
  at: T0,
  nextWake: T0 + 60,
  every: 3600,
  buffered: 0,
  dropped: 0,
  wakes: 181,
  cold: 1,
  delivered: 180,
  publishFailures: 0,
  restored: 0,
  refused: 0,
  skipped: 0,
  commandErrors: 0,
  clockBack: 0,
  tlsResumed: 0,
  tlsRefused: 0,
  sensorErrors: { "sht3x@44": 2, "bme280@76": 0 },
  energy: { awakeMs: 90_000, sampleMs: 2_000, radioMs: 30_000, radioWakes: 3, bytesUp: 900, bytesDown: 120 },
  mqtt: "5",
  batteryDays: 612,
  overrides: { sampleInterval: 120 },
  commands: ["set sampleInterval=120: ok"],
};

/** What a subscriber gets of it: everything but the host's name and the energy totals. */
const { host: _host, energy: _energy, ...expected } = status;
const readBack = { ...expected, sensorErrors: { "sht3x@44": 2 } };

describe("the compact status", () => {
  it("is a small CBOR map the shared decoder reads back as the JSON status's fields", () => {
    const bytes = encodeStatus(status, "cbor");
    assert.ok(bytes[0]! >= 0xa0 && bytes[0]! <= 0xbf, "a CBOR map");
    const json = encodeStatus(status, "json");
    assert.ok(bytes.length * 5 < json.length, `${bytes.length} bytes against ${json.length} as JSON`);
    assert.deepEqual(decodeStatus(bytes), readBack);
    assert.deepEqual(decodeStatus(json), status, "the JSON status reads as it is");
  });

  it("carries a host's network counters (an ESP32's direct connections and scans) under a key of its own", () => {
    const network = { wifiDirect: 170, wifiScans: 2 };
    assert.deepEqual(decodeStatus(encodeStatus({ ...status, network }, "cbor")), { ...readBack, network });
  });

  it("is small at a plain heartbeat: zeros left out, the next wake relative to `at`", () => {
    const plain = { ...status, sensorErrors: { "sht3x@44": 0 }, overrides: undefined, commands: undefined, cold: 0 };
    assert.ok(encodeStatus(plain, "cbor").length <= 30, `${encodeStatus(plain, "cbor").length} bytes`);
    const back = decodeStatus(encodeStatus(plain, "cbor"));
    assert.equal(back.nextWake, T0 + 60);
    assert.equal(back.dropped, 0);
    assert.deepEqual(back.sensorErrors, {});
  });

  it("as the Will, reads as {state: offline}", () => {
    assert.deepEqual(decodeStatus(encodeStatus({ state: "offline" }, "cbor")), { state: "offline" });
  });

  it("is read by the monitor, whose health follows it and the compact Will", () => {
    const monitor = new TelemetryMonitor();
    const fleet = new FleetState();
    const events = monitor.handle("torpor/n1/status", encodeStatus(status, "cbor"));
    assert.deepEqual(events, [{ kind: "status", node: "n1", status: readBack }]);
    for (const event of events) fleet.apply(event, T0);
    assert.equal(health(fleet.nodes.get("n1")!, T0 + 1), "asleep");
    for (const event of monitor.handle("torpor/n1/status", encodeStatus({ state: "offline" }, "cbor"))) fleet.apply(event, T0 + 10);
    assert.equal(health(fleet.nodes.get("n1")!, T0 + 11), "offline");
  });

  it("is stored by the collector as the JSON status's fields", () => {
    assert.deepEqual(rowsOf("torpor", "torpor/n1/status", encodeStatus(status, "cbor")), { node: "n1", readings: [], faults: [], status: readBack });
  });

  it("that is not CBOR nor JSON is an error the monitor and the collector report", () => {
    const junk = Uint8Array.from([0xbf, 0x00]);
    assert.equal(new TelemetryMonitor().handle("torpor/n1/status", junk)[0]?.kind, "error");
    assert.match(rowsOf("torpor", "torpor/n1/status", junk)?.rejected ?? "", /status/);
  });
});

describe("the status a node publishes, by format", () => {
  let broker: EmbeddedBroker;
  let proxy: Proxy;
  before(async () => {
    broker = await startEmbeddedBroker();
    proxy = await startProxy({ port: Number(new URL(broker.url).port) });
  });
  after(async () => {
    await proxy.close();
    await broker.close();
  });

  /** The first wake of a node: its Will and its status as they went over the wire. */
  const firstWake = async (name: string, config: Record<string, unknown>) => {
    const node = new TestNode(name, { broker: proxy.url, ...config });
    try {
      const before = proxy.connections.length;
      assert.equal((await node.wake()).error, undefined, node.log());
      const trace = await settled(proxy.connections[before]!);
      const connect = decodeFrame(trace.up.frames.find((f) => f.type === PacketType.CONNECT)!) as IConnectPacket;
      const frame = trace.up.frames.find((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.statusTopic);
      assert.ok(frame, `no status\n${node.log()}`);
      return { will: Uint8Array.from(connect.will!.payload as Buffer), status: frame.bytes.subarray(publishInfo(frame).body) };
    } finally {
      node.remove();
    }
  };

  for (const format of ["compact", "senml-cbor"]) {
    it(`${format}: a compact status and Will, which the decoder reads`, async () => {
      const { will, status } = await firstWake(`cs-${format}`, { format });
      assert.deepEqual(will, encodeStatus({ state: "offline" }, "cbor"));
      assert.ok(status[0]! >= 0xa0 && status[0]! <= 0xbf, "a CBOR map");
      const read = decodeStatus(status);
      assert.equal(read.state, "asleep");
      assert.equal(read.delivered, 1);
      assert.equal(typeof read.at, "number");
      assert.ok((read.nextWake as number) > (read.at as number));
    });
  }

  it("senml-json, and compact read by Home Assistant: the JSON status and Will", async () => {
    for (const config of [{ format: "senml-json" }, { format: "compact", homeAssistant: true }]) {
      const { will, status } = await firstWake("cs-json", config);
      assert.deepEqual(JSON.parse(Buffer.from(will).toString()), { state: "offline" }, JSON.stringify(config));
      assert.equal(JSON.parse(Buffer.from(status).toString()).state, "asleep", JSON.stringify(config));
    }
  });
});

describe("the sync marker", () => {
  it("is this wake's only with its id, any wake's without, and never a command", () => {
    const marker = markerPayload("2s.a");
    assert.equal(marker.length, 5);
    assert.equal(isMarker(marker, "2s.a"), true);
    assert.equal(isMarker(marker, "2s.b"), false);
    assert.equal(isMarker(marker), true);
    assert.equal(isMarker(new TextEncoder().encode('{"cmd":"set","sampleInterval":60}')), false);
    assert.equal(isMarker(Uint8Array.from([0xff, 0xfe, 0x00])), false, "junk after the tag is no marker: it is answered as a malformed command");
    assert.equal(isMarker(Uint8Array.from([0xff])), false);
  });

  it("knows the markers of earlier firmware still queued in a session", () => {
    const text = (s: string) => new TextEncoder().encode(s);
    assert.equal(isMarker(text('{"sync":"2s.a"}'), "2s.a"), true);
    assert.equal(isMarker(text('{"sync":"2s.a"}')), true);
    assert.equal(isMarker(text('{"cmd":"sync","marker":"1.1"}')), true);
  });
});
