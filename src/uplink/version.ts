// Which MQTT version a wake connects with, and the one way a node falls back from 5 to 3.1.1: on
// proof that its broker refuses 5, never on a guess (a broker down behind a proxy closes 5 and 3.1.1
// connections alike).

import type { Config } from "../config";
import type { Version } from "../mqtt/codec";
import type { NodeState } from "../retained/state";

/** Wakes a node stays on MQTT 3.1.1 after a broker refused 5, before it tries 5 once more (a broker
 *  may be upgraded): about a day at one-minute sampling. */
export const V5_RETRY_WAKES = 1440;

/** The protocol version to CONNECT with: 5 if configured, unless a broker refused it lately. */
export function versionFor(config: Config, state: NodeState): Version {
  const link = state.link;
  if (config.mqttVersion !== 5) return 4;
  if (link.version !== 4) return 5;
  return state.counters.wakes >= (link.v5RetryAt ?? Infinity) ? 5 : 4;
}

/** The node stays on MQTT 3.1.1 for a while: on proof that this broker refuses 5 (CONNACK 0x84, or
 *  a 5 CONNECT closed unanswered right after it took a 3.1.1 one in the same wake). */
export function fallBack(state: NodeState, log: (line: string) => void, why: string): void {
  log(`${why}; using MQTT 3.1.1 (MQTT 5 is tried again in ${V5_RETRY_WAKES} wakes)`);
  state.link.version = 4;
  state.link.v5RetryAt = state.counters.wakes + V5_RETRY_WAKES;
  delete state.link.v5Closed;
}

/** An accepting CONNACK: the version it answered is the one to use, and MQTT 5 needs no retry. A
 *  probe's CONNACK is not proof that 5 is refused: the broker may just have come back (`connect`
 *  decides, with one more MQTT 5 attempt in the same wake). */
export function accepted(state: NodeState, version: Version, probe: boolean): void {
  const link = state.link;
  if (!probe) {
    link.version = version;
    delete link.v5Closed;
  }
  if (version === 5) delete link.v5RetryAt;
}
