// MQTT round trips and bytes of one wake, torpor against MQTT.js, through a loopback proxy that adds
// 50 ms each way (a 100 ms round trip: a slow Wi-Fi link to a remote broker).
//
// torpor: a node publishes its 12-reading batch (QoS 1) in one pipelined exchange: CONNECT, the
// PUBLISH and the sync marker in one flight, then DISCONNECT once the PUBACK and the marker are back
// (with its retained status first when that has news: a resumed wake with nothing new sends none). Measured at steady-state wakes (the command subscription already in the
// broker's session), each a process of its own as on the runner; the node's first-ever wake, which
// also subscribes, is reported apart. Baseline "mqtt.js": connect → publish (QoS 1, the same payload
// bytes) → end; "mqtt.js, plain SenML": the same, with the readings in the usual SenML layout (a
// name and unit in every record). "mqtt.js, same job": MQTT.js doing everything torpor's wake does
// (Will, persistent session, marker and its echo, retained status), for a fair byte count.
//
// "resumed batch-60 wake in compact with the status due" (issue 17): every byte both ways of a wake
// publishing 60 two-channel readings in `compact` at the hour its status heartbeat is due, per value,
// against 2.5 B/value.
//
// Round trips = time from TCP connected (the proxy accepting) to the last PUBACK delivered to the
// client, divided by the proxy's round trip: how long the radio has to stay up for the data to be
// safe. Times are the median of 5 runs. Bytes are everything each way over the connection (TCP
// overhead excluded), with a per-packet breakdown.
//
//   npm run bench:mqtt      (aedes with MQTT 3.1.1; mosquitto with MQTT 5 where it is installed)

import * as fs from "node:fs";
import { connectAsync } from "mqtt";
import { startEmbeddedBroker } from "../tools/broker";
import type { WakeReport } from "../hosts/node/wake";
import { TestNode } from "../test/support/e2e-node";
import { mosquittoMissing, startMosquitto } from "../tools/mosquitto";
import * as mqttPacket from "mqtt-packet";
import { decodeFrame, PacketType, publishInfo, startProxy, type ConnectionTrace, type Frame, type Proxy } from "../test/support/proxy";
import { decodePayload } from "../tools/payload-decoder";
import { resolveSenml } from "../tools/senml";

const DELAY_MS = 50;
const RTT_MS = 2 * DELAY_MS;
const READINGS = 12;
const REPEAT = 5;

const names: Record<number, string> = Object.fromEntries(Object.entries(PacketType).map(([name, type]) => [type, name]));

interface Figures {
  /** From TCP connected to the last PUBACK delivered to the client, in proxy round trips. */
  roundTrips: number;
  toLastAckMs: number;
  /** From TCP connected to the client's DISCONNECT leaving it, in round trips: when the radio can go off. */
  roundTripsToDisconnect: number;
  /** Runs measured; times are their median. */
  runs: number;
  bytesUp: number;
  bytesDown: number;
  /** Bytes per packet type, each way. */
  up: Record<string, { packets: number; bytes: number }>;
  down: Record<string, { packets: number; bytes: number }>;
}

/** Round trips of one connection, and the time to the DISCONNECT leaving the client. */
function timing(trace: ConnectionTrace): { toLastAck: number; toDisconnect: number } {
  const acks = trace.down.frames.filter((f) => f.type === PacketType.PUBACK);
  if (!acks.length) throw new Error("no PUBACK reached the client");
  // An upstream frame's time is when the proxy forwarded it: the client sent it DELAY_MS earlier.
  const disconnect = trace.up.frames.find((f) => f.type === PacketType.DISCONNECT);
  return { toLastAck: Math.max(...acks.map((f) => f.at)) - trace.openedAt, toDisconnect: disconnect ? disconnect.at - DELAY_MS - trace.openedAt : NaN };
}

/** The median run's times (runs differ by a millisecond or two of scheduling), and the bytes of the
 *  last run (they are the same in every run). */
