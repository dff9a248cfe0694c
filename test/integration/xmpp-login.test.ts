// camctl over XMPP against a real Prosody 13 (the sandbox): logging in as the account itself over
// STARTTLS and direct TLS, the strict host, repeated runs, certificates, passwords, missing modules.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import os from "node:os";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { answerOnTerminal, haveScript } from "../helpers/terminal.js";
import { luaString } from "../sandbox/admin-socket.js";
import { VERSION } from "../../src/core/version.js";
import { homesRemovedAfterAll, assertOneSentence, isCamctl, socketList, xmppCamctl, xmppList, populatedAccount, type JsonClient } from "../helpers/xmpp-camctl.js";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

let sb: Sandbox;
const closers: Array<{ close(): Promise<void> }> = [];
const home = homesRemovedAfterAll();

before(async () => {
  sb = await startSandbox();
});
after(async () => {
  for (const c of closers) await c.close().catch(() => undefined);
  await sb?.stop();
});

const populated = (local: string, host?: string) => populatedAccount(sb, local, host);

function assertContractShape(c: JsonClient): void {
  // The contract's fields, and the network fields added by issue 18 (null where the source has none).
  assert.deepEqual(Object.keys(c).sort(), [
    "auth", "connected", "connectedSince", "expires", "firstIp", "firstLogin", "firstSeen", "id", "ip",
    "lastIp", "lastLogin", "lastMechanism", "lastSeen", "loginCount", "permission", "type", "userAgent",
  ]);
  assert.deepEqual(Object.keys(c.userAgent).sort(), ["device", "software", "softwareId", "uri", "version"]);
  for (const t of [c.firstSeen, c.lastSeen, c.expires]) assert.ok(t === null || ISO.test(t), String(t));
  assert.deepEqual([...c.auth].sort(), c.auth, "auth sorted");
}

/** A SASL2 client's user agent as sent; the real mod_sasl2 drops <version/>, so a server may list none. */
function assertUserAgent(c: JsonClient | undefined, sent: JsonClient["userAgent"]): void {
  assert.ok(c, "listed");
  assert.ok(c.userAgent.version === null || c.userAgent.version === sent.version, `version ${c.userAgent.version}`);
  assert.deepEqual({ ...c.userAgent, version: null }, { ...sent, version: null });
}

function assertCamctlEntry(clients: JsonClient[]): JsonClient {
  const mine = clients.filter(isCamctl);
  assert.equal(mine.length, 1, JSON.stringify(clients, null, 1));
  const c = mine[0]!;
  assert.equal(c.type, "session");
  assert.equal(c.connected, true, "listed while camctl is logged in");
  assert.deepEqual(c.auth, ["password"], "password only: camctl never takes a FAST token");
  assertUserAgent(c, { software: "camctl", version: VERSION, softwareId: null, uri: null, device: os.hostname() });
  return c;
}

