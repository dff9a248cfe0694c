// The companion module (prosody/mod_client_management_admin) on the wire, against a real Prosody:
// its complete revocation in urn:camctl:admin:0 for an account itself and for admins, and its
// list replies to admins. Checked by logging in with what was revoked, never by reading a store.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { luaString } from "../sandbox/admin-socket.js";
import { child, createBearerGrant, rawSasl2Login, type Element, type RawLogin, type RawLoginOptions } from "../helpers/sasl2-raw.js";

const NS = "urn:camctl:admin:0";
const MC = "xmpp:prosody.im/protocol/manage-clients";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

let sb: Sandbox;
const open: Array<{ close(): Promise<void> }> = [];
let admin: Extract<RawLogin, { ok: true }>;

before(async () => {
  sb = await startSandbox({ extraModules: ["client_management_admin"], admins: ["boss"] });
  const boss = await sb.createAccount("boss");
  admin = await login({ jid: boss.jid, userAgentId: randomUUID(), software: "camctl", credential: { password: boss.password }, keepConnected: true });
});
after(async () => {
  for (const c of open) await c.close().catch(() => undefined);
  await sb?.stop();
});

async function login(o: RawLoginOptions): Promise<Extract<RawLogin, { ok: true }>> {
  const r = await rawSasl2Login(sb, o);
  assert.ok(r.ok, `login refused: ${r.ok ? "" : r.condition}`);
  if (o.keepConnected) open.push(r);
  return r;
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&apos;");
let iqCount = 0;

/** <revoke/> in urn:camctl:admin:0, with the expectation taken from a listed <client/>. */
function revokeIq(o: { to?: string; id: string; expect?: { type: string; firstSeen?: string; software?: string; device?: string } | null }): string {
  const e = o.expect;
  const expect = e === null ? "" :
    `<expect type='${escape(e?.type ?? "session")}'${e?.firstSeen ? ` first-seen='${e.firstSeen}'` : ""}>` +
    (e?.software !== undefined ? `<software>${escape(e.software)}</software>` : "") +
    (e?.device !== undefined ? `<device>${escape(e.device)}</device>` : "") +
    `</expect>`;
  return `<iq type='set' id='r${++iqCount}'${o.to ? ` to='${escape(o.to)}'` : ""}><revoke xmlns='${NS}' id='${escape(o.id)}'>${expect}</revoke></iq>`;
}

function listIq(to: string | undefined, xmlns = MC): string {
  return `<iq type='get' id='l${++iqCount}'${to ? ` to='${escape(to)}'` : ""}><list xmlns='${xmlns}'/></iq>`;
}

/** The <client/> elements of a list reply, by id. */
function clients(reply: Element): Map<string, Element> {
  assert.equal(reply.attrs.type, "result", JSON.stringify(reply));
  return new Map((child(reply, "clients")?.children ?? []).map((c) => [c.attrs.id!, c]));
}

/** What a listed <client/> says about itself, as camctl sends it back in <expect/>. */
function expectationOf(c: Element) {
  const ua = child(c, "user-agent");
  return { type: c.attrs.type!, firstSeen: child(c, "first-seen")?.text, software: child(ua, "software")?.text, device: child(ua, "device")?.text };
}

const authOf = (c: Element | undefined) => (child(c, "auth")?.children ?? []).map((a) => a.name);

function errorOf(reply: Element): { type?: string; conditions: string[]; camctl: string[]; text?: string } {
  assert.equal(reply.attrs.type, "error", JSON.stringify(reply));
  const error = child(reply, "error")!;
  return {
    type: error.attrs.type,
    conditions: error.children.filter((c) => c.attrs.xmlns === STANZAS && c.name !== "text").map((c) => c.name),
    camctl: error.children.filter((c) => c.attrs.xmlns === NS).map((c) => c.name),
    text: child(error, "text")?.text,
  };
}

const logText = () => fs.readFileSync(path.join(sb.dir, "prosody.log"), "utf8");
const fastWorks = async (jid: string, userAgentId: string, token: string) => (await rawSasl2Login(sb, { jid, userAgentId, credential: { fastToken: token } })).ok;
const bearerWorks = async (jid: string, token: string) => (await rawSasl2Login(sb, { jid, userAgentId: randomUUID(), credential: { bearerToken: token } })).ok;

describe("urn:camctl:admin:0 revoke, by an admin for another account", () => {
  test("a connected FAST client: session closed with a stream error, FAST tokens revoked, the entry as listed afterwards", async () => {
    const bob = await sb.createAccount("bob");
    const id = randomUUID();
    const first = await login({ jid: bob.jid, userAgentId: id, software: "Conversations", device: "Pixel", credential: { password: bob.password }, requestFast: true });
    const phone = await login({ jid: bob.jid, userAgentId: id, credential: { fastToken: first.fastToken! }, keepConnected: true });
    const listed = clients(await admin.iq(listIq(bob.jid))).get(`client/${id}`)!;
    assert.deepEqual(authOf(listed), ["fast", "password"]);

    const reply = await admin.iq(revokeIq({ to: bob.jid, id: `client/${id}`, expect: expectationOf(listed) }));
    assert.equal(reply.attrs.type, "result", JSON.stringify(reply));
    const revoked = child(reply, "revoked")!;
    assert.equal(revoked.attrs.xmlns, NS);
    assert.equal(revoked.attrs.id, `client/${id}`);
    assert.deepEqual([revoked.attrs["session-closed"], revoked.attrs["fast-tokens-revoked"], revoked.attrs["grant-revoked"]], ["true", "true", "false"]);
    const afterwards = child(revoked, "client")!;
    assert.equal(afterwards.attrs.connected, "false");
    assert.deepEqual(authOf(afterwards), ["password"]);
    assert.equal(child(child(afterwards, "user-agent"), "device")?.text, "Pixel");

    assert.deepEqual(await phone.ended, { condition: "not-authorized", text: "Access for this client was revoked" });
    assert.equal(await fastWorks(bob.jid, id, first.fastToken!), false);
    assert.match(logText(), new RegExp(`client_management_admin\\tinfo\\tAdmin boss@${sb.host.replace(/\./g, "\\.")}/\\S+ revoked client/${id} of ${bob.jid.replace(/\./g, "\\.")}: revoked its FAST tokens, closed 1 session; still listed with password`));
  });

  test("a grant: revoked, no <client/> in the answer, its token no longer logs in", async () => {
    const carol = await sb.createAccount("carol");
    const { grantId, token } = await createBearerGrant(sb, carol.jid, { software: "Bot" });
    const listed = clients(await admin.iq(listIq(carol.jid))).get(grantId)!;
    const reply = await admin.iq(revokeIq({ to: carol.jid, id: grantId, expect: expectationOf(listed) }));
    const revoked = child(reply, "revoked")!;
    assert.equal(revoked.attrs["grant-revoked"], "true");
    assert.equal(child(revoked, "client"), undefined);
    assert.equal(await bearerWorks(carol.jid, token), false);
  });

  test("gone and changed entries: the protocol's errors, nothing revoked", async () => {
    const dave = await sb.createAccount("dave");
    const { grantId, token } = await createBearerGrant(sb, dave.jid, { software: "Bot" });
    const listed = clients(await admin.iq(listIq(dave.jid))).get(grantId)!;
    const expect = expectationOf(listed);

    const gone = errorOf(await admin.iq(revokeIq({ to: dave.jid, id: "grant/nope", expect })));
    assert.deepEqual([gone.type, gone.conditions, gone.camctl], ["cancel", ["item-not-found"], ["gone"]]);
    for (const changed of [{ ...expect, software: "Bot 2" }, { ...expect, type: "session" }, { ...expect, firstSeen: "2001-01-01T00:00:00Z" }, { ...expect, device: "x" }]) {
      const e = errorOf(await admin.iq(revokeIq({ to: dave.jid, id: grantId, expect: changed })));
      assert.deepEqual([e.type, e.conditions, e.camctl], ["cancel", ["conflict"], ["changed"]], JSON.stringify(changed));
    }
    assert.equal(await bearerWorks(dave.jid, token), true);
  });

  test("refusals: a non-admin (forbidden), no such account, a bad request; each logged", async () => {
    const erin = await sb.createAccount("erin");
    const frank = await sb.createAccount("frank");
    const { grantId } = await createBearerGrant(sb, frank.jid, { software: "Bot" });
    const user = await login({ jid: erin.jid, userAgentId: randomUUID(), credential: { password: erin.password }, keepConnected: true });
    const forbidden = errorOf(await user.iq(revokeIq({ to: frank.jid, id: grantId, expect: { type: "access", software: "Bot" } })));
    assert.deepEqual(forbidden.conditions, ["forbidden"]);
    assert.deepEqual(errorOf(await user.iq(listIq(frank.jid))).conditions, ["forbidden"]);
    assert.match(logText(), new RegExp(`Refused to revoke a client of ${frank.jid.replace(/\./g, "\\.")} for ${erin.jid.replace(/\./g, "\\.")}/`));

    const nobody = errorOf(await admin.iq(revokeIq({ to: `nobody-${randomUUID().slice(0, 8)}@${sb.host}`, id: "grant/x", expect: { type: "access" } })));
    assert.deepEqual([nobody.conditions, nobody.camctl], [["item-not-found"], []], "no such account: without <gone/>");
    assert.deepEqual(errorOf(await admin.iq(revokeIq({ to: frank.jid, id: grantId, expect: null }))).conditions, ["bad-request"]);
    assert.deepEqual(errorOf(await admin.iq(revokeIq({ to: frank.jid, id: grantId, expect: { type: "access", firstSeen: "last week" } }))).conditions, ["bad-request"]);
  });
});

describe("urn:camctl:admin:0 revoke, by an account for itself (no 'to')", () => {
  test("another of its clients: revoked", async () => {
    const gina = await sb.createAccount("gina");
    const me = await login({ jid: gina.jid, userAgentId: randomUUID(), credential: { password: gina.password }, keepConnected: true });
    const other = randomUUID();
    const first = await login({ jid: gina.jid, userAgentId: other, software: "Tablet app", credential: { password: gina.password }, requestFast: true });
    const listed = clients(await me.iq(listIq(undefined))).get(`client/${other}`)!;
    const reply = await me.iq(revokeIq({ id: `client/${other}`, expect: expectationOf(listed) }));
    assert.equal(child(reply, "revoked")?.attrs["fast-tokens-revoked"], "true", JSON.stringify(reply));
    assert.equal(await fastWorks(gina.jid, other, first.fastToken!), false);
    assert.match(logText(), new RegExp(`Account ${gina.jid.replace(/\./g, "\\.")}/\\S+ revoked client/${other} of ${gina.jid.replace(/\./g, "\\.")}`));
  });

  test("its own session: the answer arrives first, then the session is closed with the stream error", async () => {
    const hank = await sb.createAccount("hank");
    const id = randomUUID();
    const me = await login({ jid: hank.jid, userAgentId: id, software: "camctl", credential: { password: hank.password }, keepConnected: true });
    const listed = clients(await me.iq(listIq(undefined))).get(`client/${id}`)!;
    const reply = await me.iq(revokeIq({ id: `client/${id}`, expect: expectationOf(listed) }));
    const revoked = child(reply, "revoked")!;
    assert.equal(revoked.attrs["session-closed"], "true");
    const afterwards = child(revoked, "client")!;
    assert.deepEqual(authOf(afterwards), ["password"]);
    assert.equal(afterwards.attrs.connected, "false", "its own session is closed right after this answer");
    assert.deepEqual(await me.ended, { condition: "not-authorized", text: "Access for this client was revoked" });
  });
});

describe("list replies to admins", () => {
  test("<expires>, software id and version as attributes, <grant/>, and hostile names that XML cannot carry", async () => {
    const ivan = await sb.createAccount("ivan");
    await sb.lua(`local t = prosody.hosts[${luaString(sb.host)}].modules.tokenauth
for _, name in ipairs({ "Web app", "Evil\\0\\27[31mname\\255" }) do
  local g = assert(t.create_grant(${luaString(ivan.jid)}, ${luaString(ivan.jid)}, 3600, { oauth2_client = { name = name, id = "app-id", version = "2.0", uri = "https://app.example/" } }))
  assert(t.create_token(${luaString(ivan.jid)}, g, nil, nil, "oauth2-refresh"))
end return "ok"`);
    const listed = [...clients(await admin.iq(listIq(ivan.jid))).values()];
    assert.equal(listed.length, 2);
    for (const c of listed) {
      assert.match(child(c, "expires")?.text ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.deepEqual(authOf(c), ["grant"]);
      const software = child(child(c, "user-agent"), "software")!;
      assert.deepEqual([software.attrs.id, software.attrs.version], ["app-id", "2.0"]);
      assert.equal(child(child(c, "user-agent"), "uri")?.text, "https://app.example/");
    }
    const names = listed.map((c) => child(child(c, "user-agent"), "software")!.text).sort();
    assert.deepEqual(names, ["Evil\ufffd\ufffd[31mname\ufffd", "Web app"]);
  });

  test("the module's own revoke by an admin is complete too, and says when the password remains", async () => {
    const judy = await sb.createAccount("judy");
    const id = randomUUID();
    const session = await login({ jid: judy.jid, userAgentId: id, credential: { password: judy.password }, keepConnected: true });
    const reply = await admin.iq(`<iq type='set' id='m${++iqCount}' to='${judy.jid}'><revoke xmlns='${MC}' id='client/${id}'/></iq>`);
    const e = errorOf(reply);
    assert.deepEqual(e.conditions, ["service-unavailable"]);
    assert.ok(child(child(reply, "error"), "password-reset-required"));
    assert.equal((await session.ended).condition, "not-authorized");
  });

  test("a host without mod_client_management: service-unavailable", async () => {
    await sb.lua(`assert(require "prosody.core.modulemanager".load(${luaString(sb.bareHost)}, "client_management_admin")) return "ok"`);
    const kim = await sb.createAccount("kim", sb.bareHost);
    const e = errorOf(await admin.iq(revokeIq({ to: kim.jid, id: "grant/x", expect: { type: "access" } })));
    assert.deepEqual(e.conditions, ["service-unavailable"]);
  });
});
