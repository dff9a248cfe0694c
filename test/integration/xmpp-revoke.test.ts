// Revoking over XMPP as the account itself, where only the bare mod_client_management answers (no
// companion module), against a real Prosody 13 (the sandbox; run with the real module first in
// CAMCTL_PROSODY_PLUGIN_PATHS to test against it). What is checked is what a user sees: the exit
// code, the sentence, the JSON, and the server's state afterwards as the admin socket lists it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { luaString } from "../sandbox/admin-socket.js";
import { CAMCTL_BIN, startCamctl } from "../helpers/run-camctl.js";
import { haveScript } from "../helpers/terminal.js";
import { assertOneSentence, homesRemovedAfterAll, socketList, xmppCamctl, xmppInvocation } from "../helpers/xmpp-camctl.js";

const MC = "xmpp:prosody.im/protocol/manage-clients";

// Test only: for "silent..." accounts the module's revoke is counted and never answered, so that
// camctl can be interrupted while its revoke request is out.
const SILENT_MODULE = `
local counts = {};
prosody.camctl_test_silent_revokes = counts;
module:hook("iq-set/self/${MC}:revoke", function (event)
  local user = event.origin.username;
  if not user:match("^silent") then return; end
  counts[user] = (counts[user] or 0) + 1;
  return true;
end, 100);
`;

let sb: Sandbox;
const home = homesRemovedAfterAll();
const closers: Array<{ close(): Promise<void> }> = [];

before(async () => {
  sb = await startSandbox({ testModules: { camctl_test_silent_revoke: SILENT_MODULE } });
});
after(async () => {
  for (const c of closers) await c.close().catch(() => undefined);
  await sb?.stop();
});

const lua = luaString;

/** A grant as an OAuth client gets one, through Prosody's mod_tokenauth API; returns its listed id. */
async function grant(jid: string, client: { name: string; version?: string }): Promise<string> {
  const fields = [`name = ${lua(client.name)}`, ...(client.version ? [`version = ${lua(client.version)}`] : [])].join(", ");
  const id = await sb.lua(`local tokenauth = prosody.hosts[${lua(sb.host)}].modules.tokenauth
local grant = assert(tokenauth.create_grant(${lua(jid)}, ${lua(jid)}, nil, { oauth2_client = { ${fields} } }))
assert(tokenauth.create_token(${lua(jid)}, grant, nil, nil, "oauth2-refresh"))
return grant.id`);
  return `grant/${id}`;
}

const listed = async (jid: string) => (await socketList(sb, jid)).clients;

