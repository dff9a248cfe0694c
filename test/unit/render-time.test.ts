import { test } from "node:test";
import assert from "node:assert/strict";
import { humanTime, humanTimeForms } from "../../src/render/time.js";
import { iso } from "../helpers/iso.js";
import { NOW } from "../helpers/render-fixtures.js"; // 2026-11-27T14:40:00Z

test("relative times that still tell the date (UTC)", () => {
  const cases: Array<[string, string]> = [
    ["2026-11-27T14:39:30Z", "just now (14:39)"],
    ["2026-11-27T14:37:25Z", "2 min ago (14:37)"],
    ["2026-11-27T09:12:00Z", "5 h ago (09:12)"],
    ["2026-11-26T20:00:00Z", "18 h ago (Nov 26 20:00)"],
    ["2026-11-24T10:00:00Z", "3 days ago (Nov 24 10:00)"],
    ["2026-11-26T14:40:00Z", "1 day ago (Nov 26 14:40)"],
    ["2026-11-15T08:00:00Z", "12 days ago (2026-11-15)"],
    ["2026-06-01T00:00:00Z", "5 months ago (2026-06-01)"],
    ["2021-03-04T00:00:00Z", "5 years ago (2021-03-04)"],
    ["2026-11-27T14:40:20Z", "in under 1 min (14:40)"],
    ["2026-11-27T17:40:00Z", "in 3 h (17:40)"],
    ["2026-11-30T14:40:00Z", "in 3 days (Nov 30 14:40)"],
    ["2026-12-10T00:00:00Z", "in 12 days (2026-12-10)"],
  ];
  for (const [time, expected] of cases) assert.equal(humanTime(iso(time), NOW), expected, time);
});

test("null is '-', the relative part alone is available for narrow tables", () => {
  assert.equal(humanTime(null, NOW), "-");
  assert.equal(humanTimeForms(iso("2026-11-15T08:00:00Z"), NOW).compact, "12 days ago");
  assert.equal(humanTimeForms(iso("2026-11-30T14:40:00Z"), NOW).compact, "in 3 days");
});

test("the far ends of the range a time can have", () => {
  assert.equal(humanTime(iso("9999-12-31T23:59:59Z"), NOW), "in 7972 years (9999-12-31)");
  assert.equal(humanTime(iso("1970-01-01T00:00:00Z"), NOW), "56 years ago (1970-01-01)");
});

test("output does not depend on the machine's time zone", () => {
  const saved = process.env.TZ;
  try {
    process.env.TZ = "Pacific/Kiritimati"; // UTC+14: a different calendar day from UTC
    assert.equal(humanTime(iso("2026-11-27T09:12:00Z"), NOW), "5 h ago (09:12)");
    assert.equal(humanTime(iso("2026-11-26T20:00:00Z"), NOW), "18 h ago (Nov 26 20:00)");
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});
