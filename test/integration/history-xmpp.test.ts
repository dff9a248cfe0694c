// `camctl user history` / `camctl host history` over XMPP (--jid) through the companion module
// mod_client_management_admin (<history/> in urn:camctl:admin:0, paged with XEP-0059), against a
// real Prosody with mod_audit and mod_audit_auth (the stand-ins, or the real modules with
// CAMCTL_PROSODY_PLUGIN_PATHS): the same events with the same fields as over the admin socket,
// the filters, paging across page boundaries (tiny pages set on the server), a non-admin refused
// (exit 5), revocations and lock-outs made over XMPP appearing in the history, and a server
// without the companion (exit 8).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { luaString } from "../sandbox/admin-socket.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { rawSasl2Login } from "../helpers/sasl2-raw.js";
import { assertOneSentence, homesRemovedAfterAll, xmppCamctl, type CamctlHome, type Login } from "../helpers/xmpp-camctl.js";

interface Event {
  time: string;
  host: string;
  account: string | null;
  event: string;
  source: string;
  recordedBy: string | null;
  ip: string | null;
  location: string | null;
  clientId: string | null;
  detail: Record<string, string> | null;
}
const FIELDS = ["time", "host", "account", "event", "source", "recordedBy", "ip", "location", "clientId", "detail"];

const home = homesRemovedAfterAll();
let sb: Sandbox;
let boss: Login;
let joe: Login;
let alice: Login;
let bob: Login;
let bossHome: CamctlHome;

const ndjson = (text: string): Event[] => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Event);