describe("revoking as the account itself with the bare module", () => {
  test("a connected password client: its session is closed, and it is 7 saying it can come back with the password", async () => {
    const acct = await sb.createAccount("connected1");
    const id = randomUUID();
    const kept = await sb.sasl2Login({ ...acct, userAgentId: id, software: "Gajim", device: "laptop", keepConnected: true });
    closers.push(kept);
    const r = await xmppCamctl(sb, home(), acct, ["user", "revoke_client", acct.jid, `client/${id}`, "--yes", "--json"], { timeoutSeconds: 30 });
    assert.equal(r.code, 7, r.stderr);
    assertOneSentence(r, acct.password);
    assert.match(
      r.stderr,
      new RegExp(`^camctl: client/${id} \\(Gajim on laptop\\): closed its session, but it signed in with ${acct.jid}'s password and can come back with it until the password is changed: \`camctl user lockout ${acct.jid} --new-password-file <file>\` sets a new one and revokes everything else the account has\\.\\n$`),
    );
    const body = JSON.parse(r.stdout);
    assert.deepEqual(
      [body.revoked, body.outcome, body.id, body.done, body.remaining, body.unverifiable],
      [false, "password-reset-required", `client/${id}`, { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false }, ["password"], ["unused-fast-token"]],
    );
    const after = (await listed(acct.jid)).find((c) => c.id === `client/${id}`);
    assert.equal(after?.connected, false, "the session is gone");
    assert.deepEqual(after?.auth, ["password"]);
  });

  test("a stored id that is no longer listed (after a password change) is 6 at once: no revoke is sent for it", async () => {
    const acct = await sb.createAccount("inactive1");
    const id = randomUUID();
    await sb.sasl2Login({ ...acct, userAgentId: id, software: "Dino", device: "desk" });
    // A login in the same second as the password change still counts as after it.
    await new Promise((r) => setTimeout(r, 1100));
    const password = "changed-" + randomUUID();
    await sb.lua(`assert(require "prosody.core.usermanager".set_password("inactive1", ${lua(password)}, ${lua(sb.host)})) return "ok"`);
    const now = { jid: acct.jid, password };
    assert.ok(!(await listed(acct.jid)).some((c) => c.id === `client/${id}`), "the module no longer lists it");
    const h = home();
    const baseline = await xmppCamctl(sb, h, now, ["user", "clients", acct.jid]);
    assert.equal(baseline.code, 0, baseline.stderr);
    // The real module never answers a revoke for such an id: had camctl sent one, it would wait the full --timeout.
    const r = await xmppCamctl(sb, h, now, ["user", "revoke_client", acct.jid, `client/${id}`, "--yes"], { timeoutSeconds: 30 });
    assert.equal(r.code, 6, r.stderr);
    assertOneSentence(r, password);
    assert.match(r.stderr, /No client matches/);
    assert.ok(r.ms < baseline.ms + 5000, `took ${r.ms} ms (a listing took ${baseline.ms} ms)`);
  });

  test("camctl's own login is recognised: 7, saying it is camctl's own session and that it returns with the password", async () => {
    const acct = await sb.createAccount("own1");
    const h = home();
    assert.equal((await xmppCamctl(sb, h, acct, ["user", "clients", acct.jid])).code, 0);
    const own = `client/${h.userAgentId()}`;
    const r = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, own, "--yes"], { timeoutSeconds: 30 });
    assert.equal(r.code, 7, r.stderr);
    assertOneSentence(r, acct.password);
    assert.match(
      r.stderr,
      new RegExp(`^camctl: ${own} \\(camctl[^)]*\\) is camctl's own login, which signed in with ${acct.jid}'s password: camctl ended its session, and it comes back with the password at camctl's next run until the password is changed\\.\\n$`),
    );
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
  });

  test("software/<name>[/<version>]: the dry run names exactly what the module's own revoke then takes", async () => {
    const acct = await sb.createAccount("selector1");
    await grant(acct.jid, { name: "Tool", version: "1.0" });
    await grant(acct.jid, { name: "Tool", version: "2.0" });
    await grant(acct.jid, { name: "Tool" });
    await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Tool", device: "desk" });
    const h = home();
    for (const selector of ["software/Tool/2.0", "software/Tool", "software/Tool/1.0", "software/Tool"]) {
      const dry = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, selector, "--dry-run", "--json"]);
      assert.ok(dry.code === 0 || dry.code === 6, dry.stderr);
      const named = JSON.parse(dry.stdout).id as string | null;
      const beforeIds = (await listed(acct.jid)).map((c) => c.id);
      // The module's own revoke with the same selector, through its public function.
      const answer = await sb.lua(`local cm = prosody.hosts[${lua(sb.host)}].modules.client_management
local ok, err = cm.revoke_client_access("selector1", ${lua(selector)}) return tostring(ok) .. " " .. tostring(err)`);
      const afterIds = new Set((await listed(acct.jid)).map((c) => c.id));
      const taken = beforeIds.filter((id) => !afterIds.has(id));
      if (named === null) assert.equal(answer, "nil item-not-found", `${selector}: no match for camctl, none for the module`);
      else if (named.startsWith("grant/")) assert.deepEqual(taken, [named], `${selector}: the module took what the dry run named`);
      else assert.deepEqual([taken, answer], [[], "nil password-reset-required"], `${selector}: the password client the dry run named`);
    }
  });

  test("--dry-run software/<name> with several matches names the one the server takes and the others", async () => {
    const acct = await sb.createAccount("several1");
    await grant(acct.jid, { name: "Gajim" });
    await grant(acct.jid, { name: "Gajim" });
    const r = await xmppCamctl(sb, home(), acct, ["user", "revoke_client", acct.jid, "software/Gajim", "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    // Grants last used in the same second come in no fixed order (each camctl run changes the list
    // a little), so the text is checked against itself: one named, the other listed as also matching.
    const both = (await listed(acct.jid)).filter((c) => c.userAgent.software === "Gajim").map((c) => c.id);
    const first = /^Would revoke (grant\/\S+) /.exec(r.stdout)?.[1];
    assert.ok(first && both.includes(first), r.stdout);
    const other = both.find((id) => id !== first);
    assert.equal(
      r.stdout,
      `Would revoke ${first} (Gajim) for ${acct.jid}: software/Gajim matches 2 clients and the server takes the first in its list. Nothing was changed.\n` +
        `Also matching, not revoked (give an id to revoke one of these):\n  ${other} (Gajim)\n`,
    );
  });

  test("ids with slashes and spaces are selectors as listed", async () => {
    const acct = await sb.createAccount("oddids1");
    for (const id of ["a/b", "with space"]) await sb.sasl2Login({ ...acct, userAgentId: id, software: "Odd" });
    const h = home();
    for (const id of ["client/a/b", "client/with space"]) {
      const r = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, id, "--dry-run", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).id, id);
    }
  });
});

