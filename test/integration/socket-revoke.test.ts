// The complete revocation over the admin socket (SocketClientSource.revoke, the Lua in
// client_access.lib.lua) against a real Prosody with real logins: what it revokes is checked by
// trying to come back with it — the FAST token, the grant's token — not by reading any store.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { luaString } from "../sandbox/admin-socket.js";
import { lateAllowanceMs, runCamctl } from "../helpers/run-camctl.js";
import { createBearerGrant, rawSasl2Login, type RawLogin, type RawLoginOptions } from "../helpers/sasl2-raw.js";
import { SocketClientSource } from "../../src/transports/socket/socket-source.js";
import { CamError } from "../../src/core/errors.js";
import type { ClientRecord, RevokeReport } from "../../src/core/model.js";
import { isoAt } from "../helpers/iso.js";

let sb: Sandbox;
const open: Array<{ close(): Promise<void> }> = [];
before(async () => {
  sb = await startSandbox();
});
after(async () => {
  for (const c of open) await c.close().catch(() => undefined);
  await sb?.stop();
});

async function withSource<T>(work: (source: SocketClientSource) => Promise<T>): Promise<T> {
  const source = new SocketClientSource(sb.socketPath);
  try {
    return await work(source);
  } finally {
    await source.close();
  }
}

const listed = (jid: string) => withSource((s) => s.list(jid)).then((l) => l.clients);

async function entry(jid: string, id: string): Promise<ClientRecord> {
  const found = (await listed(jid)).find((c) => c.id === id);
  assert.ok(found, `${id} is listed`);
  return found;
}

const revoke = (jid: string, expected: ClientRecord) => withSource((s) => s.revoke(jid, expected));

async function login(o: RawLoginOptions): Promise<Extract<RawLogin, { ok: true }>> {
  const r = await rawSasl2Login(sb, o);
  assert.ok(r.ok, `login refused: ${r.ok ? "" : `${r.condition} ${r.text ?? ""}`}`);
  if (o.keepConnected) open.push(r);
  return r;
}

/** Whether `token` still logs in as the FAST token of client `userAgentId`. */
async function fastTokenWorks(jid: string, userAgentId: string, token: string): Promise<boolean> {
  return (await rawSasl2Login(sb, { jid, userAgentId, credential: { fastToken: token } })).ok;
}

async function bearerTokenWorks(jid: string, token: string): Promise<boolean> {
  return (await rawSasl2Login(sb, { jid, userAgentId: randomUUID(), credential: { bearerToken: token } })).ok;
}

function prosodyLog(): string {
  return fs.readFileSync(path.join(sb.dir, "prosody.log"), "utf8");
}

async function rejectsWith(p: Promise<unknown>, kind: string, condition: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CamError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.equal(e.condition, condition, e.message);
    return true;
  });
}

function assertDone(report: RevokeReport, done: RevokeReport["done"]): void {
  assert.deepEqual(report.done, done);
  assert.deepEqual(report.unverifiable, [], "the socket sees and revokes everything");
}

