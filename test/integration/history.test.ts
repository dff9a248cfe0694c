// `camctl user history` / `camctl host history` against a real Prosody with mod_audit and
// mod_audit_auth loaded (the stand-ins in test/fixtures/prosody-plugins, or the real modules when
// CAMCTL_PROSODY_PLUGIN_PATHS names a directory holding them): real logins and failed logins from
// 127.0.0.2 and 127.0.0.3, the filters at their boundaries, camctl's own revocations and lock-outs
// appearing in the history, bad input (exit 2), and a server with neither source (exit 8).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { rawSasl2Login } from "../helpers/sasl2-raw.js";

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

let sb: Sandbox;
let alice: { jid: string; password: string };
let bob: { jid: string; password: string };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-history-"));

const camctl = (args: string[], on: Sandbox = sb) => runCamctl([...args, "--socket", on.socketPath], { timeoutMs: 60_000 });
const ndjson = (text: string): Event[] => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Event);

async function history(args: string[], on: Sandbox = sb): Promise<Event[]> {
  const r = await camctl([...args, "-o", "ndjson"], on);
  assert.equal(r.code, 0, r.stderr);
  return ndjson(r.stdout);
}

before(async () => {
  sb = await startSandbox({ extraModules: ["audit", "audit_auth"] });
  alice = await sb.createAccount("alice");
  bob = await sb.createAccount("bob");
  const ok = await rawSasl2Login(sb, { jid: alice.jid, userAgentId: "alice-phone", software: "Conversations", credential: { password: alice.password }, localAddress: "127.0.0.2" });
  assert.ok(ok.ok);
  const bad = await rawSasl2Login(sb, { jid: alice.jid, userAgentId: "alice-laptop", credential: { password: "not the password" }, localAddress: "127.0.0.3" });
  assert.ok(!bad.ok);
  const other = await rawSasl2Login(sb, { jid: bob.jid, userAgentId: "bob-desk", credential: { password: bob.password }, localAddress: "127.0.0.3" });
  assert.ok(other.ok);
});
after(async () => {
  await sb?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("history with mod_audit", () => {
  test("user history: logins and failures with the address each came from, and the client id", async () => {
    const events = await history(["user", "history", alice.jid]);
    for (const e of events) {
      assert.deepEqual(Object.keys(e), FIELDS);
      assert.equal(e.account, alice.jid);
      assert.equal(e.host, sb.host);
      assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    const success = events.find((e) => e.event === "authentication-success");
    assert.ok(success, JSON.stringify(events));
    assert.equal(success.ip, "127.0.0.2");
    assert.equal(success.clientId, "client/alice-phone");
    assert.equal(success.source, "mod_audit");
    assert.equal(success.recordedBy, "mod_audit_auth");
    assert.equal(success.location, null, "no GeoIP here: no country, never a guess");
    const failure = events.find((e) => e.event === "authentication-failure");
    assert.ok(failure);
    assert.equal(failure.ip, "127.0.0.3");
    assert.equal(failure.clientId, "client/alice-laptop");
    const fresh = events.find((e) => e.event === "new-client");
    assert.ok(fresh, "mod_audit_auth records the new client");
    assert.equal(fresh.clientId, "client/alice-phone");
    // The defect of mod_audit_auth: the user agent is never attached, so nothing names the software.
    assert.ok(!JSON.stringify(fresh).includes("Conversations"));
    assert.ok(!events.some((e) => e.account === bob.jid));
  });

  test("host history: every account, in time order", async () => {
    const events = await history(["host", "history", sb.host]);
    assert.ok(events.some((e) => e.account === bob.jid && e.event === "authentication-success" && e.ip === "127.0.0.3"));
    assert.ok(events.some((e) => e.account === alice.jid));
    const times = events.map((e) => e.time);
    assert.deepEqual([...times].sort(), times);
  });

  test("--event: one name, a comma list, repeated", async () => {
    const failures = await history(["host", "history", sb.host, "--event", "authentication-failure"]);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.account, alice.jid);
    const both = await history(["host", "history", sb.host, "--event", "new-client,authentication-failure"]);
    const repeated = await history(["host", "history", sb.host, "--event", "new-client", "--event", "authentication-failure"]);
    assert.deepEqual(both, repeated);
    assert.deepEqual([...new Set(both.map((e) => e.event))].sort(), ["authentication-failure", "new-client"]);
  });

  test("--since and --until include their own second, and nothing outside it", async () => {
    const all = await history(["host", "history", sb.host]);
    const t = all.find((e) => e.event === "authentication-failure")!.time;
    const next = new Date(Date.parse(t) + 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const prev = new Date(Date.parse(t) - 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const window = async (args: string[], keep: (e: Event) => boolean) =>
      assert.deepEqual(await history(["host", "history", sb.host, ...args]), all.filter(keep), args.join(" "));
    await window(["--since", t], (e) => e.time >= t);
    await window(["--since", next], (e) => e.time >= next);
    await window(["--until", t], (e) => e.time <= t);
    await window(["--until", prev], (e) => e.time <= prev);
    const exact = await history(["host", "history", sb.host, "--since", t, "--until", t]);
    assert.ok(exact.length >= 1 && exact.every((e) => e.time === t));
    await window(["--since", "1h"], () => true);
    assert.deepEqual(await history(["host", "history", sb.host, "--until", "1h"]), []);
  });

  test("every format carries the same events", async () => {
    const events = await history(["user", "history", alice.jid]);
    const json = await camctl(["user", "history", alice.jid, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as { jid: string; transport: string; events: Event[] };
    assert.equal(doc.jid, alice.jid);
    assert.equal(doc.transport, "socket");
    assert.deepEqual(doc.events, events);
    const csv = await camctl(["user", "history", alice.jid, "-o", "csv"]);
    assert.equal(csv.code, 0, csv.stderr);
    const lines = csv.stdout.trimEnd().split("\r\n");
    assert.equal(lines[0], FIELDS.join(","));
    assert.equal(lines.length, events.length + 1);
    assert.ok(lines.some((l) => l.includes(",authentication-failure,") && l.includes(",127.0.0.3,")));
    const table = await camctl(["user", "history", alice.jid]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^Time +Event +IP +Location +Client +Source +Detail\n/);
    assert.equal(table.stdout.trimEnd().split("\n").length, events.length + 1);
    assert.match(table.stdout, /authentication-failure +127\.0\.0\.3 +- +client\/alice-laptop +mod_audit/);
  });

  test("a revocation by camctl appears in the history, through mod_audit", async () => {
    const grant = await sb.createGrant(alice.jid, { software: "Webmail" });
    const r = await camctl(["user", "revoke_client", alice.jid, grant, "--yes"]);
    assert.equal(r.code, 0, r.stderr);
    const revoked = await history(["user", "history", alice.jid, "--event", "client-revoked"]);
    assert.equal(revoked.length, 1, JSON.stringify(revoked));
    assert.equal(revoked[0]!.clientId, grant);
    assert.equal(revoked[0]!.source, "mod_audit");
    assert.equal(revoked[0]!.recordedBy, "mod_camctl");
    assert.equal(revoked[0]!.detail?.actor, "admin socket");
    assert.equal(revoked[0]!.detail?.grantRevoked, "true");
    // mod_audit's own view of its archive holds it too.
    const stored = await sb.lua(`local n = 0; for _, item in require "prosody.core.storagemanager".open("${sb.host}", "audit", "archive"):find(nil, { with = "${alice.jid}" }) do if item.attr.type == "client-revoked" then n = n + 1 end end; return n`);
    assert.equal(stored.trim(), "1");
  });

  test("a lock-out by camctl appears in the history", async () => {
    const r = await camctl(["user", "lockout", bob.jid, "--yes", "--disable"]);
    assert.equal(r.code, 0, r.stderr);
    const events = await history(["user", "history", bob.jid, "--event", "account-locked-out"]);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.detail?.disabled, "true");
    assert.equal(events[0]!.source, "mod_audit");
  });

  test("bad input: one sentence and exit 2", async () => {
    for (const args of [
      ["host", "history", sb.host, "--since", "12x"],
      ["host", "history", sb.host, "--until", "yesterday"],
      ["host", "history", sb.host, "--event", "login"],
      ["host", "history", sb.host, "--event", "new-client,nope"],
      ["host", "history", sb.host, "--since", "1h", "--until", "2h"],
      ["user", "history", "not a jid"],
      ["host", "history", "a@b"],
    ]) {
      const r = await camctl(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    }
    const unknown = await camctl(["host", "history", sb.host, "--event", "login"]);
    assert.match(unknown.stderr, /authentication-success, authentication-failure, new-client, client-revoked, account-locked-out/);
  });

  test("an unknown host: exit 6", async () => {
    const r = await camctl(["host", "history", "nowhere.example"]);
    assert.equal(r.code, 6, r.stderr);
  });

  test("over XMPP without the companion module: exit 8, saying how to get it", async () => {
    const pw = path.join(dir, "pw");
    fs.writeFileSync(pw, alice.password + "\n", { mode: 0o600 });
    const r = await runCamctl(["user", "history", alice.jid, "--jid", alice.jid, "--password-file", pw, "--server", `127.0.0.1:${sb.c2sPort}`, "--ca-file", sb.caFile],
      { env: { HOME: dir, XDG_STATE_HOME: path.join(dir, "state") } });
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /mod_client_management_admin/);
  });
});

describe("history without mod_audit", () => {
  let plain: Sandbox;
  before(async () => {
    plain = await startSandbox({});
  });
  after(async () => {
    await plain?.stop();
  });

  test("neither source: exit 8 saying how to enable one; camctl's revocation then starts its own store", async () => {
    const carol = await plain.createAccount("carol");
    const none = await camctl(["host", "history", plain.host], plain);
    assert.equal(none.code, 8, none.stderr);
    assert.match(none.stderr, /mod_audit/);
    assert.match(none.stderr, /mod_client_management_admin/);
    assert.equal(none.stdout, "");
    assert.equal((await camctl(["user", "history", carol.jid], plain)).code, 8);

    const grant = await plain.createGrant(carol.jid, { software: "Webmail" });
    const r = await camctl(["user", "revoke_client", carol.jid, grant, "--yes"], plain);
    assert.equal(r.code, 0, r.stderr);
    const events = await history(["user", "history", carol.jid], plain);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0]!.event, "client-revoked");
    assert.equal(events[0]!.source, "camctl");
    assert.equal(events[0]!.recordedBy, "mod_camctl");
    assert.equal(events[0]!.clientId, grant);
    assert.equal(events[0]!.ip, null);
  });
});
