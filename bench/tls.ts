// What mqtts costs a connecting wake, and what a TLS session kept across deep sleep saves: round
// trips after TCP connect, bytes both ways, and the client's handshake compute, for plain MQTT, a
// full ECDHE handshake, a full DHE one and a resumed one, on the Node host (each wake a fresh host
// around the node's state directory, as after deep sleep), through a loopback proxy adding 50 ms
// each way, against mosquitto with an RSA-2048 test CA. Baseline "mqtt.js over mqtts": MQTT.js
// connecting over TLS, publishing the same QoS 1 payload and ending, in the same run.
//
// Round trips: the client's flights that got an answer before its last one (the DISCONNECT, with
// TLS's close_notify), from the proxy's record of every chunk. Handshake bytes: the wake's bytes
// both ways less those of the same wake over plain MQTT (TLS records included). Client compute: the
// client's think time in the connection (see flights) less the plain wake's, median of REPEAT
// wakes: what the handshake made it compute, not the setup before TCP connect. Resumption rate: 100 wakes in a row against one broker, as the status counts them.
//
// Targets (issue 22): a resumed wake 2 round trips after TCP, ≤ 800 B of handshake both ways, ≤ 10 %
// of a full ECDHE handshake's client compute, and ≥ 95 % of 100 wakes resumed.
//
// With $MODDABLE, the same in mcsim (bench/tls-mcsim.ts): plain, full ECDHE (the only suites the
// Moddable hosts offer) and resumed; without it, skipped with the reason.
//
//   npm run bench:tls

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import tls from "node:tls";
import { connectAsync } from "mqtt";
import { layeredConfig, manifestConfig, readConfigFile } from "../hosts/node/config-file";
import { heldState } from "../hosts/node/host";
import { RetainedFile } from "../hosts/node/retained-file";
import { TestNode } from "../test/support/e2e-node";
import { makePki, opensslMissing, type Pki } from "../test/support/pki";
import { startProxy, type ConnectionTrace, type Proxy } from "../test/support/proxy";
import { mosquittoMissing, startMosquitto, type Mosquitto } from "../tools/mosquitto";
import { DELAY_MS, flights, summary, type Figures, type Wake } from "./tls-flights";
import { mcsimWakes } from "./tls-mcsim";

const REPEAT = 9;
/** mcsim's wakes are 2 s apart: fewer of them. */
const MCSIM_REPEAT = 5;
const RESUME_WAKES = 100;
const TARGET = { roundTrips: 2, handshakeBytes: 800, computeShare: 0.1, resumedShare: 0.95 };

async function closed(trace: ConnectionTrace): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([trace.closed, new Promise((r) => (timer = setTimeout(r, 2000)))]);
  clearTimeout(timer);
}

/** One connecting wake of `node` through `proxy`, measured. */
async function measuredWake(node: TestNode, proxy: Proxy): Promise<Wake> {
  const before = proxy.connections.length;
  const report = await node.wake();
  if (report.error !== undefined) throw new Error(`${node.name}: ${report.error}\n${node.log()}`);
  const trace = proxy.connections[before];
  if (!trace) throw new Error(`${node.name}: the wake did not connect`);
  await closed(trace);
  return { ...flights(trace), bytesUp: trace.up.bytes, bytesDown: trace.down.bytes };
}

function counters(node: TestNode) {
  const retained = new RetainedFile(path.join(node.dir, "state", "retained.bin"));
  try {
    return heldState(retained, layeredConfig(manifestConfig(), readConfigFile(node.configFile)).config)?.counters;
  } finally {
    retained.close();
  }
}

interface Scenario {
  name: string;
  /** Listener lines for mosquitto: its TLS settings, none for plain MQTT. */
  listener: string[];
  secure: boolean;
  /** The highest TLS version the client offers (node:tls's default for the process: the wakes run
   *  in it), since mosquitto's tls_version is only the lowest it takes. */
  maxVersion: tls.SecureVersion;
}

