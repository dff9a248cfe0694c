// A server without SASL2: camctl falls back to legacy SASL + resource binding, with a stable
// resource so that the server (which can only track such clients by resource) still sees one
// client however often camctl runs. A test-only module, written here, hides SASL2 on the main host.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { homesRemovedAfterAll, socketList, xmppCamctl, xmppList } from "../helpers/xmpp-camctl.js";

const HIDE_SASL2 = `-- Test only: this host offers no SASL2 (as before Prosody 13 / without mod_sasl2).
module:hook("stream-features", function (event)
  event.features:remove_children("authentication", "urn:xmpp:sasl:2");
end, -1000);
`;

let sb: Sandbox;
const home = homesRemovedAfterAll();

before(async () => {
  sb = await startSandbox({ testModules: { camctl_test_no_sasl2: HIDE_SASL2 } });
});
after(async () => {
  await sb?.stop();
});

describe("a server without SASL2", () => {
  test("legacy SASL works, and repeated runs stay one client (tracked by a stable resource)", async () => {
    const acct = await sb.createAccount("oldschool");
    const h = home();
    for (let i = 0; i < 4; i++) {
      const body = await xmppList(sb, h, acct, acct.jid, { tls: i % 2 === 0 ? "starttls" : "direct" });
      assert.equal(body.transport, "xmpp");
    }
    const seen = (await socketList(sb, acct.jid)).clients;
    assert.equal(seen.length, 1, JSON.stringify(seen));
    assert.equal(seen[0]!.type, "session");
    assert.deepEqual(seen[0]!.auth, ["password"]);
    const resource = await sb.lua(
      `for _, c in ipairs(prosody.hosts["${sb.host}"].modules.client_management.get_active_clients("oldschool")) do return tostring(c.full_jid) end`,
    );
    assert.match(resource, new RegExp(`^oldschool@${sb.host.replace(/\./g, "\\.")}/camctl-[0-9a-f]{8}$`));
    assert.ok(resource.endsWith(h.userAgentId().slice(0, 8)), "the resource comes from this installation's id");
  });

  test("a wrong password is still 4 over legacy SASL", async () => {
    const acct = await sb.createAccount("oldschool2");
    const h = home();
    const r = await xmppCamctl(sb, h, { jid: acct.jid, password: "wrong-" + acct.password }, ["user", "clients", acct.jid]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /wrong password or account/);
  });
});
