// Checks tagged telemetry (telemetry-tag.ts) for the monitor, the collector and any program using
// the decoder: the tag under the node's key, then the counter against what this verifier has seen
// of the node. A message seen before (its epoch, first reading and part) is a copy — QoS 1 delivers
// copies, and a copy brings only readings a store keyed by time already has — and passes; one of an
// epoch older than the node's newest, or numbered more than REPLAY_WINDOW readings before the newest
// seen, is a replay and is refused. A verifier starts knowing nothing: the first message of each
// node after a start sets where it stands.
//
// Given payload keys, it also opens encrypted telemetry (payload-seal.ts) first; with keys given
// as --payload-key, a message that is not encrypted is refused (the nodes are set to encrypt).

import type { PayloadFormat } from "../src/config";
import { nodeCrypto } from "../hosts/node/host";
import { openTelemetry } from "../src/telemetry/telemetry-tag";
import { isSealed, openPayload } from "../src/telemetry/payload-seal";
import { keysFor, type KeySource } from "./keys";
import { PayloadError } from "./payload-decoder";

/** Readings behind the newest seen that a message may still start at: more than a node's retained
 *  buffer holds (about 1,600 readings), so an old message sent again after a long outage passes. */
const REPLAY_WINDOW = 4096;

/** A message the verifier refuses: a PayloadError, so that whatever handles bad payloads handles it. */
export class TelemetryRefused extends PayloadError {}

interface NodeWindow {
  epoch: number;
  newest: number;
  seen: Set<string>;
}

export class TelemetryVerifier {
  readonly #source: KeySource | undefined;
  readonly #payload: KeySource | undefined;
  readonly #windows = new Map<string, NodeWindow>();

  /** `source`: the tags' keys (undefined: tags are not checked); `payload`: the encryption's. */
  constructor(source: KeySource | undefined, payload?: KeySource) {
    this.#source = source;
    this.#payload = payload;
  }

  /** The message inside an encrypted one that opens; a message that is not encrypted as it is,
   *  unless the keys were given as payload keys; throws TelemetryRefused saying why not. */
  unseal(topic: string, node: string, message: Uint8Array): Uint8Array {
    if (!isSealed(message)) {
      if (this.#payload && "keys" in this.#payload) throw new TelemetryRefused("encryption: not encrypted, and the nodes are to encrypt (--payload-key)");
      return message;
    }
    if (!this.#payload) throw new TelemetryRefused("encryption: encrypted, and no payload key given (--payload-key or --fleet-secret)");
    let error = "";
    for (const key of keysFor(this.#payload, node, "payload")) {
      const opened = openPayload(nodeCrypto, key, topic, message);
      if (!("error" in opened)) return opened.payload;
      error ||= opened.error;
    }
    throw new TelemetryRefused(`encryption: ${error}`);
  }

  /** The payload the node encoded, inside a message that passed; throws TelemetryRefused saying why not. */
  open(topic: string, node: string, format: PayloadFormat, message: Uint8Array): Uint8Array {
    if (!this.#source) return message;
    let error = "";
    for (const key of keysFor(this.#source, node, "telemetry")) {
      const opened = openTelemetry(nodeCrypto, key, format, topic, message);
      if ("error" in opened) {
        error ||= opened.error;
        continue;
      }
      this.#admit(node, opened.counter);
      return opened.payload;
    }
    throw new TelemetryRefused(`telemetry tag: ${error}`);
  }

  #admit(node: string, c: { epoch: number; first: number; kind: number }): void {
    const id = `${c.first}.${c.kind}`;
    const window = this.#windows.get(node);
    if (!window || c.epoch > window.epoch) {
      this.#windows.set(node, { epoch: c.epoch, newest: c.first, seen: new Set([id]) });
      return;
    }
    if (c.epoch < window.epoch) throw new TelemetryRefused(`telemetry tag: replayed (epoch ${c.epoch}, the node is at ${window.epoch})`);
    if (window.seen.has(id)) return;
    // Sequence numbers are serial (they wrap at 2^32).
    const behind = (window.newest - c.first) | 0;
    if (behind > REPLAY_WINDOW) throw new TelemetryRefused(`telemetry tag: replayed (reading ${c.first}, ${behind} behind the newest seen)`);
    window.seen.add(id);
    if (behind < 0) {
      window.newest = c.first;
      for (const old of window.seen) if (((c.first - Number(old.split(".")[0])) | 0) > REPLAY_WINDOW) window.seen.delete(old);
    }
  }
}
