// `npm run check:esp-idf`: the ESP32 host's native module (hosts/esp32/native/*.c) compiled against
// the ESP-IDF that $IDF_PATH points at, for each chip family docs/hardware.md names (ESP32, S3, C3,
// C6), with an undeclared or deprecated ESP-IDF function an error (Moddable builds with
// -Wno-implicit-function-declaration, so there a removed function only shows up at link time, on a
// chip nobody here has). Per target it first makes an sdkconfig.h with ESP-IDF's own generator
// (kconfgen, from esp-idf-kconfig) from Moddable's sdkconfig defaults for that chip and torpor's
// fragment (hosts/esp32/sdkconfig), and checks that every option of the fragment exists in that
// ESP-IDF and kept its value. Compilers: ESP-IDF's own (xtensa-<target>-elf-gcc, riscv32-esp-elf-gcc)
// where they are on PATH; for the RISC-V chips otherwise Debian's riscv64-unknown-elf-gcc with
// picolibc, as a syntax-and-types check. An Xtensa chip without ESP-IDF's compiler is reported as
// skipped, saying so. Without $IDF_PATH it says so and succeeds: CI has no ESP-IDF.
//
//   IDF_PATH=/path/to/esp-idf npm run check:esp-idf

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const SKIP_MESSAGE = "IDF_PATH is not set: the ESP-IDF compile checks are skipped (CI has no ESP-IDF)";

const repoRoot = findRepoRoot(__dirname);
export const nativeDir = path.join(repoRoot, "hosts", "esp32", "native");
/** torpor's sdkconfig fragment for every ESP32 build (mcconfig's SDKCONFIGPATH). */
export const sdkconfigFragment = path.join(repoRoot, "hosts", "esp32", "sdkconfig", "sdkconfig.defaults");

export interface Chip {
  /** ESP-IDF's IDF_TARGET. */
  target: string;
  family: string;
  arch: "xtensa" | "riscv";
  /** -march for Debian's gcc 12, which knows no zaamo/zalrsc (ESP-IDF's gcc gets soc/project_include.cmake's). */
  march?: string;
}

/** The chip families docs/hardware.md names. */
export const CHIPS: readonly Chip[] = [
  { target: "esp32", family: "ESP32", arch: "xtensa" },
  { target: "esp32s3", family: "ESP32-S3", arch: "xtensa" },
  { target: "esp32c3", family: "ESP32-C3", arch: "riscv", march: "rv32imc_zicsr_zifencei" },
  { target: "esp32c6", family: "ESP32-C6", arch: "riscv", march: "rv32imac_zicsr_zifencei" },
];

/** ESP-IDF's own -march per RISC-V target (components/soc/project_include.cmake). */
const ESP_MARCH: Record<string, string> = {
  esp32c3: "rv32imc_zicsr_zifencei",
  esp32c6: "rv32imac_zicsr_zifencei_zaamo_zalrsc",
};

export interface CheckResult {
  name: string;
  ok: boolean;
  skipped?: string;
  detail: string;
}

export interface Idf {
  root: string;
  version: string;
  /** The Python that runs kconfgen, and the PYTHONPATH it needs. */
  python: string;
  pythonPath: string | undefined;
}

/** $IDF_PATH as an ESP-IDF tree, or why it is not one. Undefined when IDF_PATH is unset. */
export function findIdf(env: NodeJS.ProcessEnv = process.env): Idf | { error: string } | undefined {
  const root = env.IDF_PATH;
  if (!root) return undefined;
  const versionFile = path.join(root, "components", "esp_common", "include", "esp_idf_version.h");
  if (!fs.existsSync(versionFile)) return { error: `IDF_PATH=${root} is not an ESP-IDF tree (no components/esp_common/include/esp_idf_version.h)` };
  const text = fs.readFileSync(versionFile, "utf8");
  const part = (name: string) => new RegExp(`#define\\s+ESP_IDF_VERSION_${name}\\s+(\\d+)`).exec(text)?.[1] ?? "?";
  // ESP-IDF's export.sh puts its Python environment first; IDF_KCONFIG names an esp-idf-kconfig
  // checkout for a tree used without export.sh.
  const python = env.IDF_PYTHON_ENV_PATH ? path.join(env.IDF_PYTHON_ENV_PATH, "bin", "python") : (env.PYTHON ?? "python3");
  return { root, version: `${part("MAJOR")}.${part("MINOR")}.${part("PATCH")}`, python, pythonPath: env.IDF_KCONFIG };
}

function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v "${command}"`], { stdio: "ignore" }).status === 0;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): { ok: boolean; output: string } {
  const r = spawnSync(command, args, { encoding: "utf8", env, timeout: 300_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? r.error.message : ""}` };
}

