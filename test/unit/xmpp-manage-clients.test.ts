// Parsing and error mapping of the client-management protocol, from recorded stanzas
// (the example in mod_client_management's own README, a XEP-0494 reply and error replies as Prosody sends them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { stanza } from "../helpers/stanza.js";
import {
  NS_ADMIN,
  NS_CAM,
  NS_MANAGE_CLIENTS,
  companionRevokeRequest,
  parseRevoked,
  errorInfo,
  isFallbackError,
  isoFromXmppTime,
  listRequest,
  parseClients,
  replyError,
  revokeRequest,
  unsupportedError,
} from "../../src/transports/xmpp/manage-clients.js";
import { CamError, exitCodeFor } from "../../src/core/errors.js";
import { iso } from "../helpers/iso.js";
import { emptyNetwork } from "../../src/core/network.js";


const README_REPLY = `<iq id="p" to="mattj-gajim@auth2.superxmpp.com/gajim.UYJKBHKT" type="result" xmlns="jabber:client">
  <clients xmlns="xmpp:prosody.im/protocol/manage-clients">
    <client connected="true" id="client/zeiP41HLglIu" type="session">
      <first-seen>2023-04-06T14:26:08Z</first-seen>
      <last-seen>2023-04-06T14:37:25Z</last-seen>
      <auth>
        <password/>
      </auth>
      <user-agent>
        <software>Gajim</software>
        <uri>https://gajim.org/</uri>
        <device>Juliet's laptop</device>
      </user-agent>
    </client>
    <client connected="false" id="grant/HjEEr45_LQr" type="access">
      <first-seen>2023-03-27T15:16:09Z</first-seen>
      <last-seen>2023-03-27T15:37:24Z</last-seen>
      <user-agent>
        <software>REST client</software>
      </user-agent>
    </client>
  </clients>
</iq>`;

test("the README's example reply parses into the contract's records", () => {
  const clients = parseClients(stanza(README_REPLY), NS_MANAGE_CLIENTS);
  assert.deepEqual(clients, [
    {
      id: "client/zeiP41HLglIu",
      type: "session",
      connected: true,
      firstSeen: "2023-04-06T14:26:08Z",
      lastSeen: "2023-04-06T14:37:25Z",
      expires: null,
      auth: ["password"],
      userAgent: { software: "Gajim", version: null, softwareId: null, uri: "https://gajim.org/", device: "Juliet's laptop" },
      permission: null,
      ...emptyNetwork(),
    },
    {
      id: "grant/HjEEr45_LQr",
      type: "access",
      connected: false,
      firstSeen: "2023-03-27T15:16:09Z",
      lastSeen: "2023-03-27T15:37:24Z",
      expires: null,
      auth: [],
      userAgent: { software: "REST client", version: null, softwareId: null, uri: null, device: null },
      permission: null,
      ...emptyNetwork(),
    },
  ]);
});

test("XEP-0494: permission status, every auth child by name (sorted, unknown ones kept), version, expiry", () => {
  const reply = stanza(`<iq type="result" id="x"><clients xmlns="urn:xmpp:cam:0">
    <client connected="1" id="client/a" type="session">
      <first-seen>2024-01-02T03:04:05.678Z</first-seen>
      <last-seen>2024-01-02T05:04:05+02:00</last-seen>
      <expires>2030-01-01T00:00:00Z</expires>
      <auth><password/><fast/><x-webauthn/><grant/><fast/></auth>
      <user-agent><software>Cheogram</software><version>2.15</version><device>phone</device></user-agent>
      <permission status="restricted"/>
    </client>
  </clients></iq>`);
  const [c] = parseClients(reply, NS_CAM);
  assert.ok(c);
  assert.equal(c.connected, true);
  assert.equal(c.firstSeen, "2024-01-02T03:04:05Z", "fraction dropped");
  assert.equal(c.lastSeen, "2024-01-02T03:04:05Z", "offset converted to UTC");
  assert.equal(c.expires, "2030-01-01T00:00:00Z");
  assert.deepEqual(c.auth, ["fast", "grant", "password", "x-webauthn"]);
  assert.equal(c.userAgent.version, "2.15");
  assert.equal(c.permission, "restricted");
});

test("elements of another namespace are not taken for the protocol's", () => {
  const reply = stanza(`<iq type="result" id="x"><clients xmlns="urn:xmpp:cam:0">
    <client id="client/a" type="session"><first-seen xmlns="urn:example">2024-01-01T00:00:00Z</first-seen></client>
  </clients></iq>`);
  assert.equal(parseClients(reply, NS_CAM)[0]?.firstSeen, null);
  assert.deepEqual(parseClients(stanza(`<iq type="result" id="x"/>`), NS_CAM), [], "empty result = empty list");
  assert.throws(() => parseClients(stanza(`<iq type="result" id="x"><other xmlns="urn:example"/></iq>`), NS_CAM), CamError);
});

