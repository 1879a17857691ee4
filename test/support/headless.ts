// The headless Chromium the dashboard's tests and benchmark drive: the system's (.ci/run installs
// it), with a private profile and none of its calls home, at the size the screenshots are taken.

import * as path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** A browser whose profile lives in `dir`; the caller closes it. */
export function headless(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(path.join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 1340, height: 900 },
  });
}
