// camctl over the admin socket against a real Prosody 13 (the sandbox), as users run it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { parseCsv } from "../helpers/csv.js";
import { addBulkGrants } from "../helpers/bulk-grants.js";
import type { JsonClient } from "../helpers/client-json.js";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

let sb: Sandbox;
const closers: Array<{ close(): Promise<void> }> = [];

async function camctl(...args: string[]) {
  return runCamctl([...args, "--socket", sb.socketPath], { timeoutMs: 30_000 });
}

async function listJson(jid: string): Promise<JsonClient[]> {
  const r = await camctl("user", "clients", jid, "--json");
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { clients: JsonClient[] }).clients;
}

before(async () => {
  sb = await startSandbox();
});
after(async () => {
  for (const c of closers) await c.close().catch(() => undefined);
  await sb?.stop();
});

describe("user clients over the admin socket", () => {
  test("an empty account says so and exits 0, in every format", async () => {
    const { jid } = await sb.createAccount("empty");
    const table = await camctl("user", "clients", jid);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /no clients/i);
    assert.equal(table.stderr, "");
    const json = await camctl("user", "clients", jid, "--json");
    assert.equal(json.code, 0);
    // The account's own facts follow the clients (issue 18): a new account is enabled, never disabled.
    const body = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.deepEqual({ jid: body.jid, transport: body.transport, clients: body.clients }, { jid, transport: "socket", clients: [] });
    assert.deepEqual([body.accountStatus, body.disabledReason, body.disabledAt], ["enabled", null, null]);
    const csv = await camctl("user", "clients", jid, "-o", "csv");
    assert.equal(csv.code, 0);
    assert.equal(parseCsv(csv.stdout).length, 1, "header row only");
  });

  test("lists SASL2, connected, legacy and grant clients with the contract's JSON shape", async () => {
    const { jid, password } = await sb.createAccount("alice");
    const gajimId = randomUUID();
    const kept = await sb.sasl2Login({ jid, password, userAgentId: gajimId, software: "Gajim", version: "1.9.5", device: "Juliet's laptop", keepConnected: true });
    closers.push(kept);
    const phoneId = randomUUID();
    await sb.sasl2Login({ jid, password, userAgentId: phoneId, software: "Conversations", version: "2.17", device: "Pixel 8" });
    const legacy = await sb.legacyLogin({ jid, password, resource: "old-client", keepConnected: true });
    closers.push(legacy);
    const grantId = await sb.createGrant(jid, { software: "REST client" });

    const r = await camctl("user", "clients", jid, "--json");
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout) as { jid: string; transport: string; clients: JsonClient[] };
    assert.equal(body.jid, jid);
    assert.equal(body.transport, "socket");
    const byId = new Map(body.clients.map((c) => [c.id, c]));

    for (const c of body.clients) {
      assert.deepEqual(Object.keys(c).sort(), ["auth", "connected", "connectedSince", "expires", "firstIp", "firstLogin", "firstSeen", "id", "ip", "lastIp", "lastLogin", "lastMechanism", "lastSeen", "loginCount", "permission", "type", "userAgent"]);
      assert.deepEqual(Object.keys(c.userAgent).sort(), ["device", "software", "softwareId", "uri", "version"]);
      assert.ok(c.firstSeen === null || ISO.test(c.firstSeen), c.firstSeen ?? "");
      assert.ok(c.lastSeen === null || ISO.test(c.lastSeen), c.lastSeen ?? "");
      assert.deepEqual(c.auth, [...c.auth].sort());
      assert.doesNotMatch(JSON.stringify(c), /secret|token_|hash/i);
    }

    const gajim = body.clients.find((c) => c.userAgent.software === "Gajim");
    assert.ok(gajim, "the SASL2 client is listed");
    assert.match(gajim.id, /^client\//);
    assert.equal(gajim.type, "session");
    assert.equal(gajim.connected, true);
    assert.ok(gajim.auth.includes("password"));
    assert.equal(gajim.userAgent.version, null, "mod_sasl2 keeps no <version> of a SASL2 client");
    assert.equal(gajim.userAgent.device, "Juliet's laptop");

    const phone = body.clients.find((c) => c.userAgent.software === "Conversations");
    assert.ok(phone);
    assert.equal(phone.connected, false);
    assert.ok(phone.auth.includes("password"));

    // Whatever the module shows as a legacy client's software, it is the one session client
    // that is neither of the SASL2 ones.
    const old = body.clients.filter((c) => c.type === "session" && c !== gajim && c !== phone);
    assert.equal(old.length, 1, "the legacy client is tracked once, by its resource");
    assert.equal(old[0]!.connected, true);

    const grant = byId.get(grantId);
    assert.ok(grant, `grant ${grantId} is listed`);
    assert.equal(grant.type, "access");
    assert.equal(grant.connected, false);
    assert.deepEqual(grant.auth, ["grant"]);
    assert.equal(grant.userAgent.software, "REST client");

    // The table shows every id in full, whatever the width of the terminal it would have had.
    const table = await camctl("user", "clients", jid);
    assert.equal(table.code, 0);
    for (const c of body.clients) assert.ok(table.stdout.includes(c.id), `table shows ${c.id}`);

    // CSV: header + one row per client, same ids.
    const csv = await camctl("user", "clients", jid, "--output", "csv");
    const rows = parseCsv(csv.stdout);
    assert.equal(rows.length, body.clients.length + 1);
    const idCol = rows[0]!.indexOf("id");
    assert.deepEqual(rows.slice(1).map((row) => row[idCol]).sort(), body.clients.map((c) => c.id).sort());
  });

  test("1,000 clients come through a pipe whole, in JSON, CSV and table", async () => {
    const { jid } = await sb.createAccount("many");
    await addBulkGrants(sb, jid, 1000);
    const json = await camctl("user", "clients", jid, "--json");
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { clients: unknown[] }).clients.length, 1000);
    const csv = await camctl("user", "clients", jid, "-o", "csv");
    assert.equal(parseCsv(csv.stdout).length, 1001);
    const table = await camctl("user", "clients", jid);
    // A header, one line per client, and the account's status line.
    const lines = table.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 1 + 1000 + 1);
    assert.match(lines.at(-1)!, /^Account: enabled/);
  });

  test("an unknown account is not found (6)", async () => {
    const r = await camctl("user", "clients", `nobody-${Date.now()}@${sb.host}`);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /no account/i);
  });

  test("a host without mod_client_management exits 8 and says what to load", async () => {
    const { jid } = await sb.createAccount("carol", sb.bareHost);
    const r = await camctl("user", "clients", jid);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /client_management/);
    const revoke = await camctl("user", "revoke_client", jid, "grant/abc", "--yes");
    assert.equal(revoke.code, 8, revoke.stderr);
  });

  test("a host the server does not serve is not found (6)", async () => {
    const r = await camctl("user", "clients", "alice@elsewhere.invalid");
    assert.equal(r.code, 6, r.stderr);
  });
});