/** The lines `CONFIG_X=v` and `# CONFIG_X is not set` of an sdkconfig file, as name → value ("n" for not set). */
export function parseSdkconfig(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (set) options.set(set[1]!, set[2]!);
    else if (unset) options.set(unset[1]!, "n");
  }
  return options;
}

/** Moddable's sdkconfig defaults for `target` (release), when $MODDABLE is set: what mcconfig starts from. */
function moddableDefaults(target: string, env: NodeJS.ProcessEnv): string[] {
  if (!env.MODDABLE) return [];
  const dir = path.join(env.MODDABLE, "build", "devices", "esp32", `xsProj-${target}`);
  return ["sdkconfig.defaults", "sdkconfig.defaults.release"].map((f) => path.join(dir, f)).filter((f) => fs.existsSync(f));
}

/**
 * sdkconfig and sdkconfig.h for `chip` in `out`, made by kconfgen as ESP-IDF's build makes them
 * (tools/cmake/kconfig.cmake): the tree's Kconfig with every component's Kconfig and
 * Kconfig.projbuild, Moddable's defaults, then torpor's fragment.
 */
export function generateSdkconfig(idf: Idf, chip: Chip, out: string, env: NodeJS.ProcessEnv = process.env, overrides: readonly string[] = []): { ok: true; config: Map<string, string> } | { ok: false; output: string } {
  const components = path.join(idf.root, "components");
  const list = (file: string) =>
    fs
      .readdirSync(components)
      .map((c) => path.join(components, c, file))
      .filter((f) => fs.existsSync(f))
      .map((f) => `source "${f}"\n`)
      .join("");
  const kconfigs = path.join(out, "kconfigs.in");
  const projbuilds = path.join(out, "kconfigs_projbuild.in");
  fs.writeFileSync(kconfigs, list("Kconfig"));
  fs.writeFileSync(projbuilds, list("Kconfig.projbuild"));
  const overridesFile = path.join(out, "sdkconfig.overrides");
  fs.writeFileSync(overridesFile, overrides.map((line) => `${line}\n`).join(""));
  const defaults = [...moddableDefaults(chip.target, env), sdkconfigFragment, overridesFile].flatMap((f) => ["--defaults", f]);
  const sdkconfig = path.join(out, "sdkconfig");
  const r = run(
    idf.python,
    [
      "-m", "kconfgen",
      "--kconfig", path.join(idf.root, "Kconfig"),
      "--config", sdkconfig,
      ...defaults,
      "--env", `IDF_TARGET=${chip.target}`,
      "--env", "IDF_TOOLCHAIN=gcc",
      "--env", "IDF_ENV_FPGA=",
      "--env", `IDF_PATH=${idf.root}`,
      "--env", `IDF_INIT_VERSION=${idf.version}`,
      "--env", `COMPONENT_KCONFIGS_SOURCE_FILE=${kconfigs}`,
      "--env", `COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE=${projbuilds}`,
      "--env", "KCONFIG_REPORT_VERBOSITY=quiet",
      "--output", "header", path.join(out, "sdkconfig.h"),
      "--output", "config", sdkconfig,
    ],
    { ...env, ...(idf.pythonPath ? { PYTHONPATH: [idf.pythonPath, env.PYTHONPATH].filter(Boolean).join(path.delimiter) } : {}) },
  );
  if (!r.ok) return { ok: false, output: `kconfgen (${idf.python} -m kconfgen${idf.pythonPath ? `, PYTHONPATH=${idf.pythonPath}` : ""}) failed:\n${tail(r.output)}` };
  return { ok: true, config: parseSdkconfig(fs.readFileSync(sdkconfig, "utf8")) };
}

/** Options of torpor's fragment that `config` lacks or sets otherwise: a misspelt or renamed option is ignored by kconfgen. */
export function fragmentMismatches(fragment: string, config: Map<string, string>, target: string): string[] {
  const wrong: string[] = [];
  for (const [name, value] of parseSdkconfig(fragment)) {
    // The ESP32 gets SKIP_VALIDATE_ALWAYS from Moddable, which selects the deep-sleep one.
    const got = config.get(name);
    if (got === undefined) wrong.push(`${name} does not exist for ${target} in this ESP-IDF`);
    else if (got !== value) wrong.push(`${name}=${value} asked, ${got} generated (a dependency of it is off)`);
  }
  return wrong;
}

/**
 * The include directories of an ESP-IDF component tree for one target: every public include/
 * (and register/, platform_include/) folder except the other targets', the other architecture's,
 * the Linux host port's, the tests' and FreeRTOS SMP's, then FreeRTOS's config and port folders.
 */
