// The host-wide filters: parsing (durations, dates, refusals) and matching at each boundary.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { CamError, exitCodeFor } from "../../src/core/errors.js";
import {
  NO_FILTER,
  accountMatches,
  addFilterOptions,
  isEmptyFilter,
  matchesFilter,
  parseFilter,
  parseWhen,
  type ClientFilter,
  type HostClientRecord,
  type RawFilterOptions,
} from "../../src/core/filters.js";
import type { IsoUtc } from "../../src/core/model.js";
import { isoAt as iso } from "../helpers/iso.js";

const NOW = new Date("2026-11-27T12:00:00Z");
const NOW_S = NOW.getTime() / 1000;
const DAY = 86400;

function rec(o: Partial<HostClientRecord> & { software?: string | null; version?: string | null } = {}): HostClientRecord {
  const { software = "Gajim", version = null, ...rest } = o;
  return {
    account: "alice@example.com", id: "client/a", type: "session", connected: false,
    firstSeen: iso(NOW_S - 100 * DAY), lastSeen: iso(NOW_S - 10 * DAY), expires: null, auth: ["password"],
    userAgent: { software, version, softwareId: null, uri: null, device: null }, permission: null,
    ...rest,
  };
}

const only = (patch: Partial<ClientFilter>): ClientFilter => ({ ...NO_FILTER, ...patch });
const usage = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && re.test(e.message));

test("durations and dates", () => {
  assert.equal(parseWhen("90d", "--x", NOW), NOW_S - 90 * DAY);
  assert.equal(parseWhen("12h", "--x", NOW), NOW_S - 12 * 3600);
  assert.equal(parseWhen("30m", "--x", NOW), NOW_S - 1800);
  assert.equal(parseWhen("2w", "--x", NOW), NOW_S - 14 * DAY);
  assert.equal(parseWhen("45s", "--x", NOW), NOW_S - 45);
  assert.equal(parseWhen("14d", "--x", NOW, true), NOW_S + 14 * DAY, "ahead: expiry times lie in the future");
  assert.equal(parseFilter({ expiresBefore: "14d" }, NOW).expiresBefore, NOW_S + 14 * DAY, "--expires-before 14d: expires within two weeks");
  assert.equal(parseWhen("2026-01-31", "--x", NOW), Date.UTC(2026, 0, 31) / 1000);
  assert.equal(parseWhen("2026-01-31T12:00:00Z", "--x", NOW), Date.UTC(2026, 0, 31, 12) / 1000);
  assert.equal(parseWhen("2026-01-31T12:00", "--x", NOW), Date.UTC(2026, 0, 31, 12) / 1000, "no zone means UTC");
  assert.equal(parseWhen("2026-01-31T12:00:00+02:00", "--x", NOW), Date.UTC(2026, 0, 31, 10) / 1000);
  for (const bad of ["", "90", "d", "-5d", "90 days", "2026-13-45", "yesterday", "1e3d", "\u001b[31m"]) {
    usage(() => parseWhen(bad, "--last-seen-before", NOW), /--last-seen-before takes a duration back from now/);
  }
  // Expiry durations count ahead: the error says so, never "back from now".
  usage(() => parseFilter({ expiresBefore: "soon" }, NOW), /^--expires-before takes a duration ahead of now \(14d, 12h, 30m, 2w; --expires-before 14d: expires within two weeks\) or an ISO date/);
  assert.throws(() => parseFilter({ expiresBefore: "soon" }, NOW), (e: unknown) => !/back from now/.test((e as Error).message));
});

test("option values become a filter; contradictions and unknown methods are refused", () => {
  const raw: RawFilterOptions = { lastSeenBefore: "90d", auth: ["password", "fast", "password"], type: "session", connected: true, software: "Evil Client/2.3", account: "test-*" };
  const f = parseFilter(raw, NOW);
  assert.equal(f.lastSeenBefore, NOW_S - 90 * DAY);
  assert.deepEqual(f.auth, ["fast", "password"]);
  assert.deepEqual(f.software, { name: "Evil Client", version: "2.3" });
  assert.equal(f.connected, true);
  assert.equal(parseFilter({ disconnected: true }, NOW).connected, false);
  assert.equal(parseFilter({ expiry: false }, NOW).noExpiry, true);
  assert.ok(isEmptyFilter(parseFilter({}, NOW)));
  assert.ok(!isEmptyFilter(f));
  usage(() => parseFilter({ connected: true, disconnected: true }, NOW), /not both/);
  usage(() => parseFilter({ auth: ["oauth"] }, NOW), /--auth takes password, grant, fast/);
  usage(() => parseFilter({ software: "/2.3" }, NOW), /--software takes/);
  usage(() => parseFilter({ software: "Gajim/" }, NOW), /--software takes/);
  usage(() => parseFilter({ account: "" }, NOW), /--account/);
  usage(() => parseFilter({ expiry: false, expiresBefore: "1d" }, NOW), /not both/);
});

