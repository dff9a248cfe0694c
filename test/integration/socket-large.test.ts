// Large and odd listings over the admin socket: Prosody 13.0.1 drops the rest of any single write
// larger than 4 MiB, so camctl's Lua answers in pieces with counted trailers; camctl accepts at most
// 64 MiB; stored times that have no four-digit-year form are null, not a failure.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { luaString } from "../sandbox/admin-socket.js";
import { runCamctl, type CamctlRun } from "../helpers/run-camctl.js";
import { addBulkGrants } from "../helpers/bulk-grants.js";
import { ADMIN_HEADER, unixPeer, when } from "../helpers/fault-peers.js";
import type { ClientListJson } from "../helpers/client-json.js";

let sb: Sandbox;
before(async () => {
  sb = await startSandbox();
});
after(async () => {
  await sb?.stop();
});

const camctl = (args: string[], timeoutS = 60) =>
  runCamctl([...args, "--socket", sb.socketPath, "--timeout", String(timeoutS)], { timeoutMs: (timeoutS + 30) * 1000 });

function listed(r: CamctlRun): ClientListJson {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ClientListJson;
}

describe("listings larger than Prosody's 4 MiB send chunk", () => {
  test("24 logins with 200 KB device names (an intruder's way to hide from the socket) are listed whole", async () => {
    const { jid, password } = await sb.createAccount("bigdevices");
    // 200 KB each, mostly ASCII (Prosody rewrites the whole store at each login, and stores
    // non-ASCII bytes escaped), with some two-byte characters for the pieces to cut through.
    const device = (i: number) => `device ${String(i).padStart(2, "0")} ` + ("x".repeat(999) + "é").repeat(200);
    for (let i = 0; i < 24; i++) {
      await sb.sasl2Login({ jid, password, userAgentId: randomUUID(), software: "Filler", device: device(i) });
    }
    const body = listed(await camctl(["user", "clients", jid, "--json"]));
    assert.equal(body.clients.length, 24);
    assert.deepEqual(body.clients.map((c) => c.userAgent.device).sort(), Array.from({ length: 24 }, (_, i) => device(i)));
    // The table (what --dry-run and the confirmation build on) comes through too.
    const table = await camctl(["user", "clients", jid]);
    assert.equal(table.code, 0, table.stderr);
  });

  test("40,000 grants are listed whole", async () => {
    const { jid } = await sb.createAccount("manygrants");
    await addBulkGrants(sb, jid, 40_000);
    const body = listed(await camctl(["user", "clients", jid, "--json"], 120));
    assert.equal(body.clients.length, 40_000);
    assert.equal(new Set(body.clients.map((c) => c.id)).size, 40_000, "every grant once");
    assert.ok(body.clients.every((c) => c.type === "access" && c.auth.join() === "grant"));
  });
});