/** REPEAT steady wakes of a node (after one that subscribes): full handshakes unless `resume`. */
async function torpor(broker: Mosquitto, pki: Pki, scenario: Scenario, resume: boolean): Promise<Figures> {
  const proxy = await startProxy({ host: "127.0.0.1", port: broker.port }, { delayMs: DELAY_MS });
  const ram = fs.existsSync("/dev/shm") ? "/dev/shm" : undefined;
  const node = new TestNode(`tls-bench`, { broker: `${scenario.secure ? "mqtts" : "mqtt"}://localhost:${proxy.port}`, ...(scenario.secure ? { tlsCa: pki.ca } : {}), mqttVersion: 4 }, ram);
  const session = path.join(node.dir, "state", "tls-session.json");
  try {
    await measuredWake(node, proxy);
    const wakes: Wake[] = [];
    for (let i = 0; i < REPEAT + 1; i++) {
      if (!resume) fs.rmSync(session, { force: true });
      const wake = await measuredWake(node, proxy);
      // The first measured wake warms the code paths this kind of wake takes.
      if (i > 0) wakes.push(wake);
    }
    if (scenario.secure && resume && counters(node)?.tlsResumed !== REPEAT + 1) throw new Error(`${scenario.name}: not every wake resumed\n${node.log()}`);
    return summary(wakes);
  } finally {
    node.remove();
    await proxy.close();
  }
}

/** The baseline: MQTT.js over mqtts, connect → publish QoS 1 → end, the same payload size. */
async function mqttjs(broker: Mosquitto, pki: Pki): Promise<Figures> {
  const proxy = await startProxy({ host: "127.0.0.1", port: broker.port }, { delayMs: DELAY_MS });
  try {
    const wakes: Wake[] = [];
    for (let i = 0; i < REPEAT + 1; i++) {
      const before = proxy.connections.length;
      const client = await connectAsync(`mqtts://localhost:${proxy.port}`, { ca: fs.readFileSync(pki.ca), protocolVersion: 4, clientId: "mqttjs-tls-bench", clean: true, reconnectPeriod: 0 });
      await client.publishAsync("torpor/tls-bench/telemetry", Buffer.alloc(120, 0x61), { qos: 1 });
      await client.endAsync();
      await closed(proxy.connections[before]!);
      const trace = proxy.connections[before]!;
      if (i > 0) wakes.push({ ...flights(trace), bytesUp: trace.up.bytes, bytesDown: trace.down.bytes });
    }
    return summary(wakes);
  } finally {
    await proxy.close();
  }
}

/** 100 wakes in a row straight to the broker: the share that resumed after the first. */
async function resumeRate(broker: Mosquitto, pki: Pki): Promise<{ wakes: number; resumed: number; refused: number }> {
  const ram = fs.existsSync("/dev/shm") ? "/dev/shm" : undefined;
  const node = new TestNode(`tls-rate`, { broker: `mqtts://localhost:${broker.port}`, tlsCa: pki.ca, mqttVersion: 4 }, ram);
  try {
    for (let i = 0; i < RESUME_WAKES; i++) {
      const report = await node.wake();
      if (report.error !== undefined) throw new Error(`wake ${i + 1}: ${report.error}`);
    }
    const c = counters(node);
    return { wakes: RESUME_WAKES, resumed: c?.tlsResumed ?? 0, refused: c?.tlsRefused ?? 0 };
  } finally {
    node.remove();
  }
}

const verdict = (ok: boolean, missedBy: string) => (ok ? "met" : `missed by ${missedBy}`);

