// host revoke, host apply and user lockout with a fake ClientSource and a fake terminal: what is
// planned, what is revoked (exactly the plan, in order, camctl's own login last), the per-item
// records and summary, the exit codes, the questions, and what a lost connection leaves.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main } from "../../src/cli/program.js";
import { CamError } from "../../src/core/errors.js";
import type { HostClientRecord } from "../../src/core/filters.js";
import type { LockoutReport, LockoutRequest } from "../../src/core/lockout-report.js";
import type { ClientList, ClientRecord, RevokeReport } from "../../src/core/model.js";
import type { ClientSource, HostScan } from "../../src/core/client-source.js";
import { fakeIO, type FakeIOOptions } from "../helpers/fake-io.js";
import { iso } from "../helpers/iso.js";

/** A temp directory removed when the file's tests are done. */
const scratch: string[] = [];
function scratchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}
after(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

const HOST = "example.com";

function rec(account: string, id: string, o: Partial<ClientRecord> & { software?: string } = {}): HostClientRecord {
  const { software = "Evil Client", ...rest } = o;
  return {
    account, id, type: id.startsWith("grant/") ? "access" : "session", connected: false,
    firstSeen: iso("2026-10-01T00:00:00Z"), lastSeen: iso("2026-11-20T00:00:00Z"), expires: null, auth: id.startsWith("grant/") ? ["grant"] : ["password"],
    userAgent: { software, version: null, softwareId: null, uri: null, device: null }, permission: null,
    ...rest,
  };
}

type Behaviour = "revoked" | "password" | "gone" | "changed" | "forbidden" | "lost" | "partly";

class FakeSource implements ClientSource {
  revoked: string[] = [];
  opened = 0;
  lockouts: LockoutRequest[] = [];
  behaviour = new Map<string, Behaviour>();
  delayMs = 0;
  own: { account: string; id: string } | null = null;
  lockoutReport: Partial<LockoutReport> = {};
  constructor(public records: HostClientRecord[]) {}
  async list(jid: string): Promise<ClientList> {
    return { jid, transport: "socket", clients: this.records.filter((r) => r.account === jid).map(({ account: _a, ...c }) => c) };
  }
  async revoke(jid: string, expected: ClientRecord): Promise<RevokeReport> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const key = `${jid} ${expected.id}`;
    const b = this.behaviour.get(key) ?? "revoked";
    const done = { sessionClosed: true, fastTokensRevoked: false, grantRevoked: expected.type === "access" };
    switch (b) {
      case "gone":
        throw new CamError("notFound", "gone", "gone");
      case "changed":
        throw new CamError("notFound", "changed", "changed");
      case "forbidden":
        throw new CamError("forbidden", "Prosody's client management refused the request (forbidden).", "forbidden");
      case "lost":
        throw new CamError("unreachable", "Prosody closed the admin socket connection before answering.");
      default:
    }
    this.revoked.push(key);
    // Once revoked, an entry is gone; a password client stays (it has its password).
    if (b === "revoked") this.behaviour.set(key, "gone");
    const after = b === "password" ? { ...expected, auth: ["password"], connected: false } : b === "partly" ? { ...expected, auth: ["fast"] } : null;
    return { jid, id: expected.id, before: expected, done, after, unverifiable: [] };
  }
  async *listHost(host: string, scan: HostScan): AsyncIterable<HostClientRecord> {
    assert.equal(host, HOST);
    for (const r of this.records) {
      scan.onProgress?.({ scanned: 1, total: 1 });
      yield r;
    }
  }
  async lockout(jid: string, request: LockoutRequest): Promise<LockoutReport> {
    this.lockouts.push(request);
    const listed = this.records.filter((r) => r.account === jid);
    return {
      jid,
      entries: listed.map((r) => ({ id: r.id, done: { sessionClosed: false, fastTokensRevoked: false, grantRevoked: r.type === "access" }, error: null, errorText: null })),
      swept: { grants: 0, fastTokens: 1, sessions: 0 },
      disabled: request.action === "disable",
      passwordChanged: request.action === "new-password",
      enabled: request.action !== "disable",
      failures: [],
      after: request.action === "none" ? listed.filter((r) => r.type === "session").map(({ account: _a, ...c }) => c) : [],
      ...this.lockoutReport,
    };
  }
  async ownEntry() {
    return this.own;
  }
  async close() {}
}