describe("a host scan over an account of 40,000 grants", () => {
  test("host clients streams every row, a 200 KB name whole, in a memory bounded by rows in flight, not by the account", async () => {
    const { jid: hoard } = await sb.createAccount("hoard");
    await addBulkGrants(sb, hoard, 40_000, "Hoard");
    const { jid: named } = await sb.createAccount("longname");
    await addBulkGrants(sb, named, 1000, "Named");
    // One grant's client name is 200 KB, quotes and backslashes in it (they must be escaped).
    const longName = `Evil "client" \\ `.repeat(12_800);
    await sb.lua(`local store = require "prosody.core.storagemanager".open(${luaString(sb.host)}, "auth_tokens", "keyval+")
local grants = store:get("longname")
local _, g = next(grants)
g.data.oauth2_client.name = string.rep('Evil "client" \\\\ ', 12800)
assert(store:set("longname", grants)) return "ok"`);
    // camctl's own peak resident set, read by camctl itself at exit (/proc/<pid> is gone once reaped).
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-rss-"));
    const preload = path.join(scratch, "peak.cjs");
    const peakFile = path.join(scratch, "peak");
    fs.writeFileSync(preload, `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(peakFile)}, /VmHWM:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1]));`);
    try {
      const r = await runCamctl(["host", "clients", sb.host, "-o", "ndjson", "--socket", sb.socketPath, "--timeout", "300"],
        { timeoutMs: 600_000, env: { NODE_OPTIONS: `--require ${preload}` } });
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as { account: string; id: string; userAgent: { software: string | null } });
      const of = (jid: string) => rows.filter((row) => row.account === jid);
      assert.equal(of(hoard).length, 40_000);
      assert.equal(new Set(of(hoard).map((row) => row.id)).size, 40_000, "every grant once");
      assert.equal(of(named).length, 1000);
      assert.deepEqual(of(named).filter((row) => row.userAgent.software === longName).length, 1, "the 200 KB name, whole");
      // Holding the account's rows (or its 8 MB of NDJSON several times over) would show here: a
      // streamed scan stays near camctl's base (~60 MiB here; ~100 MiB before the young generation was bounded).
      const peakMiB = Number(fs.readFileSync(peakFile, "utf8")) / 1024;
      assert.ok(peakMiB <= 90, `camctl's peak RSS was ${peakMiB.toFixed(1)} MiB`);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe("stored times without a four-digit-year form", () => {
  test("an expiry of 1e300 seconds or past year 9999 is null; the rest of the listing stands", async () => {
    const { jid } = await sb.createAccount("oddtimes");
    // Grants with such expiry times, made through mod_tokenauth's public API (the TTL is added to now).
    for (const [name, ttl] of [["Forever", "1e300"], ["Year 11000", "285000000000"], ["Normal", "3600"]] as const) {
      await sb.lua(`local t = prosody.hosts[${luaString(sb.host)}].modules.tokenauth
local g = assert(t.create_grant(${luaString(jid)}, ${luaString(jid)}, ${ttl}, { oauth2_client = { name = ${luaString(name)} } }))
assert(t.create_token(${luaString(jid)}, g, nil, nil, "oauth2-refresh")) return "ok"`);
    }
    const body = listed(await camctl(["user", "clients", jid, "--json"]));
    const byName = new Map(body.clients.map((c) => [c.userAgent.software, c]));
    assert.equal(byName.get("Forever")?.expires, null);
    assert.equal(byName.get("Year 11000")?.expires, null);
    assert.match(byName.get("Normal")?.expires ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    for (const format of ["table", "csv"]) assert.equal((await camctl(["user", "clients", jid, "-o", format])).code, 0);
  });
});

describe("what camctl accepts from the admin socket", () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir().length <= 60 ? os.tmpdir() : "/tmp", "camctl-large-"));
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));
  let n = 0;

  /** A peer that answers the first request with `pieces` pieces of NDJSON (each ~512 KiB) and then `trailer`. */
  async function streamingPeer(pieces: number, trailer: (bytes: number) => object | null) {
    const line = JSON.stringify(["grant/x", "access", false, null, null, null, ["grant"], "y".repeat(512 * 1024 - 60), null, null, null, null]) + "\n";
    const piece = `<repl-output>base64:${Buffer.from(line).toString("base64")}</repl-output>`;
    return unixPeer(path.join(scratch, `p${n++}.sock`), (sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(ADMIN_HEADER));
      when(sock, received, /<\/repl-input>/, async () => {
        let sent = 0;
        for (let i = 0; i < pieces && !sock.destroyed; i++) {
          if (!sock.write(piece)) await new Promise((r) => sock.once("drain", r).once("close", r));
          sent += line.length;
        }
        const t = trailer(sent);
        if (t && !sock.destroyed) sock.write(`<repl-result>Result: base64:${Buffer.from(JSON.stringify(t)).toString("base64")}</repl-result>`);
      });
    });
  }

  test("an answer larger than 64 MiB: camctl stops reading, says so in one sentence, exits 3", async () => {
    const peer = await streamingPeer(140, () => null); // ~70 MiB, never finished
    try {
      const r = await runCamctl(["user", "clients", "alice@example.com", "--socket", peer.address, "--timeout", "30"], { timeoutMs: 60_000 });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^camctl: The answer with the clients of alice@example\.com is larger than 64 MiB, more than camctl accepts; camctl stopped reading/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.equal(r.stdout, "");
      assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
    } finally {
      await peer.close();
    }
  });

  test("a reply that lost a piece is refused as incomplete (3), never shown in part", async () => {
    const peer = await streamingPeer(3, (bytes) => ({ more: false, pieces: 4, bytes: bytes + 100, records: 4, jid: "alice@example.com" }));
    try {
      const r = await runCamctl(["user", "clients", "alice@example.com", "--json", "--socket", peer.address, "--timeout", "10"]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /arrived incomplete \(4 pieces of \d+ bytes were sent, 3 of \d+ arrived\)/);
      assert.equal(r.stdout, "");
    } finally {
      await peer.close();
    }
  });
});
