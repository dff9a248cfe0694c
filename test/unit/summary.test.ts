// --summary counts and the progress line: what an operator reads first on a large host.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { HostClientRecord } from "../../src/core/filters.js";
import { SummaryBuilder, ageBucket, expiryBucket } from "../../src/core/summary.js";
import { renderSummaryText } from "../../src/render/summary.js";
import { formatProgress, progressLine } from "../../src/term/progress.js";
import { fakeIO } from "../helpers/fake-io.js";
import { isoAt } from "../helpers/iso.js";

const NOW = new Date("2026-11-27T12:00:00Z");
const daysAgo = (d: number) => isoAt((NOW.getTime() - d * 86_400_000) / 1000);

function rec(account: string, software: string | null, auth: string[], lastSeenDays: number | null, type: "session" | "access" = "session"): HostClientRecord {
  return {
    account, id: `client/${Math.random()}`, type, connected: lastSeenDays === 0, firstSeen: null,
    lastSeen: lastSeenDays === null ? null : daysAgo(lastSeenDays), expires: null, auth,
    userAgent: { software, version: null, softwareId: null, uri: null, device: null }, permission: null,
  };
}

test("age buckets at their edges", () => {
  assert.equal(ageBucket(daysAgo(6.99), NOW), "< 7 d");
  assert.equal(ageBucket(daysAgo(7), NOW), "< 30 d");
  assert.equal(ageBucket(daysAgo(29.99), NOW), "< 30 d");
  assert.equal(ageBucket(daysAgo(30), NOW), "< 90 d");
  assert.equal(ageBucket(daysAgo(90), NOW), "older");
  assert.equal(ageBucket(null, NOW), "never");
});

test("software named like Object's own properties is counted like any other", () => {
  const b = new SummaryBuilder(NOW);
  for (const name of ["toString", "__proto__", "constructor", "__proto__"]) b.add(rec("a@x", name, ["password"], 1));
  const s = b.result();
  assert.deepEqual(Object.entries(s.bySoftware), [["__proto__", 2], ["constructor", 1], ["toString", 1]]);
  assert.match(JSON.stringify(s.bySoftware), /"__proto__":2/);
});

test("expiry buckets at their edges", () => {
  const inDays = (d: number) => isoAt((NOW.getTime() + d * 86_400_000) / 1000);
  assert.equal(expiryBucket(null, NOW), "never");
  assert.equal(expiryBucket(inDays(0), NOW), "expired");
  assert.equal(expiryBucket(inDays(-1), NOW), "expired");
  assert.equal(expiryBucket(inDays(0.01), NOW), "< 7 d");
  assert.equal(expiryBucket(inDays(7), NOW), "< 30 d");
  assert.equal(expiryBucket(inDays(30), NOW), "later");
  const b = new SummaryBuilder(NOW);
  b.add({ ...rec("a@x", "Webmail", ["grant"], null, "access"), expires: inDays(3) });
  b.add(rec("a@x", "Gajim", ["password"], 0));
  assert.deepEqual(b.result().byExpiry, { expired: 0, "< 7 d": 1, "< 30 d": 0, later: 0, never: 1 });
  assert.match(renderSummaryText("x", b.result()), /\nBy expiry\n  expired  0\n  < 7 d    1\n/);
});

test("counts by software, auth, type and age; accounts counted once", () => {
  const b = new SummaryBuilder(NOW);
  b.add(rec("a@x", "Gajim", ["password"], 0));
  b.add(rec("a@x", "Gajim", ["fast", "password"], 10));
  b.add(rec("b@x", "Evil Client", ["password"], 100));
  b.add(rec("b@x", null, ["grant"], null, "access"));
  b.add(rec("c@x", "Dino", [], 40));
  const s = b.result();
  assert.equal(s.accounts, 3);
  assert.equal(s.clients, 5);
  assert.equal(s.connected, 1);
  assert.deepEqual(s.bySoftware, { Gajim: 2, "(none)": 1, Dino: 1, "Evil Client": 1 });
  assert.deepEqual(s.byAuth, { password: 3, "(none)": 1, fast: 1, grant: 1 });
  assert.deepEqual(s.byType, { session: 4, access: 1 });
  assert.deepEqual(s.byLastSeen, { "< 7 d": 1, "< 30 d": 1, "< 90 d": 1, older: 1, never: 1 });
  assert.deepEqual(Object.keys(s.bySoftware), ["Gajim", "(none)", "Dino", "Evil Client"], "largest first, then by name");
});

test("the summary table escapes hostile names and cuts long ones", () => {
  const b = new SummaryBuilder(NOW);
  b.add(rec("a@x", "Evil\u001b]0;pwned\u0007", ["password"], 1));
  b.add(rec("a@x", "x".repeat(500), ["password"], 1));
  const text = renderSummaryText("example.com", b.result());
  assert.doesNotMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f]/);
  assert.match(text, /Evil\\x1b\]0;pwned\\x07/);
  assert.ok(text.split("\n").every((l) => l.length < 80));
  assert.match(text, /^2 clients on 1 account of example\.com \(0 connected\)/);
});

test("the summary's first line agrees in number: 1 client on 1 account, 2 clients on 2 accounts", () => {
  const one = new SummaryBuilder(NOW);
  one.add(rec("a@x", "Gajim", ["password"], 1));
  assert.match(renderSummaryText("example.com", one.result()), /^1 client on 1 account of example\.com \(0 connected\)\n/);
  one.add(rec("b@x", "Gajim", ["password"], 1));
  assert.match(renderSummaryText("example.com", one.result()), /^2 clients on 2 accounts of example\.com/);
});

test("the progress line: only on a terminal stderr, with rate and time left", () => {
  assert.equal(formatProgress({ scanned: 2500, total: 10000 }, 1000), "scanned 2,500 / 10,000 accounts · 2,500/s · 3 s left");
  assert.equal(formatProgress({ scanned: 10, total: null }, 0), "scanned 10 accounts");
  assert.equal(formatProgress({ scanned: 0, total: 1506 }, 9000, true), "scanned 0 / 1,506 accounts · waiting for the output to be read");
  const off = fakeIO();
  progressLine(off.io).update({ scanned: 1, total: 2 });
  assert.equal(off.err(), "");
  const on = fakeIO();
  on.io.stderrIsTTY = true;
  let t = 0;
  const line = progressLine(on.io, () => t);
  t = 1000;
  line.update({ scanned: 5, total: 10 });
  t = 1100;
  line.update({ scanned: 6, total: 10 }); // too soon: not redrawn
  line.clear();
  assert.equal(on.err(), "\r\x1b[2Kscanned 5 / 10 accounts · 5/s · 1 s left\r\x1b[2K");
});
