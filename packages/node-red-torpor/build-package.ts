// Builds the installable node-red-torpor package: torpor's decoder, its Node-RED node and what they
// import (cbor2 among them) bundled by esbuild into one torpor.js, with no dependency left for a
// Node-RED userDir to install; beside it the editor's torpor.html, package.json and README.
//
//   node dist/packages/node-red-torpor/build-package.js [OUT_DIR]   (default: the package's own folder, as npm pack wants)

import * as fs from "node:fs";
import * as path from "node:path";
import { build } from "esbuild";

/** The package's source folder (this file runs compiled, from dist/). */
export const packageDir = path.join(__dirname, "..", "..", "..", "packages", "node-red-torpor");

/** Writes the package into `outDir`: torpor.js (the bundle), torpor.html, package.json, README.md. */
export async function buildPackage(outDir: string): Promise<void> {
  fs.mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(packageDir, "src", "torpor.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    // Node-RED 3 runs on Node 16 and later.
    target: "node16",
    outfile: path.join(outDir, "torpor.js"),
    logLevel: "warning",
  });
  if (path.resolve(outDir) !== path.resolve(packageDir)) {
    for (const file of ["torpor.html", "package.json", "README.md"]) fs.copyFileSync(path.join(packageDir, file), path.join(outDir, file));
  }
}

if (require.main === module) {
  buildPackage(process.argv[2] ?? packageDir).catch((e: unknown) => {
    process.stderr.write(`build-package: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
