// XmppClientSource with a recorded-stanza session: which namespace is asked, the fallback and its
// memory, where requests go, the checks on who answered, and the revoke procedures (the companion's
// complete revoke; the bare module's, with stanzas as the real mod_client_management sends them).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Element } from "@xmpp/xml";
import { stanza } from "../helpers/stanza.js";
import StanzaError from "@xmpp/middleware/lib/StanzaError.js";
import { XmppClientSource } from "../../src/transports/xmpp/xmpp-source.js";
import { CamState } from "../../src/transports/xmpp/state.js";
import { CamError, exitCodeFor, exitCodeOf } from "../../src/core/errors.js";
import { revokeOutcome } from "../../src/core/outcomes.js";
import type { ClientRecord, RevokeReport } from "../../src/core/model.js";
import { iso } from "../helpers/iso.js";

const MC = "xmpp:prosody.im/protocol/manage-clients";
/** The exit code a report stands for: its outcome (src/core/outcomes.ts), then errors.ts. */
const revokeExitCode = (r: RevokeReport) => exitCodeOf(revokeOutcome(r).kind);
const grantRecord = (id: string): ClientRecord => ({
  id, type: "access", connected: false, firstSeen: null, lastSeen: null, expires: null, auth: ["grant"],
  userAgent: { software: null, version: null, softwareId: null, uri: null, device: null }, permission: null,
});
const CAM = "urn:xmpp:cam:0";
const S = `xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"`;


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

