// The XS harness's script SHA-256 and HMAC (tools/xs/sha256.ts) against node:crypto: every length
// around the padding's edges, keys longer than a block, and the RFC 4231 vectors' shapes.

import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { it } from "node:test";
import { scriptCrypto, sha256 } from "../tools/xs/sha256";

it("script SHA-256 and HMAC-SHA-256 agree with node:crypto", () => {
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 0xff);
  for (let n = 0; n <= 200; n++) {
    assert.equal(Buffer.from(sha256(bytes(n, n))).toString("hex"), createHash("sha256").update(bytes(n, n)).digest("hex"), `length ${n}`);
  }
  for (const keyLength of [0, 1, 20, 32, 63, 64, 65, 131]) {
    for (const n of [0, 1, 50, 55, 56, 64, 119, 1000]) {
      const key = bytes(keyLength, 3);
      const message = bytes(n, 5);
      assert.equal(Buffer.from(scriptCrypto.hmacSha256(key, message)).toString("hex"), createHmac("sha256", key).update(message).digest("hex"), `key ${keyLength}, message ${n}`);
    }
  }
});
