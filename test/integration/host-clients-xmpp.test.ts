// The host-wide listing over XMPP against a real Prosody 13 (the sandbox): the companion's
// <clients host-wide='true'/> paged with XEP-0059, through XmppClientSource.listHost as camctl
// opens it. Page boundaries (small pages via the companion's page options, set at run time through
// the admin socket), the union of per-account listings, filters on the server, and the refusals.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sqliteStorageAvailable, startSandbox, type PopulatedAccount, type Sandbox } from "../sandbox/sandbox.js";
import { luaString } from "../sandbox/admin-socket.js";
import { luaFiles } from "../helpers/lua-interpreter.js";
import { luaModule } from "../../src/transports/socket/lua.js";
import { fakeIO } from "../helpers/fake-io.js";
import { prepareXmppSource } from "../../src/transports/xmpp/open.js";
import { CamState } from "../../src/transports/xmpp/state.js";
import { exitCodeFor } from "../../src/core/errors.js";
import { NO_FILTER, type ClientFilter, type HostClientRecord } from "../../src/core/filters.js";
import type { ScanProgress } from "../../src/core/client-source.js";
import type { ClientSource } from "../../src/core/client-source.js";
import { spawn } from "node:child_process";
import { CAMCTL_BIN, runCamctl } from "../helpers/run-camctl.js";
import { CamctlHome, xmppCamctl, xmppInvocation } from "../helpers/xmpp-camctl.js";
import { randomUUID } from "node:crypto";
import { child, rawSasl2Login, type Element } from "../helpers/sasl2-raw.js";
import { UNSAFE_FOR_TERMINAL } from "../helpers/hostile-strings.js";

let sb: Sandbox;
let boss: { jid: string; password: string };
let joe: { jid: string; password: string };
let accounts: PopulatedAccount[];
const stateDirs: string[] = [];

before(async () => {
  sb = await startSandbox({ extraModules: ["client_management_admin"], admins: ["boss"] });
  boss = await sb.createAccount("boss");
  joe = await sb.createAccount("joe");
  // Seven accounts of three clients (two real logins, one grant), accounts with only grants, one with none.
  accounts = await sb.populate({ accounts: 7, prefix: "pop" });
  accounts.push(...(await sb.populate({ accounts: 2, prefix: "grants", clients: [{ kind: "grant", software: "Webmail" }, { kind: "grant", software: "Bot", ttlSeconds: 3600 }] })));
  await sb.createAccount("empty");
});
// One camctl installation for the command-line runs (its login is one client of boss).
let cliHome: CamctlHome;
after(async () => {
  for (const d of stateDirs) fs.rmSync(d, { recursive: true, force: true });
  cliHome?.remove();
  await sb?.stop();
});

/** Sets one of the companion's options on the host; it reads them at every page. */
async function companionOption(name: string, value: number | null, on: Sandbox = sb): Promise<void> {
  await on.lua(`require "prosody.core.configmanager".set(${luaString(on.host)}, ${luaString(name)}, ${value === null ? "nil" : String(value)}) return true`);
}

/** One camctl installation per login (its state, so its login is one client of the account however often it runs). */
const installations = new Map<string, string>();

/** A camctl XMPP source, opened the way the commands open it, logged in as `login`. */
async function openSource(login: { jid: string; password: string }, on: Sandbox = sb): Promise<ClientSource> {
  let dir = installations.get(login.jid);
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-hostxmpp-"));
    stateDirs.push(dir);
    installations.set(login.jid, dir);
  }
  const pw = path.join(dir, "pw");
  fs.writeFileSync(pw, login.password + "\n", { mode: 0o600 });
  const prepared = await prepareXmppSource(
    { transport: { kind: "xmpp", loginJid: login.jid, password: { from: "file", path: pw }, server: { host: "127.0.0.1", port: on.c2sPort }, tls: "starttls", caFile: on.caFile }, timeoutSeconds: 15 },
    fakeIO().io,
    { state: new CamState(path.join(dir, "state")) },
  );
  return prepared.open(AbortSignal.timeout(20_000));
}