async function withState<T>(fn: (state: CamState, dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-src-"));
  const state = new CamState(dir);
  await state.load(new AbortController().signal);
  // The state writes what it remembers in the background: let that finish before removing its directory.
  return fn(state, dir).finally(async () => {
    await state.flush(new AbortController().signal);
    fs.rmSync(dir, { recursive: true, force: true });
  });
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

test("errors other than 'not served here' are not retried in the other namespace", () =>
  withState(async (state) => {
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
    // A spoofed answer is no usable answer: 3 like a server that cannot be reached, never 1 (camctl's own bugs).
    const spoof = fakeSession({ [MC]: listResult(MC, "mallory@example.com/x") });
    await assert.rejects(new XmppClientSource(spoof.session as never, state, "alice@example.com").list("alice@example.com"), (e: unknown) => exitCodeFor(e) === 3 && /came from mallory/.test((e as Error).message));
    const spoofErr = fakeSession({ [MC]: `<iq type="error" from="mallory@evil.example"><error type="cancel"><item-not-found ${S}/></error></iq>` });
    await assert.rejects(new XmppClientSource(spoofErr.session as never, state, "alice@example.com").list("alice@example.com"), (e: unknown) => exitCodeFor(e) === 3 && /came from mallory/.test((e as Error).message));
    const ownResource = fakeSession({ [MC]: listResult(MC, "alice@example.com/other") });
    await assert.rejects(new XmppClientSource(ownResource.session as never, state, "alice@example.com").list("alice@example.com"), (e: unknown) => exitCodeFor(e) === 3);
  }));

test("the server answers from the JID as it prepped it: fullwidth letters, sharp s and case are the same account", () =>
  withState(async (state) => {
    for (const [target, from] of [["stra\u00dfe@example.com", "strasse@example.com"], ["\uff42ob@example.com", "bob@example.com"], ["Bob@example.com", "bob@example.com"]] as const) {
      const admin = fakeSession({ [MC]: listResult(MC, from) });
      const list = await new XmppClientSource(admin.session as never, state, "admin@example.com").list(target);
      assert.equal(list.clients.length, 1, target);
      assert.equal(admin.sent[0]!.attrs.to, target, "asked as typed; the server preps it");
    }
    // Logged in as ALICE, asking for alice: the account itself (no 'to').
    const self = fakeSession({ [MC]: listResult(MC) });
    await new XmppClientSource(self.session as never, state, "\uff41lice@example.com").list("alice@example.com");
    assert.equal(self.sent[0]!.attrs.to, undefined);
  }));

test("server-side errors are 3 (no usable answer), not 1", () =>
  withState(async (state) => {
    const ise = fakeSession({ [MC]: `<iq type="error"><error type="wait"><internal-server-error ${S}/><text ${S}>boom</text></error></iq>` });
    await assert.rejects(new XmppClientSource(ise.session as never, state, "alice@example.com").list("alice@example.com"), (e: unknown) => exitCodeFor(e) === 3 && /boom/.test((e as Error).message));
    const garbage = fakeSession({ [MC]: `<iq type="result"><other xmlns="urn:example"/></iq>` });
    await assert.rejects(new XmppClientSource(garbage.session as never, state, "alice@example.com").list("alice@example.com"), (e: unknown) => exitCodeFor(e) === 3);
  }));

// ---------------------------------------------------------------------------------------------
// Revoking. Stanzas below are what the real mod_client_management (Prosody 13.0.1) sends.

const ADMIN = "urn:camctl:admin:0";
const REAL_NOT_SERVED = `<iq type="error"><error type="cancel"><service-unavailable ${S}/></error></iq>`;
const REAL_PRR = `<iq type="error"><error type="cancel"><service-unavailable ${S}/><text ${S}>Password reset required</text><password-reset-required xmlns="${MC}"/></error></iq>`;
const REAL_CONNECTED = `<iq type="error"><error type="cancel"><undefined-condition ${S}/></error></iq>`;
const REAL_NOT_FOUND = `<iq type="error"><error type="cancel"><item-not-found ${S}/><text ${S}>Client not found</text></error></iq>`;

interface Entry { id: string; connected?: boolean; auth?: string[]; software?: string; device?: string; firstSeen?: string; type?: string }
const T = "2026-11-27T21:36:21Z";
function realClient(e: Entry): string {
  const auth = (e.auth ?? ["password"]).map((a) => `<${a}/>`).join("");
  const ua = `${e.software ? `<software>${e.software}</software>` : ""}${e.device ? `<device>${e.device}</device>` : ""}`;
  return `<client connected="${e.connected ? "true" : "false"}" id="${e.id}" type="${e.type ?? (e.id.startsWith("grant/") ? "access" : "session")}"><first-seen>${e.firstSeen ?? T}</first-seen><last-seen>${T}</last-seen><auth>${auth}</auth><user-agent>${ua}</user-agent></client>`;
}
const realList = (...entries: Entry[]) => `<iq type="result"><clients xmlns="${MC}">${entries.map(realClient).join("")}</clients></iq>`;

const record = (e: Entry): ClientRecord => ({
  id: e.id, type: e.id.startsWith("grant/") ? "access" : "session", connected: e.connected ?? false, firstSeen: iso(e.firstSeen ?? T), lastSeen: iso(T), expires: null,
  auth: e.auth ?? ["password"], userAgent: { software: e.software ?? null, version: null, softwareId: null, uri: null, device: e.device ?? null }, permission: null,
});

/** A session answering each request from a script, in order; records what was sent as "ns:kind" (plus 'to'). */
function scripted(replies: string[]) {
  const sent: string[] = [];
  const stanzas: Element[] = [];
  let closed = 0;
  const session = {
    async request(req: Element): Promise<Element> {
      const payload = req.getChildElements()[0]!;
      stanzas.push(req);
      sent.push(`${payload.attrs.xmlns === MC ? "mc" : payload.attrs.xmlns === ADMIN ? "admin" : payload.attrs.xmlns}:${payload.getName()}${req.attrs.to ? `>${req.attrs.to}` : ""}`);
      const text = replies.shift();
      assert.ok(text !== undefined, `unexpected request ${req.toString()}`);
      const reply = stanza(text);
      if (reply.attrs.type === "error") throw StanzaError.fromElement(reply.getChild("error")!);
      return reply;
    },
    async close() {
      closed++;
    },
  };
  return { session, sent, stanzas, closed: () => closed, left: () => replies.length };
}

const fast = { pollMs: 1 };

test("bare module, connected password client: close, wait until it leaves 'connected', revoke again, list: 7 with the unused FAST token named", () =>
  withState(async (state) => {
    const gajim: Entry = { id: "client/kept/with space", connected: true, software: "Gajim", device: "laptop" };
    const s = scripted([
      REAL_NOT_SERVED, // companion
      realList(gajim),
      REAL_CONNECTED,
      realList(gajim), // still closing
      realList({ ...gajim, connected: false }),
      REAL_PRR,
      realList({ ...gajim, connected: false }),
    ]);
    const report = await new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", record(gajim));
    assert.deepEqual(s.sent, ["admin:revoke", "mc:list", "mc:revoke", "mc:list", "mc:list", "mc:revoke", "mc:list"]);
    assert.equal(s.stanzas[2]!.getChild("revoke", MC)!.attrs.id, "client/kept/with space", "the exact listed id");
    assert.deepEqual(report.done, { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false });
    assert.deepEqual(report.after?.auth, ["password"]);
    assert.equal(report.after?.connected, false);
    assert.deepEqual(report.unverifiable, ["unused-fast-token"]);
    assert.equal(revokeExitCode(report), 7);
  }));

test("bare module: an id the list does not show is never sent (the real server would never answer): gone at once", () =>
  withState(async (state) => {
    const s = scripted([REAL_NOT_SERVED, realList({ id: "client/other" })]);
    const started = Date.now();
    await assert.rejects(
      new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", record({ id: "client/stored-inactive" })),
      (e: unknown) => e instanceof CamError && exitCodeFor(e) === 6 && e.condition === "gone",
    );
    assert.deepEqual(s.sent, ["admin:revoke", "mc:list"], "no <revoke/> in the module's namespace");
    assert.ok(Date.now() - started < 1000);
  }));

test("bare module: revoked elsewhere between the look and the revoke (Client not found): gone, 6", () =>
  withState(async (state) => {
    const s = scripted([REAL_NOT_SERVED, realList({ id: "grant/g" }), REAL_NOT_FOUND]);
    await assert.rejects(
      new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", record({ id: "grant/g" })),
      (e: unknown) => e instanceof CamError && e.condition === "gone",
    );
  }));

test("bare module: listed as another client by now (other first-seen or software): changed, nothing sent", () =>
  withState(async (state) => {
    for (const now of [{ firstSeen: "2026-11-28T00:00:00Z" }, { software: "Evil" }, { device: "other" }]) {
      const s = scripted([REAL_NOT_SERVED, realList({ id: "client/a", software: "Gajim", device: "laptop", ...now })]);
      await assert.rejects(
        new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", record({ id: "client/a", software: "Gajim", device: "laptop" })),
        (e: unknown) => e instanceof CamError && exitCodeFor(e) === 6 && e.condition === "changed",
      );
      assert.deepEqual(s.sent, ["admin:revoke", "mc:list"]);
    }
  }));

test("bare module: a grant is revoked and gone from the list: 0", () =>
  withState(async (state) => {
    const grant: Entry = { id: "grant/g", auth: ["bearer-token"], software: "Bot" };
    const s = scripted([REAL_NOT_SERVED, realList(grant), `<iq type="result"/>`, realList()]);
    const report = await new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", { ...record(grant), auth: ["grant"] });
    assert.deepEqual(report.done, { sessionClosed: false, fastTokensRevoked: false, grantRevoked: true });
    assert.equal(report.after, null);
    assert.deepEqual(report.unverifiable, []);
    assert.equal(revokeExitCode(report), 0);
  }));

test("bare module: a FAST client that logged in with its token: the module revokes its tokens; the password stays (7)", () =>
  withState(async (state) => {
    const c: Entry = { id: "client/c", auth: ["fast", "password"], software: "Conversations" };
    const s = scripted([REAL_NOT_SERVED, realList(c), REAL_PRR, realList({ ...c, auth: ["password"] })]);
    const report = await new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", record(c));
    assert.deepEqual(report.done, { sessionClosed: false, fastTokensRevoked: true, grantRevoked: false });
    assert.equal(revokeExitCode(report), 7);
  }));

test("bare module: a connected client that leaves the list once closed is not sent a second revoke; the unused token keeps it at 9", () =>
  withState(async (state) => {
    const bearer: Entry = { id: "client/oauth", connected: true, auth: [], software: "Web" };
    const s = scripted([REAL_NOT_SERVED, realList(bearer), REAL_CONNECTED, realList()]);
    const report = await new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", record(bearer));
    assert.deepEqual(s.sent, ["admin:revoke", "mc:list", "mc:revoke", "mc:list"], "the last look is the report's");
    assert.equal(report.after, null);
    assert.equal(revokeExitCode(report), 9);
  }));

test("bare module: a session that stays listed as connected is reported as still open (9), within the wait", () =>
  withState(async (state) => {
    const c: Entry = { id: "client/stuck", connected: true, software: "Gajim" };
    const lists = Array.from({ length: 50 }, () => realList(c));
    const s = scripted([REAL_NOT_SERVED, realList(c), REAL_CONNECTED, ...lists]);
    const report = await new XmppClientSource(s.session as never, state, "alice@example.com", { pollMs: 5, closeWaitMs: 30 }).revoke("alice@example.com", record(c));
    assert.equal(report.done.sessionClosed, true);
    assert.equal(report.after?.connected, true);
    assert.equal(revokeExitCode(report), 9);
  }));

test("bare module: the wait between looks obeys the deadline's signal", () =>
  withState(async (state) => {
    const c: Entry = { id: "client/stuck", connected: true, software: "Gajim" };
    const deadline = new AbortController();
    const s = scripted([REAL_NOT_SERVED, realList(c), REAL_CONNECTED, realList(c), realList(c)]);
    const src = new XmppClientSource(s.session as never, state, "alice@example.com", { signal: deadline.signal, pollMs: 60_000 });
    const p = src.revoke("alice@example.com", record(c));
    setTimeout(() => deadline.abort(new CamError("unreachable", "timed out")), 20);
    await assert.rejects(p, /timed out/);
  }));

test("camctl's own login is recognised: nothing is sent to revoke it, its session ends, the password remains (7)", () =>
  withState(async (state) => {
    const own: Entry = { id: `client/${await state.userAgentId()}`, connected: true, software: "camctl", device: "host" };
    const s = scripted([realList(own, { id: "client/x" })]);
    const report = await new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", record(own));
    assert.deepEqual(s.sent, ["mc:list"], "no revoke of any kind: the server would close this very session and never answer");
    assert.equal(s.closed(), 1, "camctl ended its own session");
    assert.equal(report.ownLogin, true);
    assert.deepEqual(report.done, { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false });
    assert.equal(revokeExitCode(report), 7);
  }));

test("a stream error during a revoke is reported as what it is, never as 7", () =>
  withState(async (state) => {
    const ended = new CamError("unreachable", "The server at x closed the connection (system-shutdown).", "system-shutdown");
    const session = { request: async () => Promise.reject(ended), close: async () => undefined };
    await assert.rejects(
      new XmppClientSource(session as never, state, "alice@example.com", fast).revoke("alice@example.com", grantRecord("grant/x")),
      (e: unknown) => e === ended,
    );
  }));

test("bare module: another error reply to the module's revoke is not misread (3 for the server's own failure)", () =>
  withState(async (state) => {
    const c: Entry = { id: "client/a" };
    const s = scripted([REAL_NOT_SERVED, realList(c), `<iq type="error"><error type="wait"><internal-server-error ${S}/><text ${S}>Unable to revoke client access</text></error></iq>`]);
    await assert.rejects(new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", record(c)), (e: unknown) => exitCodeFor(e) === 3);
  }));

// The companion's complete revoke (urn:camctl:admin:0), self and admin.

const revokedReply = (attrs: string, client = "") => `<iq type="result"><revoked xmlns="${ADMIN}" id="client/a" ${attrs}>${client}</revoked></iq>`;

test("companion: one request carrying the exact id and what was shown; its answer is the report", () =>
  withState(async (state) => {
    const c = { ...record({ id: "client/a b/c", software: "Gajim", device: "laptop", connected: true, auth: ["fast", "password"] }) };
    const after = `<client xmlns="${ADMIN}" id="client/a b/c" type="session" connected="false"><first-seen>${T}</first-seen><last-seen>${T}</last-seen><auth><password/></auth><user-agent><software>Gajim</software><device>laptop</device></user-agent></client>`;
    const s = scripted([revokedReply(`session-closed="true" fast-tokens-revoked="true" grant-revoked="false"`, after)]);
    const report = await new XmppClientSource(s.session as never, state, "alice@example.com", fast).revoke("alice@example.com", c);
    assert.equal(
      s.stanzas[0]!.toString(),
      `<iq type="set"><revoke xmlns="${ADMIN}" id="client/a b/c"><expect type="session" first-seen="${T}"><software>Gajim</software><device>laptop</device></expect></revoke></iq>`,
    );
    assert.deepEqual(report.done, { sessionClosed: true, fastTokensRevoked: true, grantRevoked: false });
    assert.deepEqual(report.after?.auth, ["password"]);
    assert.deepEqual(report.unverifiable, []);
    assert.equal(revokeExitCode(report), 7);

    const g = grantRecord("grant/g");
    const admin = scripted([revokedReply(`session-closed="false" fast-tokens-revoked="false" grant-revoked="true"`)]);
    const full = await new XmppClientSource(admin.session as never, state, "boss@example.com", fast).revoke("bob@example.com", g);
    assert.equal(admin.stanzas[0]!.toString(), `<iq type="set" to="bob@example.com"><revoke xmlns="${ADMIN}" id="grant/g"><expect type="access"/></revoke></iq>`);
    assert.equal(full.after, null);
    assert.equal(revokeExitCode(full), 0);
  }));

test("companion: <gone/> and <changed/> are 6 with their condition; no such account is 6; forbidden 5", () =>
  withState(async (state) => {
    const cases: [string, (e: unknown) => boolean][] = [
      [`<iq type="error"><error type="cancel"><item-not-found ${S}/><gone xmlns="${ADMIN}"/></error></iq>`, (e) => (e as CamError).condition === "gone"],
      [`<iq type="error"><error type="cancel"><conflict ${S}/><changed xmlns="${ADMIN}"/></error></iq>`, (e) => (e as CamError).condition === "changed"],
      [`<iq type="error"><error type="cancel"><item-not-found ${S}/><text ${S}>No such account</text></error></iq>`, (e) => /no account/.test((e as Error).message)],
      [`<iq type="error"><error type="auth"><forbidden ${S}/></error></iq>`, (e) => exitCodeFor(e) === 5],
    ];
    for (const [reply, check] of cases) {
      const s = scripted([reply]);
      await assert.rejects(new XmppClientSource(s.session as never, state, "boss@example.com", fast).revoke("bob@example.com", grantRecord("grant/g")), (e: unknown) => check(e) && (exitCodeFor(e) === 6 || exitCodeFor(e) === 5));
      assert.equal(s.sent.length, 1, "nothing else is tried");
    }
  }));

test("another account without the companion: 8 naming it, and no module revoke is sent", () =>
  withState(async (state) => {
    const s = scripted([REAL_NOT_SERVED]);
    await assert.rejects(
      new XmppClientSource(s.session as never, state, "boss@example.com", fast).revoke("bob@example.com", grantRecord("grant/g")),
      (e: unknown) => exitCodeFor(e) === 8 && /mod_client_management_admin/.test((e as Error).message),
    );
    assert.deepEqual(s.sent, ["admin:revoke>bob@example.com"]);
  }));


test("a request the server will never answer (it answers a ping sent after it) fails at once with what is likely: 3, not a wait for --timeout", () =>
  withState(async (state) => {
    const sent: string[] = [];
    const session = {
      async request(req: Element): Promise<Element> {
        const payload = req.getChildElements()[0]!;
        sent.push(`${payload.getName()}${req.attrs.to ? `>${req.attrs.to}` : ""}`);
        if (payload.getName() === "ping") return stanza(`<iq type="result" from="example.com"/>`);
        return new Promise(() => undefined); // the list handler raised: no reply, ever
      },
      async close() {},
    };
    const started = Date.now();
    await assert.rejects(
      new XmppClientSource(session as never, state, "alice@example.com", { stallMs: 20 }).list("alice@example.com"),
      (e: unknown) => exitCodeFor(e) === 3 && /control character.*--socket/.test((e as Error).message),
    );
    assert.ok(Date.now() - started < 2000);
    assert.deepEqual(sent, ["list", "ping>example.com"]);
  }));

test("a slow server that answers the ping only after the request is simply waited for", () =>
  withState(async (state) => {
    let answerList!: () => void;
    const session = {
      async request(req: Element): Promise<Element> {
        const name = req.getChildElements()[0]!.getName();
        if (name === "ping") return new Promise((resolve) => setTimeout(() => resolve(stanza(`<iq type="result"/>`)), 50));
        return new Promise((resolve) => (answerList = () => resolve(stanza(listResult(MC)))));
      },
      async close() {},
    };
    const p = new XmppClientSource(session as never, state, "alice@example.com", { stallMs: 5 }).list("alice@example.com");
    setTimeout(() => answerList(), 20); // the list comes before the pong, as in-order processing makes it
    assert.equal((await p).clients.length, 1);
  }));
