// Both client-management namespaces, the fallback between them and its memory, against a real
// Prosody 13 (the sandbox). A small test-only module, written here into a temp plugin directory,
// counts the requests in each namespace and plays a server that speaks only one of them for
// accounts whose name says so ("onlymc..." / "onlycam...").
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { CamctlHome, homesRemovedAfterAll, socketList, xmppCamctl, xmppList } from "./xmpp-helpers.js";

const MC = "xmpp:prosody.im/protocol/manage-clients";
const CAM = "urn:xmpp:cam:0";

const FILTER_MODULE = `-- Test only: counts client-management requests per user, namespace and kind, and refuses one
-- namespace for some accounts, so camctl's fallback can be observed against a real server.
local st = require "prosody.util.stanza";
local counts = {};
prosody.camctl_test_ns_counts = counts;
for _, ns in ipairs({ "${MC}", "${CAM}" }) do
  for _, ev in ipairs({ "iq-get/self/"..ns..":list", "iq-set/self/"..ns..":revoke" }) do
    module:hook(ev, function (event)
      local origin, stanza = event.origin, event.stanza;
      local key = origin.username.." "..ns.." "..stanza.tags[1].name;
      counts[key] = (counts[key] or 0) + 1;
      if origin.username:match("^onlymc") and ns == "${CAM}" then
        origin.send(st.error_reply(stanza, "cancel", "feature-not-implemented"));
        return true;
      end
      if origin.username:match("^onlycam") and ns == "${MC}" then
        origin.send(st.error_reply(stanza, "cancel", "service-unavailable"));
        return true;
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

    const r = await xmppCamctl(sb, h, acct, ["user", "revoke_client", acct.jid, grant, "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await counts("onlycam1"), { mcList: 1, camList: 2, mcRevoke: 0, camRevoke: 1 });
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
    const others = (l: typeof viaCam) => l.clients.filter((c) => c.userAgent.software !== "camctl").map((c) => ({ ...c, permission: null }));
    assert.deepEqual(others(viaCam), others(viaMc), "the same clients in either namespace");
  });

  test("password-reset-required (service-unavailable + application condition) is an answer, not a missing namespace", async () => {
    const acct = await sb.createAccount("prr1");
    await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Dino", device: "desk" });
    const r = await xmppCamctl(sb, home(), acct, ["user", "revoke_client", acct.jid, "software/Dino", "--yes"]);
    assert.equal(r.code, 7, r.stderr);
    assert.deepEqual(await counts("prr1"), { mcList: 0, camList: 0, mcRevoke: 1, camRevoke: 0 }, "asked once, no fallback");
  });

  test("after a fallback, password-reset-required in the other namespace is still 7", async () => {
    const acct = await sb.createAccount("onlycam2");
    await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Dino", device: "desk" });
    const r = await xmppCamctl(sb, home(), acct, ["user", "revoke_client", acct.jid, "software/Dino", "--yes"]);
    assert.equal(r.code, 7, r.stderr);
    assert.deepEqual(await counts("onlycam2"), { mcList: 0, camList: 0, mcRevoke: 1, camRevoke: 1 });
  });
});