async function scan(login: { jid: string; password: string }, host: string, filter: ClientFilter = NO_FILTER, on: Sandbox = sb) {
  const source = await openSource(login, on);
  const records: HostClientRecord[] = [];
  const progress: ScanProgress[] = [];
  let error: unknown;
  try {
    for await (const r of source.listHost(host, { filter, signal: AbortSignal.timeout(60_000), onProgress: (p) => progress.push({ ...p }) })) records.push(r);
  } catch (e) {
    error = e;
  } finally {
    await source.close();
  }
  return { records, progress, error };
}

const key = (r: HostClientRecord) => `${r.account} ${r.id}`;
const byKey = (a: HostClientRecord, b: HostClientRecord) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
/** Pages a scan took: progress is reported when a page arrives, and again before the next request. */
const pagesOf = (progress: ScanProgress[]) => (progress.length + 1) / 2;

/** Every account's own listing (the companion's admin <list/>), as host-wide records. */
async function unionOfAccountListings(jids: string[], on: Sandbox = sb, admin = boss): Promise<HostClientRecord[]> {
  const source = await openSource(admin, on);
  try {
    const out: HostClientRecord[] = [];
    for (const jid of jids) {
      const facts = await source.accountFacts!(jid);
      out.push(...(await source.list(jid)).clients.map((c) => ({ account: jid, ...c, accountLastActivity: facts.accountLastActivity, accountStatus: facts.accountStatus })));
    }
    return out;
  } finally {
    await source.close();
  }
}

const allJids = () => [boss.jid, joe.jid, `empty@${sb.host}`, ...accounts.map((a) => a.jid)];

