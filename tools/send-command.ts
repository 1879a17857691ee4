// Sends one command to a node and waits for its answer:
//
//   npm run command -- --broker mqtt://host:1883 --node NAME [--key FILE] [--prefix torpor] [--wait 900] '{"cmd":"set","sampleInterval":30}'
//
// With --key (a file holding the node's `commandKey` as text; one trailing newline is not part of
// it) the command goes out signed and numbered (signed-command.ts), its counter the milliseconds of
// this machine's clock: every operator and every run numbers afresh with no state of its own, and a
// counter is good once. The command is queued on the node's command topic (QoS 1) for its next wake;
// the answer is the node's status naming the command's id (one is added when the command has none).
// A node asleep longer than --wait still takes the command later: it is not withdrawn.

import type { MqttClient } from "mqtt";
import { nodeCrypto } from "../hosts/node/host";
import { utf8Encode } from "../src/encoding/utf8";
import { sealCommand } from "../src/uplink/signed-command";
import { brokerFlag, flags, runCommand, UsageError } from "./command";
import { readKeyFile } from "./keys";

const usage = "usage: npm run command -- --broker mqtt://host:1883 --node NAME [--key FILE] [--prefix torpor] [--wait SECONDS] '<command JSON>'\n";

/** The answer did not come within --wait: exit code 3, apart from a refusal's 1. */
class NoAnswer extends Error {}

export interface SendOptions {
  broker: string;
  node: string;
  prefix: string;
  /** The key's text, or undefined to send the command unsigned. */
  key: string | undefined;
  /** Seconds to wait for the answer (0: do not wait). */
  wait: number;
  command: Record<string, unknown>;
}

function parse(argv: string[]): SendOptions | "help" {
  const { values, positionals } = flags({
    args: argv,
    options: {
      broker: { type: "string" },
      node: { type: "string" },
      key: { type: "string" },
      prefix: { type: "string", default: "torpor" },
      wait: { type: "string", default: "900" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return "help";
  const broker = brokerFlag(values.broker);
  if (!values.node || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(values.node)) throw new UsageError("--node must name a node (letters, digits, '-', '_', '.')");
  const wait = Number(values.wait);
  if (!Number.isInteger(wait) || wait < 0 || wait > 7 * 86400) throw new UsageError(`--wait must be whole seconds from 0 to 604800, got "${values.wait}"`);
  if (positionals.length !== 1) throw new UsageError(`expected one command (JSON), got ${positionals.length}`);
  let command: unknown;
  try {
    command = JSON.parse(positionals[0]!);
  } catch {
    throw new UsageError("the command is not JSON");
  }
  if (typeof command !== "object" || command === null || Array.isArray(command)) throw new UsageError(`the command must be a JSON object like '{"cmd":"status"}'`);
  return { broker, node: values.node, prefix: values.prefix!, key: values.key === undefined ? undefined : readKeyFile("--key", values.key), wait, command: command as Record<string, unknown> };
}

/** Publishes the command and resolves with the node's result line, or rejects: refused, or no answer. */
export async function sendCommand(options: SendOptions, log: (line: string) => void, now = Date.now()): Promise<string> {
  const id = typeof options.command.id === "string" || typeof options.command.id === "number" ? String(options.command.id) : now.toString(36);
  const body = utf8Encode(JSON.stringify({ ...options.command, id }));
  const payload = options.key === undefined ? body : sealCommand(nodeCrypto, options.key, options.node, now, body);
  const base = `${options.prefix}/${options.node}`;
  const mqtt = await import("mqtt");
  const client = await mqtt.connectAsync(options.broker, { reconnectPeriod: 0, connectTimeout: 10_000 });
  try {
    const answer = options.wait > 0 ? awaitAnswer(client, `${base}/status`, id, options.wait) : undefined;
    await client.subscribeAsync(`${base}/status`, { qos: 1 });
    await client.publishAsync(`${base}/cmd`, Buffer.from(payload), { qos: 1 });
    log(`queued ${options.key === undefined ? "unsigned" : `signed (counter ${now})`} command ${id} for ${options.node}`);
    return answer ? await answer : `${id}: queued`;
  } finally {
    await client.endAsync();
  }
}

/** The line of a status published after the command went out that answers `id`; a status with new
 *  refusals ("?: refused: …") and no such line answers it too: a refused envelope carries no id. */
function awaitAnswer(client: MqttClient, topic: string, id: string, seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let before: string[] | undefined;
    const timer = setTimeout(() => finish(new NoAnswer(`no answer from the node within ${seconds} s; the command stays queued for its next wake`)), seconds * 1000);
    const finish = (result: string | Error) => {
      clearTimeout(timer);
      client.removeListener("message", onMessage);
      if (typeof result === "string") resolve(result);
      else reject(result);
    };
    const onMessage = (t: string, payload: Buffer, packet: { retain: boolean }) => {
      if (t !== topic) return;
      let commands: string[];
      try {
        const status = JSON.parse(payload.toString("utf8")) as { commands?: unknown };
        commands = Array.isArray(status.commands) ? status.commands.filter((c): c is string => typeof c === "string") : [];
      } catch {
        return;
      }
      // The retained status the subscription starts with tells what was there before.
      if (packet.retain && before === undefined) return void (before = commands);
      const line = commands.find((c) => c.startsWith(`${id}: `));
      if (line !== undefined) return finish(line.includes(": error: ") ? new Error(`node answered ${line}`) : line);
      const refused = commands.filter((c) => c.startsWith("?: refused: ") && !(before ?? []).includes(c));
      if (refused.length > 0) return finish(new Error(`node refused a command: ${refused.at(-1)!}`));
      before = commands;
    };
    client.on("message", onMessage);
  });
}

if (require.main === module) {
  void runCommand({
    name: "command",
    usage,
    parse,
    run: async (options) => void process.stdout.write(`${await sendCommand(options, (line) => process.stderr.write(`${line}\n`))}\n`),
    exitCode: (e) => (e instanceof NoAnswer ? 3 : 1),
  });
}
