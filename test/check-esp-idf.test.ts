// npm run check:esp-idf (tools/check-esp-idf): without $IDF_PATH it skips and succeeds; an Xtensa
// chip without ESP-IDF's compiler is reported skipped, never passed; an option of torpor's sdkconfig
// fragment that the ESP-IDF lacks or turns off is named. With $IDF_PATH (an ESP-IDF v6.0 tree and
// kconfgen: docs/hardware.md), the native module compiles for ESP32-C3 and a call to the function
// ESP-IDF 6.0 removed is refused.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CHIPS, checkChip, findCompiler, findIdf, fragmentMismatches, parseSdkconfig, SKIP_MESSAGE } from "../tools/check-esp-idf";

const chip = (target: string) => {
  const found = CHIPS.find((c) => c.target === target);
  assert.ok(found, target);
  return found;
};

describe("check:esp-idf", () => {
  it("skips with its reason and exit status 0 when IDF_PATH is unset", () => {
    const env = { ...process.env };
    delete env.IDF_PATH;
    const r = spawnSync(process.execPath, [path.join(__dirname, "..", "tools", "check-esp-idf.js")], { encoding: "utf8", env });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(SKIP_MESSAGE), r.stdout);
  });

  it("refuses an IDF_PATH that is not an ESP-IDF tree, naming it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-not-idf-"));
    try {
      const idf = findIdf({ IDF_PATH: dir });
      assert.ok(idf && "error" in idf && idf.error.includes(dir));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports an Xtensa chip without ESP-IDF's compiler as skipped, saying which compiler is missing", () => {
    const none = findCompiler(chip("esp32s3"), () => false);
    assert.ok("skipped" in none && none.skipped.includes("xtensa-esp-elf-gcc"));
    const unified = findCompiler(chip("esp32"), (c) => c === "xtensa-esp-elf-gcc");
    assert.ok(!("skipped" in unified) && unified.args.includes("-mdynconfig=xtensa_esp32.so") && !unified.syntaxOnly);
  });

  it("takes ESP-IDF's RISC-V compiler first and Debian's as a syntax check with picolibc otherwise", () => {
    const esp = findCompiler(chip("esp32c6"), () => true);
    assert.ok(!("skipped" in esp) && esp.command === "riscv32-esp-elf-gcc" && !esp.syntaxOnly);
    const debian = findCompiler(chip("esp32c3"), (c) => c === "riscv64-unknown-elf-gcc");
    assert.ok(!("skipped" in debian) && debian.syntaxOnly && debian.libc === "picolibc" && debian.args.includes("-march=rv32imc_zicsr_zifencei"));
    assert.ok("skipped" in findCompiler(chip("esp32c3"), () => false));
  });

  it("names a fragment option the ESP-IDF lacks or turns off", () => {
    const generated = parseSdkconfig("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_N=3\n");
    assert.deepEqual(fragmentMismatches("# comment\nCONFIG_A=y\nCONFIG_N=3\n", generated, "esp32c3"), []);
    const wrong = fragmentMismatches("CONFIG_B=y\nCONFIG_MISSPELT=y\n", generated, "esp32c3");
    assert.equal(wrong.length, 2);
    assert.ok(wrong[0]!.startsWith("CONFIG_B=y asked, n generated"));
    assert.ok(wrong[1]!.includes("CONFIG_MISSPELT does not exist"));
  });

  const idf = findIdf();
  const noIdf = !idf ? "IDF_PATH is not set" : "error" in idf ? idf.error : undefined;
  it("with ESP-IDF: the native module compiles for ESP32-C3, and the 5.x GPIO wake call is refused", { skip: noIdf ?? false }, () => {
    if (!idf || "error" in idf) return;
    const passed = checkChip(idf, chip("esp32c3"));
    for (const r of passed) assert.ok(r.ok, `${r.name}\n${r.detail}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-idf-old-"));
    try {
      const old = path.join(dir, "old-wake.c");
      fs.writeFileSync(old, '#include "esp_sleep.h"\nint arm(void) { return esp_deep_sleep_enable_gpio_wakeup(1, ESP_GPIO_WAKEUP_GPIO_LOW); }\n');
      const failed = checkChip(idf, chip("esp32c3"), process.env, { files: [old], left: [] });
      const compile = failed.at(-1)!;
      if (compile.skipped !== undefined) return;
      assert.equal(compile.ok, false);
      assert.match(compile.detail, /implicit declaration of function 'esp_deep_sleep_enable_gpio_wakeup'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
