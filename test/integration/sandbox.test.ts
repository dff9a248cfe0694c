// Tests of the test server itself: the sandbox Prosody and the stand-in
// mod_client_management (or a real one, via $CAMCTL_PROSODY_PLUGIN_PATHS).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";

import { startSandbox, type Sandbox, type SandboxClient } from "../sandbox/sandbox.js";
import { luaString as q } from "../sandbox/admin-socket.js";

/**
 * The stand-in answers both namespaces; the real mod_client_management is documented only for
 * Prosody's own. When a real module replaces the stand-in (CAMCTL_PROSODY_PLUGIN_PATHS), its
 * protocol is checked in the namespace its README documents.
 */
async function namespacesToCheck(sb: Sandbox): Promise<string[]> {
  const path = await sb.lua(`return prosody.hosts[${JSON.stringify(sb.host)}].modules.client_management.module.path or ""`);
  const standIn = path.includes("test/fixtures/prosody-plugins");
  return standIn ? ["xmpp:prosody.im/protocol/manage-clients", "urn:xmpp:cam:0"] : ["xmpp:prosody.im/protocol/manage-clients"];
}

interface ClientSummary {
  id: string;
  type: string;
  auth: string[];
  connected: boolean;
  software: string | null;
  version: string | null;
  device: string | null;
  full_jid: string | null;
  first_seen: number | null;
  last_seen: number | null;
}

function asArray<T>(v: unknown): T[] {
  // util.json encodes an empty table as {} or [].
  if (Array.isArray(v)) return v as T[];
  if (v && typeof v === "object" && Object.keys(v).length === 0) return [];
  throw new Error("expected an array, got " + JSON.stringify(v));
}

/** get_active_clients() as seen through the admin socket, minus anything secret. */
async function activeClients(sb: Sandbox, username: string, host = sb.host): Promise<ClientSummary[]> {
  const json = await sb.lua(`local cm = prosody.hosts[${q(host)}].modules.client_management
local out = {}
for _, c in ipairs(cm.get_active_clients(${q(username)})) do
  local auth = {}
  for k in pairs(c.active or {}) do
    if k ~= "connected" then auth[#auth + 1] = k end
  end
  table.sort(auth)
  local ua = c.user_agent or {}
  out[#out + 1] = {
    id = c.id, type = c.type, auth = auth,
    connected = (c.active and c.active.connected) and true or false,
    software = ua.software or json_null, version = ua.software_version or json_null,
    device = ua.device or json_null, full_jid = c.full_jid or json_null,
    first_seen = c.first_seen or json_null, last_seen = c.last_seen or json_null,
  }
end
return require "prosody.util.json".encode(out)`.replace(/json_null/g, 'require "prosody.util.json".null'));
  return asArray<ClientSummary>(JSON.parse(json)).map((c) => ({ ...c, auth: asArray<string>(c.auth) }));
}

/** The row of a `user clients` table whose first cell is `id` (or a truncated prefix of it). */
function rowFor(table: string, id: string): string | undefined {
  return table.split("\n").find((line) => {
    const first = line.split("|")[0]?.trim() ?? "";
    if (first === id) return true;
    return first.endsWith("…") && first.length > 8 && id.startsWith(first.slice(0, -1));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

test("the sandbox starts, serves verified TLS on both ports, and stops without leftovers", async () => {
  const sb = await startSandbox();
  const { pid, dir } = sb;
  let stopped = false;
  try {
    assert.ok(pid > 0 && isAlive(pid), "prosody is running");
    assert.ok(fs.existsSync(sb.socketPath), "admin socket exists");
    assert.ok(sb.socketPath.startsWith(dir) && sb.configPath.startsWith(dir) && sb.caFile.startsWith(dir));
    assert.match(fs.readFileSync(sb.caFile, "utf8"), /BEGIN CERTIFICATE/);
    assert.deepEqual([sb.host, sb.strictHost, sb.bareHost], ["camctl.test", "strict.camctl.test", "bare.camctl.test"]);
    assert.match(await sb.lua("prosody.version"), /^13\./);

    // Direct TLS: the certificate verifies against caFile for every host name.
    const ca = fs.readFileSync(sb.caFile);
    for (const servername of [sb.host, sb.strictHost, sb.bareHost]) {
      await new Promise<void>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port: sb.directTlsPort, servername, ca }, () => {
          try {
            assert.equal(s.authorized, true, `certificate verified for ${servername}`);
            resolve();
          } catch (e) {
            reject(e);
          } finally {
            s.destroy();
          }
        });
        s.on("error", reject);
      });
    }
    // ...and not against the system trust store alone.
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port: sb.directTlsPort, servername: sb.host }, () => {
          s.destroy();
          resolve();
        });
        s.on("error", (e) => {
          s.destroy();
          reject(e);
        });
      }),
    );

    await sb.stop();
    stopped = true;
    assert.equal(isAlive(pid), false, "prosody is gone after stop()");
    assert.equal(fs.existsSync(dir), false, "temp dir removed");
    await sb.stop(); // idempotent
  } finally {
    if (!stopped) await sb.stop();
  }
});