describe("an admin lists every account's clients over XMPP", () => {
  test("small pages: every record exactly once, equal to the union of per-account listings, accounts in order", async () => {
    await companionOption("client_management_admin_page_size", 2);
    // Pages bounded by records only (not by the 20 ms of work a busy machine could run into).
    await companionOption("client_management_admin_page_ms", 10_000);
    const logFrom = sb.readLog().length;
    try {
      const { records, progress, error } = await scan(boss, sb.host);
      assert.equal(error, undefined, String(error));
      const union = await unionOfAccountListings(allJids());
      // camctl's own login (connected while it scans, listed afresh by each run) is compared by id only.
      const others = (rs: HostClientRecord[]) => rs.filter((r) => r.userAgent.software !== "camctl").sort(byKey);
      assert.equal(new Set(records.map(key)).size, records.length, "no record twice");
      assert.deepEqual(others(records), others(union), "field for field");
      assert.deepEqual(records.map(key).sort(), union.map(key).sort());
      assert.equal(records.length, 7 * 3 + 2 * 2 + 1, "seven accounts of three, two of two grants, boss's own login");
      const order = records.map((r) => r.account.split("@")[0]!);
      assert.deepEqual(order, [...order].sort(), "accounts in byte order");
      // Pages of at most two records: each 3-client account is split; progress reaches every account.
      assert.ok(pagesOf(progress) >= Math.ceil(records.length / 2), `${pagesOf(progress)} pages for ${records.length} records`);
      // The scan's first page is logged with who asked (later pages at debug level).
      assert.match(sb.readLog().slice(logFrom), new RegExp(`Admin ${boss.jid}/\\S+ listed the clients of every account on camctl\\.test: accounts 1\\.\\.2 of 12, 1 client$`, "m"));
      const last = progress.at(-1)!;
      assert.deepEqual(last, { scanned: allJids().length, total: allJids().length });
      assert.ok(progress.every((p, i) => i === 0 || p.scanned >= progress[i - 1]!.scanned), "progress only grows");
    } finally {
      await companionOption("client_management_admin_page_size", null);
      await companionOption("client_management_admin_page_ms", null);
    }
  });

  test("a byte budget bounds pages too; the default page holds this whole host", async () => {
    // No time budget (20 ms by default), which a busy machine could run into.
    await companionOption("client_management_admin_page_ms", 10_000);
    const whole = await scan(boss, sb.host);
    assert.equal(whole.error, undefined, String(whole.error));
    // 2 KiB: smaller than this host, larger than any one account (an account split across pages comes in id order).
    await companionOption("client_management_admin_page_bytes", 2048);
    try {
      const small = await scan(boss, sb.host);
      assert.equal(small.error, undefined, String(small.error));
      assert.deepEqual(small.records.map(key), whole.records.map(key), "the same records in the same order");
      assert.equal(pagesOf(whole.progress), 1, "the default page holds this small host");
      assert.ok(pagesOf(small.progress) > 5, `a 2 KiB budget needs several pages (${pagesOf(small.progress)})`);
    } finally {
      await companionOption("client_management_admin_page_bytes", null);
      await companionOption("client_management_admin_page_ms", null);
    }
  });

  test("a page's byte budget counts each <client/> at no less than its serialised length (host_clients.xml_size)", async () => {
    // Inside the sandbox's Prosody, with its own util.stanza: elements like the listing's, with
    // text and attributes the serialiser must escape, nested, empty and namespaced.
    const companionLib = fs.readFileSync(new URL("../../../prosody/mod_client_management_admin/host_clients.lib.lua", import.meta.url), "utf8");
    const out = await sb.lua(`${luaFiles("client_filter")}${luaModule("host_clients", companionLib, ["client_access", "client_filter"])}
local st = require "prosody.util.stanza"
local els = {
  st.stanza("client", { id = "client/1", type = "session", connected = "true" }),
  st.stanza("client", { id = "a'b\\"c<d>&e" }):text_tag("first-seen", "2024-01-01T00:00:00Z"):tag("auth"):tag("password"):up():up()
    :tag("user-agent"):text_tag("software", "Dino & <friends> 'quoted' \\"too\\"", { id = "x&y", version = "1'2" }):up(),
  st.stanza("client", { id = "é" .. string.rep("&", 50) }):tag("network", { xmlns = "urn:camctl:admin:0", ip = "192.0.2.1" }):up(),
  st.stanza("client"):text(string.rep("<&>", 100)),
  st.stanza("client", { ["urn:x\\1attr"] = "v" }),
}
local parts = {}
for i, el in ipairs(els) do parts[i] = host_clients.xml_size(el) .. "/" .. #tostring(el) end
return table.concat(parts, " ")`);
    for (const pair of out.trim().split(" ")) {
      const [bound, actual] = pair.split("/").map(Number) as [number, number];
      assert.ok(bound >= actual, `${pair}: the budget's count is below the serialised length`);
      assert.ok(bound <= actual * 1.6 + 40, `${pair}: far above the serialised length`);
    }
  });

  test("filters are applied on the server: only matching rows travel", async () => {
    await companionOption("client_management_admin_page_size", 3);
    try {
      const gajim = await scan(boss, sb.host, { ...NO_FILTER, software: { name: "Gajim", version: null, exact: true } });
      assert.equal(gajim.error, undefined);
      assert.deepEqual(gajim.records.map((r) => r.account), accounts.slice(0, 7).map((a) => a.jid).sort());
      assert.ok(gajim.records.every((r) => r.userAgent.software === "Gajim"));

      const grantsOnly = await scan(boss, sb.host, { ...NO_FILTER, type: "access", account: "grants*" });
      assert.deepEqual(grantsOnly.records.map((r) => r.userAgent.software).sort(), ["Bot", "Bot", "Webmail", "Webmail"]);
      assert.deepEqual(grantsOnly.progress.at(-1), { scanned: 2, total: 2 }, "the account glob narrows the accounts scanned");

      const noExpiry = await scan(boss, sb.host, { ...NO_FILTER, noExpiry: true, account: "grants1" });
      assert.deepEqual(noExpiry.records.map((r) => r.userAgent.software), ["Webmail"]);

      const connected = await scan(boss, sb.host, { ...NO_FILTER, connected: true });
      assert.deepEqual(connected.records.map((r) => [r.account, r.userAgent.software]), [[boss.jid, "camctl"]], "only the scanning login itself");

      const nothing = await scan(boss, sb.host, { ...NO_FILTER, software: { name: "Evil Client", version: "2.3", exact: true } });
      assert.deepEqual([nothing.records, nothing.error], [[], undefined]);
    } finally {
      await companionOption("client_management_admin_page_size", null);
    }
  });

  test("a non-admin is refused (5) and the refusal is logged; nothing is listed", async () => {
    const { records, error } = await scan(joe, sb.host);
    assert.deepEqual(records, []);
    assert.equal(exitCodeFor(error), 5, String(error));
    assert.match(String(error), /does not let joe@camctl\.test list the clients of every account on camctl\.test/);
    assert.match(sb.readLog(), /Refused to list the clients of every account on camctl\.test for joe@camctl\.test\/\S+: not permitted by its role/);
  });

  test("a host without the companion is 8, naming it; an unknown host 6", async () => {
    for (const host of [sb.strictHost, sb.bareHost]) {
      const { error } = await scan(boss, host);
      assert.equal(exitCodeFor(error), 8, `${host}: ${String(error)}`);
      assert.match(String(error), /mod_client_management_admin/);
    }
    const started = Date.now();
    const unknown = await scan(boss, "nowhere.invalid");
    assert.equal(exitCodeFor(unknown.error), 6, String(unknown.error));
    assert.ok(Date.now() - started < 30_000);
  });
});

