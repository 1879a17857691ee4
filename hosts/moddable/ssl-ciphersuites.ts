// The module named "ssl/ciphersuites" in Moddable builds (hosts/moddable/manifest.json maps it): the
// SDK's suites less every one whose key exchange is not ECDHE. The SDK offers AES-256 only with
// finite-field DHE and static RSA, so a broker that orders by strength (mosquitto's default) picks
// DHE: two 2048-bit modular exponentiations, about 11 times an ECDHE handshake's client work, and
// static RSA has no forward secrecy. Offering ECDHE alone leaves a broker no such choice.

import all from "ssl/sdk-ciphersuites";

/** ssl/constants' ECDHE_RSA, which the SDK also gives its one ECDHE_ECDSA suite. */
const ECDHE = 6;

export default all.filter((suite) => suite.keyExchangeAlgorithm === ECDHE);
