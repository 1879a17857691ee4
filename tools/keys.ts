// Keys as the operator's tools take them: a file holding the key's text (what the node's config
// says; one trailing newline is not part of it), or one fleet secret from which every node's key
// is derived (HKDF-SHA-256, RFC 5869), so that a collector holds one secret, not thousands:
//
//   node key = hex(HKDF-SHA-256(ikm = fleet secret's UTF-8, salt = "torpor", info = "<purpose>:<node>", 32 bytes))
//
// 64 hex digits, the text to provision as the node's `telemetryKey` (purpose "telemetry"),
// `commandKey` (purpose "command") or `payloadKey` (purpose "payload"): `npm run derive-key` prints it.

import { hkdfSync } from "node:crypto";
import * as fs from "node:fs";
import { flags, runCommand, UsageError } from "./command";

export type KeyPurpose = "telemetry" | "command" | "payload";

/** A key file's text. Its errors name the file and the flag, never the contents. */
export function readKeyFile(flag: string, file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const key = text.replace(/\r?\n$/, "");
  if (key === "") throw new UsageError(`${flag}: ${file} is empty`);
  return key;
}

export function deriveNodeKey(fleetSecret: string, node: string, purpose: KeyPurpose): string {
  return Buffer.from(hkdfSync("sha256", fleetSecret, "torpor", `${purpose}:${node}`, 32)).toString("hex");
}

/** Where a tool finds a node's telemetry keys: the same keys for every node, or a fleet secret. */
export type KeySource = { keys: readonly string[] } | { fleetSecret: string };

export function keysFor(source: KeySource, node: string, purpose: KeyPurpose): readonly string[] {
  return "keys" in source ? source.keys : [deriveNodeKey(source.fleetSecret, node, purpose)];
}

/** --telemetry-key FILE or --payload-key FILE (`flag`; twice while keys rotate), or the keys
 *  derived from --fleet-secret FILE, as the monitor, the collector and the bridge take them;
 *  undefined when neither is given. */
export function keySource(flag: "--telemetry-key" | "--payload-key", keyFiles: readonly string[] | undefined, fleetFile: string | undefined): KeySource | undefined {
  if (keyFiles?.length && fleetFile !== undefined) throw new UsageError(`give ${flag} or --fleet-secret, not both`);
  if (fleetFile !== undefined) return { fleetSecret: readKeyFile("--fleet-secret", fleetFile) };
  return keyFiles?.length ? { keys: keyFiles.map((file) => readKeyFile(flag, file)) } : undefined;
}

/** The keys a tool checks and opens telemetry with. */
export interface TelemetryKeys {
  tag?: KeySource | undefined;
  payload?: KeySource | undefined;
}

/** The monitor's, the collector's and the bridge's key flags; undefined when none is given. */
export function telemetryKeys(flags: { "telemetry-key"?: string[] | undefined; "payload-key"?: string[] | undefined; "fleet-secret"?: string | undefined }): TelemetryKeys | undefined {
  const tag = keySource("--telemetry-key", flags["telemetry-key"], flags["fleet-secret"]);
  const payload = keySource("--payload-key", flags["payload-key"], flags["fleet-secret"]);
  return tag || payload ? { tag, payload } : undefined;
}

/** The key flags' options for parseArgs. */
export const keyOptions = {
  "telemetry-key": { type: "string", multiple: true },
  "payload-key": { type: "string", multiple: true },
  "fleet-secret": { type: "string" },
} as const;

/** The key flags as usage lines show them. */
export const keyUsage = "[--telemetry-key FILE] [--payload-key FILE] | [--fleet-secret FILE]";

const usage = "usage: npm run derive-key -- --fleet-secret FILE --node NAME [--purpose telemetry|command|payload]\n";

function parse(argv: string[]): { secret: string; node: string; purpose: KeyPurpose } | "help" {
  const { values } = flags({ args: argv, options: { "fleet-secret": { type: "string" }, node: { type: "string" }, purpose: { type: "string", default: "telemetry" }, help: { type: "boolean" } }, strict: true });
  if (values.help) return "help";
  if (values["fleet-secret"] === undefined) throw new UsageError("--fleet-secret FILE is required");
  if (!values.node || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(values.node)) throw new UsageError("--node must name a node (letters, digits, '-', '_', '.')");
  if (values.purpose !== "telemetry" && values.purpose !== "command" && values.purpose !== "payload") throw new UsageError(`--purpose must be telemetry, command or payload, got "${values.purpose}"`);
  return { secret: readKeyFile("--fleet-secret", values["fleet-secret"]), node: values.node, purpose: values.purpose };
}

if (require.main === module) {
  void runCommand({ name: "derive-key", usage, parse, run: async (o) => void process.stdout.write(`${deriveNodeKey(o.secret, o.node, o.purpose)}\n`) });
}
