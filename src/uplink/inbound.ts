// What comes down to the node in one exchange, routed: the update agent's topics and SUBACKs first
// (when the node takes updates; it works only after the telemetry: docs/updates.md), then the
// commands and the sync marker (`Downlink`). The exchange hands every inbound event to this one
// object and asks it one question: is anything still owed?

import type { Instant } from "../host";
import type { UpdateAgent } from "../update/agent";
import type { Downlink } from "./downlink";

// Public methods only: XS keeps an instance of a class with private methods alive once dropped.
export class Inbound {
  constructor(readonly downlink: Downlink, readonly update: UpdateAgent | undefined) {}

  /** The first write: the update's offer subscription before the command marker, so that a retained
   *  offer is in before the marker comes back. */
  begin(): void {
    this.update?.begin();
    this.downlink.begin();
  }

  /** The broker had no session for the node: its subscriptions go out again. */
  sessionLost(): void {
    this.update?.sessionLost();
    this.downlink.sessionLost();
  }

  subscribed(packetId: number, reasonCodes: number[]): void {
    if (!this.update?.subscribed(packetId, reasonCodes)) this.downlink.subscribed(reasonCodes);
  }

  /** A PUBLISH to the node; true when it changed what is retained. */
  message(topic: string, payload: Uint8Array, now: Instant): boolean {
    if (this.update?.message(topic, payload, now)) return false;
    return this.downlink.message(topic, payload);
  }

  /** The telemetry is in (`batches` done): the update's share of the wake comes now, never before,
   *  and only once the marker is back. */
  pump(now: Instant): void {
    if (!this.downlink.awaited) this.update?.pump(now);
  }

  /** The marker, or a window of update chunks, is still owed. */
  get awaited(): boolean {
    return this.downlink.awaited || this.update?.busy === true;
  }

  /** The wake's deadline: what is still owed is left for the next wake. */
  giveUp(): void {
    this.downlink.giveUp();
    this.update?.giveUp();
  }
}
