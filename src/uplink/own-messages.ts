// The node's own QoS 0 messages beside its telemetry: the sync marker, the retained status and
// Home Assistant's. Nothing answers a QoS 0 PUBLISH, so a broker refuses one over its packet limit
// by closing the connection (and its Will then says "offline"): each goes out only in a size the
// limit takes, and one that does not fit is left out, counted (`skipped`) and logged.

import type { OutgoingPublish, PublisherSession } from "../mqtt/session";
import type { NodeState } from "../retained/state";
import type { BrokerLimits } from "./limits";
import { statusMessage, type StatusFacts } from "./status";

export interface OwnMessagesOptions {
  session: PublisherSession;
  limits: BrokerLimits;
  state: NodeState;
  log: (line: string) => void;
}

export class OwnMessages {
  readonly #o: OwnMessagesOptions;

  constructor(options: OwnMessagesOptions) {
    this.#o = options;
  }

  /** Publishes `message` if the broker's packet limit allows; left out and counted if not. */
  send(message: OutgoingPublish, what: string): boolean {
    const { session, limits } = this.#o;
    const length = session.publishLength(message);
    if (!limits.fits(length)) {
      this.#skip(what);
      return false;
    }
    session.publish(message);
    limits.sent(length, 0);
    return true;
  }

  /** The retained status, when it has news, in a size the broker takes: true when it was booked as
   *  sent (statusMessage), which the caller commits. */
  status(facts: StatusFacts, sessionPresent: boolean | undefined, topic: string): boolean {
    const { session, limits } = this.#o;
    const message = statusMessage(facts, sessionPresent, topic, limits, (m) => session.publishLength(m));
    if (message === undefined) return false;
    if (!message) {
      this.#skip("status");
      return false;
    }
    this.send(message, "status");
    return true;
  }

  #skip(what: string): void {
    this.#o.state.counters.skipped++;
    this.#o.log(`${what} left out: larger than the broker's packet limit of ${this.#o.limits.packetLimit} bytes`);
  }
}
