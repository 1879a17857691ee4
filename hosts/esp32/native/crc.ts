// The chip's ROM CRC-32 (crc.c) as Host.crc32 for the ESP32 host.

import type { Crc32 } from "../../../src/encoding/crc32";

export const romCrc32: Crc32 = function (this: unknown, bytes, start, end, previous) {
  return native("xs_torpor_crc32").call(this, bytes, start, end, previous);
};
