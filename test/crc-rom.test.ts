// CRC in ROM: the ESP32 host hands src/encoding/crc32 the ROM's esp_rom_crc32_le (Host.crc32). The
// retained state written by one is read by the other (a firmware update, the flash copy, the tools),
// so they must agree byte for byte: ESP-IDF's contract for the ROM routine, built as a C program with
// this machine's compiler (skipped without one), against the JavaScript on vectors, singly and
// chained through `previous`. And a host's CRC is what crc32 then calls.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { crc32, crc32JS, useHostCrc32 } from "../src/encoding/crc32";

const root = path.join(__dirname, "..", "..");
const cc = process.env.CC || "cc";
const noCompiler = spawnSync(cc, ["--version"], { stdio: "ignore" }).status === 0 ? undefined : `no C compiler (${cc}): the ROM CRC's contract is not built`;

const text = (s: string) => new TextEncoder().encode(s);
const vectors: Uint8Array[] = [
  new Uint8Array(0),
  text("123456789"),
  Uint8Array.of(0),
  Uint8Array.of(0xff, 0xff, 0xff, 0xff),
  Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 255),
  Uint8Array.from({ length: 7680 }, (_, i) => (i * i + 3 * i) & 255),
];
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("CRC-32 in ROM", () => {
  it("the JavaScript is CRC-32/ISO-HDLC (check value of 123456789: cbf43926), the ROM contract's", () => {
    assert.equal(crc32JS(text("123456789")), 0xcbf43926);
  });

  it("ESP-IDF's esp_rom_crc32_le contract, compiled, agrees with the JavaScript on every vector and chained", { skip: noCompiler ?? false }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torpor-rom-crc-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const program = path.join(dir, "rom-crc");
    const built = spawnSync(cc, ["-std=c11", "-Wall", "-Wextra", "-Werror", path.join(root, "test", "native", "rom-crc.c"), "-o", program], { encoding: "utf8" });
    assert.equal(built.status, 0, `${built.stdout}${built.stderr}`);
    const ran = spawnSync(program, vectors.map(hex), { encoding: "utf8" });
    assert.equal(ran.status, 0, ran.stderr);
    const lines = ran.stdout.trim().split("\n").map((l) => parseInt(l, 16));
    let chained = 0;
    vectors.forEach((v, i) => {
      assert.equal(lines[i], crc32JS(v), `vector ${i} (${v.length} bytes)`);
      chained = crc32JS(v, 0, v.length, chained);
    });
    assert.equal(lines[vectors.length], chained, "chained through previous");
  });

  it("crc32 calls the host's CRC when it has one, and the JavaScript again without", () => {
    const calls: [number, number, number][] = [];
    useHostCrc32((bytes, start, end, previous) => {
      calls.push([start, end, previous]);
      return crc32JS(bytes, start, end, previous);
    });
    try {
      assert.equal(crc32(vectors[4]!, 10, 20, 5), crc32JS(vectors[4]!, 10, 20, 5));
      assert.deepEqual(calls, [[10, 20, 5]]);
    } finally {
      useHostCrc32(undefined);
    }
    crc32(vectors[1]!);
    assert.equal(calls.length, 1);
  });
});
