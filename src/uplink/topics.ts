// The node's topic tree: `<prefix>/<node>/…`, one definition for everything that publishes,
// subscribes or points Home Assistant at it.

import type { Config } from "../config";

export interface Topics {
  /** Batches of readings. */
  telemetry: string;
  /** The retained status, and the Will. */
  status: string;
  /** Commands to the node (and its own sync marker). */
  command: string;
  /** Home Assistant's state: the newest values (retained). */
  latest: string;
}

export function topics(config: Config, node: string): Topics {
  const base = `${config.prefix}/${node}`;
  return { telemetry: `${base}/telemetry`, status: `${base}/status`, command: `${base}/cmd`, latest: `${base}/latest` };
}