async function main(): Promise<void> {
  const missing = mosquittoMissing() ?? opensslMissing();
  if (missing) {
    process.stdout.write(`${JSON.stringify({ bench: "tls", skipped: missing })}\n`);
    return;
  }
  const pki = makePki(true);
  // RFC 7919's 2048-bit group: what a broker set up for DHE loads, made at once (no prime search).
  const dhparam = path.join(pki.dir, "dhparam.pem");
  execFileSync("openssl", ["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", dhparam], { stdio: ["ignore", "ignore", "pipe"] });
  fs.chmodSync(dhparam, 0o644);
  const secure = [`cafile ${pki.ca}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`];
  const scenarios: Scenario[] = [
    { name: "plain", listener: [], secure: false, maxVersion: "TLSv1.3" },
    { name: "TLS 1.2, ECDHE", listener: secure, secure: true, maxVersion: "TLSv1.2" },
    // What mosquitto's default order picks for Moddable's client: the SDK offers AES-256 only with DHE.
    { name: "TLS 1.2, DHE", listener: [...secure, "ciphers DHE-RSA-AES256-SHA256:DHE-RSA-AES256-GCM-SHA384", `dhparamfile ${dhparam}`], secure: true, maxVersion: "TLSv1.2" },
    { name: "TLS 1.3", listener: secure, secure: true, maxVersion: "TLSv1.3" },
  ];
  const rows: Record<string, Figures> = {};
  let rate: { wakes: number; resumed: number; refused: number } | undefined;
  let mcsim: Record<string, Figures> | { skipped: string };
  try {
    for (const scenario of scenarios) {
      tls.DEFAULT_MAX_VERSION = scenario.maxVersion;
      const broker = await startMosquitto({ listener: scenario.listener });
      try {
        if (!scenario.secure) {
          rows["plain"] = await torpor(broker, pki, scenario, false);
          continue;
        }
        rows[`${scenario.name}, full`] = await torpor(broker, pki, scenario, false);
        rows[`${scenario.name}, resumed`] = await torpor(broker, pki, scenario, true);
        if (scenario.name === "TLS 1.2, ECDHE") {
          rows["mqtt.js over mqtts (TLS 1.2, ECDHE)"] = await mqttjs(broker, pki);
          rate = await resumeRate(broker, pki);
        }
      } finally {
        await broker.stop();
      }
    }
    mcsim = await mcsimWakes(pki, secure, MCSIM_REPEAT);
  } finally {
    fs.rmSync(pki.dir, { recursive: true, force: true });
  }
  const node = withHandshake(rows);
  const result = {
    bench: "tls",
    baseline: "mqtt.js over mqtts (TLS 1.2, ECDHE)",
    setup: { delayMsEachWay: DELAY_MS, repeat: { node: REPEAT, mcsim: MCSIM_REPEAT }, mqtt: "3.1.1", ca: "RSA-2048, two-certificate chain", thinkMs: "client compute in the connection, ms, median" },
    node: { wakes: node, resumption: rate, targets: targets(node["TLS 1.2, ECDHE, full"]!, node["TLS 1.2, ECDHE, resumed"]!, rate) },
    mcsim: "skipped" in mcsim ? mcsim : (() => {
      const m = withHandshake(mcsim);
      return { wakes: m, targets: targets(m["full, ECDHE"]!, m["resumed"]!) };
    })(),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

type Row = Figures & { handshakeBytes?: number; handshakeThinkMs?: number };

/** Each row with what it adds to the plain one: handshake bytes both ways, client think time. */
function withHandshake(rows: Record<string, Figures>): Record<string, Row> {
  const plain = rows["plain"]!;
  return Object.fromEntries(
    Object.entries(rows).map(([name, f]) => [
      name,
      name === "plain" ? f : { ...f, handshakeBytes: f.bytesUp + f.bytesDown - plain.bytesUp - plain.bytesDown, handshakeThinkMs: Math.max(0, Math.round((f.thinkMs - plain.thinkMs) * 100) / 100) },
    ]),
  );
}

/** The issue's targets, met or missed by how much. */
function targets(full: Row, resumed: Row, rate?: { wakes: number; resumed: number }): Record<string, string> {
  const bytes = resumed.handshakeBytes ?? NaN;
  // Where the TLS stack times its own handshake work (mcsim), that; else the think time it added.
  const work = (f: Row) => f.workMs ?? f.handshakeThinkMs ?? 0;
  const share = work(full) > 0 ? work(resumed) / work(full) : NaN;
  const result: Record<string, string> = {
    "resumed wake: 2 round trips after TCP": `${resumed.roundTrips}: ${verdict(resumed.roundTrips <= TARGET.roundTrips, `${resumed.roundTrips - TARGET.roundTrips} round trip(s)`)}`,
    "resumed wake: ≤ 800 B of handshake both ways": `${bytes} B: ${verdict(bytes <= TARGET.handshakeBytes, `${bytes - TARGET.handshakeBytes} B`)}`,
    "resumed wake: ≤ 10 % of a full ECDHE handshake's client compute": `${Math.round(share * 1000) / 10} %: ${verdict(share <= TARGET.computeShare, `${Math.round((share - TARGET.computeShare) * 1000) / 10} points`)}`,
  };
  if (rate) {
    const resumedShare = rate.resumed / (rate.wakes - 1);
    result["≥ 95 % of 100 wakes resumed (after the first)"] = `${rate.resumed} of ${rate.wakes - 1}: ${verdict(resumedShare >= TARGET.resumedShare, `${Math.ceil(TARGET.resumedShare * (rate.wakes - 1)) - rate.resumed} wakes`)}`;
  }
  return result;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
