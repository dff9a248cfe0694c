import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { displaySafe } from "../../src/text/untrusted.js";
import { HOSTILE, anyText, unsafeChar } from "../helpers/render-fixtures.js";

test("displaySafe leaves ordinary text alone", () => {
  for (const s of ["Gajim", "Juliet's laptop", "Conversations 2.16.8", "漢字 😀 👍🏽 é", "https://gajim.org/?a=1&b=2", ""]) {
    assert.equal(displaySafe(s), s);
  }
});

test("displaySafe makes controls, bidi and invisible characters visible", () => {
  const cases: Array<[string, string]> = [
    ["\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"],
    ["a\nb\rc\td", "a\\nb\\rc\\td"],
    ["\b\x00\x7f", "\\x08\\x00\\x7f"],
    ["\u009b31m", "\\x9b31m"],
    ["\u0085", "\\x85"],
    ["\u202egnp.exe", "\\u202egnp.exe"],
    ["\u061c\u200b\u200e\u200f\u202a\u2066\u2069\ufeff", "\\u061c\\u200b\\u200e\\u200f\\u202a\\u2066\\u2069\\ufeff"],
    ["\u2028\u2029", "\\u2028\\u2029"],
    ["x\ud800y\udfff", "x\\ud800y\\udfff"],
    ["\u{e0001}", "\\u{e0001}"],
    ["\u00ad", "\\u00ad"], // soft hyphen is \p{Cf}
  ];
  for (const [input, expected] of cases) assert.equal(displaySafe(input), expected, JSON.stringify(input));
});

test("displaySafe doubles backslashes so an escape in the data cannot pass for a real one", () => {
  assert.equal(displaySafe("\\x1b"), "\\\\x1b");
  assert.notEqual(displaySafe("\\x1b"), displaySafe("\x1b"));
  assert.equal(displaySafe("DOMAIN\\host"), "DOMAIN\\\\host");
});

test("displaySafe keeps surrogate pairs (emoji) intact", () => {
  assert.equal(displaySafe("😀"), "😀");
  assert.equal(displaySafe("\u{1f600}\ud83d"), "😀\\ud83d");
});

test("hostile examples come out as one line without ESC", () => {
  for (const s of HOSTILE) {
    const out = displaySafe(s);
    assert.ok(!unsafeChar().test(out), JSON.stringify(out));
    assert.ok(!out.includes("\x1b") && !out.includes("\n"));
  }
});

test("property: no Cc/Cf/Zl/Zp character and no lone surrogate ever comes out", () => {
  fc.assert(
    fc.property(anyText, (s) => {
      const out = displaySafe(s);
      return !unsafeChar().test(out) && !/\p{Cs}/u.test(out);
    }),
    { numRuns: 2000 },
  );
});

test("property: displaySafe is injective (different inputs never look the same)", () => {
  fc.assert(
    fc.property(anyText, anyText, (a, b) => a === b || displaySafe(a) !== displaySafe(b)),
    { numRuns: 2000 },
  );
});

test("property: safe text without backslashes passes through unchanged", () => {
  fc.assert(
    fc.property(anyText, (s) => {
      fc.pre(!unsafeChar().test(s) && !s.includes("\\"));
      return displaySafe(s) === s;
    }),
  );
});

test("msg`` escapes interpolations only; SafeText nests without a second escape", async () => {
  const { msg, SafeText } = await import("../../src/text/untrusted.js");
  const path = "/tmp/x\x1b]0;pwned\x07\\";
  const where = msg`the admin socket ${path}`;
  assert.ok(where instanceof SafeText);
  assert.equal(String(where), "the admin socket /tmp/x\\x1b]0;pwned\\x07\\\\");
  assert.equal(String(msg`No answer from ${where} within ${15} s.`), "No answer from the admin socket /tmp/x\\x1b]0;pwned\\x07\\\\ within 15 s.");
  assert.equal(String(msg`offered: ${["PLAIN", "X\nY"]}; ok=${true}`), "offered: PLAIN, X\\nY; ok=true");
  assert.equal(String(msg`${null} ${undefined}`), "null undefined");
  assert.equal(String(msg`camctl's own\nwords`), "camctl's own\nwords", "the literal parts are camctl's and stay as written");
});

test("excerpt cuts untrusted text before escaping it, keeps surrogate pairs, marks the cut", async () => {
  const { excerpt } = await import("../../src/text/untrusted.js");
  assert.equal(String(excerpt("short")), "short");
  assert.equal(String(excerpt("a".repeat(301))), "a".repeat(300) + "…");
  assert.equal(String(excerpt("\x1b".repeat(5), 3)), "\\x1b\\x1b\\x1b…");
  assert.equal(String(excerpt("😀😀😀", 2)), "😀😀…");
  assert.equal(String(excerpt("😀😀", 2)), "😀😀");
  fc.assert(
    fc.property(anyText, fc.integer({ min: 1, max: 50 }), (s, max) => {
      const out = String(excerpt(s, max));
      assert.ok(!unsafeChar().test(out) && !/\p{Cs}/u.test(out), JSON.stringify(out));
      return Array.from(s).length <= max ? out === displaySafe(s) : out.endsWith("…");
    }),
  );
});
