// The commands with a fake ClientSource and fake terminal: exit codes, --yes/--dry-run rules,
// confirmation, and that nothing is revoked unless it should be.
import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/program.js";
import { CamError } from "../../src/core/errors.js";
import type { ClientList, ClientRecord, RevokeReport } from "../../src/core/model.js";
import type { HostClientRecord } from "../../src/core/filters.js";
import type { ClientSource } from "../../src/core/client-source.js";
import { VERSION } from "../../src/core/version.js";
import { interruptHint } from "../../src/cli/program.js";
import { readFileSync } from "node:fs";
import { fakeIO } from "../helpers/fake-io.js";
import { iso } from "../helpers/iso.js";

function client(id: string, software: string | null = null): ClientRecord {
  return {
    id, type: id.startsWith("grant/") ? "access" : "session", connected: false,
    firstSeen: iso("2026-11-01T10:00:00Z"), lastSeen: iso("2026-11-27T10:00:00Z"), expires: null, auth: ["password"],
    userAgent: { software, version: null, softwareId: null, uri: null, device: null }, permission: null,
  };
}

class FakeSource implements ClientSource {
  revoked: string[] = [];
  closed = 0;
  /** What the report says afterwards (default: nothing left). */
  outcome: Partial<RevokeReport> = {};
  hintDuringRevoke: string | undefined;
  constructor(private clients: ClientRecord[], private failRevoke?: CamError) {}
  async list(jid: string): Promise<ClientList> {
    return { jid, transport: "socket", clients: this.clients };
  }
  async revoke(jid: string, expected: ClientRecord): Promise<RevokeReport> {
    this.hintDuringRevoke = interruptHint();
    if (this.failRevoke) throw this.failRevoke;
    this.revoked.push(expected.id);
    return { jid, id: expected.id, before: expected, done: { sessionClosed: true, fastTokensRevoked: true, grantRevoked: false }, after: null, unverifiable: [], ...this.outcome };
  }
  // eslint-disable-next-line require-yield
  async *listHost(): AsyncIterable<HostClientRecord> {
    throw new Error("not used");
  }
  async close() {
    this.closed++;
  }
}

async function run(argv: string[], source: FakeSource, o: { stdinIsTTY?: boolean; answer?: boolean } = {}) {
  const f = fakeIO({ stdinIsTTY: o.stdinIsTTY });
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
  const body = JSON.parse(r.stdout);
  assert.deepEqual({ jid: body.jid, selector: body.selector, revoked: body.revoked }, { jid: "a@b.example", selector: "grant/b", revoked: true }, "the contract's fields");
  assert.equal(body.id, "grant/b");
  assert.equal(body.outcome, "revoked");
  assert.deepEqual(body.remaining, []);
  assert.deepEqual(body.done, { sessionClosed: true, fastTokensRevoked: true, grantRevoked: false });
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
  assert.deepEqual(src.revoked, ["client/x"], "exactly the entry shown, by its id");
  assert.match(r.stdout, /^Revoked client\/x \(Gajim\) for a@b\.example: closed its session and revoked its FAST tokens; it has no access left\.\n$/);
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
    const r = await run(["user", "revoke_client", "a@b.example", "grant/a", "--yes"], new FakeSource([client("grant/a")], err));
    assert.equal(r.code, code);
    if (err.kind === "unreachable") {
      // Stopped after the request may have gone out: it says the revoke may have happened, and how to check.
      assert.equal(r.stderr, `camctl: ${err.message} The revoke of grant/a may have happened, entirely or in part; check with \`camctl user clients a@b.example\`.\n`);
    } else {
      assert.equal(r.stderr, `camctl: ${err.message}\n`);
    }
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

// ---------------------------------------------------------------------------------------------
// Resolving the selector as the server does, and revoking exactly what was shown

function gajim(id: string, version: string | null, device: string | null = null, over: Partial<ClientRecord> = {}): ClientRecord {
  return { ...client(id, "Gajim"), userAgent: { software: "Gajim", version, softwareId: null, uri: null, device }, ...over };
}

test("software/<name> takes the first match in the server's order; --dry-run names it and says that others carry the name", async () => {
  const src = new FakeSource([client("grant/other", "Bot"), gajim("grant/b", "1.9", "phone"), gajim("client/a", null, "laptop"), gajim("grant/c", "2.0")]);
  const r = await run(["user", "revoke_client", "a@b.example", "software/Gajim", "--dry-run"], src);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    "Would revoke grant/b (Gajim 1.9 on phone) for a@b.example: software/Gajim matches 3 clients and the server takes the first in its list. Nothing was changed.\n" +
      "Also matching, not revoked (give an id to revoke one of these):\n  client/a (Gajim on laptop)\n  grant/c (Gajim 2.0)\n",
  );
  const json = JSON.parse((await run(["user", "revoke_client", "a@b.example", "software/Gajim", "--dry-run", "--json"], src)).stdout);
  assert.equal(json.id, "grant/b");
  assert.equal(json.outcome, "dry-run");
  assert.equal(json.revoked, false);
  assert.deepEqual(json.otherMatches, ["client/a", "grant/c"]);
  assert.deepEqual(src.revoked, []);
});