export function includeDirs(components: string, chip: Chip): string[] {
  const otherArch = chip.arch === "riscv" ? "xtensa" : "riscv";
  const excluded = (name: string) =>
    (/^esp32[a-z0-9]*$/.test(name) && name !== chip.target) || name === otherArch || name === "linux" || name.startsWith("test") || name === "host_test" || name === "FreeRTOS-Kernel-SMP" || name.startsWith(".");
  const dirs: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || excluded(e.name)) continue;
      const sub = path.join(dir, e.name);
      if (e.name === "include" || e.name === "register" || e.name === "platform_include") dirs.push(sub);
      if (depth < 7) walk(sub, depth + 1);
    }
  };
  walk(components, 0);
  const freertos = path.join(components, "freertos");
  // A target's own folder (components/esp_rom/esp32c3) holds headers included by bare name.
  for (const c of fs.readdirSync(components)) {
    const own = path.join(components, c, chip.target);
    if (fs.existsSync(own)) dirs.push(own);
  }
  dirs.push(
    path.join(freertos, "config", "include", "freertos"),
    path.join(freertos, "config", chip.arch, "include", "freertos"),
    path.join(freertos, "FreeRTOS-Kernel", "portable", chip.arch, "include", "freertos"),
  );
  return dirs.sort();
}

export interface Compiler {
  command: string;
  args: string[];
  /** Debian's cross compiler: no object code, only syntax and types. */
  syntaxOnly: boolean;
  /**
   * The C library the compiler has, when it is not the one the sdkconfig chose: Debian's newlib
   * (3.3) does not fit ESP-IDF's newlib headers, its picolibc does.
   */
  libc?: "picolibc";
}

/** ESP-IDF's compiler for `chip` if on PATH, else Debian's for a RISC-V chip, else why there is none. */
export function findCompiler(chip: Chip, exists: (command: string) => boolean = has): Compiler | { skipped: string } {
  if (chip.arch === "xtensa") {
    const wrapper = `xtensa-${chip.target}-elf-gcc`;
    if (exists(wrapper)) return { command: wrapper, args: ["-mlongcalls"], syntaxOnly: false };
    if (exists("xtensa-esp-elf-gcc")) return { command: "xtensa-esp-elf-gcc", args: [`-mdynconfig=xtensa_${chip.target}.so`, "-mlongcalls"], syntaxOnly: false };
    return { skipped: `no xtensa-esp-elf-gcc (nor ${wrapper}) on PATH: install ESP-IDF's tools ($IDF_PATH/install.sh ${chip.target}, then . $IDF_PATH/export.sh)` };
  }
  if (exists("riscv32-esp-elf-gcc")) return { command: "riscv32-esp-elf-gcc", args: [`-march=${ESP_MARCH[chip.target]}`, "-mabi=ilp32"], syntaxOnly: false };
  if (exists("riscv64-unknown-elf-gcc")) {
    // Debian's picolibc (1.8) declares ssize_t only in sys/types.h, where ESP-IDF's stdio.h expects
    // its own picolibc's stdio.h to have declared it.
    return { command: "riscv64-unknown-elf-gcc", args: [`-march=${chip.march}`, "-mabi=ilp32", "-include", "sys/types.h"], syntaxOnly: true, libc: "picolibc" };
  }
  return { skipped: "neither riscv32-esp-elf-gcc (ESP-IDF's tools) nor riscv64-unknown-elf-gcc (apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf) on PATH" };
}

/** The directory holding xsmc.h: the Moddable SDK's when $MODDABLE is set (what a build uses). */
function xsIncludes(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.MODDABLE ? path.join(env.MODDABLE, "xs", "includes") : undefined;
  return dir && fs.existsSync(path.join(dir, "xsmc.h")) ? dir : undefined;
}

/**
 * Compiles each of `files` for `chip` against `out`'s sdkconfig.h and the tree's headers, with
 * calls to undeclared or deprecated functions as errors. Returns the failures' output.
 */
export function compileFor(idf: Idf, chip: Chip, compiler: Compiler, out: string, files: readonly string[], config: Map<string, string>, env: NodeJS.ProcessEnv = process.env): { ok: boolean; output: string } {
  const includes = [out, nativeDir, ...includeDirs(path.join(idf.root, "components"), chip)];
  const xs = xsIncludes(env);
  if (xs) includes.push(xs);
  const libc = config.get("CONFIG_LIBC_PICOLIBC") === "y" ? ["--specs=picolibc.specs"] : [];
  const outputs: string[] = [];
  for (const file of files) {
    const r = run(compiler.command, [
      ...compiler.args,
      ...libc,
      "-std=gnu17",
      "-D_GNU_SOURCE",
      "-Werror=implicit-function-declaration",
      "-Werror=deprecated-declarations",
      ...includes.map((d) => `-I${d}`),
      ...(compiler.syntaxOnly ? ["-fsyntax-only"] : ["-c", "-o", path.join(out, `${path.basename(file)}.o`)]),
      file,
    ]);
    if (!r.ok) outputs.push(`${path.basename(file)}:\n${tail(r.output)}`);
  }
  return { ok: outputs.length === 0, output: outputs.join("\n") };
}

