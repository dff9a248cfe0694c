// Both client-management namespaces, the fallback between them and its memory, against a real
// Prosody 13 (the sandbox). Prosody's mod_client_management speaks only its own namespace; XEP-0494's
// urn:xmpp:cam:0 comes from a small test-only module written here, which answers in that
// namespace through mod_client_management's public functions (get_active_clients,
// revoke_client_access) for accounts whose name says so ("onlycam..." / "both..."), refuses
// Prosody's namespace for "onlycam..." accounts and XEP-0494 for "onlymc..." ones, and counts the
// requests in each namespace.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { CamctlHome, homesRemovedAfterAll, socketList, xmppCamctl, xmppList } from "../helpers/xmpp-camctl.js";

const MC = "xmpp:prosody.im/protocol/manage-clients";
const CAM = "urn:xmpp:cam:0";

const FILTER_MODULE = `-- Test only: counts client-management requests per user, namespace and kind; serves XEP-0494
-- (with <permission/>) for "onlycam..." and "both..." accounts through mod_client_management's
-- public functions; refuses one namespace for some accounts, so camctl's fallback can be observed.
local st = require "prosody.util.stanza";
local dt = require "prosody.util.datetime";
local counts = {};
prosody.camctl_test_ns_counts = counts;
local function cm() return prosody.hosts[module.host].modules.client_management; end
local function client_element(c)
  local active = c.active or {};
  local el = st.stanza("client", { id = c.id, type = c.type, connected = active.connected and "true" or "false" });
  if c.first_seen then el:text_tag("first-seen", dt.datetime(c.first_seen)); end
  if c.last_seen then el:text_tag("last-seen", dt.datetime(c.last_seen)); end
  if c.expires then el:text_tag("expires", dt.datetime(c.expires)); end
  el:tag("auth");
  for _, k in ipairs({ "password", "grant", "fast" }) do if active[k] then el:tag(k):up(); end end
  el:up();
  local ua = c.user_agent or {};
  el:tag("user-agent");
  if ua.software then el:text_tag("software", ua.software, { id = ua.software_id, version = ua.software_version }); end
  if ua.device then el:text_tag("device", ua.device); end
  if ua.uri then el:text_tag("uri", ua.uri); end
  el:up();
  el:tag("permission", { status = "unrestricted" }):up();
  return el;
end
local function serve_cam(event, kind)
  local origin, stanza = event.origin, event.stanza;
  if kind == "list" then
    local reply = st.reply(stanza):tag("clients", { xmlns = "${CAM}" });
    for _, c in ipairs(cm().get_active_clients(origin.username)) do reply:add_child(client_element(c)); end
    origin.send(reply);
    return true;
  end
  local ok, done, err = pcall(cm().revoke_client_access, origin.username, stanza.tags[1].attr.id);
  if not ok then return true; end -- like the real module: no answer when it raises
  if done then origin.send(st.reply(stanza));
  elseif err == "password-reset-required" then
    origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "Password reset required"):tag("password-reset-required", { xmlns = "${CAM}" }));
  elseif err == "item-not-found" then origin.send(st.error_reply(stanza, "cancel", "item-not-found", "Client not found"));
  else origin.send(st.error_reply(stanza, "cancel", "undefined-condition")); end
  return true;
end
for _, ns in ipairs({ "${MC}", "${CAM}" }) do
  for _, ev in ipairs({ "iq-get/self/"..ns..":list", "iq-set/self/"..ns..":revoke" }) do
    module:hook(ev, function (event)
      local origin, stanza = event.origin, event.stanza;
      local kind = stanza.tags[1].name;
      local key = origin.username.." "..ns.." "..kind;
      counts[key] = (counts[key] or 0) + 1;
      if origin.username:match("^onlymc") and ns == "${CAM}" then
        origin.send(st.error_reply(stanza, "cancel", "feature-not-implemented"));
        return true;
      end
      if origin.username:match("^onlycam") and ns == "${MC}" then
        origin.send(st.error_reply(stanza, "cancel", "service-unavailable"));
        return true;
      end
      if ns == "${CAM}" and (origin.username:match("^onlycam") or origin.username:match("^both")) then
        return serve_cam(event, kind);
      end
    end, 100);
  end
end
`;

let sb: Sandbox;
const home = homesRemovedAfterAll();

before(async () => {
  sb = await startSandbox({ serveXep0494: true, testModules: { camctl_test_ns_filter: FILTER_MODULE } });
});
after(async () => {
  await sb?.stop();
});

async function counts(user: string): Promise<{ mcList: number; camList: number; mcRevoke: number; camRevoke: number }> {
  const get = async (ns: string, kind: string) =>
    Number(await sb.lua(`return tostring(prosody.camctl_test_ns_counts[${JSON.stringify(`${user} ${ns} ${kind}`)}] or 0)`));
  return { mcList: await get(MC, "list"), camList: await get(CAM, "list"), mcRevoke: await get(MC, "revoke"), camRevoke: await get(CAM, "revoke") };
}

