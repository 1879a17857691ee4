// The operator's P-256 key pair: update.key (PKCS#8 PEM, readable by its owner only) signs offers;
// update.pub (one line, `parseUpdateKey`'s format) goes into every node's config as `updateKey`.

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { toHex } from "../../src/encoding/hex";
import { KEY_PREFIX } from "../../src/update/key";

export function keygen(dir: string): { key: string; pub: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const key = path.join(dir, "update.key");
  const pub = path.join(dir, "update.pub");
  if (fs.existsSync(key)) throw new Error(`${key} exists: keeping it (a new key would orphan every node configured with the old one)`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(key, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  fs.writeFileSync(pub, `${publicLine(publicKey)}\n`);
  return { key, pub };
}

/** update.pub's line for a P-256 public key. */
export function publicLine(key: crypto.KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  return `${KEY_PREFIX}${toHex(point)}`;
}

/** The signing key in `file`, checked to be P-256. */
export function readSigningKey(file: string): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(fs.readFileSync(file));
  } catch (e) {
    throw new Error(`--key ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error(`--key ${file}: not a P-256 key`);
  return key;
}
