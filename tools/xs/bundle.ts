import { buildSync } from "esbuild";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

function findRepoRoot(from: string): string {
  // Walk up rather than count "../": this file runs from tools/xs and from dist/tools/xs.
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const repoRoot = findRepoRoot(__dirname);

export interface BundleOptions {
  /** esbuild `define`, e.g. { "DEBUG": "false" }: values are JS source text. */
  define?: Record<string, string>;
  minify?: boolean;
  /** "iife" (the default) for XsWorker.evaluate; "cjs" for a module the Node host evaluates (a firmware image). */
  format?: "iife" | "cjs";
}

/**
 * Bundles `entry` and everything it imports into one script for XsWorker.evaluate. IIFE because
 * xsnap's `e` command evaluates a script, not a module; es2022 because that is what XS 13 parses
 * (esbuild lowers anything newer, and fails on what it cannot lower instead of emitting it).
 */
export function bundle(entry: string, options: BundleOptions = {}): string {
  const result = buildSync({
    entryPoints: [entry],
    bundle: true,
    format: options.format ?? "iife",
    target: "es2022",
    platform: "neutral",
    write: false,
    logLevel: "silent",
    legalComments: "none",
    define: options.define ?? {},
    minify: options.minify ?? false,
  });
  const [file] = result.outputFiles;
  if (file === undefined) throw new Error(`esbuild produced no output for ${entry}`);
  return file.text;
}
