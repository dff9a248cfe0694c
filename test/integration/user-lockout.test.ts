// `camctl user lockout` against a real Prosody, over the admin socket and over XMPP as an admin
// (companion module): with each option, verified afterwards by trying to come back with what it
// ended — the password (old and new), FAST tokens (used, unused, and one of a client the list never
// showed), a grant's token — and by the sessions' stream errors; never by reading a store.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sqliteStorageAvailable, startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { runCamctl, type CamctlRun } from "../helpers/run-camctl.js";
import { createBearerGrant, rawSasl2Login, type RawLogin, type RawLoginOptions } from "../helpers/sasl2-raw.js";
import { homesRemovedAfterAll, xmppCamctl, type Login } from "../helpers/xmpp-camctl.js";
import { rawBind, rawLegacyAuth, rawSasl2ScramStart } from "../sandbox/raw-client.js";

let sb: Sandbox;
let boss: Login;
const newHome = homesRemovedAfterAll();
const open: Array<{ close(): Promise<void> }> = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-lockout-"));

before(async () => {
  sb = await startSandbox({ extraModules: ["client_management_admin"], admins: ["boss"] });
  boss = await sb.createAccount("boss");
});
after(async () => {
  for (const c of open) await c.close().catch(() => undefined);
  await sb?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function login(sb: Sandbox, o: RawLoginOptions): Promise<Extract<RawLogin, { ok: true }>> {
  const r = await rawSasl2Login(sb, o);
  assert.ok(r.ok, `login refused: ${r.ok ? "" : `${r.condition} ${r.text ?? ""}`}`);
  if (o.keepConnected) open.push(r);
  return r;
}

/** Whether a login with `credential` succeeds now. */
const works = async (sb: Sandbox, jid: string, credential: RawLoginOptions["credential"], userAgentId = randomUUID()) =>
  (await rawSasl2Login(sb, { jid, userAgentId, credential })).ok;

/** An account with everything that can give access: a connected password client, a FAST client
 * that logged in with its token, one that only obtained a token, a FAST token of a client the
 * list never shows, a grant whose token a connected client signed in with, and a grant. */
async function victim(sb: Sandbox, name: string) {
  const { jid, password } = await sb.createAccount(name);
  const connected = await login(sb, { jid, userAgentId: randomUUID(), software: "Dino", credential: { password }, keepConnected: true });
  const fastId = randomUUID();
  const fastFirst = await login(sb, { jid, userAgentId: fastId, software: "Conversations", credential: { password }, requestFast: true });
  const fastNow = await login(sb, { jid, userAgentId: fastId, credential: { fastToken: fastFirst.fastToken! }, requestFast: true });
  const fast = { id: fastId, token: fastNow.fastToken ?? fastFirst.fastToken! };
  const unusedId = randomUUID();
  const unused = { id: unusedId, token: (await login(sb, { jid, userAgentId: unusedId, software: "Monal", credential: { password }, requestFast: true })).fastToken! };
  // A client that signed in while mod_client_management was not loaded: the module never saw it,
  // so it is not listed, yet its FAST token logs in.
  const hiddenId = randomUUID();
  await sb.lua(`require "prosody.core.modulemanager".unload("${sb.host}", "client_management") return "ok"`);
  let hiddenToken: string;
  try {
    hiddenToken = (await login(sb, { jid, userAgentId: hiddenId, software: "Unseen", credential: { password }, requestFast: true })).fastToken!;
  } finally {
    await sb.lua(`assert(require "prosody.core.modulemanager".load("${sb.host}", "client_management")) return "ok"`);
  }
  const hidden = { id: hiddenId, token: hiddenToken };
  const bearer = await createBearerGrant(sb, jid, { software: "OAuth app" });
  const bearerSession = await login(sb, { jid, userAgentId: randomUUID(), credential: { bearerToken: bearer.token }, keepConnected: true });
  const refresh = await sb.createGrant(jid, { software: "Webmail" });
  // The module lists a password login made in the same second as a password change as current:
  // let the clock move on, as it would between an intrusion and its response.
  await new Promise((r) => setTimeout(r, 1100));
  return { sb, jid, password, connected, fast, unused, hidden, bearer, bearerSession, refresh };
}
type Victim = Awaited<ReturnType<typeof victim>>;

async function listed(sb: Sandbox, jid: string): Promise<{ id: string; auth: string[]; connected: boolean }[]> {
  const r = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { clients: { id: string; auth: string[]; connected: boolean }[] }).clients;
}

/** Everything but the password is over: tokens refused, sessions closed with a stream error. */
async function assertNothingButPassword(v: Victim): Promise<void> {
  assert.equal(await works(v.sb, v.jid, { fastToken: v.fast.token }, v.fast.id), false, "the used FAST token");
  assert.equal(await works(v.sb, v.jid, { fastToken: v.unused.token }, v.unused.id), false, "the unused FAST token");
  assert.equal(await works(v.sb, v.jid, { fastToken: v.hidden.token }, v.hidden.id), false, "the FAST token of a client the list never showed");
  assert.equal(await works(v.sb, v.jid, { bearerToken: v.bearer.token }), false, "the grant's token");
  assert.equal((await v.connected.ended).condition, "not-authorized");
  assert.equal((await v.bearerSession.ended).condition, "not-authorized");
  assert.ok(!(await listed(v.sb, v.jid)).some((c) => c.id.startsWith("grant/") || c.connected || c.auth.some((a) => a !== "password")));
}

const socketLockout = (jid: string, args: string[], on: Sandbox = sb) => runCamctl(["user", "lockout", jid, "--socket", on.socketPath, ...args]);

/** The file the sandbox's internal storage keeps `store` of the account in (util.datamanager's naming). */
function storeFile(on: Sandbox, store: string, username: string): string {
  const encode = (s: string) => s.replace(/[^A-Za-z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  const file = path.join(on.dir, "data", encode(on.host), store, `${encode(username)}.dat`);
  assert.ok(fs.existsSync(file), `no ${store} store at ${file}`);
  return file;
}

const STEP_MS = 10_000;
const REVOKED = /<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Access to this account was revoked<\/text><\/stream:error>/;

/**
 * Logins already under way when the lockout runs (issue 16): each is started, the lockout runs
 * (through `lockOut`, over the socket or through the companion) and reports success, then the
 * login tries to finish. None may get in, and nothing it could have obtained may log in later.
 */
function loginsInProgress(lockOut: (jid: string, args: string[]) => Promise<CamctlRun>, prefix: string) {
  test("a legacy login that authenticated before and binds afterwards: its stream is closed, no session (--disable)", async () => {
    const { jid, password } = await sb.createAccount(`${prefix}legacy`);
    const username = jid.split("@")[0]!;
    const conn = await sb.rawConnect();
    await rawLegacyAuth(conn, { username, password }, STEP_MS);
    const r = await lockOut(jid, ["--yes", "--disable"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Closed 1 more session\./);
    assert.equal(await rawBind(conn, "late", STEP_MS), null, "binding a resource after the lockout");
    assert.match(conn.received, REVOKED);
    assert.ok(!(await listed(sb, jid)).some((c) => c.connected), "nothing listed as connected");
  });

  test("a SCRAM exchange begun before the lockout and finished after: refused, the old password does not get in (--new-password-file)", async () => {
    const { jid, password } = await sb.createAccount(`${prefix}scram`);
    const username = jid.split("@")[0]!;
    const conn = await sb.rawConnect();
    const exchange = await rawSasl2ScramStart(conn, { username, password, userAgentId: randomUUID() }, STEP_MS);
    const file = path.join(dir, `${prefix}scram-password`);
    fs.writeFileSync(file, `new ${randomUUID()}\n`, { mode: 0o600 });
    const r = await lockOut(jid, ["--yes", "--new-password-file", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await exchange.finish(), { outcome: "stream-ended" });
    assert.match(conn.received, REVOKED);
    assert.equal(await works(sb, jid, { password }), false, "the old password");
  });

  test("the same exchange asking for a FAST token: no token is minted after the lockout (--disable)", async () => {
    const { jid, password } = await sb.createAccount(`${prefix}scramfast`);
    const username = jid.split("@")[0]!;
    const conn = await sb.rawConnect();
    const clientId = randomUUID();
    const exchange = await rawSasl2ScramStart(conn, { username, password, userAgentId: clientId, requestFastToken: true }, STEP_MS);
    const r = await lockOut(jid, ["--yes", "--disable"]);
    assert.equal(r.code, 0, r.stderr);
    const outcome = await exchange.finish();
    if (outcome.outcome === "success" && outcome.fastToken !== null) {
      assert.equal(await works(sb, jid, { fastToken: outcome.fastToken }, clientId), false, "a FAST token minted after the lockout logs in");
    }
    assert.deepEqual(outcome, { outcome: "stream-ended" });
    assert.match(conn.received, REVOKED);
    assert.deepEqual(await listed(sb, jid), [], "nothing is listed afterwards");
  });
}

describe("over the admin socket", () => {
  test("the victim's tokens work before (the setup is what it claims)", async () => {
    const v = await victim(sb, "control");
    assert.ok(!(await listed(v.sb, v.jid)).some((c) => c.id === `client/${v.hidden.id}`), "the client the module never saw is not listed");
    assert.equal(await works(v.sb, v.jid, { fastToken: v.hidden.token }, v.hidden.id), true);
    assert.equal(await works(v.sb, v.jid, { fastToken: v.unused.token }, v.unused.id), true);
    assert.equal(await works(v.sb, v.jid, { bearerToken: v.bearer.token }), true);
  });

  test("--dry-run shows the clients and changes nothing", async () => {
    const v = await victim(sb, "dry");
    const before = await listed(v.sb, v.jid);
    const r = await socketLockout(v.jid, ["--dry-run", "--disable"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Would lock dry@camctl\\.test out: revoke its ${before.length} listed clients and every grant, FAST token and session, then disable the account\\. Nothing was changed\\.`));
    assert.deepEqual((await listed(v.sb, v.jid)).map((c) => c.id).sort(), before.map((c) => c.id).sort());
    assert.equal(await works(v.sb, v.jid, { fastToken: v.hidden.token }, v.hidden.id), true);
  });

  test("without an option: everything but the password is revoked; exit 7 says password clients remain", async () => {
    const v = await victim(sb, "nooption");
    const r = await socketLockout(v.jid, ["--yes", "-o", "json"]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /clients of nooption@camctl\.test can still sign in with the password; add --new-password-file <file> or --disable/);
    const doc = JSON.parse(r.stdout) as { verified: boolean; swept: { fastTokens: number }; results: { id: string; outcome: string }[]; after: { auth: string[] }[] };
    assert.equal(doc.verified, true);
    assert.ok(doc.swept.fastTokens >= 1, "the unlisted client's FAST token was found by the sweep");
    assert.ok(doc.results.some((x) => x.outcome === "password-reset-required"));
    assert.ok(doc.after.every((c) => c.auth.join() === "password"));
    await assertNothingButPassword(v);
    assert.equal(await works(v.sb, v.jid, { password: v.password }), true, "the password was left, as asked");
    assert.match(sb.readLog(), /camctl\tinfo\tadmin socket \(user [^)]+\) locked out nooption@camctl\.test: revoked \d+ listed clients( \(1 gone with another\))?, \d+ more grants, [1-9]\d* more FAST tokens; left the password/);
  });

  test("--disable: nothing can sign in, not even with the password", async () => {
    const v = await victim(sb, "disabled");
    const r = await socketLockout(v.jid, ["--yes", "--disable"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Disabled disabled@camctl\.test: it cannot sign in any more/);
    assert.match(r.stdout, /Verified: nothing that was listed can sign in to disabled@camctl\.test any more\./);
    await assertNothingButPassword(v);
    assert.equal(await works(v.sb, v.jid, { password: v.password }), false, "the password no longer logs in");
  });

  test("--new-password-file: the old password, tokens and grants no longer work; the new password does", async () => {
    const v = await victim(sb, "newpw");
    const file = path.join(dir, "new-password");
    const newPassword = `new ${randomUUID()}`;
    fs.writeFileSync(file, `${newPassword}\n`, { mode: 0o600 });
    const r = await socketLockout(v.jid, ["--yes", "--new-password-file", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(newPassword) && !r.stderr.includes(newPassword) && !sb.readLog().includes(newPassword), "the password is never shown or logged");
    assert.match(r.stdout, /Set the new password of newpw@camctl\.test; the old one no longer works\./);
    await assertNothingButPassword(v);
    assert.equal(await works(v.sb, v.jid, { password: v.password }), false, "the old password");
    assert.equal(await works(v.sb, v.jid, { password: newPassword }), true, "the new password");
  });

  loginsInProgress((jid, args) => socketLockout(jid, args), "sock");

  test("a store Prosody cannot read: exit 9 names the step, the other steps still run", async () => {
    const { jid, password } = await sb.createAccount("brokengrants");
    const session = await login(sb, { jid, userAgentId: randomUUID(), credential: { password }, keepConnected: true });
    await createBearerGrant(sb, jid, { software: "OAuth app" });
    // A real read error in Prosody's storage: a directory where the grants' file should be.
    const file = storeFile(sb, "auth_tokens", "brokengrants");
    fs.renameSync(file, `${file}.saved`);
    fs.mkdirSync(file);
    try {
      const r = await socketLockout(jid, ["--yes", "--disable"]);
      assert.equal(r.code, 9, r.stderr);
      assert.match(r.stderr, /brokengrants@camctl\.test is not completely locked out: revoking the grants failed: Error reading storage/);
      assert.doesNotMatch(r.stdout + r.stderr, /Verified|bug in camctl/);
      assert.equal((await session.ended).condition, "not-authorized", "the session was still closed");
      assert.equal(await works(sb, jid, { password }), false, "the account was still disabled");
    } finally {
      fs.rmdirSync(file);
      fs.renameSync(`${file}.saved`, file);
    }
  });

  test("with mod_http_oauth2 loaded: exit 9 names the window its authorization codes leave open", async () => {
    const { jid } = await sb.createAccount("oauthhost");
    const modulemanager = `require "prosody.core.modulemanager"`;
    assert.equal(await sb.lua(`local ok, err = ${modulemanager}.load("${sb.host}", "http_oauth2") return tostring(ok and "loaded" or err)`), "loaded");
    try {
      const r = await socketLockout(jid, ["--yes", "--disable"]);
      assert.equal(r.code, 9, r.stderr);
      assert.match(r.stderr, /oauthhost@camctl\.test is not completely locked out: mod_http_oauth2 is loaded on camctl\.test: an authorization or device code it issued in the 10 minutes before this lockout can still be exchanged for a new grant \(Prosody keeps those codes out of reach\); lock the account out again once 10 minutes have passed/);
      assert.doesNotMatch(r.stdout, /Verified/);
      assert.match(r.stdout, /Disabled oauthhost@camctl\.test/);
    } finally {
      await sb.lua(`${modulemanager}.unload("${sb.host}", "http_oauth2") return "ok"`);
    }
  });

  test("an unknown account: 6, nothing done", async () => {
    const r = await socketLockout("nobody-here@camctl.test", ["--yes", "--disable"]);
    assert.equal(r.code, 6, r.stderr);
  });
});

describe("over XMPP as an admin (companion module)", () => {
  test("--disable through the companion, logged with the admin's JID", async () => {
    const v = await victim(sb, "remote");
    const r = await xmppCamctl(sb, newHome(), boss, ["user", "lockout", v.jid, "--yes", "--disable"]);
    assert.equal(r.code, 0, r.stderr);
    await assertNothingButPassword(v);
    assert.equal(await works(v.sb, v.jid, { password: v.password }), false);
    assert.match(sb.readLog(), /client_management_admin\tinfo\tAdmin boss@camctl\.test\/\S+ locked out remote@camctl\.test: revoked \d+ listed clients/);
  });

  test("--new-password-file through the companion", async () => {
    const v = await victim(sb, "remotepw");
    const file = path.join(dir, "remote-password");
    const newPassword = `remote ${randomUUID()}`;
    fs.writeFileSync(file, newPassword, { mode: 0o600 });
    const r = await xmppCamctl(sb, newHome(), boss, ["user", "lockout", v.jid, "--yes", "--new-password-file", file, "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { passwordChanged: boolean }).passwordChanged, true);
    await assertNothingButPassword(v);
    assert.equal(await works(v.sb, v.jid, { password: v.password }), false);
    assert.equal(await works(v.sb, v.jid, { password: newPassword }), true);
  });

  loginsInProgress((jid, args) => xmppCamctl(sb, newHome(), boss, ["user", "lockout", jid, ...args]), "xmpp");

  test("a FAST token store Prosody cannot use: exit 9 names the step, the new password is still set", async () => {
    const { jid, password } = await sb.createAccount("brokenfast");
    await login(sb, { jid, userAgentId: randomUUID(), software: "Conversations", credential: { password }, requestFast: true });
    // A corrupt store file: Prosody loads it, and it holds no table of tokens.
    fs.writeFileSync(storeFile(sb, "fast_tokens", "brokenfast"), 'return "corrupt";\n');
    const file = path.join(dir, "brokenfast-password");
    const newPassword = `new ${randomUUID()}`;
    fs.writeFileSync(file, newPassword, { mode: 0o600 });
    const r = await xmppCamctl(sb, newHome(), boss, ["user", "lockout", jid, "--yes", "--new-password-file", file]);
    assert.equal(r.code, 9, r.stderr);
    assert.match(r.stderr, /brokenfast@camctl\.test is not completely locked out: .*revoking the FAST tokens failed: the store holds string data, not a table of tokens/);
    assert.doesNotMatch(r.stdout + r.stderr, /Verified|bug in camctl/);
    assert.equal(await works(sb, jid, { password }), false, "the old password");
    assert.equal(await works(sb, jid, { password: newPassword }), true, "the new password was still set");
  });

  test("a non-admin is refused (5) and an account cannot lock itself out over XMPP (2); nothing is done", async () => {
    const v = await victim(sb, "refused");
    const r = await xmppCamctl(sb, newHome(), { jid: v.jid, password: v.password }, ["user", "lockout", "boss@camctl.test", "--yes", "--disable"]);
    assert.equal(r.code, 5, r.stderr);
    const self = await xmppCamctl(sb, newHome(), { jid: v.jid, password: v.password }, ["user", "lockout", v.jid, "--yes", "--disable"]);
    assert.equal(self.code, 2, self.stderr);
    assert.match(self.stderr, /an account cannot lock itself out over XMPP/);
    assert.equal(await works(v.sb, v.jid, { fastToken: v.hidden.token }, v.hidden.id), true);
    assert.equal(await works(sb, boss.jid, { password: boss.password }), true);
  });
});

describe("on SQLite storage", { skip: sqliteStorageAvailable() ? false : "LuaDBI's SQLite3 driver is not installed" }, () => {
  let sql: Sandbox;
  before(async () => {
    sql = await startSandbox({ storage: "sqlite" });
  });
  after(async () => {
    await sql?.stop();
  });

  test("without an option, then with a new password: the sweep finds FAST tokens in SQL storage too", async () => {
    const v = await victim(sql, "sqlvictim");
    const r = await socketLockout(v.jid, ["--yes", "-o", "json"], sql);
    assert.equal(r.code, 7, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { swept: { fastTokens: number } }).swept.fastTokens >= 1);
    await assertNothingButPassword(v);
    const file = path.join(dir, "sql-password");
    fs.writeFileSync(file, "a new one\n", { mode: 0o600 });
    const again = await socketLockout(v.jid, ["--yes", "--new-password-file", file], sql);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await works(sql, v.jid, { password: v.password }), false);
    assert.equal(await works(sql, v.jid, { password: "a new one" }), true);
  });
});
