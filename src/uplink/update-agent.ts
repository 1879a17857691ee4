// The update agent of one connection: there only when the host can take an update and the config
// names the operator's key. Its subscriptions go out in the exchange's session.

import type { PublisherSession } from "../mqtt/session";
import { UpdateAgent } from "../update/agent";
import type { UpdateHost } from "../update/capability";
import { parseUpdateKey } from "../update/key";
import type { ExchangeOptions } from "./contract";

export function updateAgent(o: ExchangeOptions, session: PublisherSession): UpdateAgent | undefined {
  const key = parseUpdateKey(o.config.updateKey);
  if (!o.update || !key) return undefined;
  // The battery channel reads volts at a resolution of 1 mV: its raw values are millivolts.
  const battery = o.channels.findIndex((c) => c.property[0] === "battery");
  return new UpdateAgent({
    host: o.update,
    key,
    node: o.node,
    prefix: o.config.prefix,
    budget: { wakeBytes: o.config.updateBytesPerWake, dayBytes: o.config.updateBytesPerDay, wakeMs: o.config.updateSecondsPerWake * 1000 },
    battery: () => (battery < 0 ? undefined : o.state.lastSent[battery] ?? undefined),
    link: {
      subscribe: (topics, qos) => session.subscribe(topics.map((topic) => ({ topic, qos }))),
      unsubscribe: (topics) => session.unsubscribe(topics),
    },
    log: o.log,
  });
}

/** What the status says of the firmware: the running version wherever the host knows it, the
 *  update's state where the node takes updates, and a rollback either way. */
export function updateFacts(host: UpdateHost | undefined, agent: UpdateAgent | undefined): { firmware?: string; update?: Record<string, unknown> } {
  if (!host) return {};
  const update: Record<string, unknown> = { ...agent?.status() };
  if (host.rolledBack !== undefined) update.rolledBack = host.rolledBack;
  return Object.keys(update).length ? { firmware: host.version, update } : { firmware: host.version };
}