async function run(argv: string[], source: FakeSource, o: { tty?: boolean; answer?: boolean; typed?: string; io?: FakeIOOptions; onQuestion?: () => void } = {}) {
  const f = fakeIO({ stdinIsTTY: o.tty ?? false, ...o.io });
  const asked: string[] = [];
  const code = await main(argv, {
    io: f.io,
    prepareSource: async () => ({
      where: "the fake source",
      open: async () => {
        source.opened++;
        return source;
      },
    }),
    confirm: async (q) => {
      asked.push(q);
      o.onQuestion?.();
      return o.answer ?? false;
    },
    ask: async (q) => {
      asked.push(q);
      return o.typed;
    },
  });
  return { code, stdout: f.out(), stderr: f.err(), asked };
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);

function hostRecords(): HostClientRecord[] {
  return [
    rec("a@example.com", "client/a1"),
    rec("a@example.com", "client/a2", { software: "Gajim" }),
    rec("a@example.com", "grant/a3"),
    rec("b@example.com", "client/b1"),
    rec("c@example.com", "client/c1", { software: "Gajim" }),
  ];
}

test("host revoke: a filter or --all is required, not both; without a terminal --yes is", async () => {
  const s = new FakeSource(hostRecords());
  let r = await run(["host", "revoke", HOST], s);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Give at least one filter .* or --all/);
  r = await run(["host", "revoke", HOST, "--all", "--software", "x"], s);
  assert.equal(r.code, 2);
  r = await run(["host", "revoke", HOST, "--software", "Evil Client"], s);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /stdin is not a terminal\. Add --yes/);
  r = await run(["host", "revoke", HOST, "--all", "--keep-newest", "0"], s);
  assert.equal(r.code, 2);
  r = await run(["host", "revoke", "not a host", "--all", "--yes"], s);
  assert.equal(r.code, 2);
  assert.equal(s.opened, 0, "nothing was asked of the server");
  assert.deepEqual(s.revoked, []);
});

test("host revoke --dry-run prints exactly the matching clients and revokes nothing", async () => {
  const s = new FakeSource(hostRecords());
  const r = await run(["host", "revoke", HOST, "--software", "Evil Client", "--dry-run", "-o", "ndjson"], s);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout).map((l) => `${l.account} ${l.id}`), ["a@example.com client/a1", "a@example.com grant/a3", "b@example.com client/b1"]);
  assert.deepEqual(s.revoked, []);
});

test("host revoke --yes revokes exactly the plan, in order, and streams one record per item", async () => {
  const s = new FakeSource(hostRecords());
  const r = await run(["host", "revoke", HOST, "--software", "Evil Client", "--yes", "-o", "ndjson"], s);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(s.revoked, ["a@example.com client/a1", "a@example.com grant/a3", "b@example.com client/b1"]);
  const out = lines(r.stdout);
  assert.deepEqual(out.map((l) => [l.account, l.id, l.outcome]), [
    ["a@example.com", "client/a1", "revoked"],
    ["a@example.com", "grant/a3", "revoked"],
    ["b@example.com", "client/b1", "revoked"],
  ]);
  assert.deepEqual(Object.keys(out[0]!), ["account", "id", "outcome", "done"]);
  assert.match(r.stderr, /3 items: 3 revoked\./, "the summary goes to stderr with ndjson");
  assert.equal(s.opened, 2, "one connection to plan, one to apply");
});