test("the options are declared once and parse through commander", () => {
  let seen: RawFilterOptions | undefined;
  const cmd = addFilterOptions(new Command("x").exitOverride()).action((o: RawFilterOptions) => {
    seen = o;
  });
  cmd.parse(["--auth", "password", "--auth", "grant", "--no-expiry", "--type", "access", "--last-seen-after", "7d"], { from: "user" });
  assert.deepEqual(seen?.auth, ["password", "grant"]);
  assert.equal(seen?.expiry, false);
  const f = parseFilter(seen!, NOW);
  assert.equal(f.type, "access");
  assert.equal(f.lastSeenAfter, NOW_S - 7 * DAY);
});

test("last seen: before includes never-seen, after excludes it; the boundary second itself does not match", () => {
  const t = NOW_S - 90 * DAY;
  const before = only({ lastSeenBefore: t });
  assert.ok(matchesFilter(rec({ lastSeen: iso(t - 1) }), before));
  assert.ok(!matchesFilter(rec({ lastSeen: iso(t) }), before));
  assert.ok(matchesFilter(rec({ lastSeen: null }), before), "never seen is not seen since");
  const after = only({ lastSeenAfter: t });
  assert.ok(matchesFilter(rec({ lastSeen: iso(t + 1) }), after));
  assert.ok(!matchesFilter(rec({ lastSeen: iso(t) }), after));
  assert.ok(!matchesFilter(rec({ lastSeen: null }), after));
  const window = only({ lastSeenAfter: t, lastSeenBefore: t + 10 });
  assert.ok(matchesFilter(rec({ lastSeen: iso(t + 5) }), window));
  assert.ok(!matchesFilter(rec({ lastSeen: iso(t + 10) }), window));
});

test("expiry filters look at grants' expiry only where there is one", () => {
  const t = NOW_S + 30 * DAY;
  const grant = (expires: IsoUtc | null) => rec({ id: "grant/g", type: "access", auth: ["grant"], expires });
  assert.ok(matchesFilter(grant(iso(t - 1)), only({ expiresBefore: t })));
  assert.ok(!matchesFilter(grant(iso(t)), only({ expiresBefore: t })));
  assert.ok(!matchesFilter(grant(null), only({ expiresBefore: t })));
  assert.ok(matchesFilter(grant(null), only({ noExpiry: true })));
  assert.ok(!matchesFilter(grant(iso(t)), only({ noExpiry: true })));
  assert.ok(!matchesFilter(rec(), only({ noExpiry: true })), "a session is not a grant that never expires");
});

test("software, version, auth, type and connection", () => {
  assert.ok(matchesFilter(rec({ software: "Evil Client", version: "2.3" }), only({ software: { name: "Evil Client", version: null } })));
  assert.ok(matchesFilter(rec({ software: "Evil Client", version: "2.3" }), only({ software: { name: "Evil Client", version: "2.3" } })));
  assert.ok(!matchesFilter(rec({ software: "Evil Client", version: "2.4" }), only({ software: { name: "Evil Client", version: "2.3" } })));
  assert.ok(!matchesFilter(rec({ software: "Evil Client", version: null }), only({ software: { name: "Evil Client", version: "2.3" } })));
  assert.ok(!matchesFilter(rec({ software: "evil client" }), only({ software: { name: "Evil Client", version: null } })), "exact, like the server's own software/ selector");
  assert.ok(!matchesFilter(rec({ software: null }), only({ software: { name: "Evil Client", version: null } })));
  assert.ok(matchesFilter(rec({ auth: ["fast", "password"] }), only({ auth: ["fast"] })));
  assert.ok(matchesFilter(rec({ auth: ["password"] }), only({ auth: ["fast", "password"] })), "repeated --auth is any of");
  assert.ok(!matchesFilter(rec({ auth: [] }), only({ auth: ["password"] })));
  assert.ok(!matchesFilter(rec(), only({ type: "access" })));
  assert.ok(matchesFilter(rec({ connected: true }), only({ connected: true })));
  assert.ok(!matchesFilter(rec({ connected: true }), only({ connected: false })));
  assert.ok(matchesFilter(rec(), NO_FILTER));
});

test("account globs: localpart unless the glob has an @, case-insensitive, everything but * and ? literal", () => {
  assert.ok(accountMatches("test-1@example.com", "test-*"));
  assert.ok(!accountMatches("xtest-1@example.com", "test-*"));
  assert.ok(accountMatches("Test-1@example.com", "test-?"));
  assert.ok(!accountMatches("test-12@example.com", "test-?"));
  assert.ok(accountMatches("bob@example.com", "*@example.com"));
  assert.ok(!accountMatches("bob@example.org", "*@example.com"));
  assert.ok(accountMatches("a.b+c@example.com", "a.b+c"));
  assert.ok(!accountMatches("aXb+c@example.com", "a.b+c"), "a dot is a dot");
  assert.ok(accountMatches("anyone@example.com", null));
  // AND across filters
  assert.ok(!matchesFilter(rec({ account: "bob@example.com" }), only({ account: "alice", type: "session" })));
});
