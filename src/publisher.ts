// One short, pipelined MQTT exchange: network up, TCP, then CONNECT, the re-sent unacknowledged
// messages (DUP) and the new batches in a single write, before CONNACK (MQTT §3.1.4 allows it).
// Each PUBACK releases its readings from retained memory; when nothing is left in flight the node
// publishes its retained status and DISCONNECTs normally. Every wait is bounded by awakeTimeout.

import type { Config } from "./config";
import type { Host, TCP } from "./host";
import { ProtocolError } from "./mqtt/codec";
import type { PublishPacket } from "./mqtt/packets";
import { connackReason } from "./mqtt/reasons";
import { PublisherSession, type InFlight, type OutgoingPublish } from "./mqtt/session";
import type { NodeState } from "./power/state";
import type { Channel } from "./sensors/registry";
import { encodeSenmlJson, contentType } from "./telemetry/senml-json";
import { utf8Encode } from "./encoding/utf8";

/** Messages a wake may have in flight at once: bounded so the retained table and the broker's
 *  Receive Maximum (mosquitto's default is 20) are never exceeded. */
const MAX_IN_FLIGHT = 8;

export interface PublishOutcome {
  /** Readings acknowledged by the broker in this wake. */
  delivered: number;
  /** PUBLISH packets sent (re-sent ones included). */
  messages: number;
  sessionPresent?: boolean;
  bytesUp: number;
  bytesDown: number;
  /** Messages the broker delivered to the node (downlink commands). */
  downlink: PublishPacket[];
  error?: string;
}

export function topics(config: Config, node: string) {
  const base = `${config.prefix}/${node}`;
  return { telemetry: `${base}/telemetry`, status: `${base}/status`, command: `${base}/cmd` };
}

export function nodeId(config: Config, host: Host): string {
  return config.node || host.id;
}

