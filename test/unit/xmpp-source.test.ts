// XmppClientSource with a recorded-stanza session: which namespace is asked, the fallback and its
// memory, where requests go, and the checks on who answered.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Parser, type Element } from "@xmpp/xml";
import StanzaError from "@xmpp/middleware/lib/StanzaError.js";
import { XmppClientSource } from "../../src/xmpp/source.js";
import { CamState } from "../../src/xmpp/state.js";
import { exitCodeFor } from "../../src/errors.js";
import type { ClientRecord } from "../../src/model.js";

const MC = "xmpp:prosody.im/protocol/manage-clients";
const grantRecord = (id: string): ClientRecord => ({
  id, type: "access", connected: false, firstSeen: null, lastSeen: null, expires: null, auth: ["grant"],
  userAgent: { software: null, version: null, softwareId: null, uri: null, device: null }, permission: null,
});
const CAM = "urn:xmpp:cam:0";
const S = `xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"`;

function stanza(text: string): Element {
  const p = new Parser();
  let out: Element | undefined;
  p.on("element", (el: Element) => (out = el));
  p.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>${text}`);
  assert.ok(out);
  return out;
}

/** A session that answers from a script: ns -> reply text (an <iq type=result/error>). */
function fakeSession(answers: Record<string, string>) {
  const sent: Element[] = [];
  const session = {
    closedByServer: false,
    streamEnd: null,
    async request(req: Element): Promise<Element> {
      sent.push(req);
      const ns = req.getChildElements()[0]!.attrs.xmlns!;
      const reply = stanza(answers[ns] ?? `<iq type="error"><error type="cancel"><service-unavailable ${S}/></error></iq>`);
      if (reply.attrs.type === "error") throw StanzaError.fromElement(reply.getChild("error")!);
      return reply;
    },
    async close() {},
  };
  return { session, sent };
}

function withState<T>(fn: (state: CamState, dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-src-"));
  return fn(new CamState(dir), dir).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

const listResult = (ns: string, from = "") =>
  `<iq type="result"${from ? ` from="${from}"` : ""}><clients xmlns="${ns}"><client id="grant/g" type="access" connected="false"><auth><grant/></auth></client></clients></iq>`;

test("self: no 'to'; Prosody's namespace first; a miss falls back to XEP-0494, which is remembered", () =>
  withState(async (state) => {
    const { session, sent } = fakeSession({ [CAM]: listResult(CAM) });
    const src = new XmppClientSource(session as never, state, "alice@example.com");
    const list = await src.list("alice@example.com");
    assert.deepEqual(list.clients.map((c) => c.id), ["grant/g"]);
    assert.deepEqual(sent.map((e) => [e.attrs.to, e.getChildElements()[0]!.attrs.xmlns]), [[undefined, MC], [undefined, CAM]]);
    assert.equal(state.rememberedNamespace("example.com"), CAM);
    sent.length = 0;
    await src.list("alice@example.com");
    assert.deepEqual(sent.map((e) => e.getChildElements()[0]!.attrs.xmlns), [CAM], "one round trip next time");
  }));

test("another account: the request goes to its bare JID; nothing answers -> 8 naming the companion module", () =>
  withState(async (state) => {
    const { session, sent } = fakeSession({});
    const src = new XmppClientSource(session as never, state, "admin@example.com");
    await assert.rejects(src.list("bob@example.com"), (e: unknown) => exitCodeFor(e) === 8 && /mod_client_management_admin/.test((e as Error).message));
    assert.deepEqual(sent.map((e) => e.attrs.to), ["bob@example.com", "bob@example.com"]);
    assert.equal(state.rememberedNamespace("example.com"), undefined, "nothing worked, nothing remembered");
  }));

test("password-reset-required stops at the first namespace (7); other errors are not retried either", () =>
  withState(async (state) => {
    const prr = `<iq type="error"><error type="cancel"><service-unavailable ${S}/><password-reset-required xmlns="${MC}"/></error></iq>`;
    const { session, sent } = fakeSession({ [MC]: prr, [CAM]: `<iq type="result"/>` });
    const src = new XmppClientSource(session as never, state, "alice@example.com");
    await assert.rejects(src.revoke("alice@example.com", { ...grantRecord("client/x"), type: "session" }), (e: unknown) => exitCodeFor(e) === 7);
    assert.equal(sent.length, 1);
    const forbidden = fakeSession({ [MC]: `<iq type="error"><error type="auth"><forbidden ${S}/></error></iq>` });
    await assert.rejects(new XmppClientSource(forbidden.session as never, state, "a@example.com").list("a@example.com"), (e: unknown) => exitCodeFor(e) === 5);
    assert.equal(forbidden.sent.length, 1);
  }));

test("a reply from somewhere else is not believed", () =>
  withState(async (state) => {
    const ok = fakeSession({ [MC]: listResult(MC, "bob@example.com") });
    assert.equal((await new XmppClientSource(ok.session as never, state, "admin@example.com").list("bob@example.com")).clients.length, 1);
    const self = fakeSession({ [MC]: listResult(MC, "alice@example.com") });
    assert.equal((await new XmppClientSource(self.session as never, state, "alice@example.com").list("alice@example.com")).clients.length, 1);
    const spoof = fakeSession({ [MC]: listResult(MC, "mallory@example.com/x") });
    await assert.rejects(new XmppClientSource(spoof.session as never, state, "alice@example.com").list("alice@example.com"), /came from mallory/);
    const spoofErr = fakeSession({ [MC]: `<iq type="error" from="mallory@evil.example"><error type="cancel"><item-not-found ${S}/></error></iq>` });
    await assert.rejects(new XmppClientSource(spoofErr.session as never, state, "alice@example.com").revoke("alice@example.com", grantRecord("grant/x")), /came from mallory/);
  }));
