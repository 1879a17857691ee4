// The Node host's firmware image at a version: src/ bundled as CommonJS (entry image-entry) behind
// the header line bootFirmware reads.

import { imageText } from "../../hosts/node/firmware";
import { isSemver } from "../../src/update/semver";
import { bundle, repoRoot } from "../xs/bundle";
import * as path from "node:path";

export function buildImage(version: string): string {
  if (!isSemver(version)) throw new Error(`--version must be semver (1.2.3 or 1.2.3-rc.1), got "${version}"`);
  const code = bundle(path.join(repoRoot, "hosts", "node", "image-entry.ts"), { format: "cjs" });
  return imageText({ version, board: "node" }, code);
}