describe("logging in as the account itself", () => {
  test("lists over STARTTLS with the contract's JSON, including camctl's own entry; state files are private", async () => {
    const acct = await populated("starttls");
    const h = home();
    const body = await xmppList(sb, h, acct, acct.jid);
    assert.equal(body.jid, acct.jid);
    assert.equal(body.transport, "xmpp");
    body.clients.forEach(assertContractShape);
    assertCamctlEntry(body.clients);
    const bySoftware = new Map(body.clients.map((c) => [c.userAgent.software, c]));
    assert.equal(bySoftware.get("Gajim")?.connected, true);
    assertUserAgent(bySoftware.get("Gajim"), { software: "Gajim", version: "1.9.5", softwareId: null, uri: null, device: "Juliet's laptop" });
    assert.equal(bySoftware.get("Conversations")?.connected, false);
    const grant = body.clients.find((c) => c.id === acct.grant);
    assert.equal(grant?.type, "access");
    assert.deepEqual(grant?.auth, ["grant"]);
    assert.equal(grant?.userAgent.uri, "https://rest.example/");
    assert.ok(body.clients.some((c) => c.userAgent.software === null && c.type === "session"), "the legacy client is there");
    h.assertPrivate();
  });

  test("lists over direct TLS (XEP-0368) the same clients as over STARTTLS", async () => {
    const acct = await populated("direct");
    const h = home();
    const viaStarttls = await xmppList(sb, h, acct, acct.jid);
    const viaDirect = await xmppList(sb, h, acct, acct.jid, { tls: "direct" });
    const ids = (l: { clients: JsonClient[] }) => l.clients.map((c) => c.id).sort();
    assert.deepEqual(ids(viaDirect), ids(viaStarttls));
    assertCamctlEntry(viaDirect.clients);
  });

  test("the table over XMPP is the people's view of the same list", async () => {
    const acct = await populated("table");
    const r = await xmppCamctl(sb, home(), acct, ["user", "clients", acct.jid]);
    assert.equal(r.code, 0, r.stderr);
    for (const want of ["Gajim", "Conversations", "REST client", "camctl", acct.grant]) assert.ok(r.stdout.includes(want), want);
    assert.equal(r.stderr, "");
  });

  test("revokes over STARTTLS and over direct TLS; a password client is 7, an unknown id 6", async () => {
    const acct = await sb.createAccount("revoker");
    const g1 = await sb.createGrant(acct.jid, { software: "One" });
    const g2 = await sb.createGrant(acct.jid, { software: "Two" });
    await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Dino", device: "desk" });
    const h = home();

    const r1 = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, g1, "--yes", "--json"]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual((({ jid, selector, revoked }) => ({ jid, selector, revoked }))(JSON.parse(r1.stdout)), { jid: acct.jid, selector: g1, revoked: true });
    const r2 = await xmppCamctl(sb, h, acct, ["user", "revoke-client", acct.jid, g2, "--yes"], { tls: "direct" });
    assert.equal(r2.code, 0, r2.stderr);
    const left = (await socketList(sb, acct.jid)).clients.map((c) => c.id);
    assert.ok(!left.includes(g1) && !left.includes(g2), left.join(","));

    const r3 = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, "software/Dino", "--yes"]);
    assert.equal(r3.code, 7, r3.stderr);
    assert.match(r3.stderr, /password/);
    assert.match(r3.stderr, /can come back with it until the password is changed/);
    assertOneSentence(r3, acct.password);

    const r4 = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, "grant/doesnotexist", "--yes"]);
    assert.equal(r4.code, 6, r4.stderr);
    assertOneSentence(r4, acct.password);
  });

  test("revoking camctl's own login ends its session: 7, and camctl says what happened", async () => {
    const acct = await sb.createAccount("selfrevoke");
    const h = home();
    await xmppList(sb, h, acct, acct.jid); // camctl is now a client of this account
    const r = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, "software/camctl", "--yes"]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /password/);
    assertOneSentence(r, acct.password);
  });

  test("works on the host with enforce_client_ids = true", async () => {
    const acct = await sb.createAccount("strict", sb.strictHost);
    await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Monal", device: "iPhone" });
    const h = home();
    const body = await xmppList(sb, h, acct, acct.jid);
    assertCamctlEntry(body.clients);
    assert.ok(body.clients.some((c) => c.userAgent.software === "Monal"));
    // The strict host refuses what is not SASL2 + client id: camctl is not that.
    const r = await xmppCamctl(sb, h, acct, ["user", "clients", acct.jid, "--json"], { tls: "direct" });
    assert.equal(r.code, 0, r.stderr);
  });

  test("ten runs leave one camctl client, with the same id, and no FAST token", async () => {
    const acct = await sb.createAccount("tenruns");
    const h = home();
    for (let i = 0; i < 10; i++) {
      const r = await xmppCamctl(sb, h, acct, ["user", "clients", acct.jid, "--json"], { tls: i % 2 === 0 ? "starttls" : "direct", passwordInEnv: i % 3 === 0 });
      assert.equal(r.code, 0, `run ${i}: ${r.stderr}`);
    }
    const seen = (await socketList(sb, acct.jid)).clients;
    assert.equal(seen.filter(isCamctl).length, 1, JSON.stringify(seen));
    assert.equal(seen.length, 1, "nothing else appeared either");
    assert.deepEqual(seen[0]!.auth, ["password"], "no FAST token was issued");
    // The same id is on disk: a UUID v4, kept from the first run.
    const id = h.userAgentId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const fast = await sb.lua(`return tostring(prosody.hosts["${sb.host}"].modules.sasl2_fast.is_client_fast("tenruns", "${id}"))`);
    assert.equal(fast, "false", "the server holds no FAST token for camctl");
    h.assertPrivate();
    // Another installation (another state directory) is another client.
    await xmppList(sb, home(), acct, acct.jid);
    assert.equal((await socketList(sb, acct.jid)).clients.filter(isCamctl).length, 2);
  });
});

