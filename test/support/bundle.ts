// Bundling for XS lives with the tools (tools/xs); the tests' fixtures are found here.
import { join } from "node:path";
import { repoRoot } from "../../tools/xs/bundle";

export { bundle, repoRoot, type BundleOptions } from "../../tools/xs/bundle";

/** Absolute path of a fixture's TypeScript source; the compiled test bundles the source, not dist/. */
export function xsFixture(file: string): string {
  return join(repoRoot, "test", "fixtures", "xs", file);
}
