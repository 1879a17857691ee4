// What the broker-*.test.ts suites share: a simulated node that reaches a real broker through the
// fault proxy (so a test can take the broker away for a few wakes and read the wire), a subscriber
// outside torpor with a persistent session, subscribed before the node's first wake, and the
// accounting those suites exist for: every reading the node committed either reached that
// subscriber, or is counted by the node (refused by the broker for good, or dropped by a full
// buffer), or is still in its retained memory. Nothing may go missing silently.

import assert from "node:assert/strict";
import * as path from "node:path";
import type { IClientOptions } from "mqtt";
import { layeredConfig, manifestConfig, readConfigFile } from "../../hosts/node/config-file";
import type { NodeState } from "../../src/retained/state";
import { nodeState } from "../torture-node";
import { dedupe, Subscriber, TestNode, type Sample } from "./e2e-node";
import { freePort } from "./mosquitto";
import { connackProperties, connectionsOf, PacketType, settled, startProxy, type ConnectionTrace, type Proxy } from "./proxy";

export interface RigOptions {
  /** The subscriber's MQTT version (default 5; RabbitMQ 3.10 speaks only 4). */
  subscriberVersion?: 4 | 5;
  /** Its subscription QoS (default 1). */
  subscriberQos?: 0 | 1 | 2;
  subscriberOptions?: IClientOptions;
}

export class Rig {
  private constructor(
    readonly node: TestNode,
    readonly proxy: Proxy,
    readonly subscriber: Subscriber,
    readonly brokerPort: number,
  ) {}

  /** `broker`: the broker's loopback port; `config`: the node's config (its broker is the proxy). */
  static async start(name: string, broker: number, config: Record<string, unknown>, options: RigOptions = {}): Promise<Rig> {
    const proxy = await startProxy({ port: broker });
    const version = options.subscriberVersion ?? 5;
    // A short awake window: loopback brokers answer in milliseconds, and a wake that waits for
    // an answer that never comes should not cost the suite much.
    const node = new TestNode(name, { awakeTimeout: 3, ...config, broker: proxy.url });
    const subscriber = await Subscriber.connect(
      `mqtt://127.0.0.1:${broker}`,
      [node.telemetryTopic, node.statusTopic],
      { clean: false, clientId: `watcher-${name}`, protocolVersion: version, ...(version === 5 ? { properties: { sessionExpiryInterval: 600 } } : {}), ...options.subscriberOptions },
      options.subscriberQos ?? 1,
    );
    return new Rig(node, proxy, subscriber, broker);
  }

  /** The client id the node connects with (docs/mqtt.md: torpor-<node>). */
  get clientId(): string {
    return `torpor-${this.node.name}`;
  }

  wake(): ReturnType<TestNode["wake"]> {
    return this.node.wake();
  }

  /** `wakes` wakes with the broker unreachable (connection refused): the readings pile up, and
   *  the publish attempts back off; then the broker is back. */
  async outage(wakes: number): Promise<void> {
    this.proxy.target = { host: "127.0.0.1", port: await freePort() };
    try {
      for (let i = 0; i < wakes; i++) await this.wake();
    } finally {
      this.proxy.target = { host: "127.0.0.1", port: this.brokerPort };
    }
  }

  /** Wakes until the node holds nothing (every reading out, nothing in flight), at most `wakes` times. */
  async drain(wakes = 12): Promise<void> {
    for (let i = 0; i < wakes; i++) {
      await this.wake();
      const state = this.state();
      if (state.buffer.length === 0 && state.session.inflight.length === 0) return;
    }
  }

  /** The node's retained state, read back from its file with the firmware's own code. */
  state(): NodeState {
    const { raw } = layeredConfig(manifestConfig(), readConfigFile(this.node.configFile));
    const state = nodeState(path.join(this.node.dir, "state"), raw);
    assert.ok(state !== undefined && state !== "empty", `no usable retained state\n${this.node.log()}`);
    return state;
  }

  /** The node's connections, each complete (both sides closed). */
  async connections(): Promise<ConnectionTrace[]> {
    return Promise.all(connectionsOf(this.proxy, this.clientId).map((c) => settled(c)));
  }

  /** The node's readings as the subscriber got them: one per reading, in time order. */
  received(): Sample[] {
    return dedupe(this.subscriber.records(this.node.telemetryTopic), this.node.name).samples;
  }

  /**
   * The accounting: the readings the subscriber got are readings the node sampled, in order, and
   * every sampled reading it did not get is counted by the node (`refused`, `dropped`) or still
   * buffered. `drained`: and nothing is left buffered or in flight. Returns the node's state.
   */
  async assertAccounted(options: { drained?: boolean } = {}): Promise<NodeState> {
    const state = this.state();
    const sampled = this.node.sampled();
    const { refused } = state.counters;
    const counted = refused + state.buffer.dropped + state.buffer.length;
    await this.subscriber.until(() => this.received().length >= sampled.length - counted);
    const received = this.received();
    const log = `\n--- node log ---\n${this.node.log()}`;
    assert.ok(isSubsequence(received, sampled), `the subscriber got readings the node never sampled, or out of order${log}`);
    // Buffered readings may have arrived already: the buffer lets go of its oldest readings only, so
    // readings delivered behind one still kept stay buffered until it goes too.
    const missing = sampled.length - received.length;
    const message = `${sampled.length} readings sampled, ${received.length} received: the ${missing} missing should be within ${refused} refused + ${state.buffer.dropped} dropped + ${state.buffer.length} buffered${log}`;
    assert.ok(missing <= counted && missing >= refused + state.buffer.dropped, message);
    if (options.drained) {
      assert.equal(state.buffer.length, 0, `readings left behind after draining${log}`);
      assert.equal(state.session.inflight.length, 0, `messages left in flight after draining${log}`);
    }
    return state;
  }

  async close(): Promise<void> {
    await this.subscriber.end();
    await this.proxy.close();
    this.node.remove();
  }
}

/**
 * MQTT 5: proxy time of the first CONNACK that announced `limit`, from which the node knows it (what
 * it pipelined before that CONNACK could not know it). Fails when no CONNACK announced it.
 */
export function limitKnownFrom(connections: ConnectionTrace[], limit: "receiveMaximum" | "maximumPacketSize" | "maximumQoS" | "retainAvailable"): number {
  for (const c of connections) {
    for (const f of c.down.frames) if (f.type === PacketType.CONNACK && connackProperties(f)[limit] !== undefined) return f.at;
  }
  assert.fail(`no CONNACK announced ${limit}`);
}

function isSubsequence(part: Sample[], whole: Sample[]): boolean {
  let i = 0;
  for (const s of whole) if (i < part.length && s.temperature === part[i]!.temperature && s.humidity === part[i]!.humidity) i++;
  return i === part.length;
}