function figures(traces: ConnectionTrace[]): Figures {
  const times = traces.map(timing);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const toLastAck = median(times.map((t) => t.toLastAck));
  const trace = traces.at(-1)!;
  const breakdown = (frames: ConnectionTrace["up"]["frames"]) => {
    const out: Record<string, { packets: number; bytes: number }> = {};
    for (const f of frames) {
      const entry = (out[names[f.type] ?? String(f.type)] ??= { packets: 0, bytes: 0 });
      entry.packets++;
      entry.bytes += f.bytes.length;
    }
    return out;
  };
  return {
    roundTrips: round(toLastAck / RTT_MS),
    toLastAckMs: Math.round(toLastAck),
    roundTripsToDisconnect: round(median(times.map((t) => t.toDisconnect)) / RTT_MS),
    runs: traces.length,
    bytesUp: trace.up.bytes,
    bytesDown: trace.down.bytes,
    up: breakdown(trace.up.frames),
    down: breakdown(trace.down.frames),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Waits for the connection to close, at most 2 s; the timer goes with it, or the last wait would
 *  hold the process up after the results are out. */
async function settle(trace: ConnectionTrace): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([trace.closed, new Promise((r) => (timer = setTimeout(r, 2000)))]);
  clearTimeout(timer);
}

interface TorporRun {
  first: Figures;
  steady: Figures;
  /** What the steady-state wake sent, for the MQTT.js runs to send the same. */
  telemetry: { topic: string; payload: Uint8Array };
  marker: { topic: string; payload: Uint8Array };
  /** Only when the steady-state wake had news for its status (a lean wake has none). */
  status?: { topic: string; payload: Uint8Array };
  /** Bytes both ways of a steady-state wake that are not telemetry. */
  overhead: { all: number; lean: number };
}

/** The payload of a PUBLISH frame (after the MQTT 5 property block, when there is one). */
function payloadOf(bytes: Uint8Array, version: 4 | 5): Uint8Array {
  const info = publishInfo(bytes);
  if (version === 4) return bytes.subarray(info.body);
  let at = info.body;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    const b = bytes[at++]!;
    length += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) break;
  }
  return bytes.subarray(at + length);
}

/** One wake as its own process, as on the runner: the node does not share an event loop with the
 *  broker, the proxy and MQTT.js. */
async function wakeProcess(node: TestNode): Promise<WakeReport> {
  const child = node.spawnWake();
  let report: WakeReport | undefined;
  child.on("message", (m: WakeReport) => (report = m));
  await new Promise((resolve) => child.once("exit", resolve));
  if (!report) throw new Error(`wake process ended without a report:\n${node.log()}`);
  return report;
}