describe("revoking clients that are signed in", () => {
  test("a connected password client: its session is closed with a stream error, the password remains", async () => {
    const { jid, password } = await sb.createAccount("pwconnected");
    const id = randomUUID();
    const client = await login({ jid, userAgentId: id, software: "Dino", device: "desk", credential: { password }, keepConnected: true });
    const before = await entry(jid, `client/${id}`);
    assert.equal(before.connected, true);

    const started = Date.now();
    const report = await revoke(jid, before);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assertDone(report, { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false });
    assert.equal(report.id, before.id);
    assert.deepEqual(report.before, before);
    assert.ok(report.after, "still listed: it can sign in with the password");
    assert.deepEqual(report.after.auth, ["password"]);
    assert.equal(report.after.connected, false, "closed at once, not left closing");

    assert.deepEqual(await client.ended, { condition: "not-authorized", text: "Access for this client was revoked" });
    assert.match(prosodyLog(), new RegExp(`camctl\\tinfo\\tadmin socket revoked client/${id} of ${jid}: closed 1 session; still listed with password`));
  });

  test("a connected FAST client: no FAST token of it logs in afterwards", async () => {
    const { jid, password } = await sb.createAccount("fastconnected");
    const id = randomUUID();
    const first = await login({ jid, userAgentId: id, software: "Conversations", credential: { password }, requestFast: true });
    assert.ok(first.fastToken, "the server handed out a FAST token");
    await login({ jid, userAgentId: id, credential: { fastToken: first.fastToken }, keepConnected: true });
    const before = await entry(jid, `client/${id}`);
    assert.deepEqual(before.auth, ["fast", "password"]);
    assert.equal(before.connected, true);

    const report = await revoke(jid, before);
    assertDone(report, { sessionClosed: true, fastTokensRevoked: true, grantRevoked: false });
    assert.deepEqual(report.after?.auth, ["password"]);
    assert.equal(report.after?.connected, false);
    assert.equal(await fastTokenWorks(jid, id, first.fastToken), false, "the FAST token no longer logs in");
  });

  test("a connected legacy (non-SASL2) client: its session is closed", async () => {
    const { jid, password } = await sb.createAccount("legacyconnected");
    const legacy = await sb.legacyLogin({ jid, password, resource: "old-" + randomUUID().slice(0, 8), keepConnected: true });
    open.push(legacy);
    const before = (await listed(jid)).find((c) => c.connected);
    assert.ok(before);
    const report = await revoke(jid, before);
    assertDone(report, { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false });
    assert.deepEqual(report.after?.auth, ["password"]);
    assert.equal(report.after?.connected, false);
  });

  test("a client signed in with a grant's token (OAUTHBEARER): its grant is revoked and its session closed", async () => {
    const { jid } = await sb.createAccount("bearerconnected");
    const { grantId, token } = await createBearerGrant(sb, jid, { software: "OAuth app" });
    const id = randomUUID();
    const session = await login({ jid, userAgentId: id, credential: { bearerToken: token }, keepConnected: true });
    const before = await entry(jid, `client/${id}`);
    assert.equal(before.connected, true);

    const report = await revoke(jid, before);
    assertDone(report, { sessionClosed: true, fastTokensRevoked: false, grantRevoked: true });
    assert.equal(report.after, null, "nothing gives it access any more");
    assert.equal((await session.ended).condition, "not-authorized");
    assert.equal(await bearerTokenWorks(jid, token), false);
    assert.ok(!(await listed(jid)).some((c) => c.id === grantId), "its grant is gone from the list too");
  });
  test("a grant whose token a client is signed in with: revoking the grant also closes that session", async () => {
    const { jid } = await sb.createAccount("grantinuse");
    const { grantId, token } = await createBearerGrant(sb, jid, { software: "OAuth app" });
    const session = await login({ jid, userAgentId: randomUUID(), credential: { bearerToken: token }, keepConnected: true });
    // The module lists the grant on its own next to the signed-in client (it never ties the two).
    const report = await revoke(jid, await entry(jid, grantId));
    assertDone(report, { sessionClosed: true, fastTokensRevoked: false, grantRevoked: true });
    assert.equal(report.after, null);
    assert.equal((await session.ended).condition, "not-authorized");
    assert.equal(await bearerTokenWorks(jid, token), false);
  });
});