async function overSocket(args: string[]): Promise<Event[]> {
  const r = await runCamctl([...args, "-o", "ndjson", "--socket", sb.socketPath], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return ndjson(r.stdout);
}

async function overXmpp(args: string[], login: Login = boss, h: CamctlHome = bossHome): Promise<Event[]> {
  const r = await xmppCamctl(sb, h, login, [...args, "-o", "ndjson"]);
  assert.equal(r.code, 0, r.stderr);
  return ndjson(r.stdout);
}

/** camctl's own logins as boss (each run over XMPP is one) are not what the comparisons are about. */
const notBoss = (events: Event[]) => events.filter((e) => e.account !== boss.jid);

async function companionOption(name: string, value: number | null): Promise<void> {
  await sb.lua(`require "prosody.core.configmanager".set(${luaString(sb.host)}, ${luaString(name)}, ${value === null ? "nil" : String(value)}) return true`);
}

before(async () => {
  sb = await startSandbox({ extraModules: ["audit", "audit_auth", "client_management_admin"], admins: ["boss"] });
  boss = await sb.createAccount("boss");
  joe = await sb.createAccount("joe");
  alice = await sb.createAccount("alice");
  bob = await sb.createAccount("bob");
  bossHome = home();
  for (let i = 0; i < 3; i++) {
    const ok = await rawSasl2Login(sb, { jid: alice.jid, userAgentId: `alice-phone-${i}`, software: "Conversations", credential: { password: alice.password }, localAddress: "127.0.0.2" });
    assert.ok(ok.ok);
    const bad = await rawSasl2Login(sb, { jid: alice.jid, userAgentId: "alice-laptop", credential: { password: "not the password" }, localAddress: "127.0.0.3" });
    assert.ok(!bad.ok);
  }
  const other = await rawSasl2Login(sb, { jid: bob.jid, userAgentId: "bob-desk", credential: { password: bob.password }, localAddress: "127.0.0.3" });
  assert.ok(other.ok);
  // camctl's first login as boss (its new client) before any comparison.
  await overXmpp(["user", "history", alice.jid]);
});
after(async () => {
  await sb?.stop();
});

describe("history over XMPP through the companion", () => {
  test("user history: the same events with the same fields as over the admin socket", async () => {
    const xmpp = await overXmpp(["user", "history", alice.jid]);
    const socket = await overSocket(["user", "history", alice.jid]);
    assert.deepEqual(xmpp, socket);
    for (const e of xmpp) assert.deepEqual(Object.keys(e), FIELDS);
    const success = xmpp.filter((e) => e.event === "authentication-success");
    assert.equal(success.length, 3, JSON.stringify(xmpp));
    assert.ok(success.every((e) => e.ip === "127.0.0.2" && e.source === "mod_audit" && e.recordedBy === "mod_audit_auth"));
    assert.deepEqual(success.map((e) => e.clientId).sort(), ["client/alice-phone-0", "client/alice-phone-1", "client/alice-phone-2"]);
    const failures = xmpp.filter((e) => e.event === "authentication-failure");
    assert.equal(failures.length, 3);
    assert.ok(failures.every((e) => e.ip === "127.0.0.3" && e.clientId === "client/alice-laptop" && e.detail?.sessionType === "c2s_unauthed"));
    assert.ok(xmpp.every((e) => e.account === alice.jid && e.location === null));
  });

  test("host history: every account, the same as over the admin socket; json says the transport", async () => {
    const xmpp = notBoss(await overXmpp(["host", "history", sb.host]));
    const socket = notBoss(await overSocket(["host", "history", sb.host]));
    assert.deepEqual(xmpp, socket);
    assert.ok(xmpp.some((e) => e.account === bob.jid && e.event === "authentication-success" && e.ip === "127.0.0.3"));
    const r = await xmppCamctl(sb, bossHome, boss, ["host", "history", sb.host, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { host: string; transport: string; events: Event[] };
    assert.equal(doc.host, sb.host);
    assert.equal(doc.transport, "xmpp");
    assert.deepEqual(notBoss(doc.events), socket);
  });

  test("filters: --event and --since/--until are applied as over the admin socket", async () => {
    const all = notBoss(await overSocket(["host", "history", sb.host]));
    const t = all.find((e) => e.event === "authentication-failure")!.time;
    const next = new Date(Date.parse(t) + 1000).toISOString().replace(/\.\d+Z$/, "Z");
    for (const args of [
      ["--event", "authentication-failure"],
      ["--event", "new-client,authentication-failure"],
      ["--since", t],
      ["--since", next],
      ["--until", t],
      ["--since", t, "--until", t],
      ["--until", "1h"],
    ]) {
      const xmpp = notBoss(await overXmpp(["host", "history", sb.host, ...args]));
      const socket = notBoss(await overSocket(["host", "history", sb.host, ...args]));
      assert.deepEqual(xmpp, socket, args.join(" "));
    }
    const failures = await overXmpp(["host", "history", sb.host, "--event", "authentication-failure"]);
    assert.equal(failures.length, 3);
    assert.deepEqual(await overXmpp(["host", "history", sb.host, "--until", "1h"]), []);
  });

  test("paging: pages of one and of two entries give what one page gives", async () => {
    const whole = notBoss(await overSocket(["host", "history", sb.host]));
    assert.ok(whole.length > 8, `${whole.length} entries`);
    try {
      for (const size of [1, 2]) {
        await companionOption("client_management_admin_history_page_size", size);
        const logBefore = sb.readLog().length;
        assert.deepEqual(notBoss(await overXmpp(["host", "history", sb.host])), whole, `pages of ${size}`);
        // The first page (logged at info) held only `size` entries and was not the last.
        const firstPage = new RegExp(`read the history of ${sb.host.replace(/\./g, "\\.")}: (\\d+) entr(?:y|ies)(, done)?\n`).exec(sb.readLog().slice(logBefore));
        assert.ok(firstPage, "the companion logged the first page");
        assert.equal(Number(firstPage[1]), size);
        assert.equal(firstPage[2], undefined, "more pages followed");
        assert.deepEqual(await overXmpp(["user", "history", alice.jid]), await overSocket(["user", "history", alice.jid]), `pages of ${size}`);
        // A rare event among many others, pages of one: the pages in between carry nothing of it.
        assert.deepEqual(
          await overXmpp(["host", "history", sb.host, "--event", "authentication-failure"]),
          await overSocket(["host", "history", sb.host, "--event", "authentication-failure"]),
        );
      }
    } finally {
      await companionOption("client_management_admin_history_page_size", null);
    }
  });

  test("a non-admin is refused: exit 5, one sentence", async () => {
    const h = home();
    for (const args of [["host", "history", sb.host], ["user", "history", alice.jid], ["user", "history", joe.jid]]) {
      const r = await xmppCamctl(sb, h, joe, args);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.stdout, "");
      assertOneSentence(r, joe.password);
      assert.match(r.stderr, /read the history/);
    }
  });

  test("a revocation and a lock-out over XMPP appear in the history", async () => {
    const grant = await sb.createGrant(alice.jid, { software: "Webmail" });
    const r = await xmppCamctl(sb, bossHome, boss, ["user", "revoke_client", alice.jid, grant, "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    const revoked = await overXmpp(["user", "history", alice.jid, "--event", "client-revoked"]);
    assert.equal(revoked.length, 1, JSON.stringify(revoked));
    assert.equal(revoked[0]!.clientId, grant);
    assert.equal(revoked[0]!.source, "mod_audit");
    assert.equal(revoked[0]!.recordedBy, "mod_client_management_admin");
    assert.match(revoked[0]!.detail?.actor ?? "", new RegExp(`^Admin ${boss.jid.replace(/\./g, "\\.")}/`));
    assert.equal(revoked[0]!.detail?.grantRevoked, "true");
    assert.deepEqual(await overSocket(["user", "history", alice.jid, "--event", "client-revoked"]), revoked);

    const lo = await xmppCamctl(sb, bossHome, boss, ["user", "lockout", bob.jid, "--yes", "--disable", "--reason", "stolen laptop"]);
    assert.equal(lo.code, 0, lo.stderr);
    const locked = await overXmpp(["user", "history", bob.jid, "--event", "account-locked-out"]);
    assert.equal(locked.length, 1, JSON.stringify(locked));
    assert.equal(locked[0]!.detail?.disabled, "true");
    assert.equal(locked[0]!.detail?.reason, "stolen laptop");
    assert.equal(locked[0]!.recordedBy, "mod_client_management_admin");
  });
});

describe("history over XMPP without mod_audit", () => {
  test("camctl's store only: a revocation over XMPP is recorded there", async () => {
    const plain = await startSandbox({ extraModules: ["client_management_admin"], admins: ["boss"] });
    try {
      const admin = await plain.createAccount("boss");
      const carol = await plain.createAccount("carol");
      const h = home();
      const empty = await xmppCamctl(plain, h, admin, ["user", "history", carol.jid, "-o", "ndjson"]);
      assert.equal(empty.code, 0, empty.stderr);
      assert.equal(empty.stdout, "");
      const grant = await plain.createGrant(carol.jid, { software: "Webmail" });
      const r = await xmppCamctl(plain, h, admin, ["user", "revoke_client", carol.jid, grant, "--yes"]);
      assert.equal(r.code, 0, r.stderr);
      const got = await xmppCamctl(plain, h, admin, ["user", "history", carol.jid, "-o", "ndjson"]);
      assert.equal(got.code, 0, got.stderr);
      const events = ndjson(got.stdout);
      assert.equal(events.length, 1, got.stdout);
      assert.equal(events[0]!.event, "client-revoked");
      assert.equal(events[0]!.source, "camctl");
      assert.equal(events[0]!.recordedBy, "mod_client_management_admin");
      assert.equal(events[0]!.clientId, grant);
    } finally {
      await plain.stop();
    }
  });

  test("without the companion: exit 8 saying how to get it", async () => {
    const bare = await startSandbox({ extraModules: ["audit", "audit_auth"], admins: ["boss"] });
    try {
      const admin = await bare.createAccount("boss");
      const r = await xmppCamctl(bare, home(), admin, ["host", "history", bare.host]);
      assert.equal(r.code, 8, r.stderr);
      assertOneSentence(r, admin.password);
      assert.match(r.stderr, /mod_client_management_admin/);
      assert.match(r.stderr, /--socket/);
    } finally {
      await bare.stop();
    }
  });
});
