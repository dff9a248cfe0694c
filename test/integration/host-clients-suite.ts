// `camctl host clients` over the admin socket against a real Prosody 13 (the sandbox), as users
// run it; one suite, run once per storage (host-clients.test.ts: internal files,
// host-clients-sqlite.test.ts: SQLite). With CAMCTL_PROSODY_PLUGIN_PATHS=/work/realmod (or wherever
// the real mod_client_management is) the same suite runs against the real module.
//
// Set-up goes through what a server offers: accounts and logins (populate, real SASL2/legacy/FAST
// logins), grants through mod_tokenauth's API. Times a test needs at exact seconds (a grant last
// used 100 days ago, one never used, one expiring at a given second) are written into
// mod_tokenauth's own store, as grants from an older Prosody (without `accessed`) or an old grant
// look there; the client module's store is never touched.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { luaString } from "../sandbox/admin-socket.js";
import { startSandbox, type PopulateClientSpec, type PopulatedAccount, type Sandbox } from "../sandbox/sandbox.js";
import { rawSasl2 } from "../sandbox/raw-client.js";
import { camctlCommand, runCamctl } from "../helpers/run-camctl.js";
import { parseCsv } from "../helpers/csv.js";
import { addBulkGrants } from "../helpers/bulk-grants.js";
import type { JsonClient } from "../helpers/client-json.js";
import { NO_FILTER, parseFilter, type ClientFilter, type HostClientRecord, type RawFilterOptions } from "../../src/core/filters.js";
import { SocketClientSource } from "../../src/transports/socket/socket-source.js";
import { HOSTILE, UNSAFE_FOR_TERMINAL } from "../helpers/hostile-strings.js";

type HostRecord = JsonClient & { account: string; accountLastActivity?: string | null; accountStatus?: string | null };


const DAY = 86_400;
const iso = (unix: number) => new Date(unix * 1000).toISOString().replace(/\.000Z$/, "Z");
const byAccountAndId = (a: { account: string; id: string }, b: { account: string; id: string }) =>
  a.account < b.account ? -1 : a.account > b.account ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

