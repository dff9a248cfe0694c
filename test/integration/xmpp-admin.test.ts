// Admins over XMPP with the companion module prosody/mod_client_management_admin (its list, and its
// complete revoke in urn:camctl:admin:0), and the parity of the XMPP and socket transports, against
// a real Prosody 13 (the sandbox).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { homesRemovedAfterAll, assertOneSentence, isCamctl, socketList, xmppCamctl, xmppList, populatedAccount, type JsonClient } from "../helpers/xmpp-camctl.js";

let sb: Sandbox;
let boss: { jid: string; password: string };
let joe: { jid: string; password: string };
const closers: Array<{ close(): Promise<void> }> = [];
const home = homesRemovedAfterAll();

before(async () => {
  sb = await startSandbox({ extraModules: ["client_management_admin"], admins: ["boss"] });
  boss = await sb.createAccount("boss");
  joe = await sb.createAccount("joe");
});
after(async () => {
  for (const c of closers) await c.close().catch(() => undefined);
  await sb?.stop();
});

const populated = (local: string) => populatedAccount(sb, local);

function log(): string {
  return fs.readFileSync(path.join(sb.dir, "prosody.log"), "utf8");
}

describe("an admin manages another account over XMPP", () => {
  test("lists another account: exactly what the socket lists", async () => {
    const alice = await populated("alice");
    const viaAdmin = await xmppList(sb, home(), boss, alice.jid);
    assert.equal(viaAdmin.jid, alice.jid);
    assert.equal(viaAdmin.transport, "xmpp");
    const viaSocket = await socketList(sb, alice.jid);
    assert.equal(viaAdmin.clients.length, 4);
    assert.deepEqual(viaAdmin.clients, viaSocket.clients, "same records, field for field");
    assert.ok(!viaAdmin.clients.some(isCamctl), "the admin's own login is not in alice's list");
    assert.match(log(), new RegExp(`Admin ${boss.jid}/\\S+ listed the clients of ${alice.jid}`));
  });

  test("revokes another account's grant; a password client is 7; an unknown id 6; an unknown account 6", async () => {
    const bob = await sb.createAccount("bob");
    const grant = await sb.createGrant(bob.jid, { software: "Bot" });
    await sb.sasl2Login({ ...bob, userAgentId: randomUUID(), software: "Dino", device: "desk" });
    const h = home();
    const r = await xmppCamctl(sb, h, boss, ["user", "revoke_client", bob.jid, grant, "--yes", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.deepEqual([body.jid, body.selector, body.revoked, body.id, body.outcome, body.remaining], [bob.jid, grant, true, grant, "revoked", []]);
    assert.equal(body.done.grantRevoked, true);
    assert.ok(!(await socketList(sb, bob.jid)).clients.some((c) => c.id === grant));
    assert.match(log(), new RegExp(`Admin ${boss.jid}/\\S+ revoked ${grant} of ${bob.jid}`));

    const pw = await xmppCamctl(sb, h, boss, ["user", "revoke_client", bob.jid, "software/Dino", "--yes"]);
    assert.equal(pw.code, 7, pw.stderr);
    assert.match(pw.stderr, /signed in with bob@\S+'s password and can come back with it until the password is changed/);
    assertOneSentence(pw, boss.password);

    const unknown = await xmppCamctl(sb, h, boss, ["user", "revoke_client", bob.jid, "client/nope", "--yes"]);
    assert.equal(unknown.code, 6, unknown.stderr);
    const nobody = await xmppCamctl(sb, h, boss, ["user", "clients", `nobody@${sb.host}`]);
    assert.equal(nobody.code, 6, nobody.stderr);
    assert.match(nobody.stderr, /no account/i);
  });

  test("a connected password client of another account: its session is closed and it is 7, the password being what remains", async () => {
    const frank = await sb.createAccount("frank");
    const id = randomUUID();
    const kept = await sb.sasl2Login({ ...frank, userAgentId: id, software: "Gajim", device: "laptop", keepConnected: true });
    closers.push(kept);
    const r = await xmppCamctl(sb, home(), boss, ["user", "revoke_client", frank.jid, `client/${id}`, "--yes", "--json"]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /closed its session.* can come back with it until the password is changed/);
    const body = JSON.parse(r.stdout);
    assert.deepEqual([body.outcome, body.remaining, body.done.sessionClosed, body.unverifiable], ["password-reset-required", ["password"], true, []]);
    const after = (await socketList(sb, frank.jid)).clients.find((c) => c.id === `client/${id}`);
    assert.equal(after?.connected, false);
  });

  test("dry run and confirmation-free preview work for another account too", async () => {
    const carol = await sb.createAccount("carol");
    const grant = await sb.createGrant(carol.jid, { software: "Preview" });
    const r = await xmppCamctl(sb, home(), boss, ["user", "revoke_client", carol.jid, grant, "--dry-run", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await socketList(sb, carol.jid)).clients.some((c) => c.id === grant), "nothing revoked");
  });

  // The companion's refusal of the revoke request itself is tested on the wire (companion-admin.test.ts):
  // the revoke command lists first, to show what it would revoke, so a non-admin stops there.
  test("a non-admin is refused (5) for list and revoke (which stops at its listing), nothing changes, and the refusals are logged", async () => {
    const dave = await sb.createAccount("dave");
    const grant = await sb.createGrant(dave.jid, { software: "Keep me" });
    const h = home();
    const list = await xmppCamctl(sb, h, joe, ["user", "clients", dave.jid]);
    assert.equal(list.code, 5, list.stderr);
    assert.match(list.stderr, /forbidden/);
    assertOneSentence(list, joe.password);
    const revoke = await xmppCamctl(sb, h, joe, ["user", "revoke_client", dave.jid, grant, "--yes"]);
    assert.equal(revoke.code, 5, revoke.stderr);
    assert.equal(revoke.stderr, list.stderr, "the same refusal: of the listing");
    assert.ok((await socketList(sb, dave.jid)).clients.some((c) => c.id === grant), "the grant is still there");
    const refusals = log().match(new RegExp(`Refused to list the clients of ${dave.jid} for ${joe.jid}/\\S+`, "g")) ?? [];
    assert.equal(refusals.length, 2, "one refusal logged for each run");
    assert.doesNotMatch(log(), new RegExp(`revoke a client of ${dave.jid}`), "no revoke request was sent");
  });

  test("self-requests are untouched by the companion module, for admins and everyone else", async () => {
    // Answered by mod_client_management itself: camctl's own (connected) login is in the list.
    const own = await xmppList(sb, home(), joe, joe.jid);
    assert.ok(own.clients.some((c) => isCamctl(c) && c.connected), JSON.stringify(own.clients));
    const bossOwn = await xmppList(sb, home(), boss, boss.jid);
    assert.ok(bossOwn.clients.some((c) => isCamctl(c) && c.connected), JSON.stringify(bossOwn.clients));
  });

  test("a host without the companion module: exit 8 and how to install it (the strict host has none)", async () => {
    const strictUser = await sb.createAccount("erin", sb.strictHost);
    const r = await xmppCamctl(sb, home(), boss, ["user", "clients", strictUser.jid]);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /mod_client_management_admin/);
    assert.match(r.stderr, /modules_enabled/);
    assert.match(r.stderr, /--socket/);
    assertOneSentence(r, boss.password);
  });
});

describe("parity: --socket, --jid self and --jid admin see the same account the same way", () => {
  test("every field of every entry, in the server's order, with a grant that has a TTL, a version and a software id", async () => {
    const acct = await populated("parity");
    // A grant as an OAuth client gets one: name, id, version and uri, valid for a day (through
    // Prosody's own mod_tokenauth API).
    await sb.lua(`local tokenauth = prosody.hosts[${JSON.stringify(sb.host)}].modules.tokenauth
local jid = ${JSON.stringify(acct.jid)}
local grant = assert(tokenauth.create_grant(jid, jid, 86400, { oauth2_client = { name = "Mail app", id = "mail-app-id", version = "3.1", uri = "https://mail.example/" } }))
assert(tokenauth.create_token(jid, grant, nil, 86400, "oauth2-refresh"))
return grant.id`);

    // The admin's view and the socket's first: camctl's own login as the account is not in them yet.
    const viaSocket = await socketList(sb, acct.jid);
    const viaAdmin = await xmppList(sb, home(), boss, acct.jid);
    const viaSelf = await xmppList(sb, home(), acct, acct.jid);
    assert.deepEqual([viaSocket.transport, viaAdmin.transport, viaSelf.transport], ["socket", "xmpp", "xmpp"]);
    assert.equal(viaAdmin.jid, viaSocket.jid);
    assert.equal(viaSelf.jid, viaSocket.jid);

    const others = (clients: JsonClient[]) => clients.filter((c) => !isCamctl(c));
    const s = others(viaSocket.clients);
    assert.equal(s.length, 5);
    const withTtl = s.find((c) => c.userAgent.software === "Mail app")!;
    assert.deepEqual(withTtl.userAgent, { software: "Mail app", version: "3.1", softwareId: "mail-app-id", uri: "https://mail.example/", device: null });
    assert.ok(withTtl.expires !== null, "the socket carries the expiry");
    assert.deepEqual(withTtl.auth, ["grant"]);

    assert.deepEqual(others(viaAdmin.clients), s, "--jid admin (the companion) = --socket, field for field and in order");
    // What the bare module's protocol cannot carry: <expires> (it never sends one) and the
    // companion's network fields (docs/addresses.md). Everything else is equal.
    const noExpiry = (clients: JsonClient[]) =>
      clients.map((c) => ({ ...c, expires: null, ip: null, connectedSince: null, firstIp: null, firstLogin: null, lastIp: null, lastLogin: null, lastMechanism: null, loginCount: null }));
    // (Compared with a socket listing made after camctl's own login, which adds an entry: entries
    // last seen in the same second come in no fixed order, and a new entry may reshuffle them.)
    const socketAfter = await socketList(sb, acct.jid);
    assert.deepEqual(noExpiry(others(viaSelf.clients)), noExpiry(others(socketAfter.clients)), "--jid self = --socket, but for expires");

    // camctl's own entry: in the self view, connected; the socket sees it once camctl has logged in.
    assert.equal(viaSelf.clients.filter(isCamctl).length, 1);
    assert.equal(socketAfter.clients.filter(isCamctl).length, 1);
  });
});