describe("revoking clients that are not signed in", () => {
  test("a client that only obtained a FAST token: that token is revoked", async () => {
    const { jid, password } = await sb.createAccount("fastonly");
    const id = randomUUID();
    const first = await login({ jid, userAgentId: id, software: "Monal", credential: { password }, requestFast: true });
    assert.ok(first.fastToken);
    const before = await entry(jid, `client/${id}`);
    assert.deepEqual(before.auth, ["password"], "a token that was never used does not show in the list");

    const report = await revoke(jid, before);
    assertDone(report, { sessionClosed: false, fastTokensRevoked: true, grantRevoked: false });
    assert.deepEqual(report.after?.auth, ["password"]);
    assert.equal(await fastTokenWorks(jid, id, first.fastToken), false, "the unused FAST token no longer logs in");
  });

  test("a grant: revoked, its token no longer logs in, nothing is left (CLI: 0)", async () => {
    const { jid } = await sb.createAccount("grantonly");
    const { grantId, token } = await createBearerGrant(sb, jid, { software: "Bot", ttlSeconds: 3600 });
    const keep = await createBearerGrant(sb, jid, { software: "Keep" });
    const before = await entry(jid, grantId);
    const report = await revoke(jid, before);
    assertDone(report, { sessionClosed: false, fastTokensRevoked: false, grantRevoked: true });
    assert.equal(report.after, null);
    assert.equal(await bearerTokenWorks(jid, token), false);
    assert.equal(await bearerTokenWorks(jid, keep.token), true, "the other grant is untouched");

    const other = await createBearerGrant(sb, jid, { software: "Bot 2" });
    const cli = await runCamctl(["user", "revoke_client", jid, other.grantId, "--yes", "--socket", sb.socketPath]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(await bearerTokenWorks(jid, other.token), false);
  });

  test("a password client that is not connected: nothing to close, the password remains", async () => {
    const { jid, password } = await sb.createAccount("pwidle");
    const id = randomUUID();
    await login({ jid, userAgentId: id, software: "Gajim", credential: { password } });
    const report = await revoke(jid, await entry(jid, `client/${id}`));
    assertDone(report, { sessionClosed: false, fastTokensRevoked: false, grantRevoked: false });
    assert.deepEqual(report.after?.auth, ["password"]);
  });
});

describe("entries that are gone or changed are not revoked", () => {
  test("an id stored but no longer active (after a password change): notFound 'gone' within a second; CLI 6", async () => {
    const { jid, password } = await sb.createAccount("stale");
    const id = randomUUID();
    const first = await login({ jid, userAgentId: id, software: "Old phone", credential: { password }, requestFast: true });
    const before = await entry(jid, `client/${id}`);
    const [local] = jid.split("@") as [string];
    // A login in the same second as the password change still counts as after it.
    await new Promise((r) => setTimeout(r, 1100));
    await sb.lua(`assert(require "prosody.core.usermanager".set_password(${luaString(local)}, ${luaString(randomUUID())}, ${luaString(sb.host)})) return "ok"`);
    assert.ok(!(await listed(jid)).some((c) => c.id === before.id), "a password change ends its listing");

    const started = Date.now();
    await rejectsWith(revoke(jid, before), "notFound", "gone");
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    const cli = await runCamctl(["user", "revoke_client", jid, before.id, "--yes", "--socket", sb.socketPath, "--timeout", "10"]);
    assert.equal(cli.code, 6, cli.stderr);
    const late = await lateAllowanceMs(1500);
    assert.ok(cli.ms < 1000 + late, `took ${cli.ms} ms (allowed ${1000 + late} ms on this machine now)`);
    assert.equal(await fastTokenWorks(jid, id, first.fastToken!), false, "its token died with the password change anyway");
  });

  test("an OAUTHBEARER client after it disconnected is not listed: 'gone', and its grant stays (it is listed on its own)", async () => {
    const { jid } = await sb.createAccount("bearergone");
    const { grantId, token } = await createBearerGrant(sb, jid, { software: "OAuth app" });
    const id = randomUUID();
    const session = await login({ jid, userAgentId: id, credential: { bearerToken: token }, keepConnected: true });
    const before = await entry(jid, `client/${id}`);
    await session.close();
    await rejectsWith(revoke(jid, before), "notFound", "gone");
    assert.ok((await listed(jid)).some((c) => c.id === grantId));
    assert.equal(await bearerTokenWorks(jid, token), true, "nothing was revoked");
  });

  test("the same id listed as a different client: notFound 'changed', nothing revoked", async () => {
    const { jid, password } = await sb.createAccount("changed");
    const id = randomUUID();
    const first = await login({ jid, userAgentId: id, software: "Gajim", device: "laptop", credential: { password }, requestFast: true });
    const client = await login({ jid, userAgentId: id, credential: { fastToken: first.fastToken! }, keepConnected: true });
    const before = await entry(jid, `client/${id}`);
    const shifted = isoAt(Date.parse(before.firstSeen!) / 1000 + 1);
    const variants: ClientRecord[] = [
      { ...before, firstSeen: shifted },
      { ...before, firstSeen: null },
      { ...before, type: "access" },
      { ...before, userAgent: { ...before.userAgent, software: "Gajim 2" } },
      { ...before, userAgent: { ...before.userAgent, device: null } },
    ];
    for (const variant of variants) await rejectsWith(revoke(jid, variant), "notFound", "changed");
    await rejectsWith(revoke(jid, { ...before, id: `client/${randomUUID()}` }), "notFound", "gone");
    assert.deepEqual(await entry(jid, before.id), before, "still listed exactly as before");
    assert.equal(await Promise.race([client.ended.then(() => "ended"), new Promise((r) => setTimeout(() => r("open"), 300))]), "open");
    // (Last: a new login with the same client id replaces the session that is open.)
    assert.equal(await fastTokenWorks(jid, id, first.fastToken!), true, "its FAST token still works");
    assert.match(prosodyLog(), new RegExp(`admin socket asked to revoke client/${id} of ${jid}: listed as another client now, nothing revoked`));
  });
});

describe("server answers camctl can explain", () => {
  test("forbidden from the module: 5 over the socket, as over XMPP", async () => {
    const { jid } = await sb.createAccount("refused");
    const [local] = jid.split("@") as [string];
    const grant = await createBearerGrant(sb, jid, { software: "X" });
    const before = await entry(jid, grant.grantId);
    // A module that refuses this account (as a policy module wrapping the public API might).
    await sb.lua(`local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
local original = cm.get_active_clients
prosody.camctl_test_restore = function() cm.get_active_clients = original end
cm.get_active_clients = function(username, ...)
  if username == ${luaString(local)} then return nil, "forbidden" end
  return original(username, ...)
end return "ok"`);
    try {
      const r = await runCamctl(["user", "clients", jid, "--socket", sb.socketPath]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /refused .* \(forbidden\)/);
      await rejectsWith(revoke(jid, before), "forbidden", "forbidden");
    } finally {
      await sb.lua(`prosody.camctl_test_restore() prosody.camctl_test_restore = nil return "ok"`);
    }
    assert.equal(await bearerTokenWorks(jid, grant.token), true, "nothing was revoked");
  });
});

// What the revoke command makes of these reports is decided where the command renders them
// (exit 7 for "only the password is left"); these run the whole CLI on the cases above.
describe("the revoke command over the socket", () => {
  test("revoking a connected password client exits 7 and says the password remains", async () => {
    const { jid, password } = await sb.createAccount("cli7");
    const id = randomUUID();
    const client = await login({ jid, userAgentId: id, software: "Dino", credential: { password }, keepConnected: true });
    const r = await runCamctl(["user", "revoke_client", jid, `client/${id}`, "--yes", "--socket", sb.socketPath]);
    assert.equal((await client.ended).condition, "not-authorized");
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stderr, `camctl: client/${id} (Dino): closed its session, but it signed in with ${jid}'s password and can come back with it until the password is changed: \`camctl user lockout ${jid} --new-password-file <file>\` sets a new one and revokes everything else the account has.\n`);
    assert.equal(r.stdout, "");
  });
});
