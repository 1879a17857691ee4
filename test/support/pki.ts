// A throwaway PKI made at test time with openssl, for the tests that run mqtts:// against mosquitto.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./e2e-node";

const openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].find((p) => fs.existsSync(p));
export function opensslMissing(): string | undefined {
  return openssl ? undefined : "openssl is not installed (apt-get install openssl)";
}

export interface Pki {
  dir: string;
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throwaway PKI: two CAs (the right one and a stranger), a server and a client certificate;
 *  P-256 keys, or RSA-2048 ones with `rsa` (what a broker needs for DHE-RSA and ECDHE-RSA suites). */
export function makePki(rsa = false): Pki {
  const dir = tempDir("pki");
  const at = (name: string) => path.join(dir, name);
  const run = (...args: string[]) => execFileSync(openssl!, args, { stdio: ["ignore", "ignore", "pipe"] });
  const key = rsa ? ["-newkey", "rsa:2048", "-nodes"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  for (const ca of ["ca", "other-ca"]) {
    run("req", "-x509", ...key, "-keyout", at(`${ca}.key`), "-out", at(`${ca}.crt`), "-days", "2", "-subj", `/CN=torpor test ${ca}`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  }
  const issue = (name: string, subject: string, extensions: string) => {
    fs.writeFileSync(at(`${name}.ext`), extensions);
    run("req", ...key, "-keyout", at(`${name}.key`), "-out", at(`${name}.csr`), "-subj", subject);
    run("x509", "-req", "-in", at(`${name}.csr`), "-CA", at("ca.crt"), "-CAkey", at("ca.key"), "-CAcreateserial", "-out", at(`${name}.crt`), "-days", "2", "-extfile", at(`${name}.ext`));
  };
  issue("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  issue("client", "/CN=sensor", "extendedKeyUsage=clientAuth\n");
  for (const f of fs.readdirSync(dir)) fs.chmodSync(at(f), 0o644);
  return { dir, ca: at("ca.crt"), otherCa: at("other-ca.crt"), serverCert: at("server.crt"), serverKey: at("server.key"), clientCert: at("client.crt"), clientKey: at("client.key") };
}