test("software/<name>/<version> matches name/version as the server does; a name alone never matches a version", async () => {
  const src = new FakeSource([gajim("grant/old", "1.8"), gajim("grant/new", "1.9"), client("grant/slash", "Gajim/1.9")]);
  const dry = async (sel: string) => JSON.parse((await run(["user", "revoke_client", "a@b.example", sel, "--dry-run", "--json"], src)).stdout);
  assert.deepEqual([(await dry("software/Gajim/1.9")).id, (await dry("software/Gajim/1.9")).otherMatches], ["grant/new", ["grant/slash"]]);
  assert.equal((await dry("software/Gajim/1.8")).id, "grant/old");
  const none = await run(["user", "revoke_client", "a@b.example", "software/Gajim/2", "--dry-run", "--json"], src);
  assert.equal(none.code, 6);
  assert.deepEqual(JSON.parse(none.stdout), {
    jid: "a@b.example", selector: "software/Gajim/2", revoked: false, id: null, outcome: "no-match", dryRun: false, client: null,
    otherMatches: [], done: null, remaining: null, unverifiable: [], after: null,
  });
  assert.match(none.stderr, /No client matches software\/Gajim\/2 for a@b\.example; nothing was revoked/);
});

test("any id the list shows is a selector: slashes and spaces, matched exactly", async () => {
  const src = new FakeSource([client("client/a"), client("client/a/b"), client("client/with space")]);
  for (const id of ["client/a/b", "client/with space"]) {
    const r = await run(["user", "revoke_client", "a@b.example", id, "--yes"], src);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.deepEqual(src.revoked, ["client/a/b", "client/with space"]);
  const empty = await run(["user", "revoke_client", "a@b.example", "client/", "--yes"], src);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /empty/);
});

test("the confirmation names the entry the server takes and the others; the revoke gets exactly that entry", async () => {
  const first = gajim("client/a", null, "laptop");
  const src = new FakeSource([first, gajim("client/b", null, "phone")]);
  let got: ClientRecord | undefined;
  const revoke = src.revoke.bind(src);
  src.revoke = async (jid, expected) => {
    got = expected;
    return revoke(jid, expected);
  };
  const r = await run(["user", "revoke_client", "a@b.example", "software/Gajim"], src, { stdinIsTTY: true, answer: true });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.asked, ["Revoke client/a (Gajim on laptop) from a@b.example? (software/Gajim also matches 1 other client; only this one is revoked)"]);
  assert.deepEqual(got, first, "the listed entry itself, not the selector text");
});

test("the entry gone or changed between the question and the answer: 6, nothing revoked, and the sentence says which", async () => {
  for (const [condition, sentence] of [
    ["gone", /^camctl: client\/a \(Gajim on laptop\) is no longer listed for a@b\.example \(.*\); nothing was revoked\.\n$/],
    ["changed", /^camctl: client\/a is now listed for a@b\.example as a different client than the one shown \(Gajim on laptop\); nothing was revoked\./],
  ] as const) {
    const src = new FakeSource([gajim("client/a", null, "laptop")], new CamError("notFound", "whatever the source said", condition));
    const r = await run(["user", "revoke_client", "a@b.example", "software/Gajim"], src, { stdinIsTTY: true, answer: true });
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, sentence);
    assert.equal(r.stdout, "");
    const json = await run(["user", "revoke_client", "a@b.example", "client/a", "--yes", "--json"], src);
    assert.equal(json.code, 6);
    const body = JSON.parse(json.stdout);
    assert.deepEqual([body.outcome, body.revoked, body.id, body.done], [condition, false, "client/a", null]);
  }
});