describe("simultaneous runs from one installation", () => {
  test("a second run while the first is logged in: neither replaces the other, and they stay one client", async () => {
    const acct = await sb.createAccount("together");
    // The account's next listing waits 2 s inside the server, so the first run is still logged in
    // (same installation, same client id) while the second one logs in and lists.
    await sb.lua(`local async = require "prosody.util.async"
local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
local original = cm.get_active_clients
prosody.camctl_test_slow = { together = 1 }
prosody.camctl_test_listing = 0
cm.get_active_clients = function (username, ...)
  if prosody.camctl_test_slow[username] == 1 then
    prosody.camctl_test_slow[username] = 0
    prosody.camctl_test_listing = 1
    async.sleep(2)
  end
  return original(username, ...)
end
return "ok"`);
    const h = home();
    const first = xmppCamctl(sb, h, acct, ["user", "clients", acct.jid, "--json"]);
    const deadline = Date.now() + 15_000;
    while ((await sb.lua("return tostring(prosody.camctl_test_listing)")) !== "1") {
      assert.ok(Date.now() < deadline, "the first run never reached the listing");
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = await xmppCamctl(sb, h, acct, ["user", "clients", acct.jid, "--json"]);
    assert.equal(second.code, 0, second.stderr);
    const r = await first;
    assert.equal(r.code, 0, `the first run was not replaced by the second: ${r.stderr}`);
    const listed = (JSON.parse(r.stdout) as { clients: JsonClient[] }).clients.filter(isCamctl);
    assert.equal(listed.length, 1, "one camctl client, listed by the first run");
    assert.equal((await socketList(sb, acct.jid)).clients.filter(isCamctl).length, 1, "still one client: same installation");
  });
});

describe("refusals and failures", () => {
  test("a wrong password exits 4 and says so, without echoing anything secret", async () => {
    const acct = await sb.createAccount("wrongpw");
    const r = await xmppCamctl(sb, home(), { jid: acct.jid, password: "not-" + acct.password }, ["user", "clients", acct.jid]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /wrong password or account/);
    assertOneSentence(r, acct.password);
    assert.ok(!r.stderr.includes("not-" + acct.password));
    const unknown = await xmppCamctl(sb, home(), { jid: `nobody@${sb.host}`, password: "whatever-pass" }, ["user", "clients", `nobody@${sb.host}`]);
    assert.equal(unknown.code, 4, unknown.stderr);
  });

  test("an untrusted certificate exits 3, says why and suggests --ca-file (STARTTLS and direct TLS)", async () => {
    const acct = await sb.createAccount("untrusted");
    for (const tls of ["starttls", "direct"] as const) {
      const r = await xmppCamctl(sb, home(), acct, ["user", "clients", acct.jid], { tls, trust: false });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /not trusted/);
      assert.match(r.stderr, /CA that this system does not trust|self-signed/);
      assert.match(r.stderr, /--ca-file/);
      assertOneSentence(r, acct.password);
    }
  });

  test("on a terminal, the server is checked before the password prompt: an untrusted certificate exits 3 and nobody is asked; a trusted one gets the prompt, and the typed password logs in", { skip: haveScript ? false : "util-linux script is not installed" }, async () => {
    const acct = await sb.createAccount("prompted");
    const env = { ...home().env, NO_COLOR: "1" } as Record<string, string>;
    const prompt = /Password for prompted@camctl\.test:/;
    for (const [tls, port] of [["starttls", sb.c2sPort], ["direct", sb.directTlsPort]] as const) {
      const args = ["user", "clients", acct.jid, "--jid", acct.jid, "--server", `127.0.0.1:${port}`, "--tls", tls, "--json"];
      const refused = await answerOnTerminal(args, prompt, `${acct.password}\r`, { env });
      assert.equal(refused.code, 3, refused.out);
      assert.ok(!refused.typed, `no prompt for a server that is refused: ${refused.out}`);
      assert.doesNotMatch(refused.out, /Password/);
      assert.match(refused.out, /is not trusted/);
    }
    const args = ["user", "clients", acct.jid, "--jid", acct.jid, "--server", `127.0.0.1:${sb.c2sPort}`, "--ca-file", sb.caFile, "--json"];
    const trusted = await answerOnTerminal(args, prompt, `${acct.password}\r`, { env });
    assert.equal(trusted.code, 0, trusted.out);
    assert.ok(trusted.typed, "asked for the password");
    assert.match(trusted.out, /"transport": ?"xmpp"/);
    assert.ok(!trusted.out.includes(acct.password), "the typed password is not echoed");
  });

  test("a domain the server has no certificate for is refused in the TLS handshake (3)", async () => {
    // Direct TLS: the handshake comes first; camctl asks for the JID's domain (SNI), Prosody has none.
    const r = await runCamctl(
      ["user", "clients", "alice@elsewhere.test", "--jid", "alice@elsewhere.test", "--server", `127.0.0.1:${sb.directTlsPort}`, "--tls", "direct", "--ca-file", sb.caFile],
      { env: { ...home().env, CAMCTL_PASSWORD: "irrelevant-pass" } },
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /no certificate for elsewhere\.test/);
    assertOneSentence(r);
  });

  test("--tls none to a server that requires encryption: exit 3, no plaintext login", async () => {
    const acct = await sb.createAccount("tlsnone");
    const r = await xmppCamctl(sb, home(), acct, ["user", "clients", acct.jid], { tls: "none", trust: false });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /requires TLS/);
    assertOneSentence(r, acct.password);
  });

  test("no password and stdin not a terminal: exit 2 with how to pass one; nothing is contacted", async () => {
    const r = await runCamctl(["user", "clients", `a@${sb.host}`, "--jid", `a@${sb.host}`, "--server", "127.0.0.1:1"], { env: home().env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--password-file/);
    assert.match(r.stderr, /CAMCTL_PASSWORD/);
    const viaEnvJid = await runCamctl(["user", "clients", `a@${sb.host}`, "--password-file", "/nonexistent/pw"], { env: { ...home().env, CAMCTL_JID: `a@${sb.host}` } });
    assert.equal(viaEnvJid.code, 2, viaEnvJid.stderr);
    assert.match(viaEnvJid.stderr, /password-file/);
  });

  test("another account without the companion module: exit 8, says how to install it or use --socket", async () => {
    const me = await sb.createAccount("curious");
    const other = await sb.createAccount("target");
    const r = await xmppCamctl(sb, home(), me, ["user", "clients", other.jid]);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /mod_client_management_admin/);
    assert.match(r.stderr, /--socket/);
    assertOneSentence(r, me.password);
    const rv = await xmppCamctl(sb, home(), me, ["user", "revoke_client", other.jid, "grant/x", "--yes"]);
    assert.equal(rv.code, 8, rv.stderr);
  });

  test("an account on a host without mod_client_management: exit 8", async () => {
    const acct = await sb.createAccount("bare", sb.bareHost);
    const r = await xmppCamctl(sb, home(), acct, ["user", "clients", acct.jid]);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /mod_client_management is not enabled/);
    assertOneSentence(r, acct.password);
  });
});
