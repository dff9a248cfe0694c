// Admins over XMPP with the companion module prosody/mod_client_management_admin, and the parity
// of the XMPP and socket transports, against a real Prosody 13 (the sandbox).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { homesRemovedAfterAll, assertOneSentence, isCamctl, socketList, xmppCamctl, xmppList, type JsonClient } from "./xmpp-helpers.js";

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

async function populated(local: string) {
  const acct = await sb.createAccount(local);
  const kept = await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Gajim", version: "1.9.5", device: "Juliet's laptop", keepConnected: true });
  closers.push(kept);
  await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Conversations", version: "2.17", device: "Pixel 8" });
  const legacy = await sb.legacyLogin({ ...acct, resource: "old-client", keepConnected: true });
  closers.push(legacy);
  const grant = await sb.createGrant(acct.jid, { software: "REST client", uri: "https://rest.example/" });
  return { ...acct, grant };
}

const byId = (clients: JsonClient[]) => new Map(clients.map((c) => [c.id, c]));

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
    assert.deepEqual(JSON.parse(r.stdout), { jid: bob.jid, selector: grant, revoked: true });
    assert.ok(!(await socketList(sb, bob.jid)).clients.some((c) => c.id === grant));
    assert.match(log(), new RegExp(`Admin ${boss.jid}/\\S+ revoked ${grant} of ${bob.jid}`));

    const pw = await xmppCamctl(sb, h, boss, ["user", "revoke_client", bob.jid, "software/Dino", "--yes"]);
    assert.equal(pw.code, 7, pw.stderr);
    assert.match(pw.stderr, /already closed its session and revoked/);
    assertOneSentence(pw, boss.password);

    const unknown = await xmppCamctl(sb, h, boss, ["user", "revoke_client", bob.jid, "client/nope", "--yes"]);
    assert.equal(unknown.code, 6, unknown.stderr);
    const nobody = await xmppCamctl(sb, h, boss, ["user", "clients", `nobody@${sb.host}`]);
    assert.equal(nobody.code, 6, nobody.stderr);
    assert.match(nobody.stderr, /no account/i);
  });

  test("dry run and confirmation-free preview work for another account too", async () => {
    const carol = await sb.createAccount("carol");
    const grant = await sb.createGrant(carol.jid, { software: "Preview" });
    const r = await xmppCamctl(sb, home(), boss, ["user", "revoke_client", carol.jid, grant, "--dry-run", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await socketList(sb, carol.jid)).clients.some((c) => c.id === grant), "nothing revoked");
  });

  test("a non-admin is refused (5) for list and revoke, nothing changes, and the refusal is logged", async () => {
    const dave = await sb.createAccount("dave");
    const grant = await sb.createGrant(dave.jid, { software: "Keep me" });
    const h = home();
    const list = await xmppCamctl(sb, h, joe, ["user", "clients", dave.jid]);
    assert.equal(list.code, 5, list.stderr);
    assert.match(list.stderr, /forbidden/);
    assertOneSentence(list, joe.password);
    const revoke = await xmppCamctl(sb, h, joe, ["user", "revoke_client", dave.jid, grant, "--yes"]);
    assert.equal(revoke.code, 5, revoke.stderr);
    assert.ok((await socketList(sb, dave.jid)).clients.some((c) => c.id === grant), "the grant is still there");
    assert.match(log(), new RegExp(`Refused to list the clients of ${dave.jid} for ${joe.jid}/\\S+`));
    assert.match(log(), new RegExp(`Refused to revoke a client of ${dave.jid} for ${joe.jid}/\\S+`));
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

describe("parity: --jid and --socket see the same account the same way", () => {
  test("same ids, types, auth methods and user agents (camctl's own entry aside)", async () => {
    const acct = await populated("parity");
    const viaXmpp = await xmppList(sb, home(), acct, acct.jid);
    const viaSocket = await socketList(sb, acct.jid);
    assert.equal(viaXmpp.jid, viaSocket.jid);
    assert.equal(viaXmpp.transport, "xmpp");
    assert.equal(viaSocket.transport, "socket");

    const x = viaXmpp.clients.filter((c) => !isCamctl(c));
    const s = viaSocket.clients.filter((c) => !isCamctl(c));
    assert.equal(x.length, 4);
    assert.deepEqual([...byId(x).keys()].sort(), [...byId(s).keys()].sort(), "same ids");
    const sById = byId(s);
    for (const c of x) {
      const other = sById.get(c.id)!;
      assert.equal(c.type, other.type, c.id);
      assert.deepEqual(c.auth, other.auth, c.id);
      assert.deepEqual(c.userAgent, other.userAgent, c.id);
      assert.equal(c.connected, other.connected, c.id);
      assert.equal(c.firstSeen, other.firstSeen, c.id);
      assert.equal(c.expires, other.expires, c.id);
    }
    assert.deepEqual(
      x.map((c) => c.id),
      s.map((c) => c.id),
      "in the same order",
    );
    // camctl's own entry is in both lists (the socket sees it once camctl has logged in).
    assert.equal(viaXmpp.clients.filter(isCamctl).length, 1);
    assert.equal(viaSocket.clients.filter(isCamctl).length, 1);
  });
});
