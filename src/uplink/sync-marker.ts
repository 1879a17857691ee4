// The sync marker a wake publishes on its own command topic: when it comes back, every command
// queued while the node slept has arrived. It crosses the air twice at every publishing wake, so it
// is as short as it can be: the byte 0xff, which no UTF-8 text (and so no command) holds, then the
// wake's id, "<base 36>.<base 36>" in ASCII. Only that exact form is a marker: other bytes after
// 0xff are junk, answered as every malformed command is. Markers of earlier firmware, {"sync":…} and {"cmd":"sync","marker":…}, can
// still be queued in a session and count too.

const TAG = 0xff;
const ID = /^[0-9a-z]+\.[0-9a-z]+$/;

export function markerPayload(id: string): Uint8Array {
  const payload = new Uint8Array(1 + id.length);
  payload[0] = TAG;
  for (let i = 0; i < id.length; i++) payload[i + 1] = id.charCodeAt(i);
  return payload;
}

/** Whether `payload` is this wake's marker (`id` given) or any wake's. */
export function isMarker(payload: Uint8Array, id?: string): boolean {
  if (payload.length > 64) return false;
  if (payload[0] === TAG) {
    const found = String.fromCharCode(...payload.subarray(1));
    return id === undefined ? ID.test(found) : found === id;
  }
  // Cheap test first: earlier markers start {"sync" or {"cmd":"sync".
  if (payload[2] !== 0x73 /* s */ && payload[8] !== 0x73) return false;
  try {
    const value = JSON.parse(String.fromCharCode(...payload)) as { sync?: unknown; cmd?: unknown; marker?: unknown };
    const found = typeof value.sync === "string" ? value.sync : value.cmd === "sync" ? value.marker : undefined;
    return found !== undefined && (id === undefined || found === id);
  } catch {
    return false;
  }
}
