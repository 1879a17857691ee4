// Config for Node-hosted nodes, layered as on a device: the manifest's `config` (what mcconfig would
// compile in), then a JSON file of the same keys (`--config FILE`), then per-run overrides.

import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, parseConfig, type Config } from "../../src/config";

/** The repository root, from dist/hosts/node or hosts/node. */
export const repoRoot = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? "../../.." : "../..");

export type RawConfig = Record<string, unknown>;

export function manifestConfig(): RawConfig {
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "manifest.json"), "utf8")) as { config?: RawConfig };
  return manifest.config ?? {};
}

/** Reads a --config file; errors name the file and what is wrong with it. */
export function readConfigFile(file: string): RawConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`--config ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`--config ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`--config ${file}: expected a JSON object of config keys`);
  return value as RawConfig;
}

export function layeredConfig(...layers: RawConfig[]): { config: Config; raw: RawConfig } {
  const raw = Object.assign({}, ...layers) as RawConfig;
  return { config: parseConfig(raw), raw };
}

/** The TLS keys, and the PEM block each must hold. */
const tlsKeys = [
  { key: "tlsCa", block: /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/ },
  { key: "tlsCert", block: /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/ },
  { key: "tlsKey", block: /-----BEGIN ([A-Z]+ )*PRIVATE KEY-----[\s\S]+?-----END ([A-Z]+ )*PRIVATE KEY-----/ },
] as const;

export interface TlsPem {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * The PEM text behind tlsCa, tlsCert and tlsKey (each PEM text itself or the path of a PEM file on
 * the Node host), checked at boot: a file that cannot be read, or holds no certificate (or key), is
 * a ConfigError naming the key, not a TLS failure at every wake. PEM text given inline is never
 * echoed: it may be a private key.
 */
export function tlsPem(config: Config): TlsPem {
  const pem: TlsPem = {};
  for (const { key, block } of tlsKeys) {
    const value = config[key];
    if (!value) continue;
    const inline = value.includes("-----BEGIN");
    let text = value;
    if (!inline) {
      try {
        text = fs.readFileSync(value, "utf8");
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new ConfigError(key, `${JSON.stringify(value)}: ${code === "ENOENT" ? "no such file" : code === "EACCES" ? "not readable" : code === "EISDIR" ? "a directory, not a file" : `cannot read it (${code ?? (e as Error).message})`}`);
      }
    }
    const what = key === "tlsKey" ? "a PEM private key" : "a PEM certificate";
    if (!block.test(text)) throw new ConfigError(key, inline ? `the text given is not ${what}` : `${JSON.stringify(value)} does not hold ${what}`);
    pem[key === "tlsCa" ? "ca" : key === "tlsCert" ? "cert" : "key"] = text;
  }
  return pem;
}