test("outcomes and exit codes: gone and changed are not failures; 7 for password clients; 9 for failures", async () => {
  const s = new FakeSource(hostRecords());
  s.behaviour.set("a@example.com client/a1", "gone");
  s.behaviour.set("a@example.com grant/a3", "changed");
  let r = await run(["host", "revoke", HOST, "--software", "Evil Client", "--yes", "-o", "json"], s);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { host: string; results: Array<Record<string, unknown>>; summary: Record<string, number> };
  assert.equal(doc.host, HOST);
  assert.deepEqual(doc.results.map((x) => x.outcome), ["gone", "changed", "revoked"]);
  assert.equal(doc.results[0]!.done, null);
  assert.match(String(doc.results[1]!.reason), /different client/);
  assert.deepEqual(doc.summary, { items: 3, revoked: 1, passwordResetRequired: 0, gone: 1, changed: 1, failed: 0, acted: 1 });

  const p = new FakeSource(hostRecords());
  p.behaviour.set("a@example.com client/a1", "password");
  r = await run(["host", "revoke", HOST, "--software", "Evil Client", "--yes"], p);
  assert.equal(r.code, 7, r.stderr);
  assert.match(r.stdout, /^password-reset-required\s+a@example\.com\s+client\/a1 \(Evil Client\): closed its session$/m);
  assert.match(r.stdout, /3 items: 2 revoked, 1 can still sign in with the password/);
  assert.match(r.stderr, /1 of the 3 clients can still sign in with their account's password.*For each account: `camctl user lockout <jid> --new-password-file <file>`/);

  const f = new FakeSource(hostRecords());
  f.behaviour.set("a@example.com client/a1", "password");
  f.behaviour.set("a@example.com grant/a3", "forbidden");
  f.behaviour.set("b@example.com client/b1", "partly");
  r = await run(["host", "revoke", HOST, "--software", "Evil Client", "--yes", "-o", "csv"], f);
  assert.equal(r.code, 9, r.stderr);
  const rows = r.stdout.trim().split("\r\n");
  assert.equal(rows[0], "account,id,outcome,reason,sessionClosed,fastTokensRevoked,grantRevoked");
  assert.match(rows[2]!, /^a@example\.com,grant\/a3,failed,Prosody's client management refused the request \(forbidden\)\.,,,$/);
  assert.match(rows[3]!, /^b@example\.com,client\/b1,failed,.*FAST token/);
  assert.deepEqual(f.revoked, ["a@example.com client/a1", "b@example.com client/b1"], "nothing retried");
  assert.match(r.stderr, /2 of the 3 items could not be revoked .* nothing was retried\. To retry them, run the same `camctl host revoke` again\./);
});

test("a lost connection ends the run: that item failed, the rest untouched, exit 3 saying how to finish", async () => {
  const s = new FakeSource(hostRecords());
  s.behaviour.set("a@example.com grant/a3", "lost");
  const r = await run(["host", "revoke", HOST, "--software", "Evil Client", "--yes", "-o", "ndjson"], s);
  assert.equal(r.code, 3, r.stderr);
  assert.deepEqual(s.revoked, ["a@example.com client/a1"]);
  const out = lines(r.stdout);
  assert.deepEqual(out.map((l) => [l.id, l.outcome]), [["client/a1", "revoked"], ["grant/a3", "failed"]]);
  assert.match(String(out[1]!.reason), /may or may not have been revoked/);
  assert.match(r.stderr, /The run stopped after 2 of 3 items: 1 revoked, 1 failed; 1 not started\. To finish, run the same `camctl host revoke` again\./);
});

test("--timeout bounds each item, not the whole run", async () => {
  const s = new FakeSource(hostRecords());
  s.delayMs = 300;
  const r = await run(["host", "revoke", HOST, "--all", "--yes", "--timeout", "0.5", "-o", "ndjson"], s);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(r.stdout).length, 5, "five items of 0.3 s each under a 0.5 s timeout");
});

test("--keep-newest leaves each account's newest matching clients out of the plan", async () => {
  const s = new FakeSource([
    rec("a@example.com", "client/old", { lastSeen: iso("2025-01-01T00:00:00Z") }),
    rec("a@example.com", "client/new", { lastSeen: iso("2026-11-01T00:00:00Z") }),
    rec("a@example.com", "client/never", { lastSeen: null }),
    rec("b@example.com", "client/only"),
  ]);
  const r = await run(["host", "revoke", HOST, "--all", "--keep-newest", "1", "--dry-run", "-o", "ndjson"], s);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(lines(r.stdout).map((l) => l.id), ["client/old", "client/never"]);
});

test("camctl's own login is revoked last (revoking it ends the connection)", async () => {
  const s = new FakeSource(hostRecords());
  s.own = { account: "A@Example.com", id: "client/a1" };
  const r = await run(["host", "revoke", HOST, "--software", "Evil Client", "--yes", "-o", "ndjson"], s);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(s.revoked, ["a@example.com grant/a3", "b@example.com client/b1", "a@example.com client/a1"]);
});

test("on a terminal: a summary and a yes/no question up to 20 items; no revokes nothing", async () => {
  const s = new FakeSource(hostRecords());
  let r = await run(["host", "revoke", HOST, "--software", "Evil Client"], s, { tty: true, answer: false });
  assert.equal(r.code, 2);
  assert.deepEqual(r.asked, ["Revoke these 3 clients on 2 accounts of example.com?"]);
  assert.match(r.stderr, /3 clients on 2 accounts of example\.com/);
  assert.match(r.stderr, /By software\n\s+Evil Client\s+3/);
  assert.match(r.stderr, /All of them:\nAccount/);
  assert.match(r.stderr, /Nothing was revoked/);
  assert.deepEqual(s.revoked, []);
  r = await run(["host", "revoke", HOST, "--software", "Evil Client"], s, { tty: true, answer: true });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.revoked.length, 3);
});

