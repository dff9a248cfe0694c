// The revoke command's words (render/revoke.ts, and core/not-revoked.ts for the outcomes where
// nothing was revoked): one client description everywhere, a sentence for every report, the exit
// code a report's outcome stands for, and hostile names never raw.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { ClientRecord, RevokeReport } from "../../src/core/model.js";
import { changedError, clientLabel, describeClient, goneError, noMatchError } from "../../src/core/not-revoked.js";
import {
  renderDryRun,
  renderRevokeHuman,
  revokeCsv,
  revokeJson,
  revokeQuestion,
  revokeSentence,
} from "../../src/render/revoke.js";
import { exitCodeOf } from "../../src/core/errors.js";
import { remainingAccess, revokeOutcome } from "../../src/core/outcomes.js";
import { HOSTILE, SAMPLE, anyClient, anyText, client, unsafeChar } from "../helpers/render-fixtures.js";

const [gajim, grant, conversations] = SAMPLE.clients as [ClientRecord, ClientRecord, ClientRecord];
const JID = "alice@example.com";

/** The exit code a report stands for: its outcome (src/core/outcomes.ts), then errors.ts. */
const revokeExitCode = (r: RevokeReport) => exitCodeOf(revokeOutcome(r).kind);

function report(over: Partial<RevokeReport> = {}): RevokeReport {
  return { jid: JID, id: gajim.id, before: gajim, done: { sessionClosed: true, fastTokensRevoked: true, grantRevoked: false }, after: null, unverifiable: [], ...over };
}

test("one description of a client: software, version, device; and when it named nothing", () => {
  assert.equal(describeClient(gajim), "Gajim 1.8.4 on laptop");
  assert.equal(clientLabel(grant), "grant/HjEEr45_LQr (Movim)");
  const nothing = { software: null, version: null, softwareId: null, uri: null, device: null };
  assert.equal(describeClient(client({ id: "client/x", userAgent: nothing })), "a client that sent no name");
  assert.equal(describeClient(client({ id: "grant/x", type: "access", userAgent: nothing })), "a grant without a client name");
  assert.equal(describeClient(client({ id: "client/x", userAgent: { software: null, version: null, softwareId: null, uri: null, device: "phone" } })), "unknown software on phone");
});

test("exit codes from the report: 0 nothing left, 7 only the password, 9 anything else or something unseen", () => {
  const after = (over: Partial<ClientRecord>): ClientRecord => ({ ...gajim, connected: false, auth: ["password"], ...over });
  assert.equal(revokeExitCode(report()), 0);
  assert.equal(revokeExitCode(report({ after: after({}) })), 7);
  assert.equal(revokeExitCode(report({ after: after({}), unverifiable: ["unused-fast-token"] })), 7, "a password change ends unused FAST tokens too");
  assert.equal(revokeExitCode(report({ after: after({ connected: true }) })), 9);
  assert.equal(revokeExitCode(report({ after: after({ auth: ["fast", "password"] }) })), 9);
  assert.equal(revokeExitCode(report({ after: after({ auth: ["grant"] }) })), 9);
  assert.equal(revokeExitCode(report({ after: after({ auth: [] }) })), 9, "still listed, for no stated reason");
  assert.equal(revokeExitCode(report({ unverifiable: ["unused-fast-token"] })), 9);
  assert.deepEqual(remainingAccess(after({ connected: true, auth: ["password", "x-new"] })), ["password", "x-new", "connected"]);
});

