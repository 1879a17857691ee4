// Config for Node-hosted nodes, layered as on a device: the manifest's `config` (what mcconfig would
// compile in), then a JSON file of the same keys (`--config FILE`), then per-run overrides.

import * as fs from "node:fs";
import * as path from "node:path";
import { parseConfig, type Config } from "../../src/config";

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