test("on a terminal, above 20 items the host name must be typed", async () => {
  const many = Array.from({ length: 21 }, (_, i) => rec(`u${i}@example.com`, `client/${i}`));
  for (const [typed, code] of [[undefined, 2], ["", 2], ["example.org", 2], [" example.com ", 0]] as const) {
    const s = new FakeSource(many);
    const r = await run(["host", "revoke", HOST, "--all"], s, { tty: true, typed });
    assert.equal(r.code, code, `${typed}: ${r.stderr}`);
    assert.match(r.asked[0]!, /^Revoke these 21 clients on 21 accounts of example\.com\? This is more than 20 items: type the host name \(example\.com\) to go ahead:$/);
    assert.match(r.stderr, /The first 10 of 21:/);
    assert.equal(s.revoked.length, code === 0 ? 21 : 0);
  }
});

test("--plan-out writes the plan and revokes nothing; host apply applies it, and again revokes nothing twice", async () => {
  const dir = scratchDir("camctl-bulk-");
  const file = path.join(dir, "plan.json");
  const s = new FakeSource(hostRecords());
  let r = await run(["host", "revoke", HOST, "--software", "Evil Client", "--plan-out", file], s);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Wrote a plan to revoke 3 clients on 2 accounts of example\.com to .*plan\.json; nothing was revoked\. Apply it with: camctl host apply /);
  assert.deepEqual(s.revoked, []);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);

  r = await run(["host", "apply", file], s);
  assert.equal(r.code, 2, "not on a terminal: --yes is required");
  r = await run(["host", "apply", file, "--dry-run", "-o", "ndjson"], s);
  assert.deepEqual(lines(r.stdout).map((l) => l.id), ["client/a1", "grant/a3", "client/b1"]);

  // Meanwhile a new Evil Client appears: the plan does not grow.
  s.records.push(rec("d@example.com", "client/d1"));
  r = await run(["host", "apply", file, "--yes", "-o", "ndjson"], s);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(s.revoked, ["a@example.com client/a1", "a@example.com grant/a3", "b@example.com client/b1"]);

  r = await run(["host", "apply", file, "--yes"], s);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.revoked.length, 3, "the second time nothing is revoked");
  assert.match(r.stdout, /3 items: 0 revoked, 3 gone\.\nGone items: no longer listed.*\nNothing was revoked this time/);

  r = await run(["host", "apply", file], s, { tty: true, answer: true });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^Plan .*plan\.json: made .* over the admin socket, with --software 'Evil Client'\./m);
});