describe("the protocol, raw", () => {
  const NS = "urn:camctl:admin:0";
  const RSM = "http://jabber.org/protocol/rsm";
  let n = 0;
  const request = (inner: string, attrs = "host-wide='true'") => `<iq type='get' id='raw${++n}' to='${sb.host}'><clients xmlns='${NS}' ${attrs}>${inner}</clients></iq>`;
  const conditionOf = (reply: Element) => (child(reply, "error")?.children ?? []).filter((c) => c.name !== "text").map((c) => c.name);

  test("<max>0</max> is the count only; <before/>, a malformed filter and a request without host-wide are bad requests; unknown filters are ignored", async () => {
    const admin = await rawSasl2Login(sb, { jid: boss.jid, userAgentId: randomUUID(), software: "raw", credential: { password: boss.password }, keepConnected: true });
    assert.ok(admin.ok);
    try {
      const countOnly = await admin.iq(request(`<set xmlns='${RSM}'><max>0</max></set>`));
      const clients = child(countOnly, "clients")!;
      assert.equal(clients.attrs.xmlns, NS);
      assert.deepEqual(clients.children.map((c) => c.name), ["set"]);
      assert.deepEqual(child(clients, "set")!.children.map((c) => [c.name, c.text]), [["count", "12"]]);

      for (const bad of [
        request(`<set xmlns='${RSM}'><before/></set>`),
        request(`<filter><last-seen-before>last week</last-seen-before></filter>`),
        request(`<filter><connected>maybe</connected></filter>`),
        request(`<filter><type>grant</type></filter>`),
        request(`<set xmlns='${RSM}'><max>-1</max></set>`),
        request("", ""),
      ]) {
        const reply = await admin.iq(bad);
        assert.equal(reply.attrs.type, "error", bad);
        assert.deepEqual(conditionOf(reply), ["bad-request"], bad);
      }
      const ignored = await admin.iq(request(`<filter><future-filter>x</future-filter><account>pop1</account></filter>`));
      assert.equal(child(ignored, "clients")!.children.filter((c) => c.name === "client").length, 3);
    } finally {
      await admin.close();
    }
  });
  test("the snapshot: the first page names it; ranges of it by <index/> and end='n' are served in any order; an unknown one is item-not-found", async () => {
    await companionOption("client_management_admin_page_ms", 10_000);
    const admin = await rawSasl2Login(sb, { jid: boss.jid, userAgentId: randomUUID(), software: "raw", credential: { password: boss.password }, keepConnected: true });
    assert.ok(admin.ok);
    const accountsOf = (reply: Element) => [...new Set(child(reply, "clients")!.children.filter((c) => c.name === "client").map((c) => c.attrs.account!.split("@")[0]!))];
    try {
      const first = child(await admin.iq(request(`<set xmlns='${RSM}'><max>2</max></set>`)), "clients")!;
      const id = first.attrs.snapshot!;
      assert.match(id, /^\S{8,}$/);
      // All twelve accounts in byte order: boss, empty, grants1, grants2, joe, pop1…pop7.
      const range = (start: number, end: number, max = 100) =>
        admin.iq(request(`<set xmlns='${RSM}'><max>${max}</max><index>${start}</index></set>`, `host-wide='true' snapshot='${id}' end='${end}'`));
      const later = await range(9, 12);
      const earlier = await range(2, 4);
      assert.deepEqual(accountsOf(later), ["pop5", "pop6", "pop7"]);
      assert.deepEqual([child(later, "clients")!.attrs.scanned, child(later, "clients")!.attrs.complete], ["12", "true"]);
      assert.deepEqual(accountsOf(earlier), ["grants1", "grants2"]);
      assert.deepEqual([child(earlier, "clients")!.attrs.scanned, child(earlier, "clients")!.attrs.complete], ["4", "false"], "the range ends at its end, not at the page size");
      // A range the page could not finish (two records a page, three clients an account) goes on by <after/>.
      const cut = child(await range(9, 10, 2), "clients")!;
      assert.equal(cut.attrs.snapshot, id);
      assert.equal(cut.attrs.scanned, "9", "pop5 not finished");
      const last = child(child(cut, "set"), "last")!.text;
      assert.match(last, /^pop5\//);
      const rest = child(await admin.iq(request(`<set xmlns='${RSM}'><max>2</max><after>${last}</after></set>`, `host-wide='true' snapshot='${id}' end='10'`)), "clients")!;
      assert.deepEqual(rest.children.filter((c) => c.name === "client").map((c) => c.attrs.account), [`pop5@${sb.host}`]);
      assert.equal(rest.attrs.scanned, "10");
      for (const bad of [
        request(`<set xmlns='${RSM}'><index>1</index><after>boss</after></set>`, `host-wide='true' snapshot='${id}'`),
        request(`<set xmlns='${RSM}'><index>1</index></set>`, `host-wide='true' snapshot='${id}' end='x'`),
        request(`<set xmlns='${RSM}'><index>-1</index></set>`, `host-wide='true' snapshot='${id}'`),
      ]) {
        const reply = await admin.iq(bad);
        assert.deepEqual(conditionOf(reply), ["bad-request"], bad);
      }
      const unknown = await admin.iq(request(`<set xmlns='${RSM}'><index>1</index></set>`, `host-wide='true' snapshot='not${id}' end='3'`));
      assert.deepEqual(conditionOf(unknown), ["item-not-found", "snapshot-expired"]);
      // Another account glob is another listing: the snapshot does not serve it.
      const otherGlob = await admin.iq(request(`<filter><account>pop*</account></filter><set xmlns='${RSM}'><index>1</index></set>`, `host-wide='true' snapshot='${id}' end='3'`));
      assert.deepEqual(conditionOf(otherGlob), ["item-not-found", "snapshot-expired"]);
    } finally {
      await admin.close();
      await companionOption("client_management_admin_page_ms", null);
    }
  });
});

describe("camctl host clients <host> --jid admin@…", () => {
  before(() => {
    cliHome = new CamctlHome();
  });
  const ndjson = (text: string) => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as HostClientRecord);

  test("-o ndjson over small pages: the same records as over the admin socket, field for field", async () => {
    await companionOption("client_management_admin_page_size", 2);
    try {
      const viaXmpp = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "-o", "ndjson"]);
      assert.equal(viaXmpp.code, 0, viaXmpp.stderr);
      assert.equal(viaXmpp.stderr, "", "no progress line when stderr is not a terminal");
      const viaSocket = await runCamctl(["host", "clients", sb.host, "-o", "ndjson", "--socket", sb.socketPath], { timeoutMs: 30_000 });
      assert.equal(viaSocket.code, 0, viaSocket.stderr);
      const x = ndjson(viaXmpp.stdout);
      const s = ndjson(viaSocket.stdout);
      // camctl's own XMPP login is connected while it scans (so has a live address), and was seen again by then.
      const settled = (rs: HostClientRecord[]) =>
        rs.map((r) => (r.userAgent.software === "camctl" ? { ...r, connected: false, lastSeen: null, ip: null, connectedSince: null } : r)).sort(byKey);
      assert.deepEqual(settled(x), settled(s));
      assert.ok(x.length >= 26, `${x.length} records`);
      assert.ok(x.every((r) => r.account.endsWith(`@${sb.host}`)));
    } finally {
      await companionOption("client_management_admin_page_size", null);
    }
  });

  test("filters, CSV and the summary over XMPP", async () => {
    const gajim = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "--software", "Gajim", "--type", "session", "-o", "csv"]);
    assert.equal(gajim.code, 0, gajim.stderr);
    const rows = gajim.stdout.trim().split("\n");
    assert.match(rows[0]!, /^account,/);
    assert.equal(rows.length, 1 + 7);
    const summary = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "--account", "grants*", "--summary", "-o", "json"]);
    assert.equal(summary.code, 0, summary.stderr);
    assert.match(summary.stdout, /"Webmail"/);
  });

  test("refusals: a non-admin 5, a host without the companion 8, an unknown host 6, each one sentence", async () => {
    const cases: Array<[{ jid: string; password: string }, string, number, RegExp]> = [
      [joe, sb.host, 5, /does not let joe@camctl\.test list the clients of every account on camctl\.test \(forbidden\)/],
      [boss, sb.strictHost, 8, /strict\.camctl\.test does not answer host-wide client listings, so the companion module mod_client_management_admin is not enabled there/],
      [boss, sb.bareHost, 8, /mod_client_management_admin/],
      [boss, "nowhere.invalid", 6, /nowhere\.invalid is not served by the server camctl logged in to/],
    ];
    for (const [login, host, code, re] of cases) {
      const r = await xmppCamctl(sb, cliHome, login, ["host", "clients", host, "-o", "ndjson"]);
      assert.equal(r.code, code, `${host}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });

  test("a reader that goes away after the first row (| head -1) ends the scan cleanly; the server serves the next one", async () => {
    await companionOption("client_management_admin_page_size", 1);
    try {
      const { args, env } = xmppInvocation(sb, cliHome, boss, ["host", "clients", sb.host, "-o", "ndjson"]);
      const child = spawn(process.execPath, [CAMCTL_BIN, ...args], { env: { PATH: process.env.PATH, LANG: "C.UTF-8", ...env }, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const first = await new Promise<string>((resolve) => {
        let text = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          text += d;
          if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")));
        });
      });
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
      assert.ok(JSON.parse(first).account, first);
      assert.equal(code, 0, stderr);
      assert.equal(stderr, "");
    } finally {
      await companionOption("client_management_admin_page_size", null);
    }
    const again = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "-o", "ndjson", "--account", "pop1"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(ndjson(again.stdout).length, 3);
  });
});

describe("camctl host clients over XMPP, pages asked ahead", () => {
  before(() => {
    cliHome ??= new CamctlHome();
  });
  const ndjson = (text: string) => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as HostClientRecord);
  /** Counts the host-wide requests that name a range by <index/> (the pages camctl asks ahead); returns the count when turned off. */
  const countIndexRequests = (on: boolean) =>
    sb.lua(`local events = prosody.hosts[${luaString(sb.host)}].events
local name = "iq-get/host/urn:camctl:admin:0:clients"
if ${on} then
  local t = { n = 0 }
  t.handler = function (e)
    local set = e.stanza.tags[1]:get_child("set", "http://jabber.org/protocol/rsm")
    if set and set:get_child("index") then t.n = t.n + 1 end
  end
  prosody.camctl_test_counter = t
  events.add_handler(name, t.handler, 100)
  return true
end
local t = prosody.camctl_test_counter
events.remove_handler(name, t.handler)
prosody.camctl_test_counter = nil
return t.n`);

  test("a host of many pages: exactly the records of the admin socket's listing, in the same order; later pages named by index", async () => {
    // Two accounts a page (the first page sizes the ranges: one account each), no time budget.
    await companionOption("client_management_admin_page_accounts", 2);
    await companionOption("client_management_admin_page_ms", 10_000);
    await countIndexRequests(true);
    let indexed: string;
    let viaXmpp;
    try {
      viaXmpp = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "-o", "ndjson"]);
    } finally {
      indexed = await countIndexRequests(false);
      await companionOption("client_management_admin_page_accounts", null);
      await companionOption("client_management_admin_page_ms", null);
    }
    assert.equal(viaXmpp.code, 0, viaXmpp.stderr);
    const viaSocket = await runCamctl(["host", "clients", sb.host, "-o", "ndjson", "--socket", sb.socketPath], { timeoutMs: 30_000 });
    assert.equal(viaSocket.code, 0, viaSocket.stderr);
    // camctl's own XMPP login is connected while it scans, and was seen again by then.
    const settled = (rs: HostClientRecord[]) => rs.map((r) => (r.userAgent.software === "camctl" ? { ...r, connected: false, lastSeen: null, ip: null, connectedSince: null } : r));
    const x = settled(ndjson(viaXmpp.stdout));
    const s = settled(ndjson(viaSocket.stdout));
    assert.deepEqual(x.map((r) => r.account), s.map((r) => r.account), "accounts in the same order");
    assert.deepEqual([...x].sort(byKey), [...s].sort(byKey), "the same records, field for field");
    assert.ok(x.length >= 26, `${x.length} records`);
    // Twelve accounts, the first page two: ten ranges of one account, each asked by index.
    assert.ok(Number(indexed) >= 9, `${indexed} requests by index`);
  });

  test("a companion that names no snapshot (page_ahead = false, as an older one): one page at a time, the same records", async () => {
    await companionOption("client_management_admin_page_accounts", 2);
    await sb.lua(`require "prosody.core.configmanager".set(${luaString(sb.host)}, "client_management_admin_page_ahead", false) return true`);
    await countIndexRequests(true);
    let indexed: string;
    let r;
    try {
      r = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "-o", "ndjson"]);
    } finally {
      indexed = await countIndexRequests(false);
      await companionOption("client_management_admin_page_accounts", null);
      await sb.lua(`require "prosody.core.configmanager".set(${luaString(sb.host)}, "client_management_admin_page_ahead", nil) return true`);
    }
    assert.equal(r.code, 0, r.stderr);
    assert.equal(indexed, "0");
    const accounts = ndjson(r.stdout).map((x) => x.account);
    // Seven accounts of three, two of two grants, and boss's logins (camctl's own, raw tests' ones).
    assert.ok(accounts.length >= 7 * 3 + 2 * 2 + 1, `${accounts.length} records`);
    assert.equal(new Set(ndjson(r.stdout).map((x) => `${x.account} ${x.id}`)).size, accounts.length, "no record twice");
    assert.deepEqual(accounts, [...accounts].sort());
  });

  test("a snapshot gone between pages: one sentence, exit 3, not a listing reported as done", async () => {
    await companionOption("client_management_admin_page_accounts", 2);
    await companionOption("client_management_admin_snapshot_seconds", 0);
    try {
      const r = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "-o", "ndjson"]);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /camctl\.test no longer holds the account list this listing was paging through .*; run the command again\./);
    } finally {
      await companionOption("client_management_admin_page_accounts", null);
      await companionOption("client_management_admin_snapshot_seconds", null);
    }
  });

  test("the connection closed by the server mid-listing: exit 3, one sentence", async () => {
    // Slow pages (each account read takes 0.2 s, one account a page), so the listing is under way when its session is closed.
    await sb.lua(`local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
if not rawget(cm, "camctl_test_unslowed") then
  cm.camctl_test_unslowed = cm.get_active_clients
  cm.get_active_clients = function (...) os.execute("sleep 0.2") return cm.camctl_test_unslowed(...) end
end return true`);
    await companionOption("client_management_admin_page_accounts", 1);
    try {
      const { args, env } = xmppInvocation(sb, cliHome, boss, ["host", "clients", sb.host, "-o", "ndjson"]);
      const proc = spawn(process.execPath, [CAMCTL_BIN, ...args], { env: { PATH: process.env.PATH, LANG: "C.UTF-8", ...env }, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      let stdout = "";
      proc.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const closed = new Promise<number | null>((resolve) => proc.on("close", (c) => resolve(c)));
      await new Promise<void>((resolve) => {
        proc.stdout.setEncoding("utf8").on("data", (d: string) => {
          stdout += d;
          if (stdout.includes("\n")) resolve();
        });
      });
      await sb.lua(`local n = 0
for _, s in pairs(prosody.full_sessions) do
  if s.username == "boss" and s.host == ${luaString(sb.host)} then s:close() n = n + 1 end
end return n`);
      const code = await closed;
      assert.equal(code, 3, stderr);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.ok(ndjson(stdout).length < 26, "not the whole listing");
    } finally {
      await companionOption("client_management_admin_page_accounts", null);
      await sb.lua(`local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
if rawget(cm, "camctl_test_unslowed") then cm.get_active_clients = cm.camctl_test_unslowed cm.camctl_test_unslowed = nil end return true`);
    }
  });
});

describe("camctl host clients over XMPP: hostile strings and --timeout", () => {
  // Names a client chooses for itself, as an intruder might: terminal escapes, bidi, line breaks.
  const HOSTILE = ["Evil\x1b]0;pwned\x07App", "Red\x1b[31mAlert\x1b[0m", "C1\u009b31mCSI", "Two\nLines\r\nFake row", "Safe\u202egpj.exe", "Zero\u200bWidth\ufeff", 'Comma, "quoted"'];
  let mallory: { jid: string; password: string };
  before(async () => {
    mallory = await sb.createAccount("mallory");
    for (const software of HOSTILE) await sb.createGrant(mallory.jid, { software });
  });

  test("every format: nothing a terminal interprets; NDJSON keeps the texts as XML carried them", async () => {
    for (const format of ["table", "csv", "ndjson", "json"]) {
      const r = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "--account", "mallory", "-o", format]);
      assert.equal(r.code, 0, `${format}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout.replace(/\r?\n/g, ""), UNSAFE_FOR_TERMINAL, format);
      if (format === "ndjson") {
        const names = r.stdout.trim().split("\n").map((l) => (JSON.parse(l) as HostClientRecord).userAgent.software);
        // XML cannot carry C0 controls: the companion sends U+FFFD for them (docs/server-bugs.md).
        const asXmlCarries = HOSTILE.map((h) => h.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "\ufffd"));
        assert.deepEqual(names.sort(), asXmlCarries.sort());
      }
      if (format === "table") assert.equal(r.stdout.trim().split("\n").length, 1 + HOSTILE.length, "one row per client");
    }
  });

  test("--timeout bounds each page, not the whole scan: pages of 0.4 s under --timeout 2 make a scan of several seconds", async () => {
    // Every account read takes 0.4 s (the whole server waits: fine for a test), one account per page.
    await sb.lua(`local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
if not rawget(cm, "camctl_test_unslowed") then
  cm.camctl_test_unslowed = cm.get_active_clients
  cm.get_active_clients = function (...) os.execute("sleep 0.4") return cm.camctl_test_unslowed(...) end
end return true`);
    await companionOption("client_management_admin_page_accounts", 1);
    try {
      const r = await xmppCamctl(sb, cliHome, boss, ["host", "clients", sb.host, "--account", "pop*", "-o", "ndjson"], { timeoutSeconds: 2 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split("\n").length, 7 * 3);
      assert.ok(r.ms > 2 * 1000, `the scan took ${r.ms} ms, longer than --timeout`);
    } finally {
      await companionOption("client_management_admin_page_accounts", null);
      await sb.lua(`local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
if rawget(cm, "camctl_test_unslowed") then cm.get_active_clients = cm.camctl_test_unslowed cm.camctl_test_unslowed = nil end return true`);
    }
  });
});