describe("user revoke_client over the admin socket", () => {
  test("revoking a grant removes it from the list; JSON says revoked", async () => {
    const { jid } = await sb.createAccount("dave");
    const keep = await sb.createGrant(jid, { software: "Keep me" });
    const grantId = await sb.createGrant(jid, { software: "Revoke me" });
    const r = await camctl("user", "revoke_client", jid, grantId, "--yes", "--json");
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.deepEqual({ jid: body.jid, selector: body.selector, revoked: body.revoked }, { jid, selector: grantId, revoked: true });
    const ids = (await listJson(jid)).map((c) => c.id);
    assert.ok(!ids.includes(grantId), "revoked grant is gone");
    assert.ok(ids.includes(keep), "the other grant is untouched");
  });

  test("Prosody's log names the OS user and $SUDO_USER who revoked, filtered (no line break, capped)", async () => {
    const { userInfo } = await import("node:os");
    const { jid } = await sb.createAccount("olga");
    const grantId = await sb.createGrant(jid, { software: "Logged" });
    const r = await runCamctl(["user", "revoke_client", jid, grantId, "--yes", "--socket", sb.socketPath], { timeoutMs: 30_000, env: { SUDO_USER: "alice" } });
    assert.equal(r.code, 0, r.stderr);
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match(sb.readLog(), new RegExp(`admin socket \\(user ${esc(userInfo().username)}, sudo alice\\) revoked ${esc(grantId)} of ${esc(jid)}`));

    const hostile = "mallory\nfake line\t" + "x".repeat(200);
    const grant2 = await sb.createGrant(jid, { software: "Logged 2" });
    const r2 = await runCamctl(["user", "revoke_client", jid, grant2, "--yes", "--socket", sb.socketPath], { timeoutMs: 30_000, env: { SUDO_USER: hostile } });
    assert.equal(r2.code, 0, r2.stderr);
    const line = sb.readLog().split("\n").find((l) => l.includes(`revoked ${grant2} of`));
    assert.ok(line, "the revocation is logged on one line");
    assert.match(line, new RegExp(`, sudo mallory\\?fake\\?line\\?x{46}\\) revoked `), "filtered and cut to 64 bytes");
  });

  test("the revoke-client alias and a software/ selector work", async () => {
    const { jid } = await sb.createAccount("erin");
    const grantId = await sb.createGrant(jid, { software: "Bot" });
    const r = await camctl("user", "revoke-client", jid, "software/Bot", "--yes");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!(await listJson(jid)).some((c) => c.id === grantId));
  });

  test("a password client answers password-reset-required (7) and says what to do", async () => {
    const { jid, password } = await sb.createAccount("frank");
    await sb.sasl2Login({ jid, password, userAgentId: randomUUID(), software: "Dino" });
    const client = (await listJson(jid)).find((c) => c.userAgent.software === "Dino");
    assert.ok(client);
    const r = await camctl("user", "revoke_client", jid, client.id, "--yes");
    assert.equal(r.code, 7, r.stderr);
    // Not connected, no FAST token: only its password login is left, which camctl cannot revoke.
    assert.equal(r.stderr, `camctl: ${client.id} (Dino) has nothing to revoke but its password login: it signed in with ${jid}'s password and can come back with it until the password is changed: \`camctl user lockout ${jid} --new-password-file <file>\` sets a new one and revokes everything else the account has.\n`);
    assert.equal(r.stdout, "");
  });

  test("an unknown id is not found (6)", async () => {
    const { jid } = await sb.createAccount("grace");
    const r = await camctl("user", "revoke_client", jid, "client/doesnotexist", "--yes");
    assert.equal(r.code, 6, r.stderr);
    const dry = await camctl("user", "revoke_client", jid, "grant/doesnotexist", "--dry-run");
    assert.equal(dry.code, 6, dry.stderr);
  });

  test("without a terminal it needs --yes and revokes nothing otherwise (2)", async () => {
    const { jid } = await sb.createAccount("heidi");
    const grantId = await sb.createGrant(jid, { software: "Stay" });
    const r = await camctl("user", "revoke_client", jid, grantId);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--yes/);
    assert.ok((await listJson(jid)).some((c) => c.id === grantId), "still there");
  });

  test("--dry-run shows the match and changes nothing", async () => {
    const { jid } = await sb.createAccount("ivan");
    const grantId = await sb.createGrant(jid, { software: "Preview" });
    const before = await listJson(jid);
    const r = await camctl("user", "revoke_client", jid, grantId, "--dry-run", "--json");
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { revoked: boolean; dryRun: boolean; client: JsonClient };
    assert.equal(out.revoked, false);
    assert.equal(out.dryRun, true);
    assert.equal(out.client.id, grantId);
    const human = await camctl("user", "revoke_client", jid, grantId, "--dry-run");
    assert.equal(human.code, 0);
    assert.ok(human.stdout.includes(grantId));
    assert.deepEqual(await listJson(jid), before);
  });
});

