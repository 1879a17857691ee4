// The XS harness's script ECDSA P-256 verifier (tools/xs/p256.ts) against node:crypto: signatures
// node:crypto made verify, and each one altered — message, r, s, key, r or s out of range, a point
// off the curve — is refused, as node:crypto refuses it.

import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { it } from "node:test";
import { parseUpdateKey } from "../src/update/key";
import { publicLine } from "../tools/update/keys";
import { p256Verify } from "../tools/xs/p256";

const N = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");

it("script P-256 verification agrees with node:crypto", () => {
  for (let k = 0; k < 4; k++) {
    const pair = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const other = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const key = parseUpdateKey(publicLine(pair.publicKey))!;
    for (const length of [0, 1, 55, 64, 300]) {
      const message = Buffer.from(Array.from({ length }, (_, i) => (i * 31 + k) & 0xff));
      const sig = crypto.sign("sha256", message, { key: pair.privateKey, dsaEncoding: "ieee-p1363" });
      const nodeSays = (m: Uint8Array, s: Uint8Array, pub = pair.publicKey) => crypto.verify("sha256", m, { key: pub, dsaEncoding: "ieee-p1363" }, s);
      assert.equal(p256Verify(key, message, sig), true, `key ${k}, length ${length}`);
      const flip = (b: Uint8Array, at: number) => Uint8Array.from(b, (x, i) => (i === at ? x ^ 1 : x));
      const altered: [string, Uint8Array, Uint8Array][] = [
        ["message", length ? flip(message, 0) : Buffer.from([0]), sig],
        ["r", message, flip(sig, 5)],
        ["s", message, flip(sig, 40)],
        ["r = 0", message, Buffer.concat([Buffer.alloc(32), sig.subarray(32)])],
        ["s = n", message, Buffer.concat([sig.subarray(0, 32), N])],
      ];
      for (const [what, m, s] of altered) assert.equal(p256Verify(key, m, s), nodeSays(m, s), `${what}, key ${k}, length ${length}`);
      assert.equal(nodeSays(message, sig, other.publicKey), false);
      assert.equal(p256Verify(parseUpdateKey(publicLine(other.publicKey))!, message, sig), false, "another key");
      assert.equal(p256Verify(flip(key, 64), message, sig), false, "a point off the curve");
    }
  }
});
