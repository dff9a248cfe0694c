import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { comparableJid, parseBareJid, parseSelector, isValidDomain } from "../../src/core/validate.js";
import { CamError, exitCodeFor } from "../../src/core/errors.js";

const usage = (fn: () => unknown) =>
  assert.throws(fn, (e: unknown) => e instanceof CamError && e.kind === "usage" && exitCodeFor(e) === 2);

test("accepts ordinary account JIDs and lowercases the domain", () => {
  assert.equal(parseBareJid("alice@example.com"), "alice@example.com");
  assert.equal(parseBareJid("Alice@Example.COM"), "Alice@example.com");
  assert.equal(parseBareJid("jürgen@bücher.example"), "jürgen@bücher.example");
  assert.equal(parseBareJid("admin@127.0.0.1"), "admin@127.0.0.1");
});

test("refuses what can only be a mistake", () => {
  for (const bad of ["", "alice", "@example.com", "alice@", "alice@example.com/phone", "a b@example.com",
    "a\"b@example.com", "a<b@example.com", "a\u0000@example.com", "a\u202e@example.com", "alice@exa mple.com",
    "alice@-bad.com", "alice@bad..com", "alice@999.1.1.1", `${"x".repeat(1024)}@example.com`]) {
    usage(() => parseBareJid(bad));
  }
});

test("error messages never echo control characters raw", () => {
  try {
    parseBareJid("ali\x1b]0;title\x07ce@example.com/res");
    assert.fail("should throw");
  } catch (e) {
    assert.ok(e instanceof CamError);
    assert.doesNotMatch(e.message, /[\x00-\x1f\x7f-\x9f]/);
  }
});

test("property: any accepted JID has exactly one @, no resource, no controls, valid domain", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), fc.string({ unit: "binary", maxLength: 40 }), (local, domain) => {
      let jid: string;
      try {
        jid = parseBareJid(`${local}@${domain}`);
      } catch (e) {
        assert.ok(e instanceof CamError && e.kind === "usage");
        return;
      }
      const at = jid.lastIndexOf("@");
      assert.ok(at > 0);
      assert.ok(!jid.includes("/"));
      assert.doesNotMatch(jid, /[\p{Cc}\p{Cf}\s]/u);
      assert.ok(!jid.slice(0, at).includes("@"));
      assert.ok(isValidDomain(jid.slice(at + 1)));
    }),
    { numRuns: 2000 },
  );
});

test("selectors: the three kinds the server understands", () => {
  assert.deepEqual(parseSelector("client/zeiP41HLglIu"), { kind: "client", text: "client/zeiP41HLglIu", rest: "zeiP41HLglIu" });
  assert.deepEqual(parseSelector("grant/HjEEr45_LQr"), { kind: "grant", text: "grant/HjEEr45_LQr", rest: "HjEEr45_LQr" });
  assert.deepEqual(parseSelector("software/Gajim"), { kind: "software", text: "software/Gajim", rest: "Gajim" });
  assert.deepEqual(parseSelector("software/Gajim/1.8.0"), { kind: "software", text: "software/Gajim/1.8.0", rest: "Gajim/1.8.0" });
  assert.equal(parseSelector("software/REST client").rest, "REST client");
  for (const bad of ["", "client", "token/x", "Client/x", "/x", "garbage"]) usage(() => parseSelector(bad));
});

test("a bare id is refused with the client/ and grant/ forms to try", () => {
  for (const id of ["22222222-aaaa-bbbb-cccc-dddddddddddd", "zeiP41HLglIu"]) {
    assert.throws(
      () => parseSelector(id),
      (e: unknown) => e instanceof CamError && e.kind === "usage" && e.message.includes(`"client/${id}"`) && e.message.includes(`"grant/${id}"`),
    );
  }
  assert.throws(() => parseSelector("token/x"), (e: unknown) => e instanceof CamError && !e.message.includes("Did you mean"), "only a bare id gets the suggestion");
  assert.throws(() => parseSelector("x\x1b[31m"), (e: unknown) => e instanceof CamError && !e.message.includes("\x1b"), "echoed safely");
});

test("selectors take any id a client can choose: slashes, spaces, any character; only an empty one is refused, saying why", () => {
  for (const id of ["client/a/b", "client/with space", "client/ leading", "client/x\n", "client/\u202e\x1b[31m", "grant/a b", "grant/a/b", "software/x/", "client/" + "x".repeat(5000)]) {
    assert.equal(parseSelector(id).text, id);
  }
  for (const [bad, why] of [["client/", /empty.*client\/.*password/], ["grant/", /empty/], ["software/", /names no software/]] as const) {
    assert.throws(() => parseSelector(bad), (e: unknown) => e instanceof CamError && e.kind === "usage" && why.test(e.message));
  }
  assert.throws(() => parseSelector("x\x1b]0;t\x07/a"), (e: unknown) => e instanceof CamError && !e.message.includes("\x1b"), "echoed safely");
});

test("property: every <kind>/<non-empty> is taken exactly as typed", () => {
  fc.assert(
    fc.property(fc.constantFrom("client/", "grant/", "software/"), fc.string({ unit: "binary", minLength: 1, maxLength: 30 }), (prefix, rest) => {
      const s = parseSelector(prefix + rest);
      assert.equal(s.text, prefix + rest);
      assert.equal(s.rest, rest);
    }),
    { numRuns: 2000 },
  );
});

test("JIDs compare the way the server preps them: case, fullwidth letters, sharp s", () => {
  assert.equal(comparableJid("Alice@Example.COM"), comparableJid("alice@example.com"));
  assert.equal(comparableJid("\uff41lice@example.com"), "alice@example.com", "fullwidth a (NFKC)");
  assert.equal(comparableJid("stra\u00dfe@example.com"), "strasse@example.com", "sharp s folds to ss");
  assert.notEqual(comparableJid("alice@example.com"), comparableJid("bob@example.com"));
});
