// camctl doctor's verdicts, without a server: the certificate, the features after TLS, the exit
// code of a set of checks, and the Lua chunk's arguments (hex only).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Parser, type Element } from "@xmpp/xml";
import { exitCodeOf } from "../../src/core/errors.js";
import { checkRecord, checksOutcome, fail, ok, warn } from "../../src/doctor/checks.js";
import { doctorChunk } from "../../src/doctor/socket.js";
import { certificateCheck, featureChecks, type ProbeResult } from "../../src/doctor/xmpp.js";

/** <stream:features> with `inner`, as the stream parser hands it over. */
function features(inner: string): Element {
  const p = new Parser();
  let el: Element | undefined;
  p.on("element", (e: Element) => (el = e));
  p.write(`<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'><stream:features>${inner}</stream:features>`);
  return el!;
}

const NOW = new Date("2026-11-27T12:00:00Z");
const DAY = 86_400_000;
const cert = (o: Partial<NonNullable<ProbeResult["certificate"]>> = {}): NonNullable<ProbeResult["certificate"]> => ({
  authorized: true,
  authorizationError: undefined,
  identityError: undefined,
  names: ["example.com", "conference.example.com"],
  validFrom: new Date(NOW.getTime() - 30 * DAY),
  validTo: new Date(NOW.getTime() + 60 * DAY),
  ...o,
});

test("certificate: ok with names and days left; warn near expiry; fail expired, not yet valid, untrusted, misnamed", () => {
  const good = certificateCheck(cert(), "example.com", "xmpp.example.com:5222", NOW);
  assert.equal(good.status, "ok");
  assert.equal(good.message, "The certificate of xmpp.example.com:5222 is trusted and valid for example.com, conference.example.com until 2027-01-26 (60 days left).");
  const soon = certificateCheck(cert({ validTo: new Date(NOW.getTime() + 3.5 * DAY) }), "example.com", "s", NOW);
  assert.equal(soon.status, "warn");
  assert.match(soon.message, /expires on 2026-12-01, in 3 days: renew it soon\./);
  const expired = certificateCheck(cert({ authorized: false, authorizationError: "CERT_HAS_EXPIRED", validTo: new Date(NOW.getTime() - 2 * DAY - 1000) }), "example.com", "s", NOW);
  assert.deepEqual([expired.status, expired.kind], ["fail", "unreachable"]);
  assert.match(expired.message, /expired on 2026-11-25 \(2 days ago\)/);
  const early = certificateCheck(cert({ authorized: false, authorizationError: "CERT_NOT_YET_VALID", validFrom: new Date(NOW.getTime() + DAY) }), "example.com", "s", NOW);
  assert.match(early.message, /is valid only from 2026-11-28/);
  const untrusted = certificateCheck(cert({ authorized: false, authorizationError: "SELF_SIGNED_CERT_IN_CHAIN" }), "example.com", "s", NOW);
  assert.match(untrusted.message, /not trusted here \(SELF_SIGNED_CERT_IN_CHAIN\); if the server uses a private CA, pass it with --ca-file/);
  const misnamed = certificateCheck(cert({ identityError: "Hostname/IP does not match", names: ["other.example"] }), "example.com", "s", NOW);
  assert.match(misnamed.message, /is not valid for example\.com \(it names other\.example\)/);
  for (const c of [expired, early, untrusted, misnamed]) assert.equal(checkRecord(c).exitCode, 3);
});

test("features after TLS: SASL2 and FAST offered, or each a warning", () => {
  const offered = features(`
    <authentication xmlns='urn:xmpp:sasl:2'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>
      <inline><fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-NONE</mechanism></fast></inline></authentication>
    <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>`);
  assert.deepEqual(featureChecks(offered).map((c) => [c.check, c.status]), [["sasl2", "ok"], ["fast", "ok"]]);
  assert.match(featureChecks(offered)[0]!.message, /SASL2 is offered \(SCRAM-SHA-1, PLAIN\)/);
  const legacy = features(`<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>`);
  const checks = featureChecks(legacy);
  assert.deepEqual(checks.map((c) => [c.check, c.status]), [["sasl2", "warn"], ["fast", "warn"]]);
  assert.match(checks[0]!.message, /only SASL: PLAIN/);
});

test("exit code: 0 with warnings only; otherwise the most severe failure", () => {
  const exitCode = (checks: Parameters<typeof checksOutcome>[0]) => exitCodeOf(checksOutcome(checks));
  assert.equal(exitCode([ok(null, "a", "."), warn(null, "b", ".")]), 0);
  assert.equal(exitCode([fail("x", "c", ".", "notFound"), fail("y", "c", ".", "unsupported"), warn(null, "b", ".")]), 8);
  assert.equal(exitCode([fail("x", "c", ".", "unsupported"), fail(null, "admin-socket", ".", "forbidden")]), 5);
});

test("a check is written with its exit code, not its kind", () => {
  assert.deepEqual(checkRecord(fail("x", "c", "m.", "notFound")), { host: "x", check: "c", status: "fail", message: "m.", exitCode: 6 });
  assert.deepEqual(checkRecord({ context: "prod", ...ok(null, "a", ".") }), { context: "prod", host: null, check: "a", status: "ok", message: ".", exitCode: 0 });
});

test("the Lua chunk carries host names hex-encoded only", () => {
  const hostile = 'x"] os.exit() --';
  const chunk = doctorChunk([hostile]);
  assert.ok(chunk.startsWith(">return (function(...)"));
  assert.ok(!chunk.includes(hostile));
  assert.ok(chunk.includes(`hosts = "${Buffer.from(JSON.stringify([hostile])).toString("hex")}"`));
  assert.match(doctorChunk(undefined), /\nend\)\(\{\}\)$/);
});

test("the module-defects check is titled as handled (camctl works around them), its --json name unchanged", async () => {
  const { CHECK_TITLES } = await import("../../src/doctor/checks.js");
  assert.equal(CHECK_TITLES["module-defects"], "defects handled");
  assert.equal(checkRecord(ok("camctl.test", "module-defects", "x")).check, "module-defects");
});