test("user lockout: the three actions, exit codes, and the new password never shown", async () => {
  const dir = scratchDir("camctl-lockout-");
  const pw = path.join(dir, "pw");
  fs.writeFileSync(pw, "s3cret-new\n", { mode: 0o600 });
  const account = "a@example.com";

  let s = new FakeSource(hostRecords());
  let r = await run(["user", "lockout", account, "--yes"], s);
  assert.equal(r.code, 7, r.stderr);
  assert.deepEqual(s.lockouts, [{ action: "none", newPassword: undefined }]);
  assert.match(r.stdout, /^password-reset-required\s+a@example\.com\s+client\/a1/m);
  assert.match(r.stdout, /^revoked\s+a@example\.com\s+grant\/a3 \(Evil Client\): revoked the grant$/m);
  assert.match(r.stdout, /Also revoked what the list did not show: 1 FAST token\./);
  assert.match(r.stderr, /2 clients of a@example\.com can still sign in with the password/);

  s = new FakeSource(hostRecords());
  r = await run(["user", "lockout", account, "--yes", "--disable", "-o", "json"], s);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(doc.action, "disable");
  assert.equal(doc.accountDisabled, true);
  assert.equal(doc.verified, true);

  s = new FakeSource(hostRecords());
  r = await run(["user", "lockout", account, "--yes", "--new-password-file", pw], s);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(s.lockouts, [{ action: "new-password", newPassword: "s3cret-new" }]);
  assert.ok(!r.stdout.includes("s3cret") && !r.stderr.includes("s3cret"), "the password is never shown");

  s = new FakeSource(hostRecords());
  s.lockoutReport = { after: [{ ...rec(account, "client/a1"), auth: ["fast", "password"] }] };
  r = await run(["user", "lockout", account, "--yes", "--disable"], s);
  assert.equal(r.code, 9, r.stderr);
  assert.match(r.stderr, /is not completely locked out: client\/a1 \(Evil Client\): a FAST token of it still logs in/);

  for (const [content, re] of [["", /is empty/], ["one\ntwo\n", /more than one line/]] as const) {
    fs.writeFileSync(pw, content);
    s = new FakeSource(hostRecords());
    r = await run(["user", "lockout", account, "--yes", "--new-password-file", pw], s);
    assert.equal(r.code, 2);
    assert.match(r.stderr, re);
    assert.equal(s.opened, 0);
  }
  // A new password others may read is refused like the config file that names one (exit 2), before anything is opened.
  fs.writeFileSync(pw, "s3cret-new\n");
  fs.chmodSync(pw, 0o644);
  s = new FakeSource(hostRecords());
  r = await run(["user", "lockout", account, "--yes", "--new-password-file", pw], s);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^camctl: Cannot use --new-password-file \S+: other users may read it \(mode 644\); make it private with chmod 600\.\n$/);
  assert.equal(s.opened, 0);
  assert.deepEqual(s.lockouts, []);
  r = await run(["user", "lockout", account, "--yes", "--disable", "--new-password-file", pw], s);
  assert.equal(r.code, 2);
  r = await run(["user", "lockout", account], s);
  assert.equal(r.code, 2, "not on a terminal: --yes is required");

  s = new FakeSource(hostRecords());
  r = await run(["user", "lockout", account, "--dry-run", "--disable"], s);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Would lock a@example\.com out: revoke its 3 listed clients and every grant, FAST token and session, then disable the account\. Nothing was changed\./);
  assert.deepEqual(s.lockouts, []);

  r = await run(["user", "lockout", account, "--disable"], s, { tty: true, answer: false });
  assert.equal(r.code, 2);
  assert.match(r.asked[0]!, /^Lock a@example\.com out: revoke its 3 listed clients/);
  assert.deepEqual(s.lockouts, []);
});

