// Account activity and the incident record against a real Prosody: mod_account_activity (shipped
// with Prosody 13, loaded in the sandbox) records real logins; `host clients` carries each
// account's last activity and status, --account-inactive-since filters at its boundary over the
// admin socket and over XMPP (companion), `host revoke --plan-out` records the filter; `user
// lockout --reason` stores the reason with the disable, `user clients` shows it, `user unlock`
// re-enables the account and logins work again with the (possibly new) password.
//
// An activity 100 days old cannot be made by a login today: for the "old" account the test logs
// in for real (so it has a client), then writes the timestamp mod_account_activity keeps in its
// store ("account_activity", { timestamp }) back in time, as the module itself would have written
// it then. Everything else is real logins.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { rawSasl2Login } from "../helpers/sasl2-raw.js";
import { homesRemovedAfterAll, xmppCamctl, type Login } from "../helpers/xmpp-camctl.js";

let sb: Sandbox;
let boss: Login;
const newHome = homesRemovedAfterAll();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-activity-"));
const OLD = 1_700_000_000; // 2023-11-14T22:13:20Z
const iso = (unix: number) => new Date(unix * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

interface HostRow { account: string; id: string; accountLastActivity: string | null; accountStatus: string | null }

before(async () => {
  sb = await startSandbox({ extraModules: ["client_management_admin", "account_activity"], admins: ["boss"] });
  boss = await sb.createAccount("boss");
});
after(async () => {
  await sb?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const loginOk = async (jid: string, password: string) => (await rawSasl2Login(sb, { jid, userAgentId: randomUUID(), software: "Gajim", credential: { password } })).ok;

/** Sets the stored last activity as mod_account_activity would have written it at `unix`. */
async function activityAt(jid: string, unix: number): Promise<void> {
  const user = jid.split("@")[0]!;
  const out = await sb.lua(`local s = require "prosody.core.storagemanager".open(${JSON.stringify(sb.host)}, "account_activity")
    assert(s:set(${JSON.stringify(user)}, { timestamp = ${unix} })) return "ok"`);
  assert.match(out, /ok/);
}

async function socketRows(...filter: string[]): Promise<HostRow[]> {
  const r = await runCamctl(["host", "clients", sb.host, "-o", "ndjson", "--socket", sb.socketPath, ...filter]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as HostRow);
}

describe("account activity on host listings", () => {
  let recent: { jid: string; password: string };
  let old: { jid: string; password: string };
  let never: { jid: string; password: string };

  before(async () => {
    recent = await sb.createAccount("recent");
    old = await sb.createAccount("old");
    never = await sb.createAccount("never");
    assert.ok(await loginOk(recent.jid, recent.password));
    assert.ok(await loginOk(old.jid, old.password));
    await activityAt(old.jid, OLD);
    // A client of an account with no recorded activity: its store entry removed after the login.
    assert.ok(await loginOk(never.jid, never.password));
    await sb.lua(`assert(require "prosody.core.storagemanager".open(${JSON.stringify(sb.host)}, "account_activity"):set("never", nil)) return "ok"`);
  });

  test("every record carries its account's last activity (real logins) and status; unknown activity is null", async () => {
    const rows = await socketRows();
    const of = (jid: string) => rows.filter((r) => r.account === jid);
    assert.ok(of(recent.jid).length > 0 && of(old.jid).length > 0 && of(never.jid).length > 0);
    for (const r of of(old.jid)) assert.equal(r.accountLastActivity, iso(OLD));
    for (const r of of(never.jid)) assert.equal(r.accountLastActivity, null);
    for (const r of of(recent.jid)) {
      assert.ok(r.accountLastActivity !== null && Date.parse(r.accountLastActivity) > Date.now() - 3600_000, String(r.accountLastActivity));
    }
    for (const r of rows) assert.equal(r.accountStatus, "enabled");
  });

  test("--account-inactive-since at its boundary: activity at T is not inactive since T; since T+1s it is", async () => {
    const at = await socketRows("--account-inactive-since", iso(OLD));
    assert.deepEqual([...new Set(at.map((r) => r.account))], []);
    const after = await socketRows("--account-inactive-since", iso(OLD + 1));
    assert.deepEqual([...new Set(after.map((r) => r.account))], [old.jid]);
    // A duration: 90 days back from now. Unknown activity never matches.
    const ninety = await socketRows("--account-inactive-since", "90d");
    assert.deepEqual([...new Set(ninety.map((r) => r.account))], [old.jid]);
  });

  test("the same boundary over XMPP through the companion", async () => {
    for (const [when, expected] of [[iso(OLD), []], [iso(OLD + 1), [old.jid]], ["90d", [old.jid]]] as const) {
      const r = await xmppCamctl(sb, newHome(), boss, ["host", "clients", sb.host, "-o", "ndjson", "--account-inactive-since", when]);
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as HostRow);
      assert.deepEqual([...new Set(rows.map((x) => x.account))], expected, when);
      for (const x of rows) assert.equal(x.accountLastActivity, iso(OLD));
    }
    const all = await xmppCamctl(sb, newHome(), boss, ["host", "clients", sb.host, "-o", "ndjson"]);
    assert.equal(all.code, 0, all.stderr);
    const rows = all.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as HostRow);
    assert.ok(rows.some((x) => x.account === never.jid && x.accountLastActivity === null && x.accountStatus === "enabled"));
  });

  test("host revoke --plan-out records the filter; one plan for the inactive accounts' clients", async () => {
    const plan = path.join(dir, "inactive.plan");
    const r = await runCamctl(["host", "revoke", sb.host, "--account-inactive-since", "90d", "--plan-out", plan, "--socket", sb.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(fs.readFileSync(plan, "utf8")) as { filters: { accountInactiveSince: string | null }; items: { account: string; entry: Record<string, unknown> }[] };
    const since = doc.filters.accountInactiveSince;
    assert.ok(since !== null && Date.parse(since) < Date.now() - 89 * 86400_000, String(since));
    const items = doc.items;
    for (const i of items) assert.equal(i.entry.accountLastActivity, iso(OLD), "the entry as listed");
    assert.ok(items.length > 0);
    for (const i of items) assert.equal(i.account, old.jid);
    const dry = await runCamctl(["host", "apply", plan, "--dry-run", "--socket", sb.socketPath]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(old.jid.replace(".", "\\.")));
  });

  test("CSV ends with the account's facts; --summary counts accounts by last activity and status", async () => {
    const csv = await runCamctl(["host", "clients", sb.host, "-o", "csv", "--account", "old", "--socket", sb.socketPath]);
    assert.equal(csv.code, 0, csv.stderr);
    const [header, first] = csv.stdout.split("\r\n");
    assert.match(header!, /,accountLastActivity,accountStatus$/);
    assert.match(first!, new RegExp(`,${iso(OLD)},enabled$`));
    const sum = await runCamctl(["host", "clients", sb.host, "--summary", "-o", "json", "--socket", sb.socketPath]);
    assert.equal(sum.code, 0, sum.stderr);
    const s = (JSON.parse(sum.stdout) as { summary: { accounts: number; byAccountActivity: Record<string, number>; byAccountStatus: Record<string, number> } }).summary;
    assert.equal(s.byAccountActivity.older, 1);
    assert.equal(s.byAccountActivity.unknown, 1);
    assert.equal(Object.values(s.byAccountActivity).reduce((a, b) => a + b, 0), s.accounts);
    assert.equal(s.byAccountStatus.enabled, s.accounts);
    const text = await runCamctl(["host", "clients", sb.host, "--summary", "--socket", sb.socketPath]);
    assert.match(text.stdout, /Accounts by last activity\n(.*\n)*  older +1\n/);
  });

  test("bad <when>: one sentence, exit 2", async () => {
    const r = await runCamctl(["host", "clients", sb.host, "--account-inactive-since", "soon", "--socket", sb.socketPath]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--account-inactive-since takes/);
  });
});

describe("a host that records no activity", () => {
  test("--account-inactive-since: exit 8 and how to enable it (socket and XMPP); without it the fields are null", async () => {
    await sb.lua(`require "prosody.core.modulemanager".unload(${JSON.stringify(sb.host)}, "account_activity") return "ok"`);
    try {
      const r = await runCamctl(["host", "clients", sb.host, "--account-inactive-since", "30d", "--socket", sb.socketPath]);
      assert.equal(r.code, 8, r.stderr);
      assert.match(r.stderr, /account_activity/);
      const x = await xmppCamctl(sb, newHome(), boss, ["host", "clients", sb.host, "--account-inactive-since", "30d"]);
      assert.equal(x.code, 8, x.stderr);
      assert.match(x.stderr, /account_activity/);
      const rows = await socketRows();
      assert.ok(rows.length > 0);
      for (const row of rows) assert.equal(row.accountLastActivity, null);
    } finally {
      await sb.lua(`assert(require "prosody.core.modulemanager".load(${JSON.stringify(sb.host)}, "account_activity")) return "ok"`);
    }
  });
});

describe("the incident record: lockout --reason, user clients, unlock", () => {
  const clientsJson = async (jid: string) => {
    const r = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { accountStatus: string | null; disabledReason: string | null; disabledAt: string | null; passwordChanged: string | null };
  };

  test("over the socket: the reason is stored and shown; a second --disable says already disabled; unlock lets the password in again", async () => {
    const { jid, password } = await sb.createAccount("mallory");
    assert.ok(await loginOk(jid, password));
    const reason = "Phishing report #4711 — Ünïcode ok";
    const lock = await runCamctl(["user", "lockout", jid, "--disable", "--reason", reason, "--yes", "--socket", sb.socketPath]);
    assert.equal(lock.code, 0, lock.stderr);
    assert.match(lock.stdout, /Disabled .*Reason recorded: "Phishing report #4711/);
    assert.equal(await loginOk(jid, password), false);

    const facts = await clientsJson(jid);
    assert.equal(facts.accountStatus, "disabled");
    assert.equal(facts.disabledReason, reason);
    assert.ok(facts.disabledAt !== null && Math.abs(Date.parse(facts.disabledAt) - Date.now()) < 3600_000);
    assert.ok(facts.passwordChanged !== null);
    const table = await runCamctl(["user", "clients", jid, "--socket", sb.socketPath]);
    assert.match(table.stdout, /Account: disabled since \S+, reason: "Phishing report #4711/);

    const again = await runCamctl(["user", "lockout", jid, "--disable", "--reason", "second", "--yes", "--socket", sb.socketPath]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already disabled/);
    assert.doesNotMatch(again.stdout, /^Disabled /m);
    assert.equal((await clientsJson(jid)).disabledReason, reason, "the first disable's reason stays");

    const noTty = await runCamctl(["user", "unlock", jid, "--socket", sb.socketPath]);
    assert.equal(noTty.code, 2);
    const dry = await runCamctl(["user", "unlock", jid, "--dry-run", "--socket", sb.socketPath]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /is disabled since .*Phishing report.*Nothing was changed/);
    assert.equal(await loginOk(jid, password), false);

    const unlock = await runCamctl(["user", "unlock", jid, "--yes", "--socket", sb.socketPath]);
    assert.equal(unlock.code, 0, unlock.stderr);
    assert.match(unlock.stdout, /Enabled .*stay revoked/s);
    assert.equal(await loginOk(jid, password), true);
    const after = await clientsJson(jid);
    assert.equal(after.accountStatus, "enabled");
    assert.equal(after.disabledReason, null);

    const twice = await runCamctl(["user", "unlock", jid, "--yes", "--socket", sb.socketPath]);
    assert.equal(twice.code, 0, twice.stderr);
    assert.match(twice.stdout, /enabled already; nothing was changed/);
  });

  test("over XMPP (companion, admin): new password, then disable with a reason; unlock: the new password works, the old does not", async () => {
    const { jid, password } = await sb.createAccount("eve");
    const file = path.join(dir, "eve.pw");
    const newPassword = `N3w-${randomUUID()}`;
    fs.writeFileSync(file, `${newPassword}\n`, { mode: 0o600 });
    const pw = await xmppCamctl(sb, newHome(), boss, ["user", "lockout", jid, "--new-password-file", file, "--yes"]);
    assert.equal(pw.code, 0, pw.stderr);
    const dis = await xmppCamctl(sb, newHome(), boss, ["user", "lockout", jid, "--disable", "--reason", "stolen laptop", "--yes", "-o", "json"]);
    assert.equal(dis.code, 0, dis.stderr);
    const doc = JSON.parse(dis.stdout) as { reason: string | null; accountDisabled: boolean };
    assert.equal(doc.accountDisabled, true);
    assert.equal(doc.reason, "stolen laptop");

    const listed = await xmppCamctl(sb, newHome(), boss, ["user", "clients", jid, "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const facts = JSON.parse(listed.stdout) as { accountStatus: string; disabledReason: string };
    assert.equal(facts.accountStatus, "disabled");
    assert.equal(facts.disabledReason, "stolen laptop");

    const unlock = await xmppCamctl(sb, newHome(), boss, ["user", "unlock", jid, "--yes", "-o", "json"]);
    assert.equal(unlock.code, 0, unlock.stderr);
    const u = JSON.parse(unlock.stdout) as { outcome: string; wasDisabledReason: string | null };
    assert.equal(u.outcome, "enabled");
    assert.equal(u.wasDisabledReason, "stolen laptop");
    assert.equal(await loginOk(jid, newPassword), true);
    assert.equal(await loginOk(jid, password), false);
  });

  test("a reason with control characters or over 200 characters: one sentence, exit 2, nothing done", async () => {
    const { jid, password } = await sb.createAccount("trent");
    for (const bad of ["line\nbreak", "esc\u001b[31m", "bidi\u202eevil", "x".repeat(201), "  "]) {
      const r = await runCamctl(["user", "lockout", jid, "--disable", "--reason", bad, "--yes", "--socket", sb.socketPath]);
      assert.equal(r.code, 2, JSON.stringify(bad));
      assert.match(r.stderr, /--reason/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
    assert.equal(await loginOk(jid, password), true);
  });
});
