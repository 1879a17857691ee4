// Firmware updates, the operator's side (docs/updates.md):
//
//   npm run update -- keygen --out DIR
//   npm run update -- image --version V --out FILE
//   npm run update -- offer --broker URL --key DIR/update.key --image FILE [--version V] [--node NAME …] [--prefix torpor] [--chunk 2048] [--battery MV] [--downgrade]
//   npm run update -- status --broker URL [--prefix torpor]

import * as fs from "node:fs";
import { isSemver } from "../../src/update/semver";
import { brokerFlag, flags, runCommand, UsageError } from "../command";
import { buildImage } from "./image";
import { keygen, readSigningKey } from "./keys";
import { DEFAULT_CHUNK_BYTES, offerMessages } from "./offer";
import { publish, statuses } from "./broker";
import { renderUpdates } from "./status";

const usage = `usage:
  npm run update -- keygen --out DIR
  npm run update -- image --version V --out FILE
  npm run update -- offer --broker URL --key DIR/update.key --image FILE [--version V] [--node NAME …] [--prefix torpor] [--chunk 2048] [--battery MV] [--downgrade]
    (--version: an ESP32 firmware's, the package.json version it was built from)
  npm run update -- status --broker URL [--prefix torpor]
`;

type Options =
  | { command: "keygen"; out: string }
  | { command: "image"; version: string; out: string }
  | { command: "offer"; broker: string; key: string; image: string; version: string | undefined; nodes: string[]; prefix: string; chunk: number; battery: number; downgrade: boolean }
  | { command: "status"; broker: string; prefix: string };

function parse(argv: string[]): Options | "help" {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") return "help";
  const { values } = flags({
    args: rest,
    options: {
      out: { type: "string" },
      version: { type: "string" },
      broker: { type: "string" },
      key: { type: "string" },
      image: { type: "string" },
      node: { type: "string", multiple: true },
      prefix: { type: "string", default: "torpor" },
      chunk: { type: "string", default: String(DEFAULT_CHUNK_BYTES) },
      battery: { type: "string", default: "0" },
      downgrade: { type: "boolean", default: false },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const need = (name: "out" | "version" | "key" | "image"): string => {
    const v = values[name];
    if (!v) throw new UsageError(`${command} needs --${name}`);
    return v;
  };
  const count = (name: "chunk" | "battery"): number => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${values[name]}"`);
    return n;
  };
  const prefix = values.prefix!;
  switch (command) {
    case "keygen":
      return { command, out: need("out") };
    case "image": {
      const version = need("version");
      if (!isSemver(version)) throw new UsageError(`--version must be semver (1.2.3 or 1.2.3-rc.1), got "${version}"`);
      return { command, version, out: need("out") };
    }
    case "offer": {
      const nodes = values.node ?? [];
      const bad = nodes.find((n) => !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(n));
      if (bad !== undefined) throw new UsageError(`--node "${bad}" is not a node name`);
      return { command, broker: brokerFlag(values.broker), key: need("key"), image: need("image"), version: values.version, nodes, prefix, chunk: count("chunk"), battery: count("battery"), downgrade: values.downgrade! };
    }
    case "status":
      return { command, broker: brokerFlag(values.broker), prefix };
    default:
      throw new UsageError(command === undefined ? "a command is needed: keygen, image, offer or status" : `unknown command "${command}" (keygen, image, offer, status)`);
  }
}

async function run(o: Options): Promise<void> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  switch (o.command) {
    case "keygen": {
      const { key, pub } = keygen(o.out);
      return out(`wrote ${key} (keep it secret) and ${pub} (its line is the nodes' updateKey)`);
    }
    case "image": {
      fs.writeFileSync(o.out, buildImage(o.version));
      return out(`wrote ${o.out}: firmware ${o.version} for the Node host`);
    }
    case "offer": {
      const key = readSigningKey(o.key);
      let signed: ReturnType<typeof offerMessages>;
      try {
        signed = offerMessages(fs.readFileSync(o.image), key, o);
      } catch (e) {
        throw new Error(`--image ${o.image}: ${e instanceof Error ? e.message : String(e)}`);
      }
      const { offer, messages } = signed;
      await publish(o.broker, messages);
      return out(`offered ${offer.version} (${offer.size} bytes, ${messages.length - 1} chunks) as ${o.prefix}/update/${offer.id} to ${offer.nodes ? offer.nodes.join(", ") : "every node"}`);
    }
    case "status": {
      const rows = await statuses(o.broker, o.prefix);
      return void process.stdout.write(rows.length ? renderUpdates(rows) : `no node under ${o.prefix}/ reports a version\n`);
    }
  }
}

if (require.main === module) void runCommand({ name: "update", usage, parse, run });