function remembered(h: CamctlHome): Record<string, string> {
  const file = path.join(h.stateDir, "servers.json");
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as { namespaces: Record<string, string> }).namespaces : {};
}

describe("both namespaces", () => {
  test("a server that speaks only Prosody's namespace: one request, remembered", async () => {
    const acct = await sb.createAccount("onlymc1");
    const h = home();
    const body = await xmppList(sb, h, acct, acct.jid);
    assert.ok(body.clients.every((c) => c.permission === null), "no XEP-0494 <permission/> in this namespace");
    assert.deepEqual(await counts("onlymc1"), { mcList: 1, camList: 0, mcRevoke: 0, camRevoke: 0 });
    assert.deepEqual(remembered(h), { [sb.host]: MC });
  });

  test("a server that speaks only XEP-0494: falls back once, then asks in XEP-0494 first", async () => {
    const acct = await sb.createAccount("onlycam1");
    const grant = await sb.createGrant(acct.jid, { software: "Bot" });
    const h = home();
    const first = await xmppList(sb, h, acct, acct.jid);
    assert.ok(first.clients.length >= 1);
    assert.ok(first.clients.every((c) => c.permission === "unrestricted"), "XEP-0494's <permission status/> fills permission");
    assert.deepEqual(await counts("onlycam1"), { mcList: 1, camList: 1, mcRevoke: 0, camRevoke: 0 });
    assert.deepEqual(remembered(h), { [sb.host]: CAM });

    await xmppList(sb, h, acct, acct.jid);
    assert.deepEqual(await counts("onlycam1"), { mcList: 1, camList: 2, mcRevoke: 0, camRevoke: 0 }, "the round trip is saved");

    // The revoke looks again (never revoking an id that is not listed), revokes and looks once more, all in XEP-0494.
    const r = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, grant, "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await counts("onlycam1"), { mcList: 1, camList: 5, mcRevoke: 0, camRevoke: 1 });
    assert.ok(!(await socketList(sb, acct.jid)).clients.some((c) => c.id === grant));
  });

  test("what was remembered is only a first guess: a server that changed is followed", async () => {
    const acct = await sb.createAccount("onlymc2");
    const h = home();
    fs.mkdirSync(h.stateDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(h.stateDir, "servers.json"), JSON.stringify({ version: 1, namespaces: { [sb.host]: CAM } }), { mode: 0o600 });
    await xmppList(sb, h, acct, acct.jid);
    assert.deepEqual(await counts("onlymc2"), { mcList: 1, camList: 1, mcRevoke: 0, camRevoke: 0 });
    assert.deepEqual(remembered(h), { [sb.host]: MC });
  });

  test("a server that speaks both answers in the remembered one", async () => {
    const acct = await sb.createAccount("both1");
    await sb.createGrant(acct.jid, { software: "Bot" });
    await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Dino", device: "desk" });
    const h = home();
    fs.mkdirSync(h.stateDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(h.stateDir, "servers.json"), JSON.stringify({ version: 1, namespaces: { [sb.host]: CAM } }), { mode: 0o600 });
    const viaCam = await xmppList(sb, h, acct, acct.jid);
    assert.ok(viaCam.clients.every((c) => c.permission === "unrestricted"));
    assert.deepEqual(await counts("both1"), { mcList: 0, camList: 1, mcRevoke: 0, camRevoke: 0 });
    const viaMc = await xmppList(sb, home(), acct, acct.jid);
    assert.ok(viaMc.clients.every((c) => c.permission === null));
    // (Each home is another camctl installation, so each adds its own entry.)
    // Sorted by id: entries last seen in the same second come in no fixed order, and each camctl
    // installation's own new entry may reshuffle them.
    const others = (l: typeof viaCam) =>
      l.clients.filter((c) => c.userAgent.software !== "camctl").map((c) => ({ ...c, permission: null })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    assert.deepEqual(others(viaCam), others(viaMc), "the same clients in either namespace");
  });

  test("password-reset-required (service-unavailable + application condition) is an answer, not a missing namespace", async () => {
    const acct = await sb.createAccount("prr1");
    await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Dino", device: "desk" });
    const r = await xmppCamctl(sb, home(), acct, ["user", "revoke_client", acct.jid, "software/Dino", "--yes"]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /can come back with it until the password is changed/);
    // Listed (command), listed again (source), revoked once without a fallback, listed for the report.
    assert.deepEqual(await counts("prr1"), { mcList: 3, camList: 0, mcRevoke: 1, camRevoke: 0 }, "revoke asked once, no fallback");
  });

  test("after a fallback, password-reset-required in the other namespace is still 7", async () => {
    const acct = await sb.createAccount("onlycam2");
    await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Dino", device: "desk" });
    const r = await xmppCamctl(sb, home(), acct, ["user", "revoke_client", acct.jid, "software/Dino", "--yes"]);
    assert.equal(r.code, 7, r.stderr);
    assert.deepEqual(await counts("onlycam2"), { mcList: 1, camList: 3, mcRevoke: 0, camRevoke: 1 }, "the fallback once, then XEP-0494 only");
  });
});