describe("bad input and missing servers", () => {
  const badJids = ["", "alice", "@camctl.test", "alice@", "alice@camctl.test/res", "al ice@camctl.test", "a\"b@camctl.test", "alice@bad_domain!", "ali\x1bce@camctl.test"];
  for (const bad of badJids) {
    test(`bad JID ${JSON.stringify(bad)} exits 2 before contacting anything`, async () => {
      // A socket path that does not exist: reaching it would exit 3, so 2 proves nothing was sent.
      const r = await runCamctl(["user", "clients", bad, "--socket", "/nonexistent/prosody.sock"]);
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stderr, /\x1b|at .*\.js:\d+/);
    });
  }
  // Ids are chosen by clients ("client/a b", "client/a/b" are real ones): only an empty id or an unknown kind is refused.
  const badSelectors = ["", "grant", "grant/", "client/", "foo/bar", "software/"];
  for (const bad of badSelectors) {
    test(`bad selector ${JSON.stringify(bad)} exits 2`, async () => {
      const r = await runCamctl(["user", "revoke_client", "alice@camctl.test", bad, "--yes", "--socket", "/nonexistent/prosody.sock"]);
      assert.equal(r.code, 2, r.stderr);
    });
  }
  test("unknown option and missing argument exit 2", async () => {
    assert.equal((await runCamctl(["user", "clients", "--bogus"])).code, 2);
    assert.equal((await runCamctl(["user", "clients"])).code, 2);
    assert.equal((await runCamctl(["user", "clients", "a@b.c", "-o", "xml"])).code, 2);
    assert.equal((await runCamctl(["user", "clients", "a@b.c", "--timeout", "0"])).code, 2);
  });
  test("a missing socket exits 3 and names the path", async () => {
    const r = await runCamctl(["user", "clients", "alice@camctl.test", "--socket", "/nonexistent/prosody.sock"]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /\/nonexistent\/prosody\.sock/);
    assert.match(r.stderr, /running/);
  });
  test("an empty --socket is a usage error (2) with its own sentence, not a stale socket", async () => {
    const r = await runCamctl(["user", "clients", "alice@camctl.test", "--socket", ""]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^camctl: --socket was given an empty path\. Give the path of Prosody's admin socket/);
    assert.doesNotMatch(r.stderr, /stale|refused/);
  });
  test("CAMCTL_SOCKET is honoured", async () => {
    const { jid } = await sb.createAccount("judy");
    const r = await runCamctl(["user", "clients", jid, "--json"], { env: { CAMCTL_SOCKET: sb.socketPath } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(sb.socketPath), true);
  });
});
