// The shape every command line in tools/ shares: a bad flag is one line naming it (then the usage)
// and exit code 2; --help prints the usage; a failure while running is one line and exit code 1,
// or the code the program gives such an error.

import { parseArgs, type ParseArgsConfig } from "node:util";

/** A bad command-line flag: the tools print its message on one line and exit with code 2. */
export class UsageError extends Error {}

/** node:util's parseArgs, with what it refuses as a UsageError of one line. */
export function flags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
}

/** A --broker flag: one mqtt:// or mqtts:// URL. */
export function brokerFlag(value: string | undefined): string {
  if (!value || !/^mqtts?:\/\/[^/\s]+\/?$/.test(value)) throw new UsageError(`--broker must be an mqtt://host:port URL${value ? `, got "${value}"` : ""}`);
  return value;
}

export interface Command<Options> {
  /** What each of its error lines starts with. */
  name: string;
  /** What --help prints. */
  usage: string;
  /** What follows a bad flag's line: the usage, unless this says otherwise. */
  afterUsageError?: string;
  /** The arguments (after the program's name) as options; throws on a bad one. */
  parse(argv: string[]): Options | "help";
  run(options: Options): Promise<void>;
  /** The exit code for an error `run` throws: 1 unless this says otherwise. */
  exitCode?(e: unknown): number;
}

export async function runCommand<Options>(command: Command<Options>): Promise<void> {
  let options: Options | "help";
  try {
    options = command.parse(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${command.name}: ${(e as Error).message}\n${command.afterUsageError ?? command.usage}`);
    process.exit(2);
  }
  if (options === "help") return void process.stdout.write(command.usage);
  try {
    await command.run(options);
  } catch (e) {
    process.stderr.write(`${command.name}: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(command.exitCode?.(e) ?? 1);
  }
}