export function hostClientsSuite(storage: "internal" | "sqlite"): void {
  let sb: Sandbox;
  const closers: Array<{ close(): Promise<void> }> = [];

  const camctl = (...args: string[]) => runCamctl([...args, "--socket", sb.socketPath], { timeoutMs: 60_000 });

  async function ndjson(host: string, ...args: string[]): Promise<HostRecord[]> {
    const r = await camctl("host", "clients", host, "-o", "ndjson", ...args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    return r.stdout === "" ? [] : r.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as HostRecord);
  }

  /** What the server sends for `filter`, before camctl filters again: SocketClientSource.listHost itself. */
  async function serverRows(host: string, filter: ClientFilter): Promise<HostClientRecord[]> {
    const source = new SocketClientSource(sb.socketPath);
    try {
      const rows: HostClientRecord[] = [];
      for await (const r of source.listHost(host, { filter, signal: new AbortController().signal })) rows.push(r);
      return rows;
    } finally {
      await source.close();
    }
  }

  async function usersOf(host: string): Promise<string[]> {
    const text = await sb.lua(`local names = {}
for u in require "prosody.core.usermanager".users(${luaString(host)}) do names[#names + 1] = u end
table.sort(names) return table.concat(names, "\\n")`);
    return text === "" ? [] : text.split("\n");
  }

  /** Sets a grant's last use and expiry (Unix seconds; null: none) in mod_tokenauth's store. */
  async function setGrantTimes(jid: string, grantId: string, t: { accessed?: number | null; expires?: number | null }): Promise<void> {
    const [user, host] = jid.split("@") as [string, string];
    const set = (field: string, v: number | null | undefined) => (v === undefined ? "" : `g.${field} = ${v === null ? "nil" : String(v)}\n`);
    await sb.lua(`local store = require "prosody.core.storagemanager".open(${luaString(host)}, "auth_tokens", "keyval+")
local g = assert(store:get_key(${luaString(user)}, ${luaString(grantId.replace(/^grant\//, ""))}))
${set("accessed", t.accessed)}${set("expires", t.expires)}assert(store:set_key(${luaString(user)}, g.id, g)) return "ok"`);
  }

  before(async () => {
    sb = await startSandbox({ storage });
  });
  after(async () => {
    for (const c of closers) await c.close().catch(() => undefined);
    await sb?.stop();
  });

  describe("the whole host", () => {
    let populated: PopulatedAccount[];
    before(async () => {
      // Every kind of account: SASL2 with and without a FAST token, a grant; only grants; a
      // connected SASL2 client and a legacy one; nothing at all.
      const kinds: PopulateClientSpec[][] = [
        [
          { kind: "sasl2", software: "Conversations", device: "Phone", fastToken: true },
          { kind: "sasl2", software: "Gajim", device: "Laptop" },
          { kind: "grant", software: "Webmail", uri: "https://webmail.example/" },
        ],
        [{ kind: "grant", software: "Webmail" }, { kind: "grant", software: "Calendar", ttlSeconds: 30 * DAY }],
        [{ kind: "legacy", resource: "old" }, { kind: "sasl2", software: "Dino", device: "Desktop", keepConnected: true }],
        [],
      ];
      populated = await sb.populate({ accounts: 8, prefix: "pop", clients: (i) => kinds[i % kinds.length]! });
      for (const a of populated) for (const c of a.clients) if (c.connection) closers.push(c.connection);
    });

    test("equals the union of every account's own listing (accounts with only grants too)", async () => {
      const rows = await ndjson(sb.host);
      const union: HostRecord[] = [];
      for (const user of await usersOf(sb.host)) {
        const account = `${user}@${sb.host}`;
        const r = await camctl("user", "clients", account, "--json");
        assert.equal(r.code, 0, r.stderr);
        // Each record also carries its account's facts, as `user clients` reports them.
        const doc = JSON.parse(r.stdout) as { clients: JsonClient[]; accountLastActivity: string | null; accountStatus: string | null };
        for (const c of doc.clients) union.push({ account, ...c, accountLastActivity: doc.accountLastActivity, accountStatus: doc.accountStatus });
      }
      assert.ok(union.length >= 8 * 7 / 4, `the population is listed (${union.length})`);
      assert.deepEqual([...rows].sort(byAccountAndId), union.sort(byAccountAndId));
      // `account` comes first in each record, then the `user clients` record as is, then the account's facts.
      assert.deepEqual(Object.keys(rows[0]!), ["account", "id", "type", "connected", "firstSeen", "lastSeen", "expires", "auth", "userAgent", "permission", "ip", "connectedSince", "firstIp", "firstLogin", "lastIp", "lastLogin", "lastMechanism", "loginCount", "accountLastActivity", "accountStatus"]);
      const onlyGrants = populated.filter((_, i) => i % 4 === 1).map((a) => a.jid);
      for (const jid of onlyGrants) {
        const mine = rows.filter((r) => r.account === jid);
        assert.equal(mine.length, 2, `${jid}: its two grants`);
        assert.ok(mine.every((r) => r.type === "access" && r.auth.includes("grant")));
      }
      // An account's rows come together (accounts are scanned one after the other).
      const accounts = rows.map((r) => r.account);
      assert.deepEqual(accounts.filter((a, i) => a !== accounts[i - 1]), [...new Set(accounts)]);
    });

    test("table, CSV, NDJSON and JSON agree", async () => {
      const rows = await ndjson(sb.host);
      const json = await camctl("host", "clients", sb.host, "-o", "json");
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout), { host: sb.host, transport: "socket", clients: rows });

      const csv = await camctl("host", "clients", sb.host, "-o", "csv");
      assert.equal(csv.code, 0, csv.stderr);
      const [header, ...records] = parseCsv(csv.stdout);
      assert.equal(header![0], "account");
      const col = (name: string) => header!.indexOf(name);
      assert.equal(records.length, rows.length);
      records.forEach((rec, i) => {
        const r = rows[i]!;
        assert.deepEqual(
          [rec[col("account")], rec[col("id")], rec[col("type")], rec[col("connected")], rec[col("firstSeen")], rec[col("lastSeen")], rec[col("expires")], rec[col("software")], rec[col("device")]],
          [r.account, r.id, r.type, String(r.connected), r.firstSeen ?? "", r.lastSeen ?? "", r.expires ?? "", r.userAgent.software ?? "", r.userAgent.device ?? ""],
        );
      });

      const table = await camctl("host", "clients", sb.host);
      assert.equal(table.code, 0, table.stderr);
      const [head, ...lines] = table.stdout.trimEnd().split("\n");
      assert.match(head!, /^Account\s+ID\s+Type/);
      assert.deepEqual(
        lines.map((l) => l.split(/\s+/).slice(0, 3)),
        rows.map((r) => [r.account, r.id, r.type]),
      );
    });

    test("--summary counts what the listing shows (a table, or JSON with -o json)", async () => {
      const rows = await ndjson(sb.host);
      const r = await camctl("host", "clients", sb.host, "--summary", "-o", "json");
      assert.equal(r.code, 0, r.stderr);
      const { host, transport, summary } = JSON.parse(r.stdout) as {
        host: string;
        transport: string;
        summary: { accounts: number; clients: number; connected: number; byType: Record<string, number>; byAuth: Record<string, number> };
      };
      assert.deepEqual([host, transport], [sb.host, "socket"]);
      assert.equal(summary.clients, rows.length);
      assert.equal(summary.accounts, new Set(rows.map((x) => x.account)).size);
      assert.equal(summary.connected, rows.filter((x) => x.connected).length);
      assert.equal(summary.byType.access, rows.filter((x) => x.type === "access").length);
      assert.equal(summary.byAuth.grant, rows.filter((x) => x.auth.includes("grant")).length);
      const text = await camctl("host", "clients", sb.host, "--summary");
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`^${rows.length} clients on ${summary.accounts} accounts of ${sb.host.replace(/\./g, "\\.")}`));
      assert.match(text.stdout, /By last seen\n {2}< 7 d/);
    });

    test("a host without mod_client_management is exit 8, an unknown host exit 6; nothing on stdout", async () => {
      for (const format of ["table", "ndjson", "json", "csv"]) {
        const bare = await camctl("host", "clients", sb.bareHost, "-o", format);
        assert.equal(bare.code, 8, bare.stderr);
        assert.equal(bare.stdout, "");
        assert.match(bare.stderr, /^camctl: mod_client_management is not loaded on bare\.camctl\.test\./);
        const unknown = await camctl("host", "clients", "nowhere.camctl.test", "-o", format);
        assert.equal(unknown.code, 6, unknown.stderr);
        assert.equal(unknown.stdout, "");
        assert.equal(unknown.stderr, "camctl: nowhere.camctl.test is not a host of this Prosody server; its virtual hosts are bare.camctl.test, camctl.test and strict.camctl.test.\n");
      }
      const bad = await camctl("host", "clients", "alice@camctl.test");
      assert.equal(bad.code, 2);
    });
  });

  describe("filters, applied in the server (and again by camctl) at their boundaries", () => {
    // fa: only grants: Evil Client 2.3 last used 100 days ago (L), Evil Client 2.4 used now and
    //     expiring at E, a grant never used (no `accessed`, as older servers stored them).
    // fb: a connected Gajim (password), Conversations that logged in with its FAST token (fast and
    //     password), a legacy client (password, no software).
    // fc: nothing. fab: one grant (for the globs). x1: Evil Client 2.3 too, outside every glob below.
    const ids: Record<string, string> = {};
    const now = Math.floor(Date.now() / 1000);
    const L = now - 100 * DAY;
    const E = now + 30 * DAY;
    before(async () => {
      const fa = (await sb.createAccount("fa")).jid;
      ids.gA = await sb.createGrant(fa, { software: "Evil Client", version: "2.3" });
      ids.gB = await sb.createGrant(fa, { software: "Evil Client", version: "2.4", ttlSeconds: 60 * DAY });
      ids.gC = await sb.createGrant(fa, { software: "Old App" });
      await setGrantTimes(fa, ids.gA, { accessed: L });
      await setGrantTimes(fa, ids.gB, { expires: E });
      await setGrantTimes(fa, ids.gC, { accessed: null });

      const gajim = randomUUID();
      const conversations = randomUUID();
      const [fb] = await sb.populate({
        accounts: 1,
        prefix: "fb",
        clients: [
          { kind: "sasl2", software: "Gajim", device: "Laptop", userAgentId: gajim, keepConnected: true },
          { kind: "sasl2", software: "Conversations", device: "Phone", userAgentId: conversations, fastToken: true },
          { kind: "legacy", resource: "legacy" },
        ],
      });
      for (const c of fb!.clients) if (c.connection) closers.push(c.connection);
      // populate names it fb1.
      const fast = fb!.clients[1]!;
      const conn = await sb.rawConnect({ from: fb!.jid });
      const login = await rawSasl2(conn, sb.host, {
        username: fb!.localpart,
        mechanism: "HT-SHA-256-NONE",
        secret: fast.fastToken!,
        userAgent: { id: conversations, software: "Conversations", device: "Phone" },
        bindTag: "Conversations",
      }, 10_000);
      assert.ok(login.ok, "the FAST login works");
      await conn.close();
      ids.sG = fb!.clients[0]!.id;
      ids.sC = fast.id;
      ids.sL = fb!.clients[2]!.id;

      await sb.createAccount("fc");
      ids.gFab = await sb.createGrant((await sb.createAccount("fab")).jid, { software: "Webmail" });
      await sb.createGrant((await sb.createAccount("x1")).jid, { software: "Evil Client", version: "2.3" });
    });

    const scope: RawFilterOptions = { account: "f*" };

    /** CLI arguments for raw filter options, as a user types them. */
    function argsOf(raw: RawFilterOptions): string[] {
      const a: string[] = [];
      if (raw.lastSeenBefore) a.push("--last-seen-before", raw.lastSeenBefore);
      if (raw.lastSeenAfter) a.push("--last-seen-after", raw.lastSeenAfter);
      if (raw.expiresBefore) a.push("--expires-before", raw.expiresBefore);
      if (raw.expiry === false) a.push("--no-expiry");
      if (raw.software) a.push("--software", raw.software);
      for (const m of raw.auth ?? []) a.push("--auth", m);
      if (raw.type) a.push("--type", raw.type);
      if (raw.connected) a.push("--connected");
      if (raw.disconnected) a.push("--disconnected");
      if (raw.account) a.push("--account", raw.account);
      return a;
    }

    const cases: Array<[string, RawFilterOptions, string[]]> = [
      ["--software name", { software: "Evil Client" }, ["gA", "gB"]],
      ["--software name/version", { software: "Evil Client/2.3" }, ["gA"]],
      ["--software is exact, not a prefix", { software: "Evil" }, []],
      ["--auth grant", { auth: ["grant"] }, ["gA", "gB", "gC", "gFab"]],
      ["--auth fast", { auth: ["fast"] }, ["sC"]],
      ["--auth password", { auth: ["password"] }, ["sG", "sC", "sL"]],
      ["--auth fast --auth grant (either)", { auth: ["fast", "grant"] }, ["sC", "gA", "gB", "gC", "gFab"]],
      ["--type session", { type: "session" }, ["sG", "sC", "sL"]],
      ["--type access", { type: "access" }, ["gA", "gB", "gC", "gFab"]],
      ["--connected", { connected: true }, ["sG"]],
      ["--disconnected", { disconnected: true }, ["gA", "gB", "gC", "gFab", "sC", "sL"]],
      ["--no-expiry", { expiry: false }, ["gA", "gC", "gFab"]],
      ["--expires-before its expiry second: not before", { expiresBefore: iso(E) }, []],
      ["--expires-before one second later", { expiresBefore: iso(E + 1) }, ["gB"]],
      ["--last-seen-before 90d: old and never seen", { lastSeenBefore: "90d" }, ["gA", "gC"]],
      ["--last-seen-before its last-seen second: only the never seen", { lastSeenBefore: iso(L) }, ["gC"]],
      ["--last-seen-before one second later", { lastSeenBefore: iso(L + 1) }, ["gA", "gC"]],
      ["--last-seen-after its last-seen second: not after (never seen never matches)", { lastSeenAfter: iso(L) }, ["gB", "gFab", "sG", "sC", "sL"]],
      ["--last-seen-after one second earlier", { lastSeenAfter: iso(L - 1) }, ["gA", "gB", "gFab", "sG", "sC", "sL"]],
      ["combined: old grants without expiry", { type: "access", expiry: false, lastSeenBefore: "90d" }, ["gA", "gC"]],
      ["--account ? is one character", { account: "f?" }, ["gA", "gB", "gC"]],
      ["--account ?? is two", { account: "f??" }, ["gFab", "sG", "sC", "sL"]],
      ["--account is case-insensitive", { account: "F?", type: "access" }, ["gA", "gB", "gC"]],
      ["--account with @ matches the whole JID", { account: "fa*@camctl.*" }, ["gA", "gB", "gC", "gFab"]],
      ["--account without a match", { account: "nobody-*" }, []],
    ];

    for (const [name, raw, expected] of cases) {
      test(name, async () => {
        const withScope = raw.account ? raw : { ...raw, ...scope };
        const expectIds = expected.map((k) => ids[k]!).sort();
        // The server's own answer (what crosses the socket), then camctl's output.
        const sent = await serverRows(sb.host, parseFilter(withScope, new Date()));
        assert.deepEqual(sent.map((r) => r.id).sort(), expectIds, "rows the server sent: " + JSON.stringify(sent.filter((r) => !expectIds.includes(r.id))));
        const shown = await ndjson(sb.host, ...argsOf(withScope));
        assert.deepEqual(shown.map((r) => r.id).sort(), expectIds, "rows camctl printed");
      });
    }

    test("the never-seen grant is listed with lastSeen null", async () => {
      const [gC] = (await ndjson(sb.host, "--account", "fa")).filter((r) => r.id === ids.gC);
      assert.equal(gC?.lastSeen, null);
    });

    test("filter values are data in the server, never code", async () => {
      for (const software of [`x" ; _G.CAMCTL_PWNED = true ; --`, `x]] _G.CAMCTL_PWNED = true --[[`, `%s%q\\" _G.CAMCTL_PWNED=true`]) {
        assert.deepEqual(await ndjson(sb.host, "--software", software), []);
        assert.deepEqual(await ndjson(sb.host, "--account", software.replace(/@/g, "")), []);
      }
      assert.equal(await sb.lua("return tostring(_G.CAMCTL_PWNED)"), "nil");
    });

    test("a bad filter value is a usage error before anything is sent", async () => {
      for (const args of [["--last-seen-before", "soon"], ["--auth", "magic"], ["--connected", "--disconnected"], ["--no-expiry", "--expires-before", "1d"], ["--type", "other"]]) {
        const r = await camctl("host", "clients", sb.host, ...args);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.equal(r.stdout, "");
      }
    });
  });

  describe("untrusted strings", () => {
    let jid: string;
    before(async () => {
      ({ jid } = await sb.createAccount("mallory"));
      for (const software of Object.values(HOSTILE)) await sb.createGrant(jid, { software, uri: `https://x.test/${software}` });
      await sb.lua(`local t = prosody.hosts["${sb.host}"].modules.tokenauth
local g = t.create_grant("${jid}", "${jid}", nil, { oauth2_client = { name = "Bad\\255\\254Name" } })
t.create_token("${jid}", g, nil, nil, "oauth2-refresh") return "ok"`);
    });
    const expectedNames = [...Object.values(HOSTILE), "Bad\ufffd\ufffdName"].sort();

    test("NDJSON and JSON keep the exact strings, with no raw controls", async () => {
      for (const format of ["ndjson", "json"]) {
        const r = await camctl("host", "clients", sb.host, "--account", "mallory", "-o", format);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout.replace(/\n/g, ""), UNSAFE_FOR_TERMINAL, format);
        const rows = format === "json" ? (JSON.parse(r.stdout) as { clients: HostRecord[] }).clients : r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as HostRecord);
        assert.deepEqual(rows.map((x) => x.userAgent.software).sort(), expectedNames);
      }
    });

    test("the table and CSV escape them: one row per client", async () => {
      const table = await camctl("host", "clients", sb.host, "--account", "mallory");
      assert.equal(table.code, 0, table.stderr);
      assert.doesNotMatch(table.stdout.replace(/\n/g, ""), UNSAFE_FOR_TERMINAL);
      assert.equal(table.stdout.trimEnd().split("\n").length, expectedNames.length + 1);
      assert.ok(!table.stdout.split("\n").some((l) => l.trimStart().startsWith("Fake row")));
      const csv = await camctl("host", "clients", sb.host, "--account", "mallory", "-o", "csv");
      assert.equal(csv.code, 0, csv.stderr);
      assert.doesNotMatch(csv.stdout.replace(/\r\n/g, ""), UNSAFE_FOR_TERMINAL);
      const rows = parseCsv(csv.stdout);
      assert.equal(rows.length, expectedNames.length + 1);
      assert.ok(rows.slice(1).every((row) => row[0] === jid));
      assert.ok(rows.some((row) => row.includes('Comma, "quoted"')));
    });

    test("--software matches a hostile name exactly, in the server", async () => {
      for (const name of [HOSTILE.newline, HOSTILE.title, "Bad\ufffd\ufffdName"]) {
        const sent = await serverRows(sb.host, { ...NO_FILTER, software: { name, version: null } });
        assert.deepEqual(sent.map((r) => r.userAgent.software), [name]);
        const shown = await ndjson(sb.host, "--software", name);
        assert.deepEqual(shown.map((r) => r.userAgent.software), [name]);
      }
    });
  });

  describe("a large host: streaming, interruptions, --timeout per batch", () => {
    // The strict host holds the bulk: four accounts of 1,500 grants with 1,000-character names,
    // about 8 MB of records, more than every buffer between the server and a reader that stops.
    const host = () => sb.strictHost;
    const ACCOUNTS = 4;
    const GRANTS = 1500;
    before(async () => {
      for (let i = 1; i <= ACCOUNTS; i++) {
        const { jid } = await sb.createAccount(`bulk${i}`, sb.strictHost);
        await addBulkGrants(sb, jid, GRANTS, "B".repeat(1000));
      }
    });

    /** camctl as a process whose output we read (or stop reading) ourselves. */
    function spawnScan(...args: string[]) {
      const child = spawn(camctlCommand()[0]!, [...camctlCommand().slice(1), "host", "clients", host(), "-o", "ndjson", "--socket", sb.socketPath, ...args], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      let lines = 0;
      // Resolves with the first line, and stops reading there (resume with child.stdout.resume()).
      const firstLine = new Promise<string>((resolve, reject) => {
        let head = "";
        child.stdout.on("data", (d: Buffer) => {
          const text = d.toString("latin1");
          if (lines === 0) {
            head += text;
            const nl = head.indexOf("\n");
            if (nl !== -1) {
              child.stdout.pause();
              resolve(Buffer.from(head.slice(0, nl), "latin1").toString("utf8"));
            }
          }
          for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines++;
        });
        child.on("close", () => reject(new Error(`camctl ended before a first line: ${stderr}`)));
      });
      firstLine.catch(() => undefined);
      return { child, exited, firstLine, stderr: () => stderr, lines: () => lines };
    }

    /** [scanned, total] of each "stopped" line in Prosody's log for this host. */
    const stopsAt = () =>
      [...sb.readLog().matchAll(/host-wide listing of strict\.camctl\.test stopped after (\d+) of (\d+) accounts/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    const stops = () => stopsAt().length;

    async function waitFor(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    async function serverStillAnswers(): Promise<void> {
      const r = await camctl("host", "clients", sb.host, "--account", "fa", "-o", "ndjson");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trimEnd().split("\n").length, 3);
      const full = await ndjson(host());
      assert.equal(full.length, ACCOUNTS * GRANTS, "a whole scan still completes");
    }

    test("the first record arrives while the server is still scanning (long before the trailer)", async () => {
      const before = stopsAt().length;
      const source = new SocketClientSource(sb.socketPath);
      let first: HostClientRecord | undefined;
      const progress: number[] = [];
      try {
        const scan = source.listHost(host(), { filter: NO_FILTER, signal: new AbortController().signal, onProgress: (p) => progress.push(p.scanned) });
        for await (const r of scan) {
          first = r;
          break; // and so the connection goes
        }
      } finally {
        await source.close();
      }
      assert.equal(first?.account, `bulk1@${host()}`);
      await waitFor(() => stopsAt().length > before, "the server to stop the scan");
      // Had the records come only with the trailer, the scan would have been over by then.
      const [scanned, total] = stopsAt().at(-1)!;
      assert.equal(total, ACCOUNTS);
      assert.ok(scanned < total, `stopped after ${scanned} of ${total} accounts`);
      assert.ok(progress.length > 0 && progress.every((n) => n === 0), `progress said no account was done yet: ${progress.join(", ")}`);
    });

    test("| head -1: the reader goes away, camctl ends quietly (0), the server stops scanning", async () => {
      const before = stops();
      const scan = spawnScan();
      const line = await scan.firstLine;
      assert.equal((JSON.parse(line) as HostRecord).account, `bulk1@${host()}`);
      scan.child.stdout.destroy();
      assert.equal(await scan.exited, 0, scan.stderr());
      assert.equal(scan.stderr(), "");
      await waitFor(() => stops() > before, "the server to stop the scan");
      await serverStillAnswers();
    });

    test("Ctrl-C: exit 130 with one sentence, the server stops scanning and still answers", async () => {
      const before = stops();
      const scan = spawnScan();
      await scan.firstLine; // running, and now stalled: nobody reads
      scan.child.kill("SIGINT");
      assert.equal(await scan.exited, 130);
      assert.equal(scan.stderr(), "camctl: interrupted.\n");
      await waitFor(() => stops() > before, "the server to stop the scan");
      await serverStillAnswers();
    });

    test("--timeout bounds each batch: a slow reader is not a slow server, a stopped server is", async () => {
      // A reader that stops for longer than --timeout: camctl waits for it, and completes. (5 s: the
      // first batch must arrive within it even on a busy two-core machine running the whole suite.)
      const slow = spawnScan("--timeout", "5");
      await slow.firstLine;
      await new Promise((r) => setTimeout(r, 8000));
      slow.child.stdout.resume();
      assert.equal(await slow.exited, 0, slow.stderr());
      assert.equal(slow.lines(), ACCOUNTS * GRANTS);

      // A server that stops answering mid-scan: --timeout after the last batch, exit 3.
      const before = stops();
      const stuck = spawnScan("--timeout", "5");
      await stuck.firstLine;
      await new Promise((r) => setTimeout(r, 300));
      process.kill(sb.pid, "SIGSTOP");
      let code: number | null;
      try {
        stuck.child.stdout.resume(); // what camctl still holds drains; then it waits for the server
        code = await stuck.exited;
      } finally {
        process.kill(sb.pid, "SIGCONT");
      }
      assert.equal(code, 3, stuck.stderr());
      assert.match(stuck.stderr(), /^camctl: No answer from the admin socket .* within 5 s; is it overloaded or stuck\? Raise --timeout to wait longer\.\n$/);
      await waitFor(() => stops() > before, "the server to stop the scan");
      await serverStillAnswers();
    });
  });
}