/** The C files of the native module; power.c needs xsmc.h, which only the Moddable SDK has for ESP32. */
export function nativeFiles(env: NodeJS.ProcessEnv = process.env): { files: string[]; left: string[] } {
  const all = fs.readdirSync(nativeDir).filter((f) => f.endsWith(".c")).sort().map((f) => path.join(nativeDir, f));
  if (xsIncludes(env)) return { files: all, left: [] };
  const needsXs = (f: string) => /#include\s+"xsmc\.h"/.test(fs.readFileSync(f, "utf8"));
  return { files: all.filter((f) => !needsXs(f)), left: all.filter(needsXs).map((f) => path.basename(f)) };
}

export function checkChip(idf: Idf, chip: Chip, env: NodeJS.ProcessEnv = process.env, files = nativeFiles(env)): CheckResult[] {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `torpor-idf-${chip.target}-`));
  try {
    const compiler = findCompiler(chip);
    const overrides = "libc" in compiler && compiler.libc === "picolibc" ? ["CONFIG_LIBC_PICOLIBC=y"] : [];
    const config = generateSdkconfig(idf, chip, out, env, overrides);
    const configName = `${chip.family}: sdkconfig from ${env.MODDABLE ? "Moddable's defaults and " : ""}torpor's fragment`;
    if (!config.ok) return [{ name: configName, ok: false, detail: config.output }];
    const wrong = fragmentMismatches(fs.readFileSync(sdkconfigFragment, "utf8"), config.config, chip.target);
    const results: CheckResult[] = [{ name: configName, ok: wrong.length === 0, detail: wrong.length ? wrong.join("\n") : `every option of ${path.relative(repoRoot, sdkconfigFragment)} holds` }];
    const name = `${chip.family}: ${files.files.map((f) => path.basename(f)).join(", ")} against ESP-IDF ${idf.version}`;
    if ("skipped" in compiler) {
      results.push({ name, ok: true, skipped: compiler.skipped, detail: "" });
      return results;
    }
    const r = compileFor(idf, chip, compiler, out, files.files, config.config, env);
    const how = compiler.syntaxOnly ? `syntax and types with ${compiler.command}${overrides.length ? ", with picolibc for the C library" : ""}` : `compiled with ${compiler.command}`;
    const left = files.left.length ? `; ${files.left.join(", ")} left out: set MODDABLE for the SDK's xsmc.h` : "";
    results.push({ name, ok: r.ok, detail: r.ok ? `${how}${left}` : r.output });
    return results;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function tail(text: string, lines = 30): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

function findRepoRoot(from: string): string {
  // Walk up rather than count "../": this runs from tools/ and from dist/tools/.
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "manifest.json")) && fs.existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no manifest.json and package.json above ${from}`);
  }
}

if (require.main === module) {
  const idf = findIdf();
  if (!idf) {
    process.stdout.write(`${SKIP_MESSAGE}.\nSet IDF_PATH to an ESP-IDF v6.0 tree to run them (docs/hardware.md).\n`);
  } else if ("error" in idf) {
    process.stderr.write(`check:esp-idf: ${idf.error}\n`);
    process.exitCode = 2;
  } else {
    process.stdout.write(`ESP-IDF ${idf.version} at ${idf.root}\n`);
    const results: CheckResult[] = [];
    for (const chip of CHIPS) {
      for (const r of checkChip(idf, chip)) {
        results.push(r);
        const mark = r.skipped !== undefined ? "-" : r.ok ? "✔" : "✖";
        const text = r.skipped !== undefined ? `skipped: ${r.skipped}` : r.detail;
        process.stdout.write(`${mark} ${r.name}\n${text.replace(/^/gm, "    ")}\n`);
      }
    }
    const failed = results.filter((r) => !r.ok).length;
    const skipped = results.filter((r) => r.skipped !== undefined).length;
    process.stdout.write(failed ? `${failed} of ${results.length} checks failed\n` : `all ${results.length - skipped} checks passed${skipped ? `, ${skipped} skipped` : ""}\n`);
    process.exitCode = failed ? 1 : 0;
  }
}