async function torpor(proxy: Proxy, version: 4 | 5): Promise<TorporRun> {
  // Retained memory is RTC RAM on a device; on the Node host it is a file synced at every commit, and
  // the commit of the in-flight table precedes the first write. In RAM (tmpfs) where there is one,
  // so that a busy disk's fdatasync does not pass for network round trips.
  const ram = fs.existsSync("/dev/shm") ? "/dev/shm" : undefined;
  // The five batches span exactly the hour of the status heartbeat: with the default statusEvery
  // the last measured wake would carry one or not by how the start fell within a second. A day's
  // heartbeat keeps the steady wakes to their telemetry (the lean wake below measures the status).
  const node = new TestNode(`bench-${version}`, { broker: proxy.url, mqttVersion: version, batchSize: READINGS, sampleInterval: 60, maxLatency: 86400, qos: 1, statusEvery: 86400 }, ram);
  try {
    // The first-ever wake publishes at once (its one reading) and makes the command subscription.
    const first = await wakeProcess(node);
    if (first.error) throw new Error(`first wake: ${first.error}`);
    const firstTrace = proxy.connections.at(-1)!;
    await settle(firstTrace);
    // Then batches fill: 11 wakes sample and sleep, the 12th publishes the 12 readings.
    const steady: ConnectionTrace[] = [];
    for (let batch = 0; batch < REPEAT; batch++) {
      for (let i = 1; i < READINGS; i++) {
        const report = await node.wake();
        if (report.error || report.delivered) throw new Error(`a sampling wake published: ${node.log()}`);
      }
      const before = proxy.connections.length;
      const report = await wakeProcess(node);
      if (report.error || report.delivered !== READINGS || proxy.connections.length !== before + 1) throw new Error(`steady-state wake: ${node.log()}`);
      steady.push(proxy.connections[before]!);
      await settle(steady.at(-1)!);
    }
    const last = steady.at(-1)!;
    const found = (trace: ConnectionTrace, topic: string) => {
      const frame = trace.up.frames.find((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === topic);
      return frame && { topic, payload: payloadOf(frame.bytes, version) };
    };
    const sent = (topic: string) => {
      const message = found(last, topic);
      if (!message) throw new Error(`nothing published on ${topic}`);
      return message;
    };
    const status = found(last, node.statusTopic);
    return {
      first: figures([firstTrace]),
      steady: figures(steady),
      overhead: overheadBytes(last, node.telemetryTopic, version),
      telemetry: sent(node.telemetryTopic),
      marker: sent(node.commandTopic),
      ...(status ? { status } : {}),
    };
  } finally {
    node.remove();
  }
}

/** Bytes of a wake, both ways, that are not telemetry, counted two ways: `all`, everything but the
 *  telemetry PUBLISHes and their PUBACKs (the whole CONNECT and CONNACK, the marker and its echo,
 *  the status if one went out, DISCONNECT); `lean`, as issue 11 counts them: the Will and the
 *  CONNECT properties, the marker and its echo, the status. */
function overheadBytes(trace: ConnectionTrace, telemetryTopic: string, version: 4 | 5): { all: number; lean: number } {
  const connectFrame = trace.up.frames.find((f) => f.type === PacketType.CONNECT)!;
  const connect = decodeFrame(connectFrame, version) as mqttPacket.IConnectPacket;
  const bare = mqttPacket.generate({ ...connect, will: undefined, properties: undefined } as mqttPacket.IConnectPacket, { protocolVersion: version });
  const publishes = (frames: readonly Frame[], topic: string) =>
    frames.filter((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic.endsWith(topic)).reduce((n, f) => n + f.bytes.length, 0);
  const lean = connectFrame.bytes.length - bare.length + publishes(trace.up.frames, "/cmd") + publishes(trace.down.frames, "/cmd") + publishes(trace.up.frames, "/status");
  const ids = new Set<number>();
  let telemetry = 0;
  for (const f of trace.up.frames) {
    if (f.type !== PacketType.PUBLISH || publishInfo(f).topic !== telemetryTopic) continue;
    telemetry += f.bytes.length;
    const id = publishInfo(f).packetId;
    if (id !== undefined) ids.add(id);
  }
  for (const f of trace.down.frames) if (f.type === PacketType.PUBACK && ids.has((f.bytes[2]! << 8) | f.bytes[3]!)) telemetry += f.bytes.length;
  return { all: trace.up.bytes + trace.down.bytes - telemetry, lean };
}

/** Issue 17's lean wake: a resumed wake publishing a batch of 60 two-channel readings (120 values)
 *  in `compact`, at the hour when the status heartbeat (`statusEvery` 3600) is due. */
const LEAN_BATCH = 60;
const LEAN_TARGET = 2.5;

/** Bytes of a packet, by what it is: the PUBLISH by its topic's last level, the rest by type. */
function byPacket(frames: readonly Frame[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of frames) {
    const name = f.type === PacketType.PUBLISH ? `PUBLISH ${publishInfo(f).topic.split("/").at(-1)}` : (names[f.type] ?? String(f.type));
    out[name] = (out[name] ?? 0) + f.bytes.length;
  }
  return out;
}

async function leanWake(proxy: Proxy, version: 4 | 5) {
  const ram = fs.existsSync("/dev/shm") ? "/dev/shm" : undefined;
  const node = new TestNode(`lean-${version}`, { broker: proxy.url, mqttVersion: version, format: "compact", batchSize: LEAN_BATCH, sampleInterval: 60, maxLatency: 86400, qos: 1 }, ram);
  try {
    const first = await node.wake();
    if (first.error) throw new Error(`first wake: ${first.error}`);
    // Two batches: the second is a resumed wake an hour after the first publishing one.
    let trace: ConnectionTrace | undefined;
    for (let batch = 0; batch < 2; batch++) {
      for (let i = 1; i < LEAN_BATCH; i++) {
        const report = await node.wake();
        if (report.error || report.delivered) throw new Error(`a sampling wake published: ${node.log()}`);
      }
      const before = proxy.connections.length;
      const report = await node.wake();
      if (report.error || report.delivered !== LEAN_BATCH || proxy.connections.length !== before + 1) throw new Error(`publishing wake: ${node.log()}`);
      trace = proxy.connections[before]!;
      await settle(trace);
    }
    const last = trace!;
    // The values are counted in what went over the wire, not assumed from the sensors.
    const values = last.up.frames
      .filter((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.telemetryTopic)
      .reduce((n, f) => n + decodePayload(payloadOf(f.bytes, version)).records.length, 0);
    const connack = last.down.frames.find((f) => f.type === PacketType.CONNACK);
    if (!connack || !(connack.bytes[2]! & 1)) throw new Error("the wake did not resume its session");
    if (!last.up.frames.some((f) => f.type === PacketType.PUBLISH && publishInfo(f).topic === node.statusTopic)) throw new Error("no status went out: the heartbeat was not due");
    const bytes = last.up.bytes + last.down.bytes;
    const perValue = round(bytes / values);
    return {
      mqtt: version === 5 ? "5" : "3.1.1",
      values,
      bytesUp: last.up.bytes,
      bytesDown: last.down.bytes,
      up: byPacket(last.up.frames),
      down: byPacket(last.down.frames),
      target: `${bytes} bytes for ${values} values, ${perValue} B/value ≤ ${LEAN_TARGET}: ${perValue <= LEAN_TARGET ? "met" : `missed by ${round(bytes - LEAN_TARGET * values)} bytes`}`,
    };
  } finally {
    node.remove();
  }
}

/**
 * The same readings as most SenML producers write them: base name and time once, then a name and a
 * unit in every record (torpor's own layout before it wrote them once per channel).
 */
function plainSenml(payload: Uint8Array): Uint8Array {
  const records = resolveSenml(JSON.parse(Buffer.from(payload).toString("utf8")));
  const base = records[0]!.name.slice(0, records[0]!.name.lastIndexOf(":") + 1);
  const bt = Math.min(...records.map((r) => r.time));
  const pack = records.map((r, i) => ({
    ...(i === 0 ? { bn: base, bt } : {}),
    n: r.name.slice(base.length),
    ...(r.unit !== undefined ? { u: r.unit } : {}),
    ...(r.value !== undefined ? { v: r.value } : { vs: r.stringValue }),
    ...(r.time !== bt ? { t: r.time - bt } : {}),
  }));
  return Buffer.from(JSON.stringify(pack));
}

/** The named baseline: connect → publish (QoS 1) → end. */
async function mqttjs(proxy: Proxy, version: 4 | 5, t: TorporRun, payload = t.telemetry.payload): Promise<Figures> {
  const traces: ConnectionTrace[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const before = proxy.connections.length;
    const client = await connectAsync(proxy.url, { protocolVersion: version, clientId: `mqttjs-bench-${version}`, clean: true, reconnectPeriod: 0 });
    await client.publishAsync(t.telemetry.topic, Buffer.from(payload), { qos: 1 });
    await client.endAsync();
    traces.push(proxy.connections[before]!);
    await settle(traces.at(-1)!);
  }
  return figures(traces);
}

/**
 * MQTT.js doing torpor's whole job, as well as its API allows: a persistent session that already
 * holds the command subscription, a Will, the batch and the sync marker (waiting for its echo), then
 * the retained status and DISCONNECT — the same bytes of payload. MQTT.js sends nothing before
 * CONNACK, so this is the fair comparison for bytes, and still two round trips.
 */
async function mqttjsSameJob(proxy: Proxy, version: 4 | 5, t: TorporRun): Promise<Figures> {
  const options = {
    protocolVersion: version,
    // As long as torpor's "torpor-bench-N".
    clientId: `mqttjs-whole-${version}`,
    clean: false,
    reconnectPeriod: 0,
    will: { topic: t.telemetry.topic.replace(/telemetry$/, "status"), payload: Buffer.from('{"state":"offline"}'), qos: 1 as const, retain: true, ...(version === 5 ? { properties: { willDelayInterval: 3600 } } : {}) },
    ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  };
  // Not measured: the first connection makes the session and its subscription.
  const setup = await connectAsync(proxy.url, options);
  await setup.subscribeAsync(t.marker.topic, { qos: 1 });
  await setup.endAsync();
  const traces: ConnectionTrace[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const before = proxy.connections.length;
    const client = await connectAsync(proxy.url, options);
    const echoed = new Promise<void>((resolve) => client.on("message", (topic) => topic === t.marker.topic && resolve()));
    await Promise.all([client.publishAsync(t.telemetry.topic, Buffer.from(t.telemetry.payload), { qos: 1 }), client.publishAsync(t.marker.topic, Buffer.from(t.marker.payload), { qos: 0 }), echoed]);
    if (t.status) await client.publishAsync(t.status.topic, Buffer.from(t.status.payload), { qos: 0, retain: true });
    await client.endAsync();
    traces.push(proxy.connections[before]!);
    await settle(traces.at(-1)!);
  }
  return figures(traces);
}

async function run(broker: string, port: number, version: 4 | 5) {
  const proxy = await startProxy({ port }, { delayMs: DELAY_MS });
  try {
    const t = await torpor(proxy, version);
    const baseline = await mqttjs(proxy, version, t);
    const plain = plainSenml(t.telemetry.payload);
    const plainBaseline = await mqttjs(proxy, version, t, plain);
    const sameJob = await mqttjsSameJob(proxy, version, t);
    const lean = await leanWake(proxy, version);
    const total = (f: Figures) => f.bytesUp + f.bytesDown;
    return {
      broker,
      mqtt: version === 5 ? "5" : "3.1.1",
      payloadBytes: t.telemetry.payload.length,
      torpor: t.steady,
      "mqtt.js": baseline,
      "mqtt.js, plain SenML": { ...plainBaseline, payloadBytes: plain.length },
      "mqtt.js, same job": sameJob,
      torporFirstWake: t.first,
      "resumed batch-60 wake in compact with the status due": lean,
      nonTelemetryBytes: t.overhead,
      target: {
        lean: `${t.overhead.lean} bytes of a resumed wake, both ways, are Will, CONNECT properties, marker and echo, and status ≤ 150: ${t.overhead.lean <= 150 ? "met" : `missed by ${t.overhead.lean - 150}`} (${t.overhead.all} with the rest of CONNECT, CONNACK and DISCONNECT)`,
        roundTrips: `${t.steady.roundTrips} ≤ 1.1: ${t.steady.roundTrips <= 1.1 ? "met" : "missed"}`,
        bytes:
          `${total(t.steady)} < ${total(baseline)} (mqtt.js, torpor's payload): ${total(t.steady) < total(baseline) ? "met" : "missed"}; ` +
          `${total(t.steady)} < ${total(plainBaseline)} (mqtt.js, the same readings as plain SenML): ${total(t.steady) < total(plainBaseline) ? "met" : "missed"}; ` +
          `${total(sameJob)} for mqtt.js doing the same job`,
      },
    };
  } finally {
    await proxy.close();
  }
}

async function main(): Promise<void> {
  const runs = [];
  const aedes = await startEmbeddedBroker();
  try {
    runs.push(await run("aedes", Number(new URL(aedes.url).port), 4));
  } finally {
    await aedes.close();
  }
  const missing = mosquittoMissing();
  if (!missing) {
    const mosquitto = await startMosquitto();
    try {
      runs.push(await run("mosquitto", mosquitto.port, 5));
    } finally {
      await mosquitto.stop();
    }
  }
  const result = {
    bench: "mqtt-roundtrips",
    baseline: "mqtt.js",
    setup: { delayMsEachWay: DELAY_MS, roundTripMs: RTT_MS, readings: READINGS, qos: 1, format: "senml-json" },
    runs,
    ...(missing ? { skipped: `mosquitto, MQTT 5: ${missing}` } : {}),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
