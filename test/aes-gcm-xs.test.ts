// The XS harness's script AES-128-GCM (tools/xs/aes-gcm.ts) against node:crypto: with and without
// additional data, across block edges, and tags that do not match.

import assert from "node:assert/strict";
import { it } from "node:test";
import { nodeCrypto } from "../hosts/node/host";
import { scriptAesGcm } from "../tools/xs/aes-gcm";

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 7) & 0xff);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

it("script AES-128-GCM seals byte for byte what node:crypto seals, and opens only what is intact", () => {
  for (const n of [0, 1, 15, 16, 17, 31, 32, 33, 100, 257]) {
    for (const a of [0, 1, 16, 20, 40]) {
      const key = bytes(16, n + a);
      const nonce = bytes(12, n);
      const aad = bytes(a, 9);
      const plaintext = bytes(n, a + 1);
      const sealed = scriptAesGcm.seal(key, nonce, aad, plaintext);
      assert.equal(hex(sealed), hex(nodeCrypto.aesGcm!.seal(key, nonce, aad, plaintext)), `plaintext ${n}, aad ${a}`);
      assert.equal(hex(scriptAesGcm.open(key, nonce, aad, sealed)!), hex(plaintext));
      const altered = sealed.slice();
      altered[n % sealed.length]! ^= 0x80;
      assert.equal(scriptAesGcm.open(key, nonce, aad, altered), undefined, `altered byte ${n % sealed.length}`);
      assert.equal(nodeCrypto.aesGcm!.open(key, nonce, aad, altered), undefined);
    }
  }
});
