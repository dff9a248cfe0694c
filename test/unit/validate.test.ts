import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseBareJid, parseSelector, isValidDomain } from "../../src/validate.js";
import { CamError, exitCodeFor } from "../../src/errors.js";

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
  assert.deepEqual(parseSelector("client/zeiP41HLglIu"), { kind: "client", text: "client/zeiP41HLglIu", name: "zeiP41HLglIu", version: null });
  assert.deepEqual(parseSelector("grant/HjEEr45_LQr"), { kind: "grant", text: "grant/HjEEr45_LQr", name: "HjEEr45_LQr", version: null });
  assert.deepEqual(parseSelector("software/Gajim"), { kind: "software", text: "software/Gajim", name: "Gajim", version: null });
  assert.deepEqual(parseSelector("software/Gajim/1.8.0"), { kind: "software", text: "software/Gajim/1.8.0", name: "Gajim", version: "1.8.0" });
  assert.equal(parseSelector("software/REST client").name, "REST client");
  for (const bad of ["", "client", "client/", "grant/a b", "grant/a/b", "token/x", "software/", "software/x/", "client/x\n", "software/x\u202e"]) {
    usage(() => parseSelector(bad));
  }
});

test("property: accepted selectors never contain control or format characters", () => {
  fc.assert(
    fc.property(fc.constantFrom("client/", "grant/", "software/", ""), fc.string({ unit: "binary", maxLength: 30 }), (prefix, rest) => {
      try {
        const s = parseSelector(prefix + rest);
        assert.doesNotMatch(s.text, /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
        assert.equal(s.text, prefix + rest);
      } catch (e) {
        assert.ok(e instanceof CamError && e.kind === "usage");
      }
    }),
    { numRuns: 2000 },
  );
});