test("host apply applies the plan that was shown and confirmed, even when the file is rewritten before the answer", async () => {
  const dir = scratchDir("camctl-bulk-");
  const file = path.join(dir, "plan.json");
  const decoy = path.join(dir, "decoy.json");
  const s = new FakeSource(hostRecords());
  assert.equal((await run(["host", "revoke", HOST, "--account", "a@example.com", "--software", "Evil Client", "--plan-out", file], s)).code, 0);
  assert.equal((await run(["host", "revoke", HOST, "--software", "Gajim", "--plan-out", decoy], s)).code, 0);
  const r = await run(["host", "apply", file], s, { tty: true, answer: true, onQuestion: () => fs.writeFileSync(file, fs.readFileSync(decoy)) });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.asked, ["Revoke these 2 clients on 1 account of example.com?"]);
  assert.deepEqual(s.revoked, ["a@example.com client/a1", "a@example.com grant/a3"], "the reviewed items, not what the file says now");
  assert.match(r.stdout, /2 items: 2 revoked\./);
});

test("host apply: a run that stops half-way says what was done and what was not started", async () => {
  const dir = scratchDir("camctl-bulk-");
  const file = path.join(dir, "plan.json");
  const s = new FakeSource(hostRecords());
  assert.equal((await run(["host", "revoke", HOST, "--all", "--plan-out", file], s)).code, 0);
  s.behaviour.set("a@example.com client/a2", "gone");
  s.behaviour.set("b@example.com client/b1", "lost");
  const r = await run(["host", "apply", file, "--yes"], s);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /The run stopped after 4 of 5 items: 2 revoked, 1 gone, 1 failed; 1 not started\. To finish, apply the same plan again \(camctl host apply .*plan\.json\)\./);
});

test("host apply: an edited header is refused with exit 2 and a sentence naming the field, before anything is asked", async () => {
  const dir = scratchDir("camctl-bulk-");
  const file = path.join(dir, "plan.json");
  const s = new FakeSource(hostRecords());
  assert.equal((await run(["host", "revoke", HOST, "--software", "Evil Client", "--plan-out", file], s)).code, 0);
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown> & { filters: Record<string, unknown> };
  for (const [name, edited, re] of [
    ["auth", { ...doc, filters: { ...doc.filters, auth: 5 } }, /its "filters\.auth" is not a list/],
    ["list", { ...doc, filters: [] }, /its "filters" is not an object/],
    ["created", { ...doc, createdAt: "1" }, /its "createdAt" is not an ISO 8601 UTC time/],
  ] as const) {
    const f = path.join(dir, `${name}.json`);
    fs.writeFileSync(f, JSON.stringify(edited), { mode: 0o600 });
    const r = await run(["host", "apply", f], s, { tty: true, answer: true });
    assert.equal(r.code, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, re, name);
    assert.equal(r.stderr.split("\n").filter((l) => l !== "").length, 1, `${name}: one sentence`);
    assert.doesNotMatch(r.stderr, /bug in camctl|undefined/, name);
    assert.deepEqual(r.asked, [], name);
  }
  assert.deepEqual(s.revoked, []);
});

test("host apply's preview agrees in number: 1 client on 1 account", async () => {
  const dir = scratchDir("camctl-bulk-");
  const file = path.join(dir, "plan.json");
  const s = new FakeSource(hostRecords());
  assert.equal((await run(["host", "revoke", HOST, "--account", "b@example.com", "--plan-out", file], s)).code, 0);
  const r = await run(["host", "apply", file], s, { tty: true, answer: false });
  assert.match(r.stderr, /^1 client on 1 account of example\.com \(0 connected\)$/m);
  assert.deepEqual(r.asked, ["Revoke this client on 1 account of example.com?"]);
});

