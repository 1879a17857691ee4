// The torpor node for Node-RED: takes the messages of an MQTT-in node subscribed to a fleet's
// telemetry and status topics, decodes them with torpor's own decoder (all three formats: the
// bundle carries it, build-package), drops the readings it has passed on already (QoS 1 and 2
// deliver again, and a node re-sends a batch whose PUBACK it lost), and sends
//   output 1: each reading (or each message's readings as one batch, the node's "output" option),
//   output 2: each sensor fault a batch carries,
//   output 3: each status (and the Will), decoded.
// A payload it cannot read is an error of the node (a Catch node gets it), never a crash.

import { TelemetryMonitor } from "../../../tools/monitor/events";
import { channelOf, valueOf } from "../../../tools/readings";

/** The parts of Node-RED's node API this node uses (its runtime passes the real ones). */
interface NodeMessage {
  topic?: string;
  payload?: unknown;
  /** Set by the MQTT-in node from an MQTT 5 Content Type. */
  contentType?: unknown;
  [key: string]: unknown;
}

interface NodeStatus {
  fill?: "red" | "green" | "yellow" | "blue" | "grey";
  shape?: "ring" | "dot";
  text?: string;
}

interface RedNode {
  on(event: "input", listener: (msg: NodeMessage, send: (msgs: (NodeMessage | NodeMessage[] | null)[]) => void, done: (error?: Error) => void) => void): void;
  status(status: NodeStatus): void;
}

export interface TorporNodeConfig {
  id: string;
  name?: string;
  /** The fleet's topic prefix (default "torpor"). */
  prefix?: string;
  /** "reading": a message per reading; "batch": one per incoming message. */
  output?: "reading" | "batch";
}

interface NodeAPI {
  nodes: {
    createNode(node: RedNode, config: TorporNodeConfig): void;
    registerType(type: string, constructor: (this: RedNode, config: TorporNodeConfig) => void): void;
  };
}

/** The bytes of an MQTT-in message's payload, whichever output type the MQTT-in node is set to:
 *  a Buffer, a UTF-8 string, or (auto-detect) the JSON it parsed, written back as JSON. */
function bytesOf(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  return new TextEncoder().encode(typeof payload === "string" ? payload : JSON.stringify(payload));
}

export default function register(RED: NodeAPI): void {
  RED.nodes.registerType("torpor", function (this: RedNode, config: TorporNodeConfig) {
    RED.nodes.createNode(this, config);
    const monitor = new TelemetryMonitor(config.prefix || "torpor");
    const batch = config.output === "batch";
    let readings = 0;
    let repeats = 0;
    this.on("input", (msg, send, done) => {
      const topic = typeof msg.topic === "string" ? msg.topic : "";
      const events = monitor.handle(topic, bytesOf(msg.payload), typeof msg.contentType === "string" ? msg.contentType : undefined);
      const values: NodeMessage[] = [];
      const faults: NodeMessage[] = [];
      const statuses: NodeMessage[] = [];
      let error: string | undefined;
      for (const event of events) {
        if (event.kind === "reading") {
          const r = event.reading;
          const channel = channelOf(r);
          const value = valueOf(r);
          if (value !== undefined) values.push({ topic: `${r.node}/${channel}`, payload: value, unit: r.unit, time: r.time, node: r.node, channel });
          else if (channel.endsWith("/error") && r.stringValue !== undefined) {
            faults.push({ topic: `${r.node}/${channel}`, payload: r.stringValue, time: r.time, node: r.node, sensor: channel.slice(0, -"/error".length) });
          }
        } else if (event.kind === "status") statuses.push({ topic: `${event.node}/status`, payload: event.status, node: event.node });
        else if (event.kind === "duplicate") repeats += event.count;
        else if (event.kind === "error") error = event.message;
      }
      readings += values.length;
      const node = topic.split("/").at(-2) ?? "";
      const first = batch ? (values.length ? [{ topic: node, node, payload: values.map(({ channel, time, payload, unit }) => ({ channel, time, value: payload, unit })) }] : []) : values;
      send([first, faults, statuses]);
      this.status({ fill: error ? "red" : "green", shape: "dot", text: `${readings} readings, ${repeats} repeats dropped${error ? "; last message unreadable" : ""}` });
      done(error === undefined ? undefined : new Error(`${topic}: ${error}`));
    });
  });
}