test("exit codes come from the report: only the password left is 7, anything else left is 9, each saying what was done and what remains", async () => {
  const entry = gajim("client/a", null, "laptop", { connected: true, auth: ["fast", "password"] });
  const after = (over: Partial<ClientRecord>): ClientRecord => ({ ...entry, connected: false, auth: ["password"], ...over });

  const pw = new FakeSource([entry]);
  pw.outcome = { after: after({}) };
  const r7 = await run(["user", "revoke_client", "a@b.example", "client/a", "--yes"], pw);
  assert.equal(r7.code, 7);
  assert.equal(r7.stdout, "");
  assert.equal(
    r7.stderr,
    "camctl: client/a (Gajim on laptop): closed its session and revoked its FAST tokens, but it signed in with a@b.example's password and can come back with it until the password is changed: `camctl user lockout a@b.example --new-password-file <file>` sets a new one and revokes everything else the account has.\n",
  );
  const j7 = JSON.parse((await run(["user", "revoke_client", "a@b.example", "client/a", "--yes", "--json"], pw)).stdout);
  assert.deepEqual([j7.revoked, j7.outcome, j7.remaining, j7.after.auth], [false, "password-reset-required", ["password"], ["password"]]);

  const fast = new FakeSource([entry]);
  fast.outcome = { done: { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false }, after: after({ auth: ["fast", "password"] }) };
  const r9 = await run(["user", "revoke_client", "a@b.example", "client/a", "--yes"], fast);
  assert.equal(r9.code, 9);
  assert.match(r9.stderr, /closed its session, but a FAST token of it still logs in and it can sign in again with a@b\.example's password until that is changed\./);

  const open = new FakeSource([entry]);
  open.outcome = { after: after({ connected: true }) };
  assert.equal((await run(["user", "revoke_client", "a@b.example", "client/a", "--yes"], open)).code, 9, "a session still open is more than the password");

  const unseen = new FakeSource([entry]);
  unseen.outcome = { after: null, unverifiable: ["unused-fast-token"] };
  const u = await run(["user", "revoke_client", "a@b.example", "client/a", "--yes", "--json"], unseen);
  assert.equal(u.code, 9);
  assert.match(u.stderr, /no longer lists it, but a FAST token it obtained but never used may still let it in: .*mod_client_management_admin.*--socket/);
  assert.deepEqual(JSON.parse(u.stdout).unverifiable, ["unused-fast-token"]);

  const csv = await run(["user", "revoke_client", "a@b.example", "client/a", "--yes", "-o", "csv"], pw);
  assert.equal(csv.code, 7);
  assert.equal(
    csv.stdout,
    "jid,selector,revoked,dryRun,id,outcome,sessionClosed,fastTokensRevoked,grantRevoked,remaining,unverifiable,otherMatches\r\n" +
      "a@b.example,client/a,false,false,client/a,password-reset-required,true,true,false,password,,\r\n",
  );
});

test("camctl's own login is reported as what it is", async () => {
  const own = { ...client("client/me", "camctl"), connected: true };
  const src = new FakeSource([own]);
  src.outcome = { done: { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false }, after: { ...own, connected: false }, ownLogin: true };
  const r = await run(["user", "revoke_client", "a@b.example", "client/me", "--yes"], src);
  assert.equal(r.code, 7);
  assert.match(r.stderr, /client\/me \(camctl\) is camctl's own login, which signed in with a@b\.example's password: camctl ended its session, and it comes back with the password at camctl's next run until the password is changed\./);
});

test("while the revoke is under way Ctrl-C has something to add; before and after it has not", async () => {
  const src = new FakeSource([client("grant/a")]);
  assert.equal(interruptHint(), undefined);
  const r = await run(["user", "revoke_client", "a@b.example", "grant/a", "--yes"], src);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(src.hintDuringRevoke, "The revoke of grant/a may have happened, entirely or in part; check with `camctl user clients a@b.example`.");
  assert.equal(interruptHint(), undefined, "cleared afterwards");
});
