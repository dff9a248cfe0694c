// The shared renderer fixtures (test/helpers/render-fixtures.ts) are what they claim to be.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { HOSTILE, anyClientList, unsafeChar } from "../helpers/render-fixtures.js";

test("fixtures: hostile strings all hold something unsafe, arbitraries produce records", () => {
  for (const s of HOSTILE.slice(0, -1)) assert.ok(unsafeChar().test(s), JSON.stringify(s));
  for (const list of fc.sample(anyClientList, 20)) assert.ok(Array.isArray(list.clients));
});