test("times: only XEP-0082 date-times are accepted", () => {
  assert.equal(isoFromXmppTime("2023-04-06T14:26:08Z"), "2023-04-06T14:26:08Z");
  assert.equal(isoFromXmppTime(" 2023-04-06T14:26:08-01:30 "), "2023-04-06T15:56:08Z");
  for (const bad of ["", "yesterday", "1680791168", "2023-04-06", "2023-04-06T14:26:08", "2023-04-06T14:26:08Z\u001b[2J", "10000-01-01T00:00:00Z", null, undefined]) {
    assert.equal(isoFromXmppTime(bad), null, String(bad));
  }
});

test("hostile text stays data: markup in names comes back as text, requests escape selectors", () => {
  const reply = stanza(`<iq type="result" id="x"><clients xmlns="${NS_MANAGE_CLIENTS}">
    <client id="client/&lt;b&gt;" type="session"><user-agent><software>&lt;script&gt;‮[31m</software></user-agent></client>
  </clients></iq>`);
  const [c] = parseClients(reply, NS_MANAGE_CLIENTS);
  assert.equal(c?.id, "client/<b>");
  assert.equal(c?.userAgent.software, "<script>\u202e[31m", "kept exactly; the renderers make it display-safe");
  const req = revokeRequest(NS_CAM, "bob@example.com", `grant/"/><evil/>`).toString();
  assert.equal(req, `<iq type="set" to="bob@example.com"><revoke xmlns="urn:xmpp:cam:0" id="grant/&quot;/&gt;&lt;evil/&gt;"/></iq>`);
  assert.equal(listRequest(NS_MANAGE_CLIENTS, undefined).toString(), `<iq type="get"><list xmlns="${NS_MANAGE_CLIENTS}"/></iq>`);
});

const err = (inner: string) => stanza(`<iq type="error" id="x"><error type="cancel">${inner}</error></iq>`).getChild("error");
const S = `xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"`;

test("password-reset-required is service-unavailable too, but never a reason to try the other namespace", () => {
  const prr = errorInfo(err(`<service-unavailable ${S}/><text ${S}>Revoking this client requires a password change</text><password-reset-required xmlns="${NS_CAM}"/>`));
  assert.equal(prr.condition, "service-unavailable");
  assert.equal(prr.application, "password-reset-required");
  assert.equal(isFallbackError(prr), false);
  assert.equal(prr.applicationNs, NS_CAM);
  // The application condition may come first as well.
  assert.equal(errorInfo(err(`<password-reset-required xmlns="${NS_MANAGE_CLIENTS}"/><service-unavailable ${S}/>`)).condition, "service-unavailable");

  assert.equal(isFallbackError(errorInfo(err(`<service-unavailable ${S}/>`))), true);
  assert.equal(isFallbackError(errorInfo(err(`<feature-not-implemented ${S}/><text ${S}>no</text>`))), true);
  assert.equal(isFallbackError(errorInfo(err(`<item-not-found ${S}/>`))), false);
});

test("error replies map to the contract's exit codes", () => {
  const self = { op: "revoke" as const, target: "a@b.example", login: "a@b.example", self: true, selector: "grant/x" };
  const other = { op: "list" as const, target: "c@b.example", login: "admin@b.example", self: false };
  const code = (inner: string, ctx: Parameters<typeof replyError>[1]) => exitCodeFor(replyError(errorInfo(err(inner)), ctx));
  assert.equal(code(`<forbidden ${S}/>`, other), 5);
  assert.equal(code(`<not-allowed ${S}/>`, self), 5);
  assert.equal(code(`<item-not-found ${S}/>`, self), 6);
  assert.equal(code(`<item-not-found ${S}/>`, other), 6);
  assert.equal(code(`<remote-server-not-found ${S}/>`, other), 6);
  assert.equal(code(`<bad-request ${S}/>`, self), 2);
  assert.equal(code(`<internal-server-error ${S}/>`, self), 3, "the server's own failure: no usable answer, not camctl's bug");
  assert.equal(code(`<undefined-condition ${S}/>`, other), 3);
  // How to check what a failed revoke did is the command's to say (it knows the request may have gone out).
  assert.equal(replyError(errorInfo(err(`<internal-server-error ${S}/>`)), self).message, "The server failed to answer the revoke request (internal-server-error). See the server's log for details.");
  assert.equal(exitCodeFor(unsupportedError(self)), 8);
  assert.match(unsupportedError(other).message, /mod_client_management_admin.*--socket/);
  assert.match(unsupportedError(self).message, /mod_client_management is not enabled/);
  const forbidden = replyError(errorInfo(err(`<forbidden ${S}/><text ${S}>\x1b]0;pwned\x07</text>`)), other);
  assert.doesNotMatch(forbidden.message, /\x1b/, "server text is made display-safe");
});

