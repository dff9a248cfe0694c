import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { renderJson } from "../../src/render/json.js";
import { HOSTILE, SAMPLE, anyClientList, anyText, client, unsafeChar } from "../helpers/render-fixtures.js";

/** What plain JSON makes of a value (-0 becomes 0, prototypes are dropped): the reference. */
const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** Raw unsafe characters in JSON text, apart from its own indentation newlines. */
const rawUnsafe = (json: string) => unsafeChar().exec(json.replace(/\n/g, ""));

test("JSON is 2-space indented with a trailing newline", () => {
  assert.equal(renderJson({ a: [1, null], b: "x" }), '{\n  "a": [\n    1,\n    null\n  ],\n  "b": "x"\n}\n');
  assert.equal(renderJson(undefined), "null\n");
});

test("the client list keeps the contract's shape exactly", () => {
  const out = renderJson(SAMPLE);
  assert.deepEqual(JSON.parse(out), SAMPLE);
  assert.ok(out.includes('"firstSeen": "2026-11-15T08:00:00Z"'));
});

test("hostile strings are escaped as \\uXXXX yet parse back exactly", () => {
  const list = { ...SAMPLE, clients: HOSTILE.map((s, i) => client({ id: `client/${i}${s}`, userAgent: { software: s, version: s, softwareId: s, uri: s, device: s } })) };
  const out = renderJson(list);
  assert.equal(rawUnsafe(out), null);
  assert.ok(!out.includes("\x1b") && !out.includes("\u202e") && !out.includes("\u009b") && !out.includes("\x7f"));
  assert.ok(out.includes("\\u202egnp.exe") && out.includes("\\u009b31m") && out.includes("\\u007f") && out.includes("\\u2028"));
  assert.ok(out.includes("\\udb40\\udc41")); // astral tag character as a surrogate pair escape
  assert.deepEqual(JSON.parse(out), list);
});

test("emoji and other ordinary non-ASCII text stay as UTF-8", () => {
  assert.equal(renderJson("Juliet's 😀 漢字"), '"Juliet\'s 😀 漢字"\n');
});

test("property: any JSON value round-trips exactly and holds no raw control/bidi character", () => {
  fc.assert(
    fc.property(fc.jsonValue({ stringUnit: fc.oneof(fc.string({ unit: "binary", maxLength: 1 }), anyText) }), (value) => {
      const out = renderJson(value);
      assert.equal(rawUnsafe(out), null);
      assert.deepEqual(JSON.parse(out), viaJson(value));
      return true;
    }),
    { numRuns: 1000 },
  );
});

test("property: any client list round-trips exactly", () => {
  fc.assert(
    fc.property(anyClientList, (list) => {
      const out = renderJson(list);
      assert.equal(rawUnsafe(out), null);
      assert.deepEqual(JSON.parse(out), viaJson(list));
      return true;
    }),
    { numRuns: 300 },
  );
});
