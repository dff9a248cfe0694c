// Where clients connect from (issue 18, items 1, 2 and 7), against a real Prosody with real
// logins from several loopback addresses: the live session's address and start, the companion's
// login records (first/last address and time, mechanism, count; retention and prefix truncation),
// in every format, over the admin socket and over XMPP (an admin, through the companion), with and
// without the companion, and --no-ip.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { RawXmppConnection, rawLegacyLogin } from "../sandbox/raw-client.js";
import { rawSasl2Login, type RawLogin } from "../helpers/sasl2-raw.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { parseCsv } from "../helpers/csv.js";
import { homesRemovedAfterAll, xmppCamctl, type Login } from "../helpers/xmpp-camctl.js";

const STORE = "client_management_admin_network";
const home = homesRemovedAfterAll();

interface NetClient {
  id: string;
  connected: boolean;
  ip: string | null;
  connectedSince: string | null;
  firstIp: string | null;
  firstLogin: string | null;
  lastIp: string | null;
  lastLogin: string | null;
  lastMechanism: string | null;
  loginCount: number | null;
  userAgent: { software: string | null };
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** Everything one sandbox needs for these tests: real logins of one account from two addresses. */
class Scene {
  sb!: Sandbox;
  alice!: Login;
  boss!: Login;
  phone = randomUUID(); // SASL2 client: once from 127.0.0.3, then connected from 127.0.0.2
  tablet = randomUUID(); // SASL2 client: once from 127.0.0.3, not connected
  legacyId = ""; // legacy client "desk": connected from 127.0.0.3
  startedAt = 0;
  private open: Array<{ close(): Promise<void> } | RawXmppConnection> = [];

  async start(companion: boolean): Promise<void> {
    this.sb = await startSandbox(companion ? { extraModules: ["client_management_admin"], admins: ["boss"] } : {});
    this.alice = await this.sb.createAccount("alice");
    this.boss = await this.sb.createAccount("boss");
    this.startedAt = Math.floor(Date.now() / 1000) - 1;
    await this.login(this.phone, "Phone", "127.0.0.3", false);
    await this.login(this.phone, "Phone", "127.0.0.2", true);
    await this.login(this.tablet, "Tablet", "127.0.0.3", false);
    const conn = await RawXmppConnection.open(
      { port: this.sb.c2sPort, domain: this.sb.host, ca: readFileSync(this.sb.caFile, "utf8"), timeoutMs: 10_000 },
      { localAddress: "127.0.0.3" },
    );
    this.open.push(conn);
    await rawLegacyLogin(conn, { username: "alice", password: this.alice.password, resource: "desk" }, 10_000);
  }

  async login(id: string, software: string, from: string, keep: boolean): Promise<void> {
    const r: RawLogin = await rawSasl2Login(this.sb, { jid: this.alice.jid, userAgentId: id, software, credential: { password: this.alice.password }, keepConnected: keep, localAddress: from });
    assert.ok(r.ok, "login refused");
    if (keep) this.open.push(r);
  }

  async stop(): Promise<void> {
    for (const c of this.open) {
      if (c instanceof RawXmppConnection) c.destroy();
      else await c.close().catch(() => undefined);
    }
    await this.sb?.stop();
  }

  socket(...args: string[]) {
    return runCamctl(["user", "clients", this.alice.jid, "--socket", this.sb.socketPath, ...args], { timeoutMs: 30_000 });
  }

  async socketJson(...extra: string[]): Promise<NetClient[]> {
    const r = await this.socket("--json", ...extra);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { clients: NetClient[] }).clients;
  }
}

const byId = (clients: NetClient[], id: string): NetClient => {
  const c = clients.find((x) => x.id === id);
  assert.ok(c, `${id} is listed: ${clients.map((x) => x.id).join(", ")}`);
  return c;
};
const legacy = (clients: NetClient[]): NetClient => {
  const c = clients.find((x) => x.userAgent.software === null && x.connected && x.id.startsWith("client/"));
  assert.ok(c, "the legacy client is listed");
  return c;
};
const NET_KEYS = ["ip", "connectedSince", "firstIp", "firstLogin", "lastIp", "lastLogin", "lastMechanism", "loginCount"] as const;

