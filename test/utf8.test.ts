import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { utf8Decode, utf8Encode, utf8EncodeInto, utf8Length } from "../src/encoding/utf8";

const bytes = (...b: number[]) => Uint8Array.from(b);

describe("utf8", () => {
  it("encodes every length class, astral characters included", () => {
    assert.deepEqual(utf8Encode("A"), bytes(0x41));
    assert.deepEqual(utf8Encode("é"), bytes(0xc3, 0xa9));
    assert.deepEqual(utf8Encode("€"), bytes(0xe2, 0x82, 0xac));
    assert.deepEqual(utf8Encode("\uffff"), bytes(0xef, 0xbf, 0xbf));
    assert.deepEqual(utf8Encode("😀"), bytes(0xf0, 0x9f, 0x98, 0x80));
    assert.deepEqual(utf8Encode("\u{10ffff}"), bytes(0xf4, 0x8f, 0xbf, 0xbf));
    assert.deepEqual(utf8Encode(""), bytes());
    assert.equal(utf8Length("a€😀"), 8);
  });

  it("round-trips any well-formed string and agrees with Node's encoder", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 64 }), (s) => {
        const encoded = utf8Encode(s);
        assert.deepEqual(encoded, new Uint8Array(Buffer.from(s, "utf8")));
        assert.equal(utf8Length(s), encoded.length);
        assert.equal(utf8Decode(encoded), s);
      }),
      { numRuns: 2000 },
    );
  });

  it("decodes a sub-range and writes into a caller's array", () => {
    const b = bytes(0xff, 0x68, 0xc3, 0xa9, 0xff);
    assert.equal(utf8Decode(b, 1, 4), "hé");
    const target = new Uint8Array(6).fill(0xee);
    assert.equal(utf8EncodeInto("hé", target, 2), 3);
    assert.deepEqual(target, bytes(0xee, 0xee, 0x68, 0xc3, 0xa9, 0xee));
    assert.throws(() => utf8EncodeInto("hé", target, 4), { name: "RangeError", message: /too short/ });
    assert.throws(() => utf8Decode(b, 3, 9), { name: "RangeError", message: /not inside/ });
  });

  it("decodes long strings that need more than one batch of code units", () => {
    const s = "ab😀".repeat(2000);
    assert.equal(utf8Decode(utf8Encode(s)), s);
  });

  it("refuses to encode lone surrogates", () => {
    for (const s of ["\ud800", "a\ud83d", "\ude00b", "\ude00\ud83d"]) {
      assert.throws(() => utf8Encode(s), { name: "RangeError", message: /lone surrogate/ });
      assert.throws(() => utf8Length(s), { name: "RangeError", message: /lone surrogate/ });
    }
  });

  const invalid: [string, number[], RegExp][] = [
    ["overlong 2-byte (C0)", [0xc0, 0x80], /overlong encoding at byte 0/],
    ["overlong 2-byte (C1)", [0xc1, 0xbf], /overlong/],
    ["overlong 3-byte", [0xe0, 0x80, 0xaf], /overlong encoding at byte 0/],
    ["overlong 4-byte", [0x41, 0xf0, 0x8f, 0xbf, 0xbf], /overlong encoding at byte 1/],
    ["encoded high surrogate", [0xed, 0xa0, 0x80], /surrogate U\+D800/],
    ["encoded low surrogate", [0xed, 0xbf, 0xbf], /surrogate U\+DFFF/],
    ["CESU-8 surrogate pair", [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], /surrogate/],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], /above U\+10FFFF/],
    ["F5 lead byte", [0xf5, 0x80, 0x80, 0x80], /invalid byte 0xF5/],
    ["FF byte", [0xff], /invalid byte 0xFF/],
    ["stray continuation", [0x61, 0x80], /unexpected continuation byte 0x80 at byte 1/],
    ["truncated 2-byte", [0xc3], /truncated sequence at byte 0/],
    ["truncated 3-byte", [0x61, 0xe2, 0x82], /truncated sequence at byte 1/],
    ["truncated 4-byte", [0xf0, 0x9f, 0x98], /truncated/],
    ["missing continuation", [0xe2, 0x41, 0xac], /missing continuation byte at byte 1/],
  ];
  for (const [name, input, message] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(() => utf8Decode(Uint8Array.from(input)), { name: "RangeError", message });
    });
  }

  it("rejects a sequence cut by the end of the range even when the array goes on", () => {
    assert.throws(() => utf8Decode(bytes(0xe2, 0x82, 0xac), 0, 2), { name: "RangeError", message: /truncated/ });
  });

  it("agrees with Node's fatal decoder on random bytes", () => {
    const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (b) => {
        let expected: string | undefined;
        try {
          expected = fatal.decode(b);
        } catch {
          expected = undefined;
        }
        if (expected === undefined) assert.throws(() => utf8Decode(b), RangeError);
        else assert.equal(utf8Decode(b), expected);
      }),
      { numRuns: 20000 },
    );
  });
});
