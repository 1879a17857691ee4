// The ESP32 native module (hosts/esp32/native) compiled with this machine's C compiler, warnings as
// errors: the XS bindings (power.c, crc.c, ota-stage.c) against the XS headers that @agoric/xsnap
// ships, and the ESP-IDF side (rtc.c) against stand-ins for the ESP-IDF functions it calls (test/native/), built into a
// small test program for each chip family and run. Skipped, saying why, without a C compiler.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";

function findRepoRoot(from: string): string {
  // Walk up rather than count "../": this runs from test/ and from dist/test/.
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const root = findRepoRoot(__dirname);
const native = path.join(root, "hosts", "esp32", "native");
const standIns = path.join(root, "test", "native");
const cc = process.env.CC || "cc";
const noCompiler = spawnSync(cc, ["--version"], { stdio: "ignore" }).status === 0 ? undefined : `no C compiler (${cc}): the native module's compile checks are skipped`;
const warnings = ["-std=gnu11", "-Wall", "-Wextra", "-Werror"];

/** The directory holding xsmc.h in the XS sources @agoric/xsnap ships (moddable/xs/includes today). */
function xsIncludes(): string | undefined {
  const pending = [path.join(root, "node_modules", "@agoric", "xsnap")];
  for (let depth = 0; depth < 5 && pending.length; depth++) {
    for (const dir of pending.splice(0)) {
      if (fs.existsSync(path.join(dir, "xsmc.h")) && fs.existsSync(path.join(dir, "xs.h"))) return dir;
      let entries: fs.Dirent[] = [];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isDirectory() && e.name !== "node_modules" && !e.name.startsWith(".")) pending.push(path.join(dir, e.name));
    }
  }
  return undefined;
}

function compile(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cc, args, { encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe("ESP32 native module", { skip: noCompiler ?? false }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-native-"));
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  for (const file of ["power.c", "crc.c", "ota-stage.c"]) {
    it(`the XS bindings (${file}) compile against XS's own headers with -Wall -Wextra -Werror`, (t) => {
      const includes = xsIncludes();
      if (!includes) return t.skip("no xsmc.h under node_modules/@agoric/xsnap (run npm ci)");
      const r = compile([...warnings, "-c", `-I${includes}`, `-I${native}`, `-I${path.join(standIns, "include")}`, path.join(native, file), "-o", path.join(out, `${file}.o`)]);
      assert.ok(r.ok, r.output);
    });
  }

  const chips: [string, string[]][] = [
    ["ESP32 (ext0, ext1 any-high or all-low)", []],
    ["ESP32-C3 (GPIO wake only)", ["-DTEST_CHIP_ESP32C3"]],
    ["ESP32-C6 (ext1 with a level per pin, GPIO wake)", ["-DTEST_CHIP_ESP32C6"]],
  ];
  for (const [chip, defines] of chips) {
    it(`rtc.c for ${chip} compiles with warnings as errors and passes its tests`, () => {
      const program = path.join(out, `rtc-test${defines.join("")}`);
      const built = compile([
        ...warnings,
        ...defines,
        `-I${path.join(standIns, "include")}`,
        `-I${standIns}`,
        `-I${native}`,
        path.join(standIns, "rtc-test.c"),
        path.join(standIns, "idf-stand-in.c"),
        "-o",
        program,
      ]);
      assert.ok(built.ok, built.output);
      const ran = spawnSync(program, { encoding: "utf8" });
      const failures = ran.stdout.split("\n").filter((l) => l.startsWith("not ok"));
      assert.deepEqual(failures, []);
      assert.equal(ran.status, 0, ran.stdout + ran.stderr);
      const summary = /# passed (\d+), failed 0/.exec(ran.stdout);
      assert.ok(summary && Number(summary[1]) >= 40, `expected the full set of checks:\n${ran.stdout}`);
    });
  }
});
