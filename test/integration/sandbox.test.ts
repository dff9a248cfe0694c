// Tests of the test server itself: the sandbox Prosody, and mod_client_management as the real
// module behaves (see "What the module does" below). They reach the module only the ways a real
// server offers: its public functions get_active_clients / revoke_client_access (through the
// admin socket), the XMPP protocol, `prosodyctl shell`, and real client logins. They pass against
// the stand-in in test/fixtures and against the real module ($CAMCTL_PROSODY_PLUGIN_PATHS).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";

import { startSandbox, sqliteStorageAvailable, type PopulateClientSpec, type Sandbox } from "../sandbox/sandbox.js";
import { luaString as q } from "../sandbox/admin-socket.js";
import { rawSasl2, rawLegacyLogin, NS_SASL, type RawSasl2Options, type RawUserAgent, type RawXmppConnection, type XmlElement } from "../sandbox/raw-client.js";

const MC = "xmpp:prosody.im/protocol/manage-clients";
const CAM = "urn:xmpp:cam:0";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const LOGIN_MS = 10_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => Promise<boolean>, ms = 8000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(50);
  }
  return cond();
}

/** Waits until the clock has moved past the current second (the module keeps whole seconds). */
async function nextSecond(): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) <= now) await sleep(25);
}

// ---------------------------------------------------------------------------------------------
// The module through its public functions

interface Listed {
  id: string;
  type: string;
  /** Keys of `active`, sorted ("connected" included). */
  active: string[];
  /** Keys of the entry itself, sorted: the stored record's layout shows through. */
  fields: string[];
  first_seen: number | null;
  last_seen: number | null;
  expires: number | null;
  user_agent: Record<string, string> | null;
  mechanisms: Record<string, number> | null;
  full_jid: string | null;
  legacy: boolean | null;
  fast_auth: number | null;
  auth_token_id: string | null;
}

/** util.json writes an empty table as [] */
function asObject<T>(v: unknown): Record<string, T> | null {
  if (v === null) return null;
  if (Array.isArray(v) && v.length === 0) return {};
  return v as Record<string, T>;
}

/** get_active_clients(username), minus secrets (only the keys of `active` leave the server). */
async function listed(sb: Sandbox, username: string, host = sb.host): Promise<Listed[]> {
  const json = await sb.lua(`local json = require "prosody.util.json"
local null = json.null
local function keys(t) local out = {} for k in pairs(t or {}) do out[#out + 1] = k end table.sort(out) return out end
local out = {}
for _, c in ipairs(prosody.hosts[${q(host)}].modules.client_management.get_active_clients(${q(username)})) do
  out[#out + 1] = {
    id = c.id, type = c.type, active = keys(c.active), fields = keys(c),
    first_seen = c.first_seen or null, last_seen = c.last_seen or null, expires = c.expires or null,
    user_agent = c.user_agent or null, mechanisms = c.mechanisms or null, full_jid = c.full_jid or null,
    legacy = c.legacy == nil and null or c.legacy, fast_auth = c.fast_auth or null, auth_token_id = c.auth_token_id or null,
  }
end
return json.encode(out)`);
  const raw = JSON.parse(json) as unknown[];
  return (Array.isArray(raw) ? raw : []).map((x) => {
    const c = x as Listed;
    return { ...c, user_agent: asObject<string>(c.user_agent), mechanisms: asObject<number>(c.mechanisms) };
  });
}

/** revoke_client_access(username, selector) as "<ok> <err>" (tostring of both), or "raised: <error>". */
async function revoke(sb: Sandbox, username: string, selector: string | null, host = sb.host): Promise<string> {
  return sb.lua(`local ok, a, b = pcall(prosody.hosts[${q(host)}].modules.client_management.revoke_client_access, ${q(username)}, ${selector === null ? "nil" : q(selector)})
if not ok then return "raised: " .. tostring(a) end
return tostring(a) .. " " .. tostring(b)`);
}

const find = (list: Listed[], id: string) => list.find((c) => c.id === id);

// ---------------------------------------------------------------------------------------------
// Logins

interface Account {
  jid: string;
  local: string;
  password: string;
  host: string;
}

interface Login {
  conn: RawXmppConnection;
  jid: string;
  fastToken: string | null;
}

type LoginOptions = Partial<Omit<RawSasl2Options, "username">> & { userAgent: RawUserAgent | null; keep?: boolean; bind?: boolean };

async function tryLogin(sb: Sandbox, a: Account, o: LoginOptions) {
  const conn = await sb.rawConnect({ host: a.host, from: a.jid });
  const result = await rawSasl2(
    conn,
    a.host,
    {
      username: a.local,
      mechanism: o.mechanism ?? "PLAIN",
      secret: o.secret ?? a.password,
      userAgent: o.userAgent,
      bindTag: o.bind === false ? undefined : o.bindTag ?? "test",
      requestFastToken: o.requestFastToken,
    },
    LOGIN_MS,
  );
  return { conn, result };
}

/** A SASL2 login (PLAIN and Bind2 unless told otherwise); logged out again unless `keep`. */
async function login(sb: Sandbox, a: Account, o: LoginOptions): Promise<Login> {
  const { conn, result } = await tryLogin(sb, a, o);
  if (!result.ok) {
    conn.destroy();
    throw new Error(`login of ${a.jid} failed: ${String(result.failure)}`);
  }
  if (!o.keep) await conn.close();
  return { conn, jid: result.jid, fastToken: result.fastToken };
}

async function legacyLogin(sb: Sandbox, a: Account, resource: string, keep = false): Promise<Login> {
  const conn = await sb.rawConnect({ host: a.host, from: a.jid });
  const jid = await rawLegacyLogin(conn, { username: a.local, password: a.password, resource }, LOGIN_MS);
  if (!keep) await conn.close();
  return { conn, jid, fastToken: null };
}

let iqCounter = 0;

/**
 * Sends `stanza` and then a ping. One c2s stream's stanzas are handled in order, so once the
 * ping is answered, whatever the server was going to answer to `stanza` has been sent. Returns
 * that answer, or null when there was none.
 */
async function answerBeforePing(conn: RawXmppConnection, stanza: string, host: string): Promise<XmlElement | null> {
  const id = `probe-${++iqCounter}`;
  conn.send(stanza.replace(/^<iq\b/, `<iq id='${id}'`));
  const pong = await conn.iq(`<iq type='get' to='${host}'><ping xmlns='urn:xmpp:ping'/></iq>`, LOGIN_MS);
  assert.ok(pong, "the ping is answered");
  return conn.pending().find((el) => el.attrs.id === id) ?? null;
}

