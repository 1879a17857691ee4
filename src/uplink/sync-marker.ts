// The sync marker a wake publishes on its own command topic: when it comes back, every command
// queued while the node slept has arrived. It crosses the air twice at every publishing wake, so
// it is short: {"sync":"<wake>.<packet id>"}, base 36. Markers of earlier firmware,
// {"cmd":"sync","marker":…}, can still be queued in a session and count too.

import { utf8Encode } from "../encoding/utf8";

export function markerPayload(id: string): Uint8Array {
  return utf8Encode(JSON.stringify({ sync: id }));
}

/** Whether `payload` is this wake's marker (`id` given) or any wake's. */
export function isMarker(payload: Uint8Array, id?: string): boolean {
  // Cheap test first: markers are small and start {"sync" or {"cmd":"sync".
  if (payload.length > 64 || (payload[2] !== 0x73 /* s */ && payload[8] !== 0x73)) return false;
  try {
    const value = JSON.parse(String.fromCharCode(...payload)) as { sync?: unknown; cmd?: unknown; marker?: unknown };
    const found = typeof value.sync === "string" ? value.sync : value.cmd === "sync" ? value.marker : undefined;
    return found !== undefined && (id === undefined || found === id);
  } catch {
    return false;
  }
}
