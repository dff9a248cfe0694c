// isoFromUnix: the one conversion of stored Unix times, for every transport.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isoFromUnix } from "../../src/model.js";

test("whole seconds in UTC, four-digit years only; anything else is null, never an error", () => {
  const cases: Array<[unknown, string | null]> = [
    [1700000000, "2023-11-14T22:13:20Z"],
    [1700000000.9, "2023-11-14T22:13:20Z"],
    ["1700000000", "2023-11-14T22:13:20Z"],
    [0, "1970-01-01T00:00:00Z"],
    [-0.5, "1969-12-31T23:59:59Z"],
    [-62167219200, "0000-01-01T00:00:00Z"],
    [-30610224000, "1000-01-01T00:00:00Z"],
    [253402300799, "9999-12-31T23:59:59Z"],
    [253402300800, null],
    [-62167219201, null],
    [1e300, null],
    [-1e300, null],
    ["1e300", null],
    [Infinity, null],
    [NaN, null],
    ["", null],
    [" ", null],
    ["soon", null],
    [null, null],
    [undefined, null],
    [true, null],
  ];
  for (const [value, want] of cases) assert.equal(isoFromUnix(value), want, String(value));
});
