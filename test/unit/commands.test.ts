// The commands with a fake ClientSource and fake terminal: exit codes, --yes/--dry-run rules,
// confirmation, and that nothing is revoked unless it should be.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { main } from "../../src/cli.js";
import { CamError } from "../../src/errors.js";
import type { IOStreams } from "../../src/iostreams.js";
import type { ClientList, ClientRecord, RevokeReport } from "../../src/model.js";
import type { ClientSource } from "../../src/source.js";
import { VERSION } from "../../src/version.js";
import { readFileSync } from "node:fs";

function client(id: string, software: string | null = null): ClientRecord {
  return {
    id, type: id.startsWith("grant/") ? "access" : "session", connected: false,
    firstSeen: "2026-11-01T10:00:00Z", lastSeen: "2026-11-27T10:00:00Z", expires: null, auth: ["password"],
    userAgent: { software, version: null, softwareId: null, uri: null, device: null }, permission: null,
  };
}

class FakeSource implements ClientSource {
  revoked: string[] = [];
  closed = 0;
  constructor(private clients: ClientRecord[], private failRevoke?: CamError) {}
  async list(jid: string): Promise<ClientList> {
    return { jid, transport: "socket", clients: this.clients };
  }
  async revoke(jid: string, expected: ClientRecord): Promise<RevokeReport> {
    if (this.failRevoke) throw this.failRevoke;
    this.revoked.push(expected.id);
    return { jid, id: expected.id, before: expected, done: { sessionClosed: true, fastTokensRevoked: true, grantRevoked: true }, after: null, unverifiable: [] };
  }
  async close() {
    this.closed++;
  }
}

function fakeIO(o: { stdinIsTTY?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const io: IOStreams = {
    stdin: new PassThrough(), stdout, stderr, stdinIsTTY: o.stdinIsTTY ?? false, stdoutIsTTY: false,
    color: false, width: undefined, now: () => new Date("2026-11-27T12:00:00Z"), env: o.env ?? {},
  };
  return { io, out: () => out, err: () => err };
}

async function run(argv: string[], source: FakeSource, o: { stdinIsTTY?: boolean; answer?: boolean } = {}) {
  const f = fakeIO(o);
  const asked: string[] = [];
  const code = await main(argv, {
    io: f.io,
    prepareSource: async () => ({ where: "the fake source", open: async () => source }),
    confirm: async (q) => {
      asked.push(q);
      return o.answer ?? false;
    },
  });
  return { code, stdout: f.out(), stderr: f.err(), asked };
}

test("version matches package.json", async () => {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal(VERSION, pkg.version);
  const r = await run(["--version"], new FakeSource([]));
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), VERSION);
});

test("help exits 0 and lists both user commands", async () => {
  const r = await run(["user", "--help"], new FakeSource([]));
  assert.equal(r.code, 0);
  assert.match(r.stdout, /clients/);
  assert.match(r.stdout, /revoke_client\|revoke-client/);
});

test("non-interactive revoke without --yes: exit 2, nothing opened or revoked", async () => {
  const src = new FakeSource([client("grant/a")]);
  const r = await run(["user", "revoke_client", "a@b.example", "grant/a"], src);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--yes/);
  assert.deepEqual(src.revoked, []);
  assert.equal(src.closed, 0);
});

test("--yes revokes exactly the selector and closes the source", async () => {
  const src = new FakeSource([client("grant/a"), client("grant/b")]);
  const r = await run(["user", "revoke_client", "a@b.example", "grant/b", "--yes", "--json"], src);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(src.revoked, ["grant/b"]);
  assert.deepEqual(JSON.parse(r.stdout), { jid: "a@b.example", selector: "grant/b", revoked: true });
  assert.ok(src.closed >= 1);
});

test("on a terminal it asks, names the client, and a no revokes nothing (2)", async () => {
  const src = new FakeSource([client("client/x", "Gajim\x1b[31m")]);
  const r = await run(["user", "revoke_client", "a@b.example", "client/x"], src, { stdinIsTTY: true, answer: false });
  assert.equal(r.code, 2);
  assert.equal(r.asked.length, 1);
  assert.match(r.asked[0]!, /client\/x/);
  assert.ok(!r.asked[0]!.includes("\x1b"), "the prompt is sanitised");
  assert.deepEqual(src.revoked, []);
});

test("on a terminal a yes revokes", async () => {
  const src = new FakeSource([client("client/x", "Gajim")]);
  const r = await run(["user", "revoke_client", "a@b.example", "software/Gajim"], src, { stdinIsTTY: true, answer: true });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(src.revoked, ["software/Gajim"]);
});

test("--dry-run never revokes; unknown selector in a dry run is 6", async () => {
  const src = new FakeSource([client("grant/a", "Bot")]);
  const ok = await run(["user", "revoke_client", "a@b.example", "software/Bot", "--dry-run"], src);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /grant\/a/);
  const missing = await run(["user", "revoke_client", "a@b.example", "grant/zzz", "--dry-run"], src);
  assert.equal(missing.code, 6);
  assert.deepEqual(src.revoked, []);
});

test("typed errors map to the contract's exit codes, as one sentence", async () => {
  const cases: [CamError, number][] = [
    [new CamError("notFound", "No such client."), 6],
    [new CamError("passwordResetRequired", "Change the password."), 7],
    [new CamError("unsupported", "No module."), 8],
    [new CamError("forbidden", "Not allowed."), 5],
    [new CamError("unreachable", "Down."), 3],
    [new CamError("auth", "Wrong password."), 4],
  ];
  for (const [err, code] of cases) {
    const r = await run(["user", "revoke_client", "a@b.example", "grant/a", "--yes"], new FakeSource([], err));
    assert.equal(r.code, code);
    assert.equal(r.stderr, `camctl: ${err.message}\n`);
  }
});

test("an unexpected error is exit 1 without a stack trace", async () => {
  const src = new FakeSource([]);
  src.list = async () => {
    throw new TypeError("boom");
  };
  const r = await run(["user", "clients", "a@b.example"], src);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unexpected error: boom/);
  assert.doesNotMatch(r.stderr, /at .*:\d+:\d+/);
});

test("a source that never answers is cut off by --timeout with exit 3", async () => {
  const src = new FakeSource([]);
  src.list = () => new Promise(() => undefined);
  const started = Date.now();
  const r = await run(["user", "clients", "a@b.example", "--timeout", "0.3"], src);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /0\.3 s/);
  assert.ok(Date.now() - started < 5000);
  assert.equal(src.closed, 1);
});

test("--socket and --jid together, and XMPP-only flags without --jid, are usage errors", async () => {
  const src = new FakeSource([]);
  assert.equal((await run(["user", "clients", "a@b.example", "--socket", "/x", "--jid", "a@b.example"], src)).code, 2);
  assert.equal((await run(["user", "clients", "a@b.example", "--server", "localhost"], src)).code, 2);
});

test("completion scripts mention every command and option", async () => {
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await run(["completion", shell], new FakeSource([]));
    assert.equal(r.code, 0);
    for (const word of ["clients", "revoke_client", "revoke-client", "dry-run", "password-file", "table json csv"]) {
      assert.ok(r.stdout.includes(word), `${shell} completion mentions ${word}`);
    }
  }
  assert.equal((await run(["completion", "tcsh"], new FakeSource([]))).code, 2);
});