test("a mod_client_management in $CAMCTL_PROSODY_PLUGIN_PATHS replaces the stand-in", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-plugins-"));
  fs.mkdirSync(path.join(dir, "mod_client_management"));
  fs.writeFileSync(path.join(dir, "mod_client_management", "mod_client_management.lua"),
    `-- test double: proves which module Prosody loaded\nfunction get_active_clients() return {} end\nfunction revoke_client_access() return nil, "item-not-found" end\n`);
  const saved = process.env.CAMCTL_PROSODY_PLUGIN_PATHS;
  process.env.CAMCTL_PROSODY_PLUGIN_PATHS = `/nonexistent/plugins:${dir}`;
  let sb: Sandbox | undefined;
  try {
    sb = await startSandbox();
    const loaded = await sb.lua(`return prosody.hosts[${q(sb.host)}].modules.client_management.module.path`);
    assert.equal(loaded, path.join(dir, "mod_client_management", "mod_client_management.lua"));
  } finally {
    if (saved === undefined) delete process.env.CAMCTL_PROSODY_PLUGIN_PATHS;
    else process.env.CAMCTL_PROSODY_PLUGIN_PATHS = saved;
    await sb?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe("stand-in mod_client_management through the sandbox helpers", () => {
  let sb: Sandbox;
  let alice: { jid: string; password: string };
  let gajim: SandboxClient;
  let grantId: string;

  before(async () => {
    sb = await startSandbox({ admins: ["admin@camctl.test"] });
    alice = await sb.createAccount("alice");
    gajim = await sb.sasl2Login({
      jid: alice.jid,
      password: alice.password,
      userAgentId: "b5b3a8c4-2f1e-4a43-9d2c-0f6f1f0e7a11",
      software: "Gajim",
      version: "1.9.0",
      device: "Juliet's laptop",
      keepConnected: true,
    });
    await sb.sasl2Login({
      jid: alice.jid,
      password: alice.password,
      userAgentId: "6d0c7c1e-3a57-4c8e-8a53-8f6f2b1d9c22",
      software: "Conversations",
      device: "Juliet's phone",
      requestFast: true,
      mechanism: "SCRAM-SHA-1",
    });
    await sb.legacyLogin({ jid: alice.jid, password: alice.password, resource: "old-desktop", keepConnected: true });
    grantId = await sb.createGrant(alice.jid, { software: "REST client", uri: "https://rest.example/", ttlSeconds: 30 * 86400 });
  });

  after(async () => {
    await sb?.stop();
  });

  test("admins get prosody:operator (above prosody:admin) on the main host", async () => {
    assert.equal(await sb.lua(`prosody.hosts[${q(sb.host)}].authz.get_user_role("admin").name`), "prosody:operator");
    assert.equal(await sb.lua(`prosody.hosts[${q(sb.host)}].authz.get_user_role("alice").name`), "prosody:member");
  });

  test("get_active_clients reports each client with its type and auth methods", async () => {
    const list = await activeClients(sb, "alice");
    assert.equal(list.length, 4, JSON.stringify(list));

    const g = list.find((c) => c.software === "Gajim");
    assert.ok(g, "Gajim listed");
    assert.match(g.id, /^client\/./);
    assert.equal(g.type, "session");
    assert.deepEqual(g.auth, ["password"]);
    assert.equal(g.connected, true);
    assert.equal(g.device, "Juliet's laptop");

    const c = list.find((x) => x.software === "Conversations");
    assert.ok(c, "Conversations listed");
    assert.equal(c.type, "session");
    assert.deepEqual(c.auth, ["fast", "password"]);
    assert.equal(c.connected, false);

    const legacy = list.find((x) => x.full_jid?.endsWith("/old-desktop"));
    assert.ok(legacy, "legacy client tracked by its resource");
    assert.match(legacy.id, /^client\/./);
    assert.equal(legacy.type, "session");
    assert.deepEqual(legacy.auth, ["password"]);
    assert.equal(legacy.connected, true);

    const grant = list.find((x) => x.id === grantId);
    assert.ok(grant, `grant ${grantId} listed`);
    assert.match(grantId, /^grant\/./);
    assert.equal(grant.type, "access");
    assert.deepEqual(grant.auth, ["grant"]);
    assert.equal(grant.connected, false);
    assert.equal(grant.software, "REST client");

    for (const x of list) {
      assert.equal(typeof x.first_seen, "number");
      assert.equal(typeof x.last_seen, "number");
    }
  });

  test("`prosodyctl shell user clients` prints the table and the count, and no secrets", async () => {
    const list = await activeClients(sb, "alice");
    const r = await sb.shell("user", "clients", alice.jid);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    const header = lines.find((l) => /^ID\b/.test(l));
    assert.ok(header, r.stdout);
    for (const col of ["ID", "Software", "First seen", "Last seen", "Expires", "Authentication"]) {
      assert.ok(header.includes(col), `column ${col} in ${header}`);
    }
    for (const c of list) {
      const row = rowFor(r.stdout, c.id);
      assert.ok(row, `row for ${c.id} in:\n${r.stdout}`);
      for (const method of c.auth) assert.ok(row.includes(method), `${method} shown for ${c.id}: ${row}`);
      if (c.software) assert.ok(row.includes(c.software), `${c.software} shown: ${row}`);
    }
    assert.equal(lines.at(-1), "OK: 4 clients");
    assert.doesNotMatch(r.stdout, /secret-token|sha256:|tokens/);

    const nobody = await sb.createAccount("nobody");
    const empty = await sb.shell("user", "clients", nobody.jid);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^OK: No clients associated with this account$/m);
  });

  test("the XMPP protocol answers the account itself, in both namespaces", async () => {
    for (const ns of await namespacesToCheck(sb)) {
      for (const to of ["", ` to='${alice.jid}'`]) {
        const reply = await gajim.iq(`<iq type='get'${to}><list xmlns='${ns}'/></iq>`);
        assert.match(reply, /^<iq [^>]*type="result"/, reply);
        assert.ok(reply.includes(`<clients xmlns="${ns}">`), reply);
        assert.ok(reply.includes(`id="${grantId}"`), reply);
        assert.match(reply, /<first-seen>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/first-seen>/);
        assert.ok(reply.includes("<software>Gajim</software>"), reply);
        assert.doesNotMatch(reply, /secret|sha256/);
      }
      const missing = await gajim.iq(`<iq type='set'><revoke xmlns='${ns}' id='client/does-not-exist'/></iq>`);
      assert.match(missing, /type="error"/);
      assert.match(missing, /<item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
    }
    const other = await sb.createAccount("mallory");
    const m = await sb.sasl2Login({
      jid: other.jid,
      password: other.password,
      userAgentId: "0b9f0d2e-5f7a-4e4a-9d55-6a4c0c3e2b33",
      software: "Probe",
      keepConnected: true,
    });
    try {
      const reply = await m.iq(`<iq type='get' to='${alice.jid}'><list xmlns='xmpp:prosody.im/protocol/manage-clients'/></iq>`);
      assert.match(reply, /type="error"/, reply);
      assert.doesNotMatch(reply, /<clients/);
    } finally {
      await m.close();
    }
  });

  test("revoking a grant removes it", async () => {
    const r = await sb.shell("user", "revoke_client", alice.jid, grantId);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^OK: /m);
    const list = await activeClients(sb, "alice");
    assert.equal(list.find((c) => c.id === grantId), undefined);
    assert.equal(list.length, 3);
    const table = await sb.shell("user", "clients", alice.jid);
    assert.equal(rowFor(table.stdout, grantId), undefined);

    const again = await sb.shell("user", "revoke_client", alice.jid, grantId);
    assert.notEqual(again.code, 0);
    assert.match(again.stdout + again.stderr, /Error: .*item-not-found/);
  });

  test("revoking a password client answers password-reset-required and closes its session", async () => {
    const before = await activeClients(sb, "alice");
    const g = before.find((c) => c.software === "Gajim");
    assert.ok(g && g.connected);

    const r = await sb.shell("user", "revoke_client", alice.jid, g.id);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Error: .*password-reset-required/);

    const disconnected = await waitFor(async () => {
      const now = await activeClients(sb, "alice");
      return now.find((c) => c.id === g.id)?.connected === false;
    });
    assert.ok(disconnected, "the live session was closed");
    const after = (await activeClients(sb, "alice")).find((c) => c.id === g.id);
    assert.deepEqual(after?.auth, ["password"], "still has access through the password");
  });

  test("revoking a FAST client by software name revokes its tokens first", async () => {
    const r = await sb.lua(`local ok, err = prosody.hosts[${q(sb.host)}].modules.client_management.revoke_client_access("alice", "software/Conversations")
return tostring(ok) .. " " .. tostring(err)`);
    assert.equal(r, "nil password-reset-required");
    const c = (await activeClients(sb, "alice")).find((x) => x.software === "Conversations");
    assert.deepEqual(c?.auth, ["password"], "FAST token revoked");

    const unknown = await sb.lua(`local ok, err = prosody.hosts[${q(sb.host)}].modules.client_management.revoke_client_access("alice", "client/no-such-client")
return tostring(ok) .. " " .. tostring(err)`);
    assert.equal(unknown, "nil item-not-found");
  });

  test("a password client over XMPP: service-unavailable with the application condition", async () => {
    const legacy = (await activeClients(sb, "alice")).find((x) => x.full_jid?.endsWith("/old-desktop"));
    assert.ok(legacy);
    for (const ns of await namespacesToCheck(sb)) {
      const reply = await gajimOrFresh().then((cl) => cl.iq(`<iq type='set'><revoke xmlns='${ns}' id='${legacy.id}'/></iq>`));
      assert.match(reply, /type="error"/, reply);
      assert.match(reply, /<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
      assert.ok(reply.includes(`<password-reset-required xmlns="${ns}"/>`), reply);
    }
  });

  // Gajim's session was closed by the revocation above; log in afresh.
  let fresh: SandboxClient | undefined;
  async function gajimOrFresh(): Promise<SandboxClient> {
    fresh ??= await sb.sasl2Login({
      jid: alice.jid,
      password: alice.password,
      userAgentId: "c0c9c0a4-0a43-4b7e-a2f5-6f1b5d7d8e44",
      software: "Dino",
      keepConnected: true,
    });
    return fresh;
  }

  test("a host without the module says so", async () => {
    await sb.createAccount("carol", sb.bareHost);
    const r = await sb.shell("user", "clients", `carol@${sb.bareHost}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /not available on bare\.camctl\.test/);
  });

  test("enforce_client_ids refuses a legacy login and accepts SASL2 with a user-agent id", async () => {
    const bob = await sb.createAccount("bob", sb.strictHost);
    await assert.rejects(sb.legacyLogin({ jid: bob.jid, password: bob.password, resource: "legacy" }));
    await sb.sasl2Login({
      jid: bob.jid,
      password: bob.password,
      userAgentId: "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a55",
      software: "Monal",
    });
    const list = await activeClients(sb, "bob", sb.strictHost);
    assert.equal(list.length, 1, JSON.stringify(list));
    assert.equal(list[0]?.software, "Monal");
    assert.equal(list[0]?.type, "session");
    assert.deepEqual(list[0]?.auth, ["password"]);

    // The same legacy login works on the normal host.
    const dave = await sb.createAccount("dave");
    await sb.legacyLogin({ jid: dave.jid, password: dave.password, resource: "legacy" });
  });
});