// A write failure never stops a confirmed bulk run half-way: camctl finishes the work, stops
// writing, says on stderr how far the output got and what was done, and exits by the work's
// outcome (a reader that went away) or 10 (output that could not be written).
const many = () => Array.from({ length: 12 }, (_, i) => rec(`u${i}@example.com`, `grant/${i}`));
for (const format of ["ndjson", "table", "json", "csv"] as const) {
  test(`a reader that goes away (EPIPE) after the first record, -o ${format}: every item is revoked, exit by the outcome, one sentence`, async () => {
    const s = new FakeSource(many());
    const r = await run(["host", "revoke", HOST, "--all", "--yes", "-o", format], s, { io: { failWith: "EPIPE", failAfterBytes: 10 } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.revoked.length, 12, "every planned item was revoked");
    assert.match(r.stderr, /camctl: The output stopped after 0 of the 12 items \(its reader went away\), but the run went on to its end: 12 revoked\.\n/);
  });
}

test("EPIPE with items that failed or can still sign in: the exit code is the work's (9, 7), not 0", async () => {
  const s = new FakeSource(many());
  s.behaviour.set("u3@example.com grant/3", "forbidden");
  s.behaviour.set("u4@example.com grant/4", "password");
  const r = await run(["host", "revoke", HOST, "--all", "--yes", "-o", "ndjson"], s, { io: { failWith: "EPIPE", failAfterBytes: 200 } });
  assert.equal(r.code, 9, r.stderr);
  assert.equal(s.revoked.length, 11);
  assert.match(r.stderr, /The output stopped after 1 of the 12 items \(its reader went away\), but the run went on to its end: 10 revoked, 1 can still sign in with the password \(password-reset-required\), 1 failed\./);
  assert.match(r.stderr, /1 of the 12 items could not be revoked/);

  const p = new FakeSource(many());
  p.behaviour.set("u4@example.com grant/4", "password");
  const seven = await run(["host", "revoke", HOST, "--all", "--yes"], p, { io: { failWith: "EPIPE", failAfterBytes: 0 } });
  assert.equal(seven.code, 7, seven.stderr);
  assert.equal(p.revoked.length, 12);
});

test("a full disk (ENOSPC): every item is revoked, exit 10, one sentence saying the work was finished", async () => {
  const dir = scratchDir("camctl-bulk-");
  const file = path.join(dir, "plan.json");
  const s = new FakeSource(many());
  assert.equal((await run(["host", "revoke", HOST, "--all", "--plan-out", file], s)).code, 0);
  const r = await run(["host", "apply", file, "--yes", "-o", "ndjson"], s, { io: { failWith: "ENOSPC", failAfterBytes: 300 } });
  assert.equal(r.code, 10, r.stderr);
  assert.equal(s.revoked.length, 12);
  const lost = r.stderr.split("\n").filter((l) => /output/i.test(l));
  const written = lines(r.stdout).length;
  assert.ok(written >= 1 && written < 12);
  assert.deepEqual(lost, [`camctl: The output stopped after ${written} of the 12 items (it could not be written: simulated failure (ENOSPC)), but the run went on to its end: 12 revoked.`]);
});

test("user lockout whose output reader goes away still exits by what the lock-out did", async () => {
  const s = new FakeSource(hostRecords());
  s.lockoutReport = { after: [{ ...rec("a@example.com", "client/a1"), auth: ["fast", "password"] }] };
  const r = await run(["user", "lockout", "a@example.com", "--yes", "--disable"], s, { io: { failWith: "EPIPE", failAfterBytes: 0 } });
  assert.equal(r.code, 9, r.stderr);
  assert.match(r.stderr, /The output stopped after 0 of the 3 items \(its reader went away\), but the run went on to its end/);
  assert.match(r.stderr, /is not completely locked out/);
});
