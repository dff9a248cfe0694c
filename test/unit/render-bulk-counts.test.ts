// The bulk question and the run's sentences write counts as everything else does: "1,500".
import { test } from "node:test";
import assert from "node:assert/strict";
import { revokeQuestion, tallyOutcomeSentence } from "../../src/render/bulk.js";
import type { ApplyTally } from "../../src/core/outcomes.js";

test("the bulk confirmation question groups thousands (1,500, not 1500)", () => {
  assert.equal(revokeQuestion({ clients: 1500, accounts: 1234 }, "example.com"), "Revoke these 1,500 clients on 1,234 accounts of example.com?");
  assert.equal(revokeQuestion({ clients: 1, accounts: 1 }, "example.com"), "Revoke this client on 1 account of example.com?");
});

test("the outcome sentences group thousands too", () => {
  const t: ApplyTally = { items: 1500, revoked: 0, passwordResetRequired: 1200, gone: 0, changed: 0, failed: 1100, acted: 0 };
  assert.match(tallyOutcomeSentence(t, "password-reset-required", "x"), /^1,200 of the 1,500 clients/);
  assert.match(tallyOutcomeSentence(t, "partly-revoked", "x"), /^1,100 of the 1,500 items/);
});