function stanzaError(el: XmlElement): { type: string; condition: string; text: string | null; extra: string[] } {
  const error = el.child("error");
  assert.ok(error, `an error reply: ${String(el)}`);
  const condition = error.children.find((c) => c.ns === STANZAS && c.name !== "text");
  return {
    type: error.attrs.type ?? "",
    condition: condition?.name ?? "",
    text: error.child("text", STANZAS)?.text ?? null,
    extra: error.children.filter((c) => c.ns !== STANZAS).map((c) => `${c.name} ${c.ns}`),
  };
}

// ---------------------------------------------------------------------------------------------
// The sandbox itself

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
    assert.equal(sb.storage, "internal");

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

// ---------------------------------------------------------------------------------------------
// What the module does

/** Records client_management/new-client events (test only). */
const NEW_CLIENT_RECORDER = `prosody.camctl_new_clients = {}
module:hook("client_management/new-client", function (event)
  local list = prosody.camctl_new_clients
  list[#list + 1] = { id = event.client.id, first_seen = event.client.first_seen, full_jid = event.session.full_jid, username = event.session.username }
end)
`;

describe("mod_client_management as the real module behaves", () => {
  let sb: Sandbox;
  let counter = 0;
  let expiring: { account: Account; grantId: string };

  /** A fresh account with a known password. */
  async function account(name: string, host?: string): Promise<Account> {
    const a = await sb.createAccount(`${name}${++counter}`, host ?? sb.host, `pw-${randomUUID()}`);
    const [local, domain] = a.jid.split("@") as [string, string];
    return { ...a, local, host: domain };
  }

  async function newClientEvents(username: string): Promise<Array<{ id: string; first_seen: number; full_jid: string }>> {
    const json = await sb.lua(`local out = {}
for _, e in ipairs(prosody.camctl_new_clients) do if e.username == ${q(username)} then out[#out + 1] = e end end
return require "prosody.util.json".encode(out)`);
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? (v as Array<{ id: string; first_seen: number; full_jid: string }>) : [];
  }

  before(async () => {
    sb = await startSandbox({ testModules: { camctl_test_new_clients: NEW_CLIENT_RECORDER } });
    // A grant with a one-second lifetime, checked much later (see "expired grants"). mod_cron
    // runs mod_tokenauth's daily clean-up one second after start (then hourly): make the grant
    // after that, so that only the listing can be what removes it.
    assert.ok(await waitFor(async () => /\tRunning periodic tasks/.test(sb.readLog()), 10_000), "mod_cron's first round");
    const a = await account("expiry");
    // (Made directly: createGrant lists the account, which could already see it expired.)
    const id = await sb.lua(`local g = assert(prosody.hosts[${q(sb.host)}].modules.tokenauth.create_grant(${q(a.jid)}, ${q(a.jid)}, 1, { oauth2_client = { name = "Short-lived" } }))
return g.id`);
    expiring = { account: a, grantId: `grant/${id}` };
  });

  after(async () => {
    await sb?.stop();
  });

  test("a SASL2 client's id is exactly its <user-agent id>: slashes, spaces, any length, empty", async () => {
    const a = await account("ids");
    const long = "x".repeat(300);
    for (const id of ["a/b", "with space", "é/ü ✓", long, ""]) await login(sb, a, { userAgent: { id, software: "Ids" } });
    const list = await listed(sb, a.local);
    assert.deepEqual(list.map((c) => c.id).sort(), ["client/", "client/a/b", "client/with space", "client/é/ü ✓", `client/${long}`].sort());
    for (const c of list) assert.deepEqual(c.active, ["password"], c.id);
    assert.equal(await revoke(sb, a.local, "client/a/b"), "nil password-reset-required");
    assert.equal(await revoke(sb, a.local, `client/${long}`), "nil password-reset-required");
    // client/ is listed, but the selector needs something after the slash.
    assert.equal(await revoke(sb, a.local, "client/"), "nil item-not-found");
  });

  test("records keep their layout: SASL2, legacy, grant; the user agent is {software, device} only", async () => {
    const a = await account("layout");
    const t0 = Math.floor(Date.now() / 1000);
    const sasl2 = await login(sb, a, { userAgent: { id: "layout-1", software: "Gajim", version: "1.9.5", device: "Laptop", uri: "https://gajim.org/" } });
    const legacy = await legacyLogin(sb, a, "desk");
    const grantId = await sb.createGrant(a.jid, { software: "WebApp", softwareId: "webapp-1", version: "2.0", uri: "https://webapp.example/", ttlSeconds: 3600 });
    await sb.lua(`assert(prosody.hosts[${q(sb.host)}].modules.tokenauth.create_grant(${q(a.jid)}, ${q(a.jid)}, nil, nil)) return "ok"`);
    const t1 = Math.floor(Date.now() / 1000);
    const list = await listed(sb, a.local);
    assert.equal(list.length, 4, JSON.stringify(list));

    const s = find(list, "client/layout-1")!;
    assert.ok(s, JSON.stringify(list));
    assert.deepEqual(s.fields, ["active", "first_seen", "full_jid", "id", "last_seen", "mechanisms", "type", "user_agent"]);
    assert.equal(s.type, "session");
    assert.deepEqual(s.user_agent, { software: "Gajim", device: "Laptop" }, "mod_sasl2 keeps no version or URI");
    assert.deepEqual(Object.keys(s.mechanisms!), ["PLAIN"]);
    assert.equal(s.full_jid, sasl2.jid);
    assert.ok(s.first_seen! >= t0 && s.first_seen! <= t1 && s.last_seen === s.first_seen && s.mechanisms!.PLAIN === s.first_seen);

    const l = list.find((c) => c.full_jid === legacy.jid)!;
    assert.ok(l, "the legacy client is listed");
    assert.deepEqual(l.fields, ["active", "first_seen", "full_jid", "id", "last_seen", "legacy", "mechanisms", "type"]);
    assert.match(l.id, /^client\/[A-Za-z0-9_-]{12}$/, "a short random id");
    assert.equal(l.legacy, true);
    assert.equal(l.user_agent, null, "legacy clients have no user agent");
    assert.deepEqual(Object.keys(l.mechanisms!), ["PLAIN"]);
    assert.deepEqual(l.active, ["password"]);

    const g = find(list, grantId)!;
    assert.ok(g, grantId);
    assert.deepEqual(g.fields, ["active", "expires", "first_seen", "id", "last_seen", "type", "user_agent"]);
    assert.equal(g.type, "access");
    assert.deepEqual(g.active, ["grant"]);
    assert.deepEqual(g.user_agent, { software: "WebApp", software_id: "webapp-1", software_version: "2.0", uri: "https://webapp.example/" });
    assert.equal(g.expires, g.first_seen! + 3600);

    const bare = list.find((c) => c.type === "access" && c.id !== grantId)!;
    assert.deepEqual(bare.fields, ["active", "first_seen", "id", "last_seen", "type"], "a grant without an OAuth client has no user agent");
  });

  test("the user agent is taken at the first login and never updated; last_seen is the last login, not the logout", async () => {
    const a = await account("ua");
    await login(sb, a, { userAgent: { id: "ua-1", software: "First", device: "Old phone" } });
    const [before] = await listed(sb, a.local);
    await nextSecond();
    const second = await login(sb, a, { userAgent: { id: "ua-1", software: "Second", device: "New phone" }, keep: true });
    const [during] = await listed(sb, a.local);
    assert.deepEqual(during!.user_agent, { software: "First", device: "Old phone" });
    assert.equal(during!.first_seen, before!.first_seen);
    assert.ok(during!.last_seen! > before!.last_seen!, "a new login moves last_seen");
    assert.deepEqual(during!.active, ["connected", "password"]);
    await nextSecond();
    await second.conn.close();
    assert.ok(await waitFor(async () => !(await listed(sb, a.local))[0]!.active.includes("connected")));
    assert.equal((await listed(sb, a.local))[0]!.last_seen, during!.last_seen, "logging out does not touch last_seen");
    assert.equal((await newClientEvents(a.local)).length, 1, "client_management/new-client fired once");
  });

  test("legacy clients get a random short id and are found again by their full JID", async () => {
    const a = await account("legacy");
    const first = await legacyLogin(sb, a, "desk");
    const [one] = await listed(sb, a.local);
    await legacyLogin(sb, a, "desk");
    const again = await listed(sb, a.local);
    assert.equal(again.length, 1);
    assert.equal(again[0]!.id, one!.id);
    assert.equal(again[0]!.first_seen, one!.first_seen);
    await legacyLogin(sb, a, "laptop");
    const two = await listed(sb, a.local);
    assert.equal(two.length, 2);
    assert.notEqual(two.find((c) => c.id !== one!.id)!.id, one!.id);
    const events = await newClientEvents(a.local);
    assert.deepEqual(events.map((e) => `client/${e.id}`).sort(), two.map((c) => c.id).sort(), "one new-client event per client");
    assert.equal(events.find((e) => `client/${e.id}` === one!.id)!.full_jid, first.jid, "the event carries the session");
  });

  test("client_management/new-client fires on the first sight of a client, with the record and the session", async () => {
    const a = await account("events");
    const l = await login(sb, a, { userAgent: { id: "ev-1", software: "Dino" } });
    await login(sb, a, { userAgent: { id: "ev-1", software: "Dino" } });
    const events = await newClientEvents(a.local);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.id, "ev-1", "the stored record (its id without client/)");
    assert.equal(events[0]!.full_jid, l.jid);
    assert.equal(events[0]!.first_seen, (await listed(sb, a.local))[0]!.first_seen);
  });

  test("permissions :list-clients and :manage-clients belong to prosody:registered; a guest is refused", async () => {
    const may = await sb.lua(`local authz = prosody.hosts[${q(sb.host)}].authz
local out = {}
for _, role in ipairs({ "prosody:guest", "prosody:registered", "prosody:member" }) do
  for _, perm in ipairs({ "client_management:list-clients", "client_management:manage-clients" }) do
    out[#out + 1] = role .. " " .. perm .. " " .. tostring(authz.get_role_by_name(role):may(perm) and true or false)
  end
end
return table.concat(out, "\\n")`);
    assert.deepEqual(may.split("\n"), [
      "prosody:guest client_management:list-clients false",
      "prosody:guest client_management:manage-clients false",
      "prosody:registered client_management:list-clients true",
      "prosody:registered client_management:manage-clients true",
      "prosody:member client_management:list-clients true",
      "prosody:member client_management:manage-clients true",
    ]);
    const a = await account("guest");
    await sb.lua(`assert(require "prosody.core.usermanager".set_user_role(${q(a.local)}, ${q(sb.host)}, "prosody:guest")) return "ok"`);
    const g = await login(sb, a, { userAgent: { id: "guest-1", software: "Probe" }, keep: true });
    for (const stanza of [`<iq type='get'><list xmlns='${MC}'/></iq>`, `<iq type='set'><revoke xmlns='${MC}' id='client/guest-1'/></iq>`]) {
      const reply = await g.conn.iq(stanza);
      assert.ok(reply);
      assert.deepEqual(stanzaError(reply), { type: "auth", condition: "forbidden", text: null, extra: [] });
    }
    await g.conn.close();
  });

  test("password: only logins since the last password change; the change drops older clients and grants, the records stay", async () => {
    const a = await account("pwchange");
    await login(sb, a, { userAgent: { id: "pw-1", software: "Gajim" } });
    const grantId = await sb.createGrant(a.jid, { software: "Old grant" });
    const [before] = await listed(sb, a.local);
    await nextSecond();
    const newPassword = `pw-${randomUUID()}`;
    await sb.lua(`assert(require "prosody.core.usermanager".set_password(${q(a.local)}, ${q(newPassword)}, ${q(sb.host)})) return "ok"`);
    assert.deepEqual(await listed(sb, a.local), [], "neither the client nor the grant from before the change");
    assert.match(await revoke(sb, a.local, "client/pw-1"), /^raised: .*attempt to index a nil value/, "a stored client without access makes revoke raise");
    assert.equal(await revoke(sb, a.local, grantId), "nil item-not-found");
    await login(sb, { ...a, password: newPassword }, { userAgent: { id: "pw-1", software: "Gajim" } });
    const [again] = await listed(sb, a.local);
    assert.equal(again!.id, "client/pw-1");
    assert.equal(again!.first_seen, before!.first_seen, "the record was kept");
    assert.deepEqual(again!.active, ["password"]);
    assert.equal((await newClientEvents(a.local)).length, 1);
  });

  test("fast: only after a login WITH a FAST token that is still valid; revoke then removes the tokens it logged in with", async () => {
    const a = await account("fast");
    const first = await login(sb, a, { userAgent: { id: "fast-1", software: "Conversations" }, requestFastToken: true });
    assert.ok(first.fastToken, "a FAST token was issued");
    assert.deepEqual((await listed(sb, a.local))[0]!.active, ["password"], "obtaining a token is not enough");
    const viaFast = await login(sb, a, { userAgent: { id: "fast-1" }, mechanism: "HT-SHA-256-NONE", secret: first.fastToken!, keep: true });
    const [during] = await listed(sb, a.local);
    assert.deepEqual(during!.active, ["connected", "fast", "password"]);
    assert.deepEqual(Object.keys(during!.mechanisms!).sort(), ["HT-SHA-256-NONE", "PLAIN"]);
    assert.equal(during!.fast_auth, during!.last_seen);
    assert.ok(during!.fields.includes("fast_auth"));
    await viaFast.conn.close();
    assert.ok(await waitFor(async () => (await listed(sb, a.local))[0]!.active.join() === "fast,password"));

    assert.equal(await revoke(sb, a.local, "client/fast-1"), "nil password-reset-required");
    assert.deepEqual((await listed(sb, a.local))[0]!.active, ["password"]);
    const { conn, result } = await tryLogin(sb, a, { userAgent: { id: "fast-1" }, mechanism: "HT-SHA-256-NONE", secret: first.fastToken! });
    conn.destroy();
    assert.equal(result.ok, false, "the FAST token was revoked");
  });

  test("a client that only obtained a FAST token: its token is never revoked", async () => {
    const a = await account("fastonly");
    const first = await login(sb, a, { userAgent: { id: "fo-1", software: "Monal" }, requestFastToken: true });
    for (let i = 0; i < 2; i++) assert.equal(await revoke(sb, a.local, "client/fo-1"), "nil password-reset-required");
    assert.deepEqual((await listed(sb, a.local))[0]!.active, ["password"]);
    const back = await login(sb, a, { userAgent: { id: "fo-1" }, mechanism: "HT-SHA-256-NONE", secret: first.fastToken! });
    assert.match(back.jid, /@/, "the client logs straight back in with it");
  });

  test("a client with only a FAST token left: revoke is true, and the record stays", async () => {
    const a = await account("fastclient");
    const { token } = await sb.createAccessToken(a.jid, { software: "Web login" });
    const first = await login(sb, a, { userAgent: { id: "fc-1", software: "Dino", device: "Tablet" }, mechanism: "OAUTHBEARER", secret: token, requestFastToken: true });
    await login(sb, a, { userAgent: { id: "fc-1" }, mechanism: "HT-SHA-256-NONE", secret: first.fastToken! });
    const [before] = (await listed(sb, a.local)).filter((c) => c.id === "client/fc-1");
    assert.deepEqual(before?.active, ["fast"], "no password was ever used");
    assert.equal(await revoke(sb, a.local, "client/fc-1"), "true nil");
    assert.equal(find(await listed(sb, a.local), "client/fc-1"), undefined);
    const { conn, result } = await tryLogin(sb, a, { userAgent: { id: "fc-1" }, mechanism: "HT-SHA-256-NONE", secret: first.fastToken! });
    conn.destroy();
    assert.equal(result.ok, false, "its FAST token is gone");
    assert.match(await revoke(sb, a.local, "client/fc-1"), /^raised: .*attempt to index a nil value/, "stored, but without access");
    await login(sb, a, { userAgent: { id: "fc-1", software: "Dino 2" } });
    const [again] = (await listed(sb, a.local)).filter((c) => c.id === "client/fc-1");
    assert.equal(again!.first_seen, before!.first_seen, "the same record, never deleted");
    assert.deepEqual(again!.user_agent, { software: "Dino", device: "Tablet" });
  });

  test("OAUTHBEARER: the session is never tied to its grant; revoking the grant leaves the session connected", async () => {
    const a = await account("oauth");
    const { grantId, token } = await sb.createAccessToken(a.jid, { software: "WebApp" });
    const s = await login(sb, a, { userAgent: { id: "oa-1", software: "Web client" }, mechanism: "OAUTHBEARER", secret: token, keep: true });
    let list = await listed(sb, a.local);
    const session = find(list, "client/oa-1")!;
    assert.deepEqual(session.active, ["connected"], "no method: the grant is never found for it");
    assert.equal(session.auth_token_id, grantId.slice("grant/".length));
    assert.deepEqual(session.user_agent, { software: "Web client" });
    assert.deepEqual(find(list, grantId)!.active, ["grant"], "the grant is listed on its own");

    assert.equal(await revoke(sb, a.local, grantId), "true nil");
    assert.equal(await revoke(sb, a.local, grantId), "nil item-not-found");
    list = await listed(sb, a.local);
    assert.equal(find(list, grantId), undefined);
    assert.deepEqual(find(list, "client/oa-1")?.active, ["connected"], "the session logged in with that grant is not closed");
    assert.ok(await s.conn.iq(`<iq type='get' to='${sb.host}'><ping xmlns='urn:xmpp:ping'/></iq>`), "and still works");

    await s.conn.close();
    assert.ok(await waitFor(async () => find(await listed(sb, a.local), "client/oa-1") === undefined), "not listed after it disconnects");
    assert.match(await revoke(sb, a.local, "client/oa-1"), /^raised: .*attempt to index a nil value/);
  });

  test("a connected client: bare </stream:stream>, nil, nil, and nothing else (tokens and grants stay valid)", async () => {
    const a = await account("conn");
    const grantId = await sb.createGrant(a.jid, { software: "Bot" });
    const first = await login(sb, a, { userAgent: { id: "c-1", software: "Gajim" }, requestFastToken: true });
    const live = await login(sb, a, { userAgent: { id: "c-1" }, mechanism: "HT-SHA-256-NONE", secret: first.fastToken!, keep: true });
    live.conn.answerServerClose = false;
    assert.deepEqual(find(await listed(sb, a.local), "client/c-1")!.active, ["connected", "fast", "password"]);

    assert.equal(await revoke(sb, a.local, "client/c-1"), "nil nil");
    assert.ok(await live.conn.waitUntil(() => live.conn.serverClosed, LOGIN_MS), "the server ended the stream");
    assert.ok(live.conn.received.endsWith("</stream:stream>"), live.conn.received.slice(-200));
    assert.doesNotMatch(live.conn.received, /<stream:error/, "no stream error");
    // Until the client answers the close (or c2s_close_timeout passes) it is still connected.
    assert.deepEqual(find(await listed(sb, a.local), "client/c-1")!.active, ["connected", "fast", "password"]);
    assert.equal(await revoke(sb, a.local, "client/c-1"), "nil nil", "a second call in that window");
    live.conn.destroy();
    assert.ok(await waitFor(async () => !find(await listed(sb, a.local), "client/c-1")!.active.includes("connected")));
    const after = await listed(sb, a.local);
    assert.deepEqual(find(after, "client/c-1")!.active, ["fast", "password"], "its FAST token was not revoked");
    assert.deepEqual(find(after, grantId)!.active, ["grant"]);
    await login(sb, a, { userAgent: { id: "c-1" }, mechanism: "HT-SHA-256-NONE", secret: first.fastToken! });
  });

  test("selectors that match nothing: item-not-found", async () => {
    const a = await account("nomatch");
    await login(sb, a, { userAgent: { id: "nm-1", software: "Gajim" } });
    for (const selector of ["client/unknown", "client/", "grant/unknown", "garbage", "foo/bar", "software/Nope", "", null]) {
      assert.equal(await revoke(sb, a.local, selector), "nil item-not-found", String(selector));
    }
  });

  test("software/<name> and software/<name>/<version>: the first listed match; SASL2 clients never match a version", async () => {
    const a = await account("software");
    await login(sb, a, { userAgent: { id: "sw-1", software: "Bot", version: "3.0" } });
    const g1 = await sb.createGrant(a.jid, { software: "Bot", version: "1.0" });
    const g2 = await sb.createGrant(a.jid, { software: "Bot", version: "2.0" });
    await sb.createGrant(a.jid, { software: "Bot 2" });
    assert.equal(await revoke(sb, a.local, "software/Bot/3.0"), "nil item-not-found");
    assert.equal(await revoke(sb, a.local, "software/Bot/2.0"), "true nil");
    let list = await listed(sb, a.local);
    assert.equal(find(list, g2), undefined);
    assert.equal(list.length, 3);
    const firstBot = list.find((c) => c.user_agent?.software === "Bot")!;
    const expected = firstBot.id === "client/sw-1" ? "nil password-reset-required" : "true nil";
    assert.equal(await revoke(sb, a.local, "software/Bot"), expected, `the first listed Bot is ${firstBot.id}`);
    list = await listed(sb, a.local);
    if (firstBot.id === g1) assert.equal(find(list, g1), undefined);
    assert.ok(find(list, "client/sw-1"), "a password client stays listed");
  });

  test("listing order: ascending last_seen; a client that logs in again moves to the end", async () => {
    const a = await account("order");
    await login(sb, a, { userAgent: { id: "o-1", software: "A" } });
    await login(sb, a, { userAgent: { id: "o-2", software: "B" } });
    await sb.createGrant(a.jid, { software: "C" });
    await nextSecond();
    await login(sb, a, { userAgent: { id: "o-1", software: "A" } });
    const list = await listed(sb, a.local);
    assert.equal(list.at(-1)!.id, "client/o-1");
    for (let i = 1; i < list.length; i++) assert.ok(list[i - 1]!.last_seen! <= list[i]!.last_seen!, JSON.stringify(list));
  });

  test("expired grants are deleted while listing (mod_tokenauth does it)", async () => {
    const { account: a, grantId } = expiring;
    const raw = grantId.slice("grant/".length);
    const stored = () =>
      sb.lua(`local store = require "prosody.core.storagemanager".open(${q(sb.host)}, "auth_tokens", "keyval+")
return tostring(store:get_key(${q(a.local)}, ${q(raw)}) ~= nil)`);
    // The grant was made in before(); wait (if at all) until it has expired.
    const expires = Number(await sb.lua(`local s = require "prosody.core.storagemanager".open(${q(sb.host)}, "auth_tokens", "keyval+")
return tostring(s:get_key(${q(a.local)}, ${q(raw)}).expires)`));
    while (Date.now() / 1000 < expires + 0.05) await sleep(50);
    assert.equal(await stored(), "true", "still in mod_tokenauth's store");
    assert.equal(find(await listed(sb, a.local), grantId), undefined);
    assert.equal(await stored(), "false", "listing removed it");
  });

  describe("over XMPP", () => {
    let a: Account;
    let me: Login;
    let grantId: string;
    let oauth: Login;

    before(async () => {
      a = await account("wire");
      me = await login(sb, a, { userAgent: { id: "wire-me", software: "Wire", device: "Desk" }, keep: true });
      await legacyLogin(sb, a, "old-desk");
      grantId = await sb.createGrant(a.jid, { software: "WebApp", softwareId: "webapp-1", version: "2.0", uri: "https://webapp.example/", ttlSeconds: 86400 });
      const access = await sb.createAccessToken(a.jid, { software: "Token app" });
      oauth = await login(sb, a, { userAgent: { id: "wire-oauth" }, mechanism: "OAUTHBEARER", secret: access.token, keep: true });
    });

    test("the list: Prosody's namespace, <bearer-token/>, id/version attributes on <software>, no <expires>, <auth> and <user-agent> always", async () => {
      const reply = await me.conn.iq(`<iq type='get'><list xmlns='${MC}'/></iq>`);
      assert.ok(reply && reply.attrs.type === "result", String(reply));
      const clients = reply.child("clients", MC);
      assert.ok(clients, String(reply));
      const byServer = await listed(sb, a.local);
      assert.deepEqual(clients.children.map((c) => c.attrs.id), byServer.map((c) => c.id), "the listing's entries, in its order");
      for (const el of clients.children) {
        const entry = find(byServer, el.attrs.id!)!;
        assert.equal(el.name, "client");
        assert.deepEqual(Object.keys(el.attrs).sort(), ["connected", "id", "type"]);
        assert.equal(el.attrs.type, entry.type);
        assert.equal(el.attrs.connected, String(entry.active.includes("connected")));
        assert.deepEqual(el.children.map((c) => c.name), ["first-seen", "last-seen", "auth", "user-agent"], String(el));
        for (const t of ["first-seen", "last-seen"]) assert.match(el.child(t)!.text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        const methods = el.child("auth")!.children.map((c) => c.name);
        const expected = [["password", "password"], ["bearer-token", "grant"], ["fast", "fast"]].filter(([, key]) => entry.active.includes(key!)).map(([name]) => name);
        assert.deepEqual(methods, expected, `auth of ${entry.id}`);
      }
      const grant = clients.children.find((c) => c.attrs.id === grantId)!;
      const software = grant.child("user-agent")!.child("software")!;
      assert.deepEqual({ ...software.attrs, text: software.text }, { id: "webapp-1", version: "2.0", text: "WebApp" });
      assert.equal(grant.child("user-agent")!.child("uri")!.text, "https://webapp.example/");
      assert.deepEqual(grant.child("auth")!.children.map((c) => c.name), ["bearer-token"]);
      const mine = clients.children.find((c) => c.attrs.id === "client/wire-me")!;
      assert.deepEqual(mine.child("user-agent")!.children.map((c) => `${c.name}=${c.text}`), ["software=Wire", "device=Desk"]);
      const legacyId = byServer.find((c) => c.legacy)!.id;
      assert.deepEqual(clients.children.find((c) => c.attrs.id === legacyId)!.child("user-agent")!.children, [], "the legacy client has an empty <user-agent/>");
      const oauthEntry = clients.children.find((c) => c.attrs.id === "client/wire-oauth")!;
      assert.equal(oauthEntry.child("auth")!.children.length, 0, "an empty <auth/> for the OAUTHBEARER session");
      assert.doesNotMatch(String(reply), /<expires|<permission|secret-token/);
    });

    test("urn:xmpp:cam:0 is not answered (service-unavailable) and no feature is advertised", async () => {
      for (const stanza of [`<iq type='get'><list xmlns='${CAM}'/></iq>`, `<iq type='set'><revoke xmlns='${CAM}' id='${grantId}'/></iq>`]) {
        const reply = await me.conn.iq(stanza);
        assert.ok(reply);
        assert.equal(stanzaError(reply).condition, "service-unavailable", String(reply));
      }
      assert.ok(find(await listed(sb, a.local), grantId), "nothing was revoked");
      for (const to of [sb.host, a.jid]) {
        const info = await me.conn.iq(`<iq type='get' to='${to}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
        assert.ok(info && info.attrs.type === "result", String(info));
        assert.doesNotMatch(String(info), /manage-clients|urn:xmpp:cam/);
      }
    });

    test("revoke errors: item-not-found, password-reset-required, undefined-condition, and no reply for a stored-but-inactive id", async () => {
      const revokeIq = (id: string | null) => `<iq type='set'><revoke xmlns='${MC}'${id === null ? "" : ` id='${id}'`}/></iq>`;
      for (const id of [null, "client/unknown", "garbage"]) {
        const r = await me.conn.iq(revokeIq(id));
        assert.deepEqual(stanzaError(r!), { type: "cancel", condition: "item-not-found", text: "Client not found", extra: [] }, String(id));
      }
      const legacyId = (await listed(sb, a.local)).find((c) => c.legacy)!.id;
      assert.deepEqual(stanzaError((await me.conn.iq(revokeIq(legacyId)))!), {
        type: "cancel",
        condition: "service-unavailable",
        text: "Password reset required",
        extra: [`password-reset-required ${MC}`],
      });
      const other = await login(sb, a, { userAgent: { id: "wire-other", software: "Other" }, keep: true });
      assert.deepEqual(stanzaError((await me.conn.iq(revokeIq("client/wire-other")))!), { type: "cancel", condition: "undefined-condition", text: null, extra: [] });
      assert.ok(await other.conn.waitUntil(() => other.conn.serverClosed, LOGIN_MS), "the other client's stream was ended");
      // Stored without a JID (no Bind2): never active, so the handler raises and says nothing.
      await login(sb, a, { userAgent: { id: "wire-nobind", software: "NoBind" }, bind: false });
      assert.equal(await answerBeforePing(me.conn, revokeIq("client/wire-nobind"), sb.host), null, "no reply at all");
      const ok = await me.conn.iq(revokeIq(grantId));
      assert.equal(ok!.attrs.type, "result");
      assert.equal(ok!.children.length, 0);
    });

    test("revoking the requesting session: a bare </stream:stream>, no stream error, no reply", async () => {
      oauth.conn.answerServerClose = false;
      oauth.conn.send(`<iq type='set' id='self-revoke'><revoke xmlns='${MC}' id='client/wire-oauth'/></iq>`);
      assert.ok(await oauth.conn.waitUntil(() => oauth.conn.serverClosed, LOGIN_MS));
      assert.ok(oauth.conn.received.endsWith("</stream:stream>"));
      assert.doesNotMatch(oauth.conn.received, /<stream:error|id=["']self-revoke["']/);
      oauth.conn.destroy();
    });

    test("a grant whose client name holds a control character: the list raises, no reply", async () => {
      const b = await account("ctrl");
      await sb.createGrant(b.jid, { software: "Bad\u0001Name" });
      const c = await login(sb, b, { userAgent: { id: "ctrl-1", software: "Probe" }, keep: true });
      assert.equal(await answerBeforePing(c.conn, `<iq type='get'><list xmlns='${MC}'/></iq>`, sb.host), null);
      await c.conn.close();
      const shell = await sb.shell("user", "clients", b.jid);
      assert.notEqual(shell.code, 0, "the shell's table breaks on it too");
      assert.doesNotMatch(shell.stdout, /^OK:/m);
    });
  });

  describe("enforce_client_ids = true", () => {
    test("SASL2 without a user-agent id fails with malformed-request; an empty id is an id", async () => {
      const a = await account("strict", sb.strictHost);
      for (const userAgent of [null, { software: "No id" }]) {
        const { conn, result } = await tryLogin(sb, a, { userAgent });
        conn.destroy();
        assert.equal(result.ok, false);
        if (result.ok) continue;
        assert.equal(result.failure.children[0]?.name, "malformed-request");
        assert.equal(result.failure.children[0]?.ns, NS_SASL);
        assert.equal(result.failure.child("text")?.text, "Client identifier required but not supplied");
      }
      await login(sb, a, { userAgent: { id: "", software: "Empty id" } });
      assert.deepEqual((await listed(sb, a.local, sb.strictHost)).map((c) => c.id), ["client/"]);
    });

    test("legacy SASL gets no answer (the module raises); mod_saslauth is reported at start-up", async (t) => {
      const a = await account("strictlegacy", sb.strictHost);
      const conn = await sb.rawConnect({ host: sb.strictHost });
      conn.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${a.local}\0${a.password}`).toString("base64")}</auth>`);
      // Whatever the server answers to <auth/> comes before the answer to the next request.
      const result = await rawSasl2(conn, a.host, { username: a.local, mechanism: "PLAIN", secret: a.password, userAgent: { id: "after-legacy" }, bindTag: "t" }, LOGIN_MS).catch(
        (e: Error) => e,
      );
      conn.destroy();
      if (result instanceof Error && /unexpected SASL2 answer <success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/.test(result.message)) {
        // mod_saslauth hooks the same event at the same priority, and the order of equal
        // priorities is not fixed: now and then it runs first, and the legacy login succeeds.
        t.diagnostic("mod_saslauth ran first this time: the legacy login succeeded");
      } else {
        assert.ok(!(result instanceof Error), String(result));
        assert.equal(result.ok, true, "the first answer on the stream is the SASL2 one");
        assert.ok(
          await waitFor(async () => /Traceback\[c2s\]:[^\n]*attempt to index a nil value/.test(sb.readLog()), 3000),
          "the module raised on the legacy <auth/>",
        );
      }
      assert.match(sb.readLog(), /strict\.camctl\.test:client_management\terror\t[^\n]*(saslauth[^\n]*enforce_client_ids|enforce_client_ids[^\n]*saslauth)/);
      assert.doesNotMatch(sb.readLog(), /\tcamctl\.test:client_management\terror\t[^\n]*saslauth/, "only where enforce_client_ids is set");
    });
  });

  test("other crashes: without Bind2 a client is stored but never listed; without an id it is tracked like a legacy client", async () => {
    const a = await account("nobind");
    const c = await login(sb, a, { userAgent: { id: "nb-1", software: "NoBind" }, bind: false, keep: true });
    assert.deepEqual(await listed(sb, a.local), [], "not even while connected");
    assert.match(await revoke(sb, a.local, "client/nb-1"), /^raised: .*attempt to index a nil value/);
    await c.conn.close();

    const b = await account("noid");
    const d = await login(sb, b, { userAgent: { software: "No id" }, keep: true });
    const [entry] = await listed(sb, b.local);
    assert.ok(entry, "listed while connected");
    assert.equal(entry.legacy, true);
    assert.match(entry.id, /^client\/[A-Za-z0-9_-]{12}$/);
    assert.deepEqual(entry.mechanisms, {}, "its login method was not noted");
    assert.deepEqual(entry.active, ["connected"]);
    assert.equal(entry.full_jid, d.jid);
    await d.conn.close();
    assert.ok(await waitFor(async () => (await listed(sb, b.local)).length === 0), "and gone once it disconnects");
  });

  describe("prosodyctl shell", () => {
    test("user clients: header, rule, rows, rule, OK: N clients; software as name/version; every active key", async () => {
      const a = await account("shell");
      const live = await login(sb, a, { userAgent: { id: "sh-1", software: "Gajim", version: "1.9" }, keep: true });
      const grantId = await sb.createGrant(a.jid, { software: "Bot", version: "2.0", ttlSeconds: 10 * 86400 });
      await legacyLogin(sb, a, "old");
      const list = await listed(sb, a.local);
      const r = await sb.shell("user", "clients", a.jid);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.replace(/\n$/, "").split("\n");
      assert.deepEqual(lines[0]!.split("|").map((s) => s.trim()), ["ID", "Software", "First seen", "Last seen", "Expires", "Authentication"]);
      assert.equal(lines[1], "-".repeat(130), "a rule as wide as the session");
      assert.equal(lines.at(-2), lines[1]);
      assert.equal(lines.at(-1), "OK: 3 clients");
      const rows = lines.slice(2, -2).map((l) => l.split("|").map((s) => s.trim()));
      // Long ids are cut to the column with an ellipsis.
      const shows = (cell: string | undefined, id: string) => cell === id || (!!cell?.endsWith("…") && id.startsWith(cell.slice(0, -1)));
      assert.equal(rows.length, list.length);
      rows.forEach((cells, i) => assert.ok(shows(cells[0], list[i]!.id), `row ${i} is ${list[i]!.id}: ${cells[0]}`));
      const cells = (id: string) => rows.find((row) => shows(row[0], id))!;
      assert.deepEqual(cells("client/sh-1").slice(1).filter((_, i) => i !== 1 && i !== 2), ["Gajim", "", "connected, password"], "a SASL2 client never has a version");
      assert.equal(cells(grantId)[1], "Bot/2.0");
      assert.match(cells(grantId)[4]!, /^\d{4}-\d\d-\d\d$/, "a date when the expiry is a day or more away");
      assert.match(cells(grantId)[2]!, /^\d\d:\d\d:\d\d$/, "a time when it is recent");
      assert.equal(cells(grantId)[5], "grant");
      await live.conn.close();

      for (const jid of [(await account("shellempty")).jid, `nobody-${randomUUID()}@${sb.host}`]) {
        const empty = await sb.shell("user", "clients", jid);
        assert.equal(empty.code, 0, empty.stderr);
        assert.equal(empty.stdout, "OK: No clients associated with this account\n");
      }
    });

    test("user revoke_client: the texts", async () => {
      const a = await account("shellrevoke");
      const grantId = await sb.createGrant(a.jid, { software: "Bot" });
      await login(sb, a, { userAgent: { id: "sr-pw", software: "Gajim" } });
      const live = await login(sb, a, { userAgent: { id: "sr-live", software: "Dino" }, keep: true });
      await login(sb, a, { userAgent: { id: "sr-nobind", software: "NoBind" }, bind: false });
      const run = (selector: string) => sb.shell("user", "revoke_client", a.jid, selector);

      const ok = await run(grantId);
      assert.deepEqual([ok.code, ok.stdout], [0, "OK: Client access revoked\n"]);
      const none = await run(grantId);
      assert.equal(none.code, 1);
      assert.equal(none.stdout + none.stderr, "Error: Client not found\n");
      const pw = await run("client/sr-pw");
      assert.equal(pw.stdout + pw.stderr, "Error: Password reset required\n");
      const connected = await run("client/sr-live");
      assert.equal(connected.stdout + connected.stderr, "Error: error<cancel:undefined-condition:>\n");
      assert.ok(await live.conn.waitUntil(() => live.conn.serverClosed, LOGIN_MS));
      const inactive = await run("client/sr-nobind");
      assert.equal(inactive.code, 1);
      assert.match(inactive.stdout + inactive.stderr, /^[^\n]*mod_client_management\.lua:\d+: attempt to index a nil value[^\n]*\n$/, "a raw Lua error line");
    });

    test("a host without the module says so", async () => {
      await sb.createAccount(`carol${++counter}`, sb.bareHost);
      const r = await sb.shell("user", "clients", `carol${counter}@${sb.bareHost}`);
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /not available on bare\.camctl\.test/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Sandbox options and helpers

/** The same accounts and clients on a sandbox; what the module lists and revokes, with random ids replaced by names. */
async function storageScenario(sb: Sandbox): Promise<unknown> {
  const clients: PopulateClientSpec[] = [
    { kind: "sasl2", software: "Conversations", device: "Phone", fastToken: true, userAgentId: "phone" },
    { kind: "sasl2", software: "Gajim", device: "Laptop", userAgentId: "laptop", keepConnected: true },
    { kind: "legacy", resource: "old-desk" },
    { kind: "grant", software: "Webmail", version: "1.0", ttlSeconds: 86400 },
    { kind: "grant", software: "Bot" },
  ];
  const [alice, bob] = await sb.populate({ accounts: 2, prefix: "store", clients });
  const names = new Map<string, string>();
  for (const acct of [alice!, bob!]) {
    for (const c of acct.clients) names.set(c.id, c.kind === "legacy" ? "legacy" : c.kind === "grant" ? `grant:${c.software}` : c.id);
  }
  const view = async (user: string) =>
    (await listed(sb, user)).map((c) => ({ id: names.get(c.id) ?? c.id, type: c.type, active: c.active, ua: c.user_agent, legacy: c.legacy }))
      .sort((x, y) => (x.id < y.id ? -1 : 1));
  const before = await view("store1");
  const grantOf = (name: string) => alice!.clients.find((c) => c.software === name && c.kind === "grant")!.id;
  const results = [
    await revoke(sb, "store1", grantOf("Bot")),
    await revoke(sb, "store1", grantOf("Bot")),
    await revoke(sb, "store1", "software/Webmail/1.0"),
    await revoke(sb, "store1", "client/phone"),
    await revoke(sb, "store1", alice!.clients.find((c) => c.kind === "legacy")!.id),
  ];
  const after = await view("store1");
  // Last: a connected client is listed as connected until it has answered the close.
  results.push(await revoke(sb, "store1", "client/laptop"));
  return { before, results, after, untouched: await view("store2") };
}

test("storage \"sqlite\": the module lists and revokes the same as with files", { skip: !sqliteStorageAvailable() && "LuaDBI's SQLite3 driver (lua-dbi-sqlite3) is not installed" }, async () => {
  const files = await startSandbox();
  const sqlite = await startSandbox({ storage: "sqlite" });
  try {
    assert.equal(sqlite.storage, "sqlite");
    assert.equal(await sqlite.lua(`return prosody.hosts[${q(sqlite.host)}].modules.storage_sql and "sql" or "other"`), "sql");
    const [a, b] = await Promise.all([storageScenario(files), storageScenario(sqlite)]);
    assert.deepEqual(b, a);
    assert.ok(fs.existsSync(path.join(sqlite.dir, "prosody.sqlite")), "the data went into the database");
  } finally {
    await Promise.all([files.stop(), sqlite.stop()]);
  }
});

test("populate(): accounts with real clients, as the module lists them; stop() closes what it opened", async () => {
  const sb = await startSandbox();
  let stopped = false;
  try {
    const started = Date.now();
    const accounts = await sb.populate({
      accounts: 12,
      clients: (i) => [
        { kind: "sasl2", software: "Conversations", device: "Phone", fastToken: true },
        { kind: "sasl2", software: "Gajim", device: "Laptop", keepConnected: i % 4 === 0 },
        { kind: "legacy" },
        { kind: "grant", software: "Webmail", ttlSeconds: 3600 },
      ],
    });
    const took = Date.now() - started;
    assert.equal(accounts.length, 12);
    assert.deepEqual(accounts.map((x) => x.jid), Array.from({ length: 12 }, (_, i) => `pop${i + 1}@${sb.host}`));
    for (const [i, acct] of accounts.entries()) {
      const list = await listed(sb, acct.localpart);
      assert.deepEqual(list.map((c) => c.id).sort(), acct.clients.map((c) => c.id).sort(), acct.jid);
      const [phone, laptop, legacy, grant] = acct.clients;
      assert.ok(phone!.fastToken?.startsWith("secret-token:"), "the phone got a FAST token");
      assert.deepEqual(find(list, phone!.id)!.user_agent, { software: "Conversations", device: "Phone" });
      assert.deepEqual(find(list, laptop!.id)!.active, i % 4 === 0 ? ["connected", "password"] : ["password"]);
      assert.equal(laptop!.connection !== null, i % 4 === 0);
      assert.equal(find(list, legacy!.id)!.full_jid, legacy!.fullJid);
      assert.ok(find(list, grant!.id)!.expires);
    }
    assert.equal(await sb.lua(`return tostring(require "prosody.core.usermanager".test_password("pop3", ${q(sb.host)}, ${q(accounts[2]!.password)}))`), "true");
    const open = accounts.flatMap((x) => x.clients).filter((c) => c.connection);
    assert.equal(open.length, 3);
    await sb.stop();
    stopped = true;
    assert.ok(open.every((c) => c.connection!.socketClosed), "stop() closed the connections populate() left open");
    assert.ok(took < 60_000, `populate took ${took} ms`);
  } finally {
    if (!stopped) await sb.stop();
  }
});

test("serveXep0494: a test-only module answers urn:xmpp:cam:0 (with <permission/>) on top of the module's public functions", async () => {
  const sb = await startSandbox({ serveXep0494: true });
  try {
    const [acct] = await sb.populate({
      accounts: 1,
      prefix: "cam",
      clients: [
        { kind: "sasl2", software: "Dino", device: "Desk", userAgentId: "cam-me", keepConnected: true },
        { kind: "grant", software: "Bot", version: "1.0" },
      ],
    });
    const me = acct!.clients[0]!.connection!;
    const grantId = acct!.clients[1]!.id;
    const reply = await me.iq(`<iq type='get'><list xmlns='${CAM}'/></iq>`);
    const clients = reply?.child("clients", CAM);
    assert.ok(clients, String(reply));
    assert.deepEqual(clients.children.map((c) => c.attrs.id), (await listed(sb, acct!.localpart)).map((c) => c.id));
    for (const c of clients.children) assert.equal(c.child("permission", CAM)?.attrs.status, "unrestricted");
    const grant = clients.children.find((c) => c.attrs.id === grantId)!;
    assert.deepEqual(grant.child("auth")!.children.map((c) => c.name), ["grant"], "XEP-0494 says <grant/>");
    assert.equal(grant.child("user-agent")!.child("software")!.text, "Bot");
    const info = await me.iq(`<iq type='get' to='${acct!.jid}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.match(String(info), /var="urn:xmpp:cam:0"/);

    const pw = await me.iq(`<iq type='set'><revoke xmlns='${CAM}' id='client/cam-me-not'/></iq>`);
    assert.equal(stanzaError(pw!).condition, "item-not-found");
    const done = await me.iq(`<iq type='set'><revoke xmlns='${CAM}' id='${grantId}'/></iq>`);
    assert.equal(done!.attrs.type, "result");
    assert.equal(find(await listed(sb, acct!.localpart), grantId), undefined);
    // Prosody's own namespace is still the module's.
    const mc = await me.iq(`<iq type='get'><list xmlns='${MC}'/></iq>`);
    assert.ok(mc?.child("clients", MC));
    assert.doesNotMatch(String(mc), /<permission/);
  } finally {
    await sb.stop();
  }
});
