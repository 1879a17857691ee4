// The operator's public key as one line of text (update.pub, config `updateKey`):
// "ecdsa-p256 " and the uncompressed P-256 point in hex (04‖x‖y, 65 bytes).

import { fromHex } from "../encoding/hex";

export const KEY_PREFIX = "ecdsa-p256 ";
export const POINT_BYTES = 65;

/** The point, or undefined when `text` is not such a line. */
export function parseUpdateKey(text: string): Uint8Array | undefined {
  const line = text.trim();
  if (!line.startsWith(KEY_PREFIX)) return undefined;
  const point = fromHex(line.slice(KEY_PREFIX.length), POINT_BYTES);
  return point && point[0] === 4 ? point : undefined;
}
