// The Node host's firmware image at a version: src/ bundled as CommonJS (entry image-entry) behind
// the header line bootFirmware reads.

import { imageText } from "../../hosts/node/firmware";
import { bundle, repoRoot } from "../xs/bundle";
import * as path from "node:path";

/** `version` must be semver (the command line checks it). */
export function buildImage(version: string): string {
  const code = bundle(path.join(repoRoot, "hosts", "node", "image-entry.ts"), { format: "cjs" });
  return imageText({ version, board: "node" }, code);
}
