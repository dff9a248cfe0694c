// --software (any case, * and ?), --software-exact, and the nearest names suggested when nothing
// matched (core/software-match.ts), and how plans record them (core/filters.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { editDistance, nearestNames, nearestSoftwareSentence, softwareMatches, SoftwareSeen } from "../../src/core/software-match.js";
import { checkRecordedFilters, filterFlags, NO_FILTER, parseFilter, recordFilters } from "../../src/core/filters.js";
import { CamError } from "../../src/core/errors.js";

const NOW = new Date("2026-12-01T00:00:00Z");
const soft = (text: string, exact = false) => parseFilter(exact ? { softwareExact: text } : { software: text }, NOW).software!;

test("--software ignores case and takes * and ?; everything else is literal", () => {
  const yes = (pattern: string, name: string, version: string | null = null) => assert.ok(softwareMatches(soft(pattern), name, version), `${pattern} ~ ${name}`);
  const no = (pattern: string, name: string | null, version: string | null = null) => assert.ok(!softwareMatches(soft(pattern), name, version), `${pattern} !~ ${name}`);
  yes("nextcloud talk", "Nextcloud Talk");
  yes("NEXTCLOUD*", "Nextcloud Talk");
  yes("Nextcloud*", "Nextcloud");
  yes("*talk", "Nextcloud Talk");
  yes("gaj?m", "Gajim");
  yes("Evil Client/2.*", "Evil Client", "2.3");
  no("Evil Client/2.*", "Evil Client", null);
  no("Evil Client/2.*", "Evil Client", "3.0");
  no("Nextcloud", "Nextcloud Talk", null); // no wildcard: the whole name
  no("a.c", "abc"); // regex characters are literal
  no("(x)+", "xx");
  yes("(x)+", "(X)+");
  no("gajim", null);
});

test("--software-exact compares exactly, as --software did before", () => {
  assert.ok(softwareMatches(soft("Nextcloud Talk", true), "Nextcloud Talk", null));
  assert.ok(!softwareMatches(soft("nextcloud talk", true), "Nextcloud Talk", null));
  assert.ok(!softwareMatches(soft("Nextcloud*", true), "Nextcloud Talk", null));
  assert.ok(softwareMatches(soft("Nextcloud*", true), "Nextcloud*", null));
  assert.ok(softwareMatches(soft("Evil/2.3", true), "Evil", "2.3"));
  assert.ok(!softwareMatches(soft("Evil/2.3", true), "Evil", "2.30"));
});

test("--software and --software-exact together are a usage error; so is an empty name", () => {
  for (const raw of [{ software: "a", softwareExact: "a" }, { software: "/1" }, { softwareExact: "x/" }]) {
    assert.throws(() => parseFilter(raw, NOW), (e: unknown) => e instanceof CamError && e.kind === "usage");
  }
});

test("edit distance", () => {
  assert.equal(editDistance("nextcloud talk", "nextcloud talk"), 0);
  assert.equal(editDistance("nextclod talk", "nextcloud talk"), 1);
  assert.equal(editDistance("gajim", "gaijm"), 2);
  assert.equal(editDistance("", "abc"), 3);
  assert.ok(editDistance("conversations", "gajim", 2) > 2, "stops past the limit");
});

test("nearest names: case-folded, wildcards left out, containment or a small edit distance, best first", () => {
  const seen = ["Nextcloud Talk", "Nextcloud", "Gajim", "Conversations", "Dino", "Monal"];
  assert.deepEqual(nearestNames("nextclod talk", seen), ["Nextcloud Talk"]);
  assert.deepEqual(nearestNames("nextcloud*", seen), ["Nextcloud", "Nextcloud Talk"]);
  assert.deepEqual(nearestNames("Conversation", seen), ["Conversations"]);
  assert.deepEqual(nearestNames("gajm", seen), ["Gajim"]);
  assert.deepEqual(nearestNames("Evil Client", seen), [], "nothing near");
  assert.deepEqual(nearestNames("*", seen), [], "a bare wildcard suggests nothing");
});

test("the sentence: only when nothing matched, never for --software-exact, names escaped", () => {
  const seen = new SoftwareSeen();
  for (const n of ["Nextcloud Talk", "Evil\x1b]0;pwned\x07 Talk", "Gajim"]) seen.note(n);
  const sentence = nearestSoftwareSentence(soft("nextcloud talkk"), seen, "example.com");
  assert.equal(sentence, "No software seen on example.com matches 'nextcloud talkk'; the nearest name is 'Nextcloud Talk' (--software ignores case; * and ? are wildcards).");
  const hostile = nearestSoftwareSentence(soft("evil"), seen, "example.com")!;
  assert.ok(hostile.includes("'Evil\\x1b]0;pwned\\x07 Talk'") && !/[\x00-\x1f]/.test(hostile), hostile);
  assert.equal(nearestSoftwareSentence(soft("Nextcloud", true), seen, "example.com"), undefined, "--software-exact: the server compared it");
  seen.matched = 1;
  assert.equal(nearestSoftwareSentence(soft("nextcloud talkk"), seen, "example.com"), undefined, "something matched");
});

test("a plan records the filter as given, and reads plans made before --software-exact as exact", () => {
  const given = recordFilters(parseFilter({ software: "nextcloud*" }, NOW), false);
  assert.equal(given.software, "nextcloud*");
  assert.equal(given.softwareExact, false);
  assert.deepEqual(checkRecordedFilters(JSON.parse(JSON.stringify(given))), given);
  assert.deepEqual(filterFlags(given), ["--software 'nextcloud*'"]);
  const exact = recordFilters(parseFilter({ softwareExact: "Evil Client/2.3" }, NOW), false);
  assert.deepEqual(filterFlags(exact), ["--software-exact 'Evil Client/2.3'"]);

  const old: Record<string, unknown> = { ...recordFilters({ ...NO_FILTER }, false), software: "Evil Client" };
  delete old.softwareExact;
  const read = checkRecordedFilters(old);
  assert.ok(typeof read !== "string" && read.softwareExact === true, "an older plan's --software was exact");
  assert.equal(checkRecordedFilters({ ...given, softwareExact: "yes" }), 'its "filters.softwareExact" is not true or false');
});
