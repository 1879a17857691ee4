// CI has no Moddable SDK, so nothing else here builds the firmware with mcconfig: a folder of src/
// that the manifest does not map is a firmware that no longer builds (every import of it "not
// found"), on every board, found only where someone has the SDK.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";

const repoRoot = path.join(__dirname, "..", "..");

function folders(dir: string): string[] {
  const found = fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true });
  const here = found.some((e) => e.isFile() && e.name.endsWith(".ts")) ? [dir] : [];
  return [...here, ...found.filter((e) => e.isDirectory()).flatMap((e) => folders(`${dir}/${e.name}`))];
}

describe("the Moddable manifest", () => {
  it("maps every folder of the portable firmware (src/) as a module folder", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "manifest.json"), "utf8")) as { modules: Record<string, string> };
    const unmapped = folders("src").filter((dir) => manifest.modules[`${dir}/*`] !== `./${dir}/*`);
    assert.deepEqual(unmapped, [], `add "<folder>/*": "./<folder>/*" to manifest.json's modules for each`);
  });
});