export function publish(
  host: Host,
  config: Config,
  channels: readonly Channel[],
  state: NodeState,
  commit: () => void,
  nextWakeMs: number,
): Promise<PublishOutcome> {
  const node = nodeId(config, host);
  const topic = topics(config, node);
  const baseName = `urn:dev:torpor:${node}:`;
  const version = config.mqttVersion;
  const sensorIds = config.sensors.map((s) => s.id);
  const outcome: PublishOutcome = { delivered: 0, messages: 0, bytesUp: 0, bytesDown: 0, downlink: [] };
  const session = new PublisherSession(version, state.session);

  const message = (first: number, count: number): OutgoingPublish | undefined => {
    const readings = state.buffer.range(first, count);
    if (!readings.length) return undefined;
    const m: OutgoingPublish = { topic: topic.telemetry, payload: encodeSenmlJson(baseName, channels, sensorIds, readings), qos: config.qos, retain: false };
    if (version === 5) m.properties = { contentType };
    return m;
  };

  /** The oldest reading anything still needs: older ones have been delivered. */
  const release = () => {
    let keep = state.unsent;
    for (const e of state.session.inflight) if (((e.first - keep) | 0) < 0) keep = e.first;
    state.buffer.release(keep);
  };

  return new Promise((resolve) => {
    let socket: TCP | undefined;
    let connected = false;
    let finished = false;
    let closing = false;

    const finish = (error?: string) => {
      if (finished) return;
      finished = true;
      host.timer.clear(deadline);
      if (socket) {
        try {
          socket.close();
        } catch {
          // Already closed by the peer.
        }
      }
      host.network.down();
      if (error !== undefined) outcome.error = error;
      resolve(outcome);
    };

    const deadline = host.timer.set(() => finish(`no answer within ${config.awakeTimeout} s`), config.awakeTimeout * 1000);

    const write = (bytes: Uint8Array | undefined) => {
      if (!bytes || !socket) return;
      outcome.bytesUp += bytes.length;
      socket.write(bytes);
    };

    const start = () => {
      const expiry = sessionExpiry(config);
      const status = utf8Encode(JSON.stringify({ state: "offline" }));
      session.connect({
        clientId: `torpor-${node}`,
        cleanStart: false,
        // Deep sleep: the keepalive only has to cover the awake window.
        keepAlive: config.awakeTimeout,
        ...(config.brokerUser ? { username: config.brokerUser } : {}),
        ...(config.brokerPassword ? { password: utf8Encode(config.brokerPassword) } : {}),
        will: {
          topic: topic.status,
          payload: status,
          qos: 1,
          retain: true,
          ...(version === 5 ? { properties: { willDelayInterval: expiry } } : {}),
        },
        ...(version === 5 ? { properties: { sessionExpiryInterval: expiry } } : {}),
      });
      for (const entry of [...state.session.inflight]) {
        const m = message(entry.first, entry.count);
        if (m) {
          session.resend(entry, m);
          outcome.messages++;
        } else {
          // Its readings were dropped as the oldest when the buffer overflowed (and counted then).
          forget(entry);
        }
      }
      if (((state.unsent - state.buffer.first) | 0) < 0) state.unsent = state.buffer.first;
      while (state.session.inflight.length < MAX_IN_FLIGHT || config.qos === 0) {
        const count = Math.min(config.batchSize, (state.buffer.next - state.unsent) >>> 0);
        const m = count > 0 ? message(state.unsent, count) : undefined;
        if (!m) break;
        session.publish(m, 0, state.unsent, count);
        state.unsent = (state.unsent + count) >>> 0;
        outcome.messages++;
      }
      // The in-flight table, with the packet ids just assigned, is retained before any byte leaves:
      // if power fails after the write, the next wake re-sends under the same ids.
      commit();
      write(session.takeOutput());
    };

    const forget = (entry: InFlight) => {
      const i = state.session.inflight.indexOf(entry);
      if (i >= 0) state.session.inflight.splice(i, 1);
    };

    const done = () => {
      if (closing || !connected || state.session.inflight.length) return;
      closing = true;
      if (config.qos === 0) {
        outcome.delivered += ((state.unsent - state.buffer.first) >>> 0);
        state.counters.delivered += ((state.unsent - state.buffer.first) >>> 0);
      }
      release();
      commit();
      const status = {
        state: "asleep",
        host: host.name,
        nextWake: Math.round(nextWakeMs / 1000),
        buffered: state.buffer.length,
        dropped: state.buffer.dropped,
        ...state.counters,
        sensorErrors: Object.fromEntries(config.sensors.map((s, i) => [s.id, state.sensorErrors[i] ?? 0])),
      };
      session.publish({ topic: topic.status, payload: utf8Encode(JSON.stringify(status)), qos: 0, retain: true }, 0, 0, 0);
      session.disconnect();
      write(session.takeOutput());
      finish();
    };

    const received = (bytes: Uint8Array) => {
      outcome.bytesDown += bytes.length;
      let events;
      try {
        events = session.receive(bytes);
      } catch (e) {
        finish(e instanceof ProtocolError ? `protocol error from broker: ${e.message}` : String(e));
        return;
      }
      for (const event of events) {
        switch (event.type) {
          case "connack":
            if (event.reasonCode !== 0) {
              finish(`broker refused the connection: ${connackReason(version, event.reasonCode)}`);
              return;
            }
            connected = true;
            outcome.sessionPresent = event.sessionPresent;
            state.brokerVersion = version;
            break;
          case "acked":
            // A v5 negative PUBACK is still an answer: the broker will never take that message, so
            // keeping it would only block the buffer. It is counted as a failure, not as delivered.
            if (event.reasonCode < 0x80) {
              outcome.delivered += event.entry.count;
              state.counters.delivered += event.entry.count;
            } else {
              outcome.error = `broker rejected a batch: reason 0x${event.reasonCode.toString(16)}`;
            }
            release();
            commit();
            break;
          case "message":
            outcome.downlink.push(event.publish);
            break;
          case "disconnect":
            finish(`broker disconnected: reason 0x${event.reasonCode.toString(16)}`);
            return;
        }
      }
      write(session.takeOutput());
      done();
    };

    host.network.up(config.awakeTimeout * 1000, (error) => {
      if (finished) return;
      if (error) return finish(`network: ${error.message}`);
      host.network.resolve(config.broker.host, (error, address) => {
        if (finished) return;
        if (error || !address) return finish(`cannot resolve ${config.broker.host}: ${error?.message ?? "no address"}`);
        if (config.broker.secure) return finish("mqtts:// is not supported yet");
        let started = false;
        try {
          socket = new host.network.TCP({
            address,
            port: config.broker.port,
            nodelay: true,
            format: "buffer",
            onWritable() {
              if (started) return;
              started = true;
              start();
            },
            onReadable() {
              const data = this.read();
              if (data) received(new Uint8Array(data));
            },
            onError(error?: Error) {
              finish(`connection to ${config.broker.host}:${config.broker.port} failed: ${error?.message ?? "closed"}`);
            },
          });
        } catch (e) {
          finish(`cannot open connection: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
    });
  });
}

/** MQTT 5 Session Expiry (and Will Delay), seconds: a few publish periods, so a sleeping node keeps
 *  its session and "offline" is announced only for a node that misses its wakes. */
export function sessionExpiry(config: Config): number {
  const publishPeriod = Math.min(config.sampleInterval * config.batchSize, Math.max(config.maxLatency, config.sampleInterval));
  return config.sessionPeriods * publishPeriod;
}