describe("what was confirmed is what is revoked", { skip: haveScript ? false : "util-linux script is not installed" }, () => {
  test("the entry revoked elsewhere while the question is on screen: 6, and the other client of that name is untouched", async () => {
    const acct = await sb.createAccount("race1");
    await grant(acct.jid, { name: "Gajim" });
    await grant(acct.jid, { name: "Gajim" });
    const both = (await listed(acct.jid)).filter((c) => c.userAgent.software === "Gajim").map((c) => c.id);
    const { args, env } = xmppInvocation(sb, home(), acct, ["user", "revoke_client", acct.jid, "software/Gajim"], { timeoutSeconds: 30 });
    const quoted = [process.execPath, CAMCTL_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
    const child = spawn("script", ["-qec", `stty cols 300 rows 50; ${quoted}`, "/dev/null"], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", TERM: "dumb", ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    const asked = new Promise<void>((resolve) => child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (/Revoke .*\?/.test(out)) resolve();
    }));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      await asked;
      // Entries last seen in the same second come in no fixed order: the question says which one it is.
      const shown = /Revoke (grant\/\S+) \(Gajim\) from (\S+)\? \(software\/Gajim also matches 1 other client; only this one is revoked\)/.exec(out);
      assert.ok(shown && shown[2] === acct.jid && both.includes(shown[1]!), out);
      const first = shown[1]!;
      const second = both.find((id) => id !== first);
      await sb.lua(`prosody.hosts[${lua(sb.host)}].modules.client_management.revoke_client_access("race1", ${lua(first!)}) return "ok"`);
      child.stdin.write("y\r");
      const code = await exited;
      assert.equal(code, 6, out);
      assert.match(out, new RegExp(`${first} \\(Gajim\\) is no longer listed for ${acct.jid} .*; nothing was revoked\\.`));
      assert.ok((await listed(acct.jid)).some((c) => c.id === second), "the other Gajim, never shown, is still there");
    } finally {
      clearTimeout(killer);
      child.kill();
    }
  });
});

describe("a request the module never answers", () => {
  test("a grant name with a control character: the list is refused at once (3) with the likely cause, and --socket lists it", async () => {
    const acct = await sb.createAccount("ctrlname1");
    const g = await grant(acct.jid, { name: "bad\x01name" });
    // mod_client_management raises while it builds the reply (XML cannot carry the character) and never answers.
    const r = await xmppCamctl(sb, home(), acct, ["user", "clients", acct.jid], { timeoutSeconds: 30 });
    assert.equal(r.code, 3, r.stderr);
    assertOneSentence(r, acct.password);
    assert.match(r.stderr, /never answered its client list request .*control character.*--socket/);
    assert.ok(r.ms < 15_000, `took ${r.ms} ms, not the full --timeout`);
    assert.ok((await listed(acct.jid)).some((c) => c.id === g), "the socket lists it");
  });
});

describe("interrupted while the revoke request is out", () => {
  test("Ctrl-C says the revocation may already have happened and how to check", async () => {
    const acct = await sb.createAccount("silent1");
    const g = await grant(acct.jid, { name: "Bot" });
    const { args, env } = xmppInvocation(sb, home(), acct, ["user", "revoke_client", acct.jid, g, "--yes"], { timeoutSeconds: 60 });
    const run = startCamctl(args, { env, timeoutMs: 90_000 });
    const count = async () => Number(await sb.lua(`return tostring(prosody.camctl_test_silent_revokes["silent1"] or 0)`));
    for (let i = 0; i < 300 && (await count()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await count(), 1, "the revoke request reached the server");
    run.child.kill("SIGINT");
    const r = await run.result;
    assert.equal(r.code, 130);
    assert.equal(
      r.stderr,
      `camctl: interrupted. The revoke of ${g} may have happened, entirely or in part; check with \`camctl user clients ${acct.jid}\`.\n`,
    );
  });
});
