// XmppClientSource.listHost with recorded stanzas: the companion's host-wide listing paged with
// XEP-0059 (several pages, an empty host, an account split across pages), the requests it sends
// (filter, <max/>, <after/> = the last page's <last/>), progress per page, camctl's own filtering
// of what arrives, and the refusals. The answers are as mod_client_management_admin sends them
// (recorded from a sandbox, ids shortened).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Parser, type Element } from "@xmpp/xml";
import StanzaError from "@xmpp/middleware/lib/StanzaError.js";
import { XmppClientSource, type XmppSourceOptions } from "../../src/transports/xmpp/xmpp-source.js";
import { filterElement, parseHostPage } from "../../src/transports/xmpp/host-list.js";
import { CamState } from "../../src/transports/xmpp/state.js";
import { exitCodeFor } from "../../src/core/errors.js";
import { NO_FILTER, type ClientFilter, type HostClientRecord } from "../../src/core/filters.js";
import type { ScanProgress } from "../../src/core/client-source.js";

const ADMIN = "urn:camctl:admin:0";
const RSM = "http://jabber.org/protocol/rsm";
const S = `xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"`;
const HOST = "example.com";
const LOGIN = "boss@example.com";

function stanza(text: string): Element {
  const p = new Parser();
  let out: Element | undefined;
  p.on("element", (el: Element) => (out = el));
  p.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>${text}`);
  assert.ok(out);
  return out;
}

/** A session answering each request from a script, in order; keeps what was sent. */
function scripted(replies: string[]) {
  const sent: Element[] = [];
  const session = {
    async request(req: Element): Promise<Element> {
      sent.push(req);
      const text = replies.shift();
      assert.ok(text !== undefined, `unexpected request ${req.toString()}`);
      const reply = stanza(text);
      if (reply.attrs.type === "error") throw StanzaError.fromElement(reply.getChild("error")!);
      return reply;
    },
    async close() {},
  };
  return { session, sent, left: () => replies.length };
}

async function withState<T>(fn: (state: CamState) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-host-"));
  const state = new CamState(dir);
  await state.load(new AbortController().signal);
  return fn(state).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
}

interface Row { account: string; id: string; software?: string; connected?: boolean; lastSeen?: string; auth?: string[] }
/** A <client/> as the companion sends it in a host-wide page. */
function client(r: Row): string {
  const type = r.id.startsWith("grant/") ? "access" : "session";
  const auth = (r.auth ?? [type === "access" ? "grant" : "password"]).map((a) => `<${a}/>`).join("");
  return `<client type="${type}" id="${r.id}" account="${r.account}" connected="${r.connected ? "true" : "false"}">` +
    `<first-seen>2026-11-01T10:00:00Z</first-seen><last-seen>${r.lastSeen ?? "2026-11-27T22:05:07Z"}</last-seen>` +
    `<auth>${auth}</auth><user-agent>${r.software ? `<software>${r.software}</software>` : ""}</user-agent></client>`;
}
/** One page: its rows, and the RSM set the companion puts after them. */
function page(o: { rows: Row[]; count: number; scanned: number; complete: boolean; first?: [number, string]; last?: string; from?: string }): string {
  const first = o.first ? `<first index="${o.first[0]}">${o.first[1]}</first>` : "";
  const last = o.last !== undefined ? `<last>${o.last}</last>` : "";
  return `<iq type="result" from="${o.from ?? HOST}" to="${LOGIN}/camctl"><clients xmlns="${ADMIN}" host-wide="true" complete="${o.complete}" scanned="${o.scanned}">` +
    `${o.rows.map(client).join("")}<set xmlns="${RSM}"><count>${o.count}</count>${first}${last}</set></clients></iq>`;
}
const errorReply = (condition: string, text?: string, from = HOST) =>
  `<iq type="error" from="${from}"><error type="cancel"><${condition} ${S}/>${text ? `<text ${S}>${text}</text>` : ""}</error></iq>`;

async function scan(replies: string[], o: { filter?: ClientFilter; options?: XmppSourceOptions; host?: string } = {}) {
  return withState(async (state) => {
    const s = scripted(replies);
    const src = new XmppClientSource(s.session as never, state, LOGIN, o.options);
    const progress: ScanProgress[] = [];
    const records: HostClientRecord[] = [];
    let error: unknown;
    try {
      for await (const r of src.listHost(o.host ?? HOST, { filter: o.filter ?? NO_FILTER, signal: new AbortController().signal, onProgress: (p) => progress.push({ ...p }) })) {
        records.push(r);
      }
    } catch (e) {
      error = e;
    }
    return { records, progress, error, sent: s.sent, left: s.left() };
  });
}

const after = (req: Element) => req.getChild("clients", ADMIN)?.getChild("set", RSM)?.getChildText("after") ?? null;
const max = (req: Element) => req.getChild("clients", ADMIN)?.getChild("set", RSM)?.getChildText("max") ?? null;

test("several pages: each asks after the last page's <last/>, records arrive in order with their account, progress per page", async () => {
  const r = await scan([
    page({ rows: [{ account: "alice@example.com", id: "client/a1", software: "Gajim" }, { account: "alice@example.com", id: "grant/a2" }], count: 5, scanned: 2, complete: false, first: [0, "alice"], last: "bob" }),
    page({ rows: [{ account: "carol@example.com", id: "client/c1" }], count: 5, scanned: 4, complete: false, first: [2, "carol"], last: "dave" }),
    page({ rows: [{ account: "erin@example.com", id: "client/e1" }], count: 5, scanned: 5, complete: true, first: [4, "erin"], last: "erin" }),
  ], { options: { hostPageSize: 2 } });
  assert.equal(r.error, undefined);
  assert.deepEqual(r.records.map((x) => `${x.account} ${x.id}`), ["alice@example.com client/a1", "alice@example.com grant/a2", "carol@example.com client/c1", "erin@example.com client/e1"]);
  assert.equal(r.records[0]!.userAgent.software, "Gajim");
  assert.equal(r.records[1]!.type, "access");
  assert.deepEqual(r.sent.map((q) => [q.attrs.to, q.attrs.type, after(q), max(q)]), [[HOST, "get", null, "2"], [HOST, "get", "bob", "2"], [HOST, "get", "dave", "2"]]);
  assert.ok(r.sent.every((q) => q.getChild("clients", ADMIN)?.attrs["host-wide"] === "true"));
  // When a page arrives, and again once its records are handed over (before the next request).
  assert.deepEqual(r.progress, [{ scanned: 2, total: 5 }, { scanned: 2, total: 5 }, { scanned: 4, total: 5 }, { scanned: 4, total: 5 }, { scanned: 5, total: 5 }]);
});

test("an empty host: one request, no records, complete", async () => {
  const r = await scan([page({ rows: [], count: 0, scanned: 0, complete: true })]);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.records, []);
  assert.equal(r.sent.length, 1);
  assert.equal(max(r.sent[0]!), null, "no <max/>: the server's own page size");
  assert.deepEqual(r.progress, [{ scanned: 0, total: 0 }]);
});

test("an account split across pages: the cursor '<account>/<id>' is sent back as it came", async () => {
  const big = (n: number) => ({ account: "big@example.com", id: `client/${n}` });
  const r = await scan([
    page({ rows: [big(1), big(2)], count: 2, scanned: 0, complete: false, first: [0, "big"], last: "big/client/2" }),
    page({ rows: [big(3), big(4)], count: 2, scanned: 0, complete: false, first: [0, "big"], last: "big/client/4" }),
    page({ rows: [big(5), { account: "small@example.com", id: "grant/s" }], count: 2, scanned: 2, complete: true, first: [0, "big"], last: "small" }),
  ]);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.records.map((x) => x.id), ["client/1", "client/2", "client/3", "client/4", "client/5", "grant/s"]);
  assert.deepEqual(r.sent.map(after), [null, "big/client/2", "big/client/4"]);
});

test("pages with no matching records (a filter) still move on; camctl filters again what arrives", async () => {
  const filter: ClientFilter = { ...NO_FILTER, software: { name: "Evil Client", version: null, exact: true }, connected: true };
  const r = await scan([
    page({ rows: [], count: 3, scanned: 2, complete: false, first: [0, "a"], last: "b" }),
    // A server that ignored the filter: camctl drops what does not match.
    page({ rows: [{ account: "c@example.com", id: "client/1", software: "Evil Client", connected: true }, { account: "c@example.com", id: "client/2", software: "Gajim", connected: true }], count: 3, scanned: 3, complete: true, first: [2, "c"], last: "c" }),
  ], { filter });
  assert.deepEqual(r.records.map((x) => x.id), ["client/1"]);
  const sentFilter = r.sent[0]!.getChild("clients", ADMIN)!.getChild("filter", ADMIN)!;
  assert.equal(sentFilter.getChildText("software"), "Evil Client");
  assert.equal(sentFilter.getChildText("connected"), "true");
});

test("the filter on the wire: every field, times as XEP-0082 UTC; a time with no four-digit year is left to camctl", () => {
  const f: ClientFilter = {
    lastSeenBefore: Date.UTC(2026, 0, 31) / 1000,
    lastSeenAfter: 0,
    expiresBefore: 1e15,
    noExpiry: true,
    software: { name: "Evil Client", version: "2.3", exact: true },
    auth: ["fast", "password"],
    type: "access",
    connected: false,
    account: "test-*",
    accountInactiveSince: null,
  };
  assert.equal(
    filterElement(f).toString(),
    `<filter><last-seen-before>2026-01-31T00:00:00Z</last-seen-before><last-seen-after>1970-01-01T00:00:00Z</last-seen-after><no-expiry/>` +
      `<software version="2.3">Evil Client</software><auth><fast/><password/></auth><type>access</type><connected>false</connected><account>test-*</account></filter>`,
  );
  assert.equal(filterElement(NO_FILTER).toString(), "<filter/>");
});

test("refusals: not an admin 5; no companion 8 naming it; the companion without mod_client_management 8 with what it said; unknown host 6", async () => {
  const forbidden = await scan([errorReply("forbidden", "Listing every account's clients needs an admin role")]);
  assert.equal(exitCodeFor(forbidden.error), 5);
  assert.match(String(forbidden.error), /does not let boss@example\.com list the clients of every account on example\.com \(forbidden\).*prosody:admin.*needs an admin role/);

  for (const condition of ["service-unavailable", "feature-not-implemented"]) {
    const missing = await scan([errorReply(condition)]);
    assert.equal(exitCodeFor(missing.error), 8, condition);
    assert.match(String(missing.error), /example\.com does not answer host-wide client listings, so the companion module mod_client_management_admin is not enabled there.*--socket/);
  }
  const noModule = await scan([errorReply("service-unavailable", "mod_client_management is not loaded on this host")]);
  assert.equal(exitCodeFor(noModule.error), 8);
  assert.match(String(noModule.error), /example\.com cannot list the clients of every account \(service-unavailable\)\. The server said: "mod_client_management is not loaded on this host"/);

  const unknown = await scan([errorReply("remote-server-not-found", undefined, "nowhere.example")], { host: "nowhere.example" });
  assert.equal(exitCodeFor(unknown.error), 6);
  assert.match(String(unknown.error), /nowhere\.example is not served by the server camctl logged in to/);
});

test("a refusal on a later page ends the scan after the records already handed over", async () => {
  const r = await scan([
    page({ rows: [{ account: "a@example.com", id: "client/1" }], count: 2, scanned: 1, complete: false, first: [0, "a"], last: "a" }),
    errorReply("internal-server-error", "Listing the clients of b failed"),
  ]);
  assert.deepEqual(r.records.map((x) => x.id), ["client/1"]);
  assert.equal(exitCodeFor(r.error), 3);
  assert.match(String(r.error), /Listing the clients of b failed/);
});

test("answers camctl does not trust: another sender, a record of another host, no <clients/>, a cursor that does not move: 3", async () => {
  const spoofed = await scan([page({ rows: [], count: 0, scanned: 0, complete: true, from: "evil.example" })]);
  assert.equal(exitCodeFor(spoofed.error), 3);
  assert.match(String(spoofed.error), /came from evil\.example/);
  const withResource = await scan([page({ rows: [], count: 0, scanned: 0, complete: true, from: "example.com/x" })]);
  assert.equal(exitCodeFor(withResource.error), 3);

  const otherHost = await scan([page({ rows: [{ account: "mallory@evil.example", id: "client/1" }], count: 1, scanned: 1, complete: true })]);
  assert.equal(exitCodeFor(otherHost.error), 3);
  assert.deepEqual(otherHost.records, []);

  const garbage = await scan([`<iq type="result" from="${HOST}"><other xmlns="urn:example"/></iq>`]);
  assert.equal(exitCodeFor(garbage.error), 3);

  const stuck = await scan([
    page({ rows: [], count: 2, scanned: 1, complete: false, last: "a" }),
    page({ rows: [], count: 2, scanned: 1, complete: false, last: "a" }),
  ]);
  assert.equal(exitCodeFor(stuck.error), 3);
  assert.match(String(stuck.error), /did not move on/);
  const noCursor = await scan([page({ rows: [], count: 2, scanned: 1, complete: false })]);
  assert.equal(exitCodeFor(noCursor.error), 3);
});

test("the host is compared as the server preps it; no 'from' is accepted only from the login's own server", async () => {
  const cased = await scan([page({ rows: [{ account: "a@example.com", id: "client/1" }], count: 1, scanned: 1, complete: true, from: "example.com" })], { host: "Example.COM" });
  assert.equal(cased.error, undefined);
  assert.equal(cased.records.length, 1);
  const own = await scan([page({ rows: [], count: 0, scanned: 0, complete: true }).replace(` from="${HOST}"`, "")]);
  assert.equal(own.error, undefined);
  const other = await scan([page({ rows: [], count: 0, scanned: 0, complete: true }).replace(` from="${HOST}"`, "")], { host: "other.example" });
  assert.equal(exitCodeFor(other.error), 3);
});

test("an aborted scan sends nothing more", async () => {
  await withState(async (state) => {
    const s = scripted([
      page({ rows: [{ account: "a@example.com", id: "client/1" }], count: 2, scanned: 1, complete: false, last: "a" }),
      page({ rows: [], count: 2, scanned: 2, complete: true, last: "b" }),
    ]);
    const src = new XmppClientSource(s.session as never, state, LOGIN);
    const stop = new AbortController();
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const r of src.listHost(HOST, { filter: NO_FILTER, signal: stop.signal })) {
        seen.push(r.id);
        stop.abort(new Error("interrupted"));
      }
    }, /interrupted/);
    assert.deepEqual(seen, ["client/1"]);
    assert.equal(s.sent.length, 1);
  });
});

test("parseHostPage reads the recorded page", () => {
  const p = parseHostPage(stanza(page({ rows: [{ account: "pop1@example.com", id: "client/7a58", software: "Conversations" }], count: 6, scanned: 2, complete: false, first: [0, "boss"], last: "pop1" })), HOST);
  assert.deepEqual({ ...p, records: p.records.map((r) => [r.account, r.id, r.userAgent.software, r.lastSeen]) }, {
    records: [["pop1@example.com", "client/7a58", "Conversations", "2026-11-27T22:05:07Z"]],
    last: "pop1",
    count: 6,
    scanned: 2,
    complete: false,
    failed: [],
    snapshot: null,
  });
});

test("an account the server could not read is handed to onAccountFailed and the scan goes on", async () => {
  await withState(async (state) => {
    const s = scripted([
      page({ rows: [{ account: "b@example.com", id: "client/1" }], count: 2, scanned: 2, complete: true, last: "b" })
        .replace("<set ", `<failed account="a@example.com">storage error: \x1b[31mdisk</failed><set `),
    ]);
    const failures: Array<[string, string]> = [];
    const ids: string[] = [];
    const src = new XmppClientSource(s.session as never, state, LOGIN);
    for await (const r of src.listHost(HOST, { filter: NO_FILTER, signal: new AbortController().signal, onAccountFailed: (a, why) => failures.push([a, why]) })) ids.push(r.id);
    assert.deepEqual(ids, ["client/1"]);
    assert.deepEqual(failures, [["a@example.com", "storage error: \x1b[31mdisk"]], "the reason as the server said it (the command escapes it)");
  });
  // A failure for another host's account is not believed either.
  const other = await scan([page({ rows: [], count: 1, scanned: 1, complete: true }).replace("<set ", `<failed account="x@evil.example">no</failed><set `)]);
  assert.equal(exitCodeFor(other.error), 3);
});

test("a page request the server will never answer (a ping after it is answered): 3 at once, naming the host-wide listing", async () => {
  await withState(async (state) => {
    const session = {
      async request(req: Element): Promise<Element> {
        if (req.getChildElements()[0]!.getName() === "ping") return stanza(`<iq type="result" from="${HOST}"/>`);
        return new Promise(() => undefined); // the handler raised: no reply, ever
      },
      async close() {},
    };
    const src = new XmppClientSource(session as never, state, LOGIN, { stallMs: 20 });
    await assert.rejects(async () => {
      for await (const _ of src.listHost(HOST, { filter: NO_FILTER, signal: new AbortController().signal })) void _;
    }, (e: unknown) => exitCodeFor(e) === 3 && /never answered its host-wide client listing of example\.com: the request failed inside the server/.test((e as Error).message));
  });
});