describe("on SQL storage (SQLite)", { skip: !sqliteStorageAvailable() && "LuaDBI's SQLite3 driver (lua-dbi-sqlite3) is not installed" }, () => {
  let sql: Sandbox;
  let admin: { jid: string; password: string };
  let populated: PopulatedAccount[];
  before(async () => {
    sql = await startSandbox({ storage: "sqlite", extraModules: ["client_management_admin"], admins: ["boss"] });
    admin = await sql.createAccount("boss");
    populated = await sql.populate({ accounts: 4, prefix: "sq" });
  });
  after(async () => {
    await sql?.stop();
  });

  test("small pages: the union of per-account listings", async () => {
    await companionOption("client_management_admin_page_size", 2, sql);
    const { records, error, progress } = await scan(admin, sql.host, NO_FILTER, sql);
    assert.equal(error, undefined, String(error));
    const union = await unionOfAccountListings([admin.jid, ...populated.map((a) => a.jid)], sql, admin);
    const others = (rs: HostClientRecord[]) => rs.filter((r) => r.userAgent.software !== "camctl").sort(byKey);
    assert.deepEqual(others(records), others(union));
    assert.equal(records.length, 4 * 3 + 1);
    assert.deepEqual(progress.at(-1), { scanned: 5, total: 5 });
    assert.ok(pagesOf(progress) >= 7, `${pagesOf(progress)} pages`);
  });
});