// Recorded from the real mod_client_management (Prosody 13.0.1): <bearer-token/>, and a grant's
// software id and version as attributes of <software>; no <expires>.
const REAL_REPLY = `<iq id="sandbox-iq-1" type="result" to="rec@camctl.test/Probe~scHYc28g2z+2"><clients xmlns="xmpp:prosody.im/protocol/manage-clients"><client connected="true" id="client/kept/with space" type="session"><first-seen>2026-11-27T21:36:21Z</first-seen><last-seen>2026-11-27T21:36:21Z</last-seen><auth><password/></auth><user-agent><software>Gajim</software><device>laptop</device></user-agent></client><client connected="false" id="grant/LrnntWRbBCHa" type="access"><first-seen>2026-11-27T21:36:21Z</first-seen><last-seen>2026-11-27T21:36:21Z</last-seen><auth><bearer-token/></auth><user-agent><software id="rest-id" version="2.1">REST client</software><uri>https://rest.example/</uri></user-agent></client></clients></iq>`;

test("the real module's reply: bearer-token is a grant, version and id come from <software>'s attributes", () => {
  const [session, grant] = parseClients(stanza(REAL_REPLY), NS_MANAGE_CLIENTS);
  assert.equal(session?.id, "client/kept/with space");
  assert.deepEqual(session?.userAgent, { software: "Gajim", version: null, softwareId: null, uri: null, device: "laptop" });
  assert.deepEqual(grant?.auth, ["grant"]);
  assert.deepEqual(grant?.userAgent, { software: "REST client", version: "2.1", softwareId: "rest-id", uri: "https://rest.example/", device: null });
  assert.equal(grant?.expires, null, "the real module sends no <expires>");
});

test("auth names: bearer-token and grant are one method; unknown names are kept as sent", () => {
  const reply = stanza(`<iq type="result" id="x"><clients xmlns="${NS_MANAGE_CLIENTS}">
    <client id="grant/a" type="access"><auth><bearer-token/><grant/><x-new-thing/></auth><user-agent><software>S</software><version>child-form</version><software-id>child-id</software-id></user-agent></client>
  </clients></iq>`);
  const [c] = parseClients(reply, NS_MANAGE_CLIENTS);
  assert.deepEqual(c?.auth, ["grant", "x-new-thing"]);
  assert.equal(c?.userAgent.version, "child-form", "the child form, as the README shows it");
  assert.equal(c?.userAgent.softwareId, "child-id");
});

test("the companion's complete revoke: request and answer", () => {
  const expected = {
    id: `client/"a"/<b>`, type: "session" as const, connected: true, firstSeen: iso("2026-11-01T10:00:00Z"), lastSeen: null, expires: null, auth: ["password"],
    userAgent: { software: "Gajim", version: null, softwareId: null, uri: null, device: null }, permission: null,
  };
  assert.equal(
    companionRevokeRequest(undefined, expected).toString(),
    `<iq type="set"><revoke xmlns="${NS_ADMIN}" id="client/&quot;a&quot;/&lt;b&gt;"><expect type="session" first-seen="2026-11-01T10:00:00Z"><software>Gajim</software></expect></revoke></iq>`,
  );
  const answer = parseRevoked(stanza(`<iq type="result" id="x"><revoked xmlns="${NS_ADMIN}" id="client/a" session-closed="true" fast-tokens-revoked="false" grant-revoked="false">
    <client xmlns="${NS_ADMIN}" id="client/a" type="session" connected="false"><first-seen>2026-11-01T10:00:00Z</first-seen><auth><password/></auth></client></revoked></iq>`));
  assert.deepEqual(answer.done, { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false });
  assert.deepEqual(answer.after?.auth, ["password"]);
  assert.equal(parseRevoked(stanza(`<iq type="result" id="x"><revoked xmlns="${NS_ADMIN}" id="grant/g" grant-revoked="true"/></iq>`)).after, null);
  assert.deepEqual(parseRevoked(stanza(`<iq type="result" id="x"><revoked xmlns="${NS_ADMIN}" id="grant/g"/></iq>`)).done, { sessionClosed: null, fastTokensRevoked: null, grantRevoked: null }, "absent = unknown");
  assert.throws(() => parseRevoked(stanza(`<iq type="result" id="x"/>`)), (e: unknown) => exitCodeFor(e) === 3);
});
