// Topic Name and Topic Filter syntax (§4.7). The codec checks both directions with these, and
// config validation can reuse them to refuse a bad topic at boot instead of at the broker.

import type { Version } from "./packets";

/**
 * Why `topic` cannot be a Topic Name (a PUBLISH, Will or Response Topic), or undefined if it can.
 * Whether an empty name is allowed depends on the packet (MQTT 5 topic aliases), so that is the
 * caller's rule.
 */
export function topicNameError(topic: string, field = "topic"): string | undefined {
  for (let i = 0; i < topic.length; i++) {
    const c = topic[i];
    if (c === "+" || c === "#") return `${field} contains '${c}'`;
  }
  return undefined;
}

/**
 * Why `filter` cannot be a Topic Filter, or undefined if it can: not empty, `+` only as a whole
 * level, `#` only as the whole last level. In MQTT 5, `$share/<name>/<filter>` is a shared
 * subscription (§4.8.2) and the share name must be non-empty and free of `/`, `+` and `#`.
 */
export function topicFilterError(filter: string, version: Version): string | undefined {
  if (filter === "") return "topic filter is empty";
  let levels = filter;
  if (version === 5 && filter.startsWith("$share/")) {
    const slash = filter.indexOf("/", 7);
    const share = slash < 0 ? filter.slice(7) : filter.slice(7, slash);
    if (share === "") return `shared subscription '${filter}' has an empty share name`;
    if (share.includes("+") || share.includes("#")) return `share name in '${filter}' contains a wildcard`;
    if (slash < 0 || slash === filter.length - 1) return `shared subscription '${filter}' has no topic filter`;
    levels = filter.slice(slash + 1);
  }
  const parts = levels.split("/");
  for (let i = 0; i < parts.length; i++) {
    const level = parts[i]!;
    if (level.includes("#") && (level !== "#" || i !== parts.length - 1)) return `topic filter '${filter}' has '#' other than as the whole last level`;
    if (level.includes("+") && level !== "+") return `topic filter '${filter}' has '+' inside a level`;
  }
  return undefined;
}

export function isSharedSubscription(filter: string, version: Version): boolean {
  return version === 5 && filter.startsWith("$share/");
}
