// The module named "ssl/ciphersuites" in Moddable builds, in place of the SDK's (hosts/moddable/
// manifest.json excludes that one): its ECDHE suites alone, entry for entry as the SDK 8.2 defines
// them in modules/crypt/ssl/ssl_ciphersuites.js. The SDK offers AES-256 only with finite-field DHE
// and static RSA, so a broker that orders by strength (mosquitto's default) picks DHE: two 2048-bit
// modular exponentiations, about 11 times an ECDHE handshake's client work; static RSA has no
// forward secrecy. Offering ECDHE alone leaves a broker no such choice.

import { AES, CBC, ECDHE_RSA, GCM, SHA256 } from "ssl/constants";

const aes128 = { isExportable: false, keyExchangeAlgorithm: ECDHE_RSA, cipherAlgorithm: AES, cipherKeySize: 16, cipherBlockSize: 16, hashAlgorithm: SHA256, hashSize: 32 };
const gcm = { encryptionMode: GCM, ivSize: 8, saltSize: 4 };

export default [
  // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (RFC 5289): first, as GCM needs no separate MAC.
  { value: [0xc0, 0x2f], ...aes128, ...gcm },
  // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: the SDK files it under ECDHE_RSA too.
  { value: [0xc0, 0x2b], ...aes128, ...gcm },
  // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 (RFC 5289)
  { value: [0xc0, 0x27], ...aes128, encryptionMode: CBC },
];
