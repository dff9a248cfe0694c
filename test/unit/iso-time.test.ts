// The readers that make an IsoUtc (src/core/model.ts), the only time renderers are given: whatever a
// server or a file sends, what comes out is that one form or null, never the text as it came.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isoFromDateTime, isoFromUnix } from "../../src/core/model.js";

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

test("ISO 8601 date-times with a zone become the one form; anything else, odd or hostile, is null", () => {
  const cases: Array<[string, string | null]> = [
    ["2026-11-27T14:37:25Z", "2026-11-27T14:37:25Z"],
    ["2026-11-27T14:37:25.123Z", "2026-11-27T14:37:25Z"],
    ["2026-11-27T14:37:25.999999Z", "2026-11-27T14:37:25Z"],
    ["2026-11-27T16:37:25+02:00", "2026-11-27T14:37:25Z"],
    ["2026-11-27T14:37:25-01:30", "2026-11-27T16:07:25Z"],
    ["0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"],
    ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"],
    ["9999-12-31T23:59:59-00:01", null], // year 10000
    ["0000-01-01T00:00:00+00:01", null], // before year 0
    ["2026-11-27T14:37:25", null], // no zone: not guessed in the machine's local time
    ["2026-11-27T14:37Z", null], // no seconds
    ["2026-11-27", null],
    ["1", null], // Date.parse would make a date of it
    ["Fri, 27 Nov 2026 14:37:25 GMT", null],
    ["2026-13-01T00:00:00Z", null],
    ["+275760-09-13T00:00:00Z", null],
    [" 2026-11-27T14:37:25Z", null], // blanks are the XMPP reader's to trim, not a plan's
    ["soon\x1b[2J", null],
    ["never\n", null],
    ["2026-11-27T14:37:25Z\n", null],
    ["2026-11-27T14:37:25Z\u202e", null],
    ["", null],
  ];
  for (const [text, want] of cases) assert.equal(isoFromDateTime(text), want, JSON.stringify(text));
});