describe("with the companion module", () => {
  const s = new Scene();
  before(() => s.start(true));
  after(() => s.stop());

  test("socket JSON: the live address and start, and the recorded first and last logins", async () => {
    const clients = await s.socketJson();
    const now = Math.floor(Date.now() / 1000) + 1;
    const phone = byId(clients, `client/${s.phone}`);
    assert.equal(phone.connected, true);
    assert.equal(phone.ip, "127.0.0.2");
    assert.match(phone.connectedSince!, ISO);
    const since = Date.parse(phone.connectedSince!) / 1000;
    assert.ok(since >= s.startedAt && since <= now, `${phone.connectedSince} is within the test`);
    assert.deepEqual([phone.firstIp, phone.lastIp, phone.loginCount, phone.lastMechanism], ["127.0.0.3", "127.0.0.2", 2, "PLAIN"]);
    assert.match(phone.firstLogin!, ISO);
    assert.ok(phone.lastLogin! >= phone.firstLogin!);

    const tablet = byId(clients, `client/${s.tablet}`);
    assert.equal(tablet.connected, false);
    assert.deepEqual([tablet.ip, tablet.connectedSince], [null, null], "offline: no live address, never a guess");
    assert.deepEqual([tablet.firstIp, tablet.lastIp, tablet.loginCount], ["127.0.0.3", "127.0.0.3", 1]);

    const desk = legacy(clients);
    assert.deepEqual([desk.ip, desk.firstIp, desk.lastIp, desk.loginCount, desk.lastMechanism], ["127.0.0.3", "127.0.0.3", "127.0.0.3", 1, "PLAIN"],
      "a legacy client is recorded under the id the module tracks it by");
    s.legacyId = desk.id;
  });

  test("NDJSON, CSV and the table say the same", async () => {
    const json = await s.socketJson();
    const nd = await s.socket("-o", "ndjson");
    assert.equal(nd.code, 0, nd.stderr);
    const lines = nd.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as NetClient);
    assert.deepEqual(lines, json);

    const csv = await s.socket("-o", "csv");
    assert.equal(csv.code, 0, csv.stderr);
    const [header, ...rows] = parseCsv(csv.stdout);
    for (const key of NET_KEYS) assert.ok(header!.includes(key), `CSV column ${key}`);
    const col = (row: string[], key: string) => row[header!.indexOf(key)];
    const phoneRow = rows.find((r) => col(r, "id") === `client/${s.phone}`)!;
    assert.deepEqual([col(phoneRow, "ip"), col(phoneRow, "firstIp"), col(phoneRow, "lastIp"), col(phoneRow, "loginCount")], ["127.0.0.2", "127.0.0.3", "127.0.0.2", "2"]);
    const tabletRow = rows.find((r) => col(r, "id") === `client/${s.tablet}`)!;
    assert.equal(col(tabletRow, "ip"), "", "offline: empty");

    const table = await s.socket();
    assert.equal(table.code, 0, table.stderr);
    const [head, ...body] = table.stdout.trimEnd().split("\n");
    assert.match(head!, /Address +Last IP +Last login/);
    const phoneLine = body.find((l) => l.startsWith(`client/${s.phone}`))!;
    assert.match(phoneLine, /127\.0\.0\.2 +127\.0\.0\.2 /);
  });

  test("over XMPP an admin gets the same fields through the companion", async () => {
    const r = await xmppCamctl(s.sb, home(), s.boss, ["user", "clients", s.alice.jid, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const viaXmpp = (JSON.parse(r.stdout) as { clients: NetClient[] }).clients;
    const viaSocket = await s.socketJson();
    for (const id of [`client/${s.phone}`, `client/${s.tablet}`, s.legacyId]) {
      const pick = (c: NetClient) => Object.fromEntries(NET_KEYS.map((k) => [k, c[k]]));
      assert.deepEqual(pick(byId(viaXmpp, id)), pick(byId(viaSocket, id)), id);
    }
    assert.equal(byId(viaXmpp, `client/${s.phone}`).ip, "127.0.0.2");

    for (const format of ["ndjson", "csv"]) {
      const f = await xmppCamctl(s.sb, home(), s.boss, ["user", "clients", s.alice.jid, "-o", format]);
      assert.equal(f.code, 0, f.stderr);
      assert.ok(f.stdout.includes("127.0.0.2") && f.stdout.includes("127.0.0.3"), format);
    }
  });

  test("an account listing itself over XMPP is answered by mod_client_management: no addresses", async () => {
    const r = await xmppCamctl(s.sb, home(), s.alice, ["user", "clients", s.alice.jid, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    for (const c of (JSON.parse(r.stdout) as { clients: NetClient[] }).clients) {
      for (const key of NET_KEYS) assert.equal(c[key], null, `${c.id} ${key}`);
    }
  });

  test("--no-ip: no address in any format, on either transport; times and counts stay", async () => {
    const clients = await s.socketJson("--no-ip");
    const phone = byId(clients, `client/${s.phone}`);
    assert.deepEqual([phone.ip, phone.firstIp, phone.lastIp], [null, null, null]);
    assert.equal(phone.loginCount, 2);
    assert.match(phone.connectedSince!, ISO);
    for (const args of [["-o", "ndjson"], ["-o", "csv"], []]) {
      const r = await s.socket("--no-ip", ...args);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /127\.0\.0\./, args.join(" ") || "table");
    }
    const table = await s.socket("--no-ip");
    assert.doesNotMatch(table.stdout.split("\n")[0]!, /Address|Last IP/);
    const x = await xmppCamctl(s.sb, home(), s.boss, ["user", "clients", s.alice.jid, "--json", "--no-ip"]);
    assert.equal(x.code, 0, x.stderr);
    assert.doesNotMatch(x.stdout, /127\.0\.0\./);
    const host = await runCamctl(["host", "clients", s.sb.host, "-o", "ndjson", "--no-ip", "--socket", s.sb.socketPath]);
    assert.equal(host.code, 0, host.stderr);
    assert.doesNotMatch(host.stdout, /127\.0\.0\./);
  });

  test("host clients carries the same fields", async () => {
    const r = await runCamctl(["host", "clients", s.sb.host, "-o", "ndjson", "--socket", s.sb.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    const phone = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as NetClient).find((c) => c.id === `client/${s.phone}`)!;
    assert.deepEqual([phone.ip, phone.firstIp, phone.lastIp, phone.loginCount], ["127.0.0.2", "127.0.0.3", "127.0.0.2", 2]);
  });

  /** Sets alice's record of `id` with times `age` seconds in the past (first) and `lastAge` (last). */
  async function backdate(id: string, firstAge: number, lastAge: number): Promise<void> {
    await s.sb.lua(`local store = require "prosody.core.storagemanager".open(${JSON.stringify(s.sb.host)}, ${JSON.stringify(STORE)}, "keyval")
local data = store:get("alice") or {}
local now = os.time()
data[${JSON.stringify(id)}] = { first_ip = "127.0.0.3", first_login = now - ${firstAge}, last_ip = "127.0.0.3", last_login = now - ${lastAge}, last_mechanism = "PLAIN", logins = 7 }
assert(store:set("alice", data))
return "ok"`);
  }

  async function setOption(name: string, value: string): Promise<void> {
    await s.sb.lua(`require "prosody.core.configmanager".set(${JSON.stringify(s.sb.host)}, ${JSON.stringify(name)}, ${value})
assert(require "prosody.core.modulemanager".reload(${JSON.stringify(s.sb.host)}, "client_management_admin"))
return "ok"`);
  }

  test("retention: a record whose last login is older than the expiry is dropped; an older first address is erased", async () => {
    const day = 86400;
    await backdate(`client/${s.tablet}`, 40 * day, 29 * day);
    await backdate(s.legacyId, 40 * day, 2 * day);
    let clients = await s.socketJson();
    const tablet = byId(clients, `client/${s.tablet}`);
    assert.deepEqual([tablet.firstIp, tablet.lastIp, tablet.lastLogin, tablet.loginCount], [null, null, null, null], "28 days by default: gone");
    const desk = byId(clients, s.legacyId);
    assert.deepEqual([desk.firstIp, desk.lastIp, desk.loginCount], [null, "127.0.0.3", 7], "the first address is past retention, the last is not");
    assert.match(desk.firstLogin!, ISO);

    // A tiny expiry (client_management_admin_expires_after = 60 seconds): a record of two minutes ago goes.
    await setOption("client_management_admin_expires_after", "60");
    try {
      await backdate(s.legacyId, 120, 120);
      clients = await s.socketJson();
      assert.equal(byId(clients, s.legacyId).lastIp, null);
      const left = await s.sb.lua(`local d = require "prosody.core.storagemanager".open(${JSON.stringify(s.sb.host)}, ${JSON.stringify(STORE)}, "keyval"):get("alice") or {}
return d[${JSON.stringify(s.legacyId)}] == nil and "dropped" or "kept"`);
      assert.match(left, /dropped/, "dropped from the store too");
      assert.equal(byId(clients, `client/${s.phone}`).lastIp, "127.0.0.2", "recent records stay");
    } finally {
      await setOption("client_management_admin_expires_after", "nil");
    }
  });

  test("prefix truncation: client_management_admin_ipv4_prefix = 24 keeps the network only", async () => {
    await setOption("client_management_admin_ipv4_prefix", "24");
    try {
      const id = randomUUID();
      await s.login(id, "Laptop", "127.0.0.3", false);
      const c = byId(await s.socketJson(), `client/${id}`);
      assert.deepEqual([c.firstIp, c.lastIp], ["127.0.0.0/24", "127.0.0.0/24"]);
    } finally {
      await setOption("client_management_admin_ipv4_prefix", "nil");
    }
  });

  test("client_management_admin_log_ips = false: times and counts, no address", async () => {
    await setOption("client_management_admin_log_ips", "false");
    try {
      const id = randomUUID();
      await s.login(id, "Watch", "127.0.0.2", false);
      const c = byId(await s.socketJson(), `client/${id}`);
      assert.deepEqual([c.firstIp, c.lastIp, c.loginCount], [null, null, 1]);
      assert.match(c.lastLogin!, ISO);
    } finally {
      await setOption("client_management_admin_log_ips", "nil");
    }
  });
});

describe("without the companion module", () => {
  const s = new Scene();
  before(() => s.start(false));
  after(() => s.stop());

  test("the socket still shows the live address; the recorded fields are null", async () => {
    const clients = await s.socketJson();
    const phone = byId(clients, `client/${s.phone}`);
    assert.equal(phone.ip, "127.0.0.2");
    assert.match(phone.connectedSince!, ISO);
    assert.equal(legacy(clients).ip, "127.0.0.3");
    for (const c of clients) {
      for (const key of ["firstIp", "firstLogin", "lastIp", "lastLogin", "lastMechanism", "loginCount"] as const) assert.equal(c[key], null, `${c.id} ${key}`);
    }
    const table = await s.socket();
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout.split("\n")[0]!, /Address/);
    assert.doesNotMatch(table.stdout.split("\n")[0]!, /Last IP|Last login/, "no column of nothing");
  });

  test("over XMPP (the bare module, the account itself): every network field null", async () => {
    const r = await xmppCamctl(s.sb, home(), s.alice, ["user", "clients", s.alice.jid, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    for (const c of (JSON.parse(r.stdout) as { clients: NetClient[] }).clients) {
      for (const key of NET_KEYS) assert.equal(c[key], null, `${c.id} ${key}`);
    }
  });
});