test("sentences say what was done and what remains", () => {
  assert.equal(revokeSentence(report()), `Revoked client/zeiP41HLglIu (Gajim 1.8.4 on laptop) for ${JID}: closed its session and revoked its FAST tokens; it has no access left.`);
  assert.equal(
    revokeSentence(report({ id: grant.id, before: grant, done: { sessionClosed: false, fastTokensRevoked: false, grantRevoked: true } })),
    `Revoked grant/HjEEr45_LQr (Movim) for ${JID}: revoked the grant; it has no access left.`,
  );
  assert.equal(
    revokeSentence(report({ done: { sessionClosed: false, fastTokensRevoked: false, grantRevoked: false }, after: { ...gajim, auth: ["password"], connected: false } })),
    `client/zeiP41HLglIu (Gajim 1.8.4 on laptop) has nothing to revoke but its password login: it signed in with ${JID}'s password and can come back with it until the password is changed: \`camctl user lockout ${JID} --new-password-file <file>\` sets a new one and revokes everything else the account has.`,
  );
  assert.equal(
    revokeSentence(report({ done: { sessionClosed: null, fastTokensRevoked: null, grantRevoked: null }, after: { ...gajim, auth: ["password"], connected: false } })),
    `client/zeiP41HLglIu (Gajim 1.8.4 on laptop): the server revoked what it could, but it signed in with ${JID}'s password and can come back with it until the password is changed: \`camctl user lockout ${JID} --new-password-file <file>\` sets a new one and revokes everything else the account has.`,
  );
  assert.match(
    revokeSentence(report({ after: { ...gajim, auth: ["grant", "password"], connected: true }, unverifiable: ["unused-fast-token"] })),
    /: closed its session and revoked its FAST tokens, but its grant is still valid, it can sign in again with .*'s password until that is changed and its session is still open\. Also, a FAST token it obtained but never used may still let it in: /,
  );
});

test("dry run and question name the entry the server takes, and the others", () => {
  const dry = renderDryRun({ kind: "dry-run", jid: JID, selector: "software/Gajim", entry: gajim, others: [conversations] }, { color: false });
  assert.equal(
    dry,
    `Would revoke client/zeiP41HLglIu (Gajim 1.8.4 on laptop) for ${JID}: software/Gajim matches 2 clients and the server takes the first in its list. Nothing was changed.\n` +
      "Also matching, not revoked (give an id to revoke one of these):\n  client/legacy-resource-Conversations.abcd (Conversations 2.16.8 on Pixel 7)\n",
  );
  assert.equal(renderDryRun({ kind: "dry-run", jid: JID, selector: grant.id, entry: grant, others: [] }, { color: false }), `Would revoke grant/HjEEr45_LQr (Movim) for ${JID}. Nothing was changed.\n`);
  assert.equal(revokeQuestion(JID, grant.id, grant, []), `Revoke grant/HjEEr45_LQr (Movim) from ${JID}?`);
  assert.equal(renderRevokeHuman({ kind: "report", jid: JID, selector: gajim.id, report: report({ after: { ...gajim, auth: ["password"] } }), others: [] }, { color: false }), "", "non-zero outcomes are said on stderr");
});

test("JSON keeps the contract's fields and adds the outcome", () => {
  const j = revokeJson({ kind: "report", jid: JID, selector: "software/Gajim", report: report(), others: [conversations] });
  assert.deepEqual(Object.keys(j).slice(0, 3), ["jid", "selector", "revoked"]);
  assert.deepEqual([j.revoked, j.id, j.outcome, j.remaining, j.otherMatches], [true, gajim.id, "revoked", [], [conversations.id]]);
});

test("hostile names and ids never reach any revoke text raw", () => {
  for (const h of HOSTILE) {
    const c = client({ id: `client/${h}`, userAgent: { software: h, version: h, softwareId: h, uri: h, device: h } });
    const r = report({ id: c.id, before: c, jid: h, after: { ...c, auth: [h, "password"] }, unverifiable: [h] });
    const texts = [
      revokeSentence(r),
      revokeQuestion(h, h, c, [c]),
      renderDryRun({ kind: "dry-run", jid: h, selector: h, entry: c, others: [c] }, { color: false }).replace(/\n/g, ""),
      noMatchError(h, h).message,
      goneError(h, c).message,
      changedError(h, c).message,
      revokeCsv({ kind: "report", jid: h, selector: h, report: r, others: [] }).replace(/\r\n/g, ""),
    ];
    for (const t of texts) assert.doesNotMatch(t, unsafeChar(), JSON.stringify(t));
  }
});

test("property: any client, any jid: one line, nothing unsafe", () => {
  fc.assert(
    fc.property(anyClient, anyText, (c, jid) => {
      const s = revokeSentence(report({ id: c.id, before: c, jid, after: c }));
      assert.doesNotMatch(s, unsafeChar());
      assert.ok(!s.includes("\n"));
    }),
    { numRuns: 500 },
  );
});
