// Named servers end to end, with the built camctl: which server a command reaches (command line >
// environment > context > defaults), the config file's refusals, and fan-out over three real
// sandboxes (one reached over a real sshd) of which one is down.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { startSshd, sshdUnavailable, type Sshd } from "../sshd/sshd.js";
import { spawnSync } from "node:child_process";
import { CAMCTL_BIN, runCamctl } from "../helpers/run-camctl.js";
import { adminPeer, endlessRecordsPeer, replErrorResult } from "../helpers/fault-peers.js";
import { addBulkGrants } from "../helpers/bulk-grants.js";
import { haveScript as scriptInstalled, typeOnTerminal } from "../helpers/terminal.js";

const sshSkip = sshdUnavailable();
const ALICE = "alice@camctl.test";

let a: Sandbox;
let b: Sandbox;
let c: Sandbox;
let sshd: Sshd | undefined;
let dir: string;
/** A unix socket that accepts connections and never answers (a stuck server). */
let silent: net.Server;
let silentPath: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir().length <= 60 ? os.tmpdir() : "/tmp", "camctl-ctx-"));
  silentPath = path.join(dir, "silent.sock");
  silent = net.createServer(() => undefined).listen(silentPath);
  // a: alice is an admin and the companion is loaded, so an XMPP context can list the whole host.
  [a, b, c, sshd] = await Promise.all([
    startSandbox({ admins: ["alice"], extraModules: ["client_management_admin"] }),
    startSandbox(),
    startSandbox(),
    sshSkip ? undefined : startSshd(),
  ]);
  // The same account on each server, with a client that says which server it is on.
  for (const [sb, name] of [[a, "A"], [b, "B"], [c, "C"]] as const) {
    const { jid } = await sb.createAccount("alice", undefined, "alice-password");
    await sb.createGrant(jid, { software: `App ${name}` });
  }
});
after(async () => {
  silent?.close();
  await Promise.all([a?.stop(), b?.stop(), c?.stop(), sshd?.stop()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** Writes a config file (mode 0600 unless given) and returns the environment that names it. */
function config(text: string, mode = 0o600): NodeJS.ProcessEnv {
  const file = path.join(dir, `config-${n++}.toml`);
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  return { CAMCTL_CONFIG: file };
}

/** Which sandbox answered: the software of alice's one client. */
async function whichServer(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCamctl(["user", "clients", ALICE, "--json", ...args], { env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { clients: { userAgent: { software: string } }[] }).clients.map((x) => x.userAgent.software).join(",");
}

const twoServers = () => `default = "a"\n[contexts.a]\nsocket = "${a.socketPath}"\n[contexts.b]\nsocket = "${b.socketPath}"\n`;

describe("which server: command line > environment > context > defaults", () => {
  test("the file's default context, $CAMCTL_CONTEXT over it, --context over both (before or after the command)", async () => {
    const env = config(twoServers());
    assert.equal(await whichServer([], env), "App A");
    assert.equal(await whichServer([], { ...env, CAMCTL_CONTEXT: "b" }), "App B");
    assert.equal(await whichServer(["--context", "a"], { ...env, CAMCTL_CONTEXT: "b" }), "App A");
    const before = await runCamctl(["--context", "b", "user", "clients", ALICE, "--json"], { env });
    assert.match(before.stdout, /App B/);
  });

  test("$CAMCTL_SOCKET beats the file's default, but not a context chosen by name", async () => {
    const env = { ...config(twoServers()), CAMCTL_SOCKET: b.socketPath };
    assert.equal(await whichServer([], env), "App B");
    assert.equal(await whichServer(["--context", "a"], env), "App A");
    assert.equal(await whichServer([], { ...env, CAMCTL_CONTEXT: "a" }), "App A");
  });

  test("--socket on the command line beats the context", async () => {
    assert.equal(await whichServer(["--context", "a", "--socket", b.socketPath], config(twoServers())), "App B");
  });

  test("a context's timeout applies unless --timeout is typed (commander's default does not hide it)", async () => {
    const env = config(`[contexts.stuck]\nsocket = "${silentPath}"\ntimeout = 1\n`);
    const ctx = await runCamctl(["user", "clients", ALICE, "--context", "stuck"], { env });
    assert.equal(ctx.code, 3);
    assert.match(ctx.stderr, /within 1 s/);
    const typed = await runCamctl(["user", "clients", ALICE, "--context", "stuck", "--timeout", "2"], { env });
    assert.match(typed.stderr, /within 2 s/);
  });

  test("no context at all: the built-in default and $CAMCTL_SOCKET, as before", async () => {
    assert.equal(await whichServer([], { CAMCTL_SOCKET: a.socketPath }), "App A");
  });

  test("an unknown context, or a list where one server is meant: exit 2 with one sentence", async () => {
    const env = config(twoServers());
    const unknown = await runCamctl(["user", "clients", ALICE, "--context", "prod"], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^camctl: There is no context "prod" in \S+; it has a, b\.\n$/);
    const list = await runCamctl(["user", "revoke_client", ALICE, "grant/x", "--yes", "--context", "a,b"], { env });
    assert.equal(list.code, 2);
    assert.match(list.stderr, /works on one server/);
  });

  test("camctl config lists the contexts, shows the current one and sets the default", async () => {
    const env = config(twoServers());
    const list = await runCamctl(["config", "--json"], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { contexts: { name: string; current: boolean }[] }).contexts.map((x) => [x.name, x.current]), [["a", true], ["b", false]]);
    assert.equal((await runCamctl(["config", "current"], { env: { ...env, CAMCTL_CONTEXT: "b" } })).stdout, "b\n");
    assert.equal((await runCamctl(["config", "use", "b"], { env })).code, 0);
    assert.equal(await whichServer([], env), "App B");
  });
});

describe("the config file and XMPP passwords", () => {
  const xmppContext = (sb: Sandbox, extra: string) =>
    `[contexts.x]\njid = "${ALICE}"\nserver = "127.0.0.1:${sb.c2sPort}"\nca_file = "${sb.caFile}"\n${extra}`;

  test("a file naming password files is refused while others may read it; private, it is used", async () => {
    const pw = path.join(dir, "alice.pw");
    fs.writeFileSync(pw, "alice-password\n", { mode: 0o600 });
    const env = config(xmppContext(a, `password_file = "${pw}"\n`), 0o644);
    const open = await runCamctl(["user", "clients", ALICE, "--context", "x"], { env });
    assert.equal(open.code, 2);
    assert.match(open.stderr, /^camctl: \S+config-\d+\.toml: names password files but other users may read it \(mode 644\); make it private with chmod 600\.\n$/);
    fs.chmodSync(env.CAMCTL_CONFIG!, 0o600);
    const r = await runCamctl(["user", "clients", ALICE, "--context", "x", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { transport: string }).transport, "xmpp");
  });

  test("$CAMCTL_PASSWORD serves the default context, never one chosen by name", async () => {
    const env = { ...config(`default = "x"\n${xmppContext(b, "")}`), CAMCTL_PASSWORD: "alice-password" };
    const byDefault = await runCamctl(["user", "clients", ALICE, "--json"], { env });
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.match(byDefault.stdout, /App B/);
    const named = await runCamctl(["user", "clients", ALICE, "--context", "x"], { env });
    assert.equal(named.code, 2);
    assert.match(named.stderr, /CAMCTL_PASSWORD is not used for a context chosen by name/);
  });

  test("a config file others may change is refused, whatever it names", async () => {
    const env = config(twoServers(), 0o666);
    const r = await runCamctl(["user", "clients", ALICE], { env });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /may be changed by other users \(mode 666\)/);
  });
});

describe("fan-out over three servers, one of them down", () => {
  /** a: local socket; b: over the test sshd (when there is one); c: a server that is down. */
  const threeServers = () => {
    const viaSsh = sshd ? `ssh = "${sshd.target}"\nssh_config = "${sshd.sshArgs[1]}"\n` : "";
    return `[contexts.a]\nsocket = "${a.socketPath}"\n[contexts.b]\n${viaSsh}socket = "${b.socketPath}"\n[contexts.c]\nsocket = "${c.socketPath}"\n`;
  };
  before(async () => {
    await c.stop(); // down: its socket is gone
  });

  test("host clients -o ndjson --all-contexts: the others' records, each tagged; per-context status; exit 3", async () => {
    const r = await runCamctl(["host", "clients", "camctl.test", "-o", "ndjson", "--all-contexts"], { env: config(threeServers()) });
    assert.equal(r.code, 3, r.stderr);
    const records = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { context: string; account: string; userAgent: { software: string } });
    // (alice also has camctl's own client on a and b, from the XMPP tests above)
    const apps = records.filter((x) => x.userAgent.software.startsWith("App "));
    assert.deepEqual(apps.map((x) => [x.context, x.account, x.userAgent.software]).sort(), [["a", ALICE, "App A"], ["b", ALICE, "App B"]]);
    assert.deepEqual(Object.keys(records[0]!).slice(0, 3), ["context", "account", "id"], "the host-wide record plus context");
    const lines = r.stderr.trimEnd().split("\n");
    assert.match(lines.find((l) => /^camctl: a /.test(l)) ?? "", /^camctl: a\s+ok\s+\d+ records?, \d+\.\d s$/);
    assert.match(lines.find((l) => /^camctl: b /.test(l)) ?? "", /^camctl: b\s+ok\s+\d+ records?, \d+\.\d s$/);
    assert.match(lines.find((l) => /^camctl: c /.test(l)) ?? "", /^camctl: c\s+exit 3\s+There is no admin socket at/);
    assert.match(lines.at(-1)!, /^camctl: 1 of 3 contexts failed \(c\); the others' results are complete\.$/);
  });

  test("user clients --json: clients tagged, and a contexts array with each context's code", async () => {
    const r = await runCamctl(["user", "clients", ALICE, "--json", "--context", "c,a,b", "--parallel", "2"], { env: config(threeServers()) });
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout) as { jid: string; clients: { context: string; userAgent: { software: string } }[]; contexts: { context: string; exitCode: number; status: string }[]; exitCode: number };
    assert.equal(doc.jid, ALICE);
    assert.equal((doc as { transport?: unknown }).transport, "socket");
    assert.deepEqual(doc.clients.filter((x) => x.userAgent.software.startsWith("App ")).map((x) => [x.context, x.userAgent.software]).sort(), [["a", "App A"], ["b", "App B"]]);
    assert.deepEqual(doc.contexts.map((x) => [x.context, x.exitCode, x.status]), [["c", 3, "failed"], ["a", 0, "ok"], ["b", 0, "ok"]]);
    assert.equal(doc.exitCode, 3);
    assert.match(r.stderr, /^camctl: 1 of 3 contexts failed \(c: There is no admin socket at [^\n]+\n$/);
  });

  test("socket and XMPP contexts mixed: the same host listed through both, each record tagged", async () => {
    const pw = path.join(dir, "alice-admin.pw");
    fs.writeFileSync(pw, "alice-password\n", { mode: 0o600 });
    const env = config(`${threeServers()}[contexts.ax]\njid = "${ALICE}"\npassword_file = "${pw}"\nserver = "127.0.0.1:${a.c2sPort}"\nca_file = "${a.caFile}"\n`);
    const r = await runCamctl(["host", "clients", "camctl.test", "--software", "App A", "-o", "ndjson", "--context", "a,ax"], { env });
    assert.equal(r.code, 0, r.stderr);
    const records = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { context: string; account: string; id: string });
    const byContext = (ctx: string) => records.filter((x) => x.context === ctx).map((x) => [x.account, x.id]);
    assert.deepEqual(byContext("ax"), byContext("a"), "the XMPP listing (companion) equals the socket's");
    assert.equal(byContext("a").length, 1);
    // The JSON document's "transport" (as for one server): "mixed" here, the shared kind otherwise.
    const transport = async (contexts: string) => {
      const doc = await runCamctl(["host", "clients", "camctl.test", "--software", "App A", "-o", "json", "--context", contexts], { env });
      assert.equal(doc.code, 0, doc.stderr);
      return (JSON.parse(doc.stdout) as { transport: unknown }).transport;
    };
    assert.equal(await transport("a,ax"), "mixed");
    assert.equal(await transport("a,b"), "socket");
  });

  test("the table gets a Context column; CSV a context field first", async () => {
    const env = config(threeServers());
    const table = await runCamctl(["user", "clients", ALICE, "--context", "a,b"], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout.split("\n")[0]!, /^Context\s+ID\s+Type/);
    const csv = await runCamctl(["host", "clients", "camctl.test", "-o", "csv", "--context", "a,b", "--parallel", "1"], { env });
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /^context,account,id,/);
    assert.deepEqual(csv.stdout.trimEnd().split("\r\n").filter((l) => /,App [AB],/.test(l)).map((l) => l.split(",")[0]).sort(), ["a", "b"]);
  });

  test("doctor --all-contexts --json reports each server; the down one fails the run", async () => {
    const r = await runCamctl(["--all-contexts", "doctor", "--json"], { env: config(threeServers()) });
    assert.equal(r.code, 3, r.stderr);
    const doc = JSON.parse(r.stdout) as { checks: { context: string; check: string; status: string }[]; contexts: { context: string; exitCode: number }[] };
    assert.deepEqual(doc.contexts.map((x) => [x.context, x.exitCode]), [["a", 0], ["b", 0], ["c", 3]]);
    for (const ctx of ["a", "b"]) {
      assert.ok(doc.checks.some((x) => x.context === ctx && x.check === "client-management" && x.status === "ok"), ctx);
    }
    assert.deepEqual(doc.checks.filter((x) => x.context === "c").map((x) => [x.check, x.status]), [["admin-socket", "fail"]]);
  });

  test("doctor on a context whose socket is not Prosody's: that context fails (3), the other is checked as usual", async () => {
    const peer = await adminPeer(path.join(dir, "not-prosody.sock"), () => replErrorResult("Error: not what you think"));
    try {
      const env = config(`${threeServers()}[contexts.fake]\nsocket = "${peer.address}"\n`);
      const r = await runCamctl(["--context", "a,fake", "doctor", "--json", "--timeout", "20"], { env });
      assert.equal(r.code, 3, r.stderr);
      const doc = JSON.parse(r.stdout) as { checks: { context: string; check: string; status: string }[]; contexts: { context: string; exitCode: number; status: string }[]; exitCode: number };
      assert.deepEqual(doc.contexts.map((x) => [x.context, x.exitCode, x.status]), [["a", 0, "ok"], ["fake", 3, "failed"]]);
      assert.equal(doc.exitCode, 3);
      assert.deepEqual(doc.checks.filter((x) => x.context === "fake").map((x) => [x.check, x.status]), [["admin-socket", "fail"]]);
      assert.ok(doc.checks.some((x) => x.context === "a" && x.check === "client-management" && x.status === "ok"));
      assert.match(r.stderr, /^camctl: 1 of 2 contexts failed \(fake: admin socket: Prosody failed while running camctl's request for the checks: Error: not what you think[^\n]*\n$/);
    } finally {
      await peer.close();
    }
  });

  test("host revoke --dry-run on several contexts: every context's plan, tagged", async () => {
    for (const sb of [a, b]) await sb.createGrant((await sb.createAccount("dry")).jid, { software: "Evil Dry" });
    const r = await runCamctl(["host", "revoke", "camctl.test", "--software", "Evil Dry", "--dry-run", "-o", "ndjson", "--all-contexts"], { env: config(threeServers()) });
    assert.equal(r.code, 3, r.stderr);
    const records = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { context: string; account: string });
    assert.deepEqual(records.map((x) => [x.context, x.account]).sort(), [["a", "dry@camctl.test"], ["b", "dry@camctl.test"]]);
    assert.match(r.stderr, /^camctl: c\s+exit 3/m);
  });

  test("host revoke --plan-out on several contexts: one plan per context, the file name carries it", async () => {
    for (const sb of [a, b]) await sb.createGrant((await sb.createAccount("planned")).jid, { software: "Evil Planned" });
    const env = config(threeServers());
    const file = path.join(dir, "prune.json");
    const r = await runCamctl(["host", "revoke", "camctl.test", "--software", "Evil Planned", "--plan-out", file, "--context", "a,b"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^a: wrote a plan to revoke 1 client on 1 account of camctl\.test to \S+prune\.a\.json; apply it with: camctl --context a host apply \S+prune\.a\.json$/m);
    assert.ok(fs.existsSync(path.join(dir, "prune.a.json")) && fs.existsSync(path.join(dir, "prune.b.json")));
    assert.equal(fs.existsSync(file), false);
    const applied = await runCamctl(["--context", "b", "host", "apply", path.join(dir, "prune.b.json"), "--yes", "-o", "ndjson"], { env });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal((JSON.parse(applied.stdout.trim()) as { outcome: string }).outcome, "revoked");
  });

  test("applying on several contexts needs --all-contexts --yes; then each context applies its own plan", async () => {
    for (const sb of [a, b]) await sb.createGrant((await sb.createAccount("applied")).jid, { software: "Evil Applied" });
    const env = config(threeServers());
    const list = await runCamctl(["host", "revoke", "camctl.test", "--software", "Evil Applied", "--yes", "--context", "a,b"], { env });
    assert.equal(list.code, 2);
    assert.match(list.stderr, /needs --all-contexts --yes/);
    const r = await runCamctl(["host", "revoke", "camctl.test", "--software", "Evil Applied", "--yes", "--all-contexts", "-o", "ndjson"], { env });
    assert.equal(r.code, 3, r.stderr);
    const results = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { context: string; account: string; outcome: string });
    assert.deepEqual(results.map((x) => [x.context, x.account, x.outcome]).sort(), [["a", "applied@camctl.test", "revoked"], ["b", "applied@camctl.test", "revoked"]]);
    assert.match(r.stderr, /^camctl: c\s+exit 3\s+There is no admin socket/m);
    for (const sb of [a, b]) {
      const after = await runCamctl(["user", "clients", "applied@camctl.test", "--json", "--socket", sb.socketPath]);
      assert.deepEqual((JSON.parse(after.stdout) as { clients: unknown[] }).clients, []);
    }
  });

  test("--all-contexts --yes with a server that streams records without end: its plan is bounded by its timeout, it fails alone (3), the other context is revoked", async () => {
    const endless = await endlessRecordsPeer(path.join(dir, "endless.sock"), "endless@camctl.test", "Evil Endless");
    try {
      const { jid } = await a.createAccount("endless");
      await a.createGrant(jid, { software: "Evil Endless" });
      // --timeout bounds each batch of a scan; here it also bounds the endless context's whole plan.
      const env = config(`[contexts.a]\nsocket = "${a.socketPath}"\n[contexts.endless]\nsocket = "${endless.address}"\ntimeout = 2\n`);
      const r = await runCamctl(["host", "revoke", "camctl.test", "--software", "Evil Endless", "--yes", "--all-contexts", "-o", "ndjson"], { env, timeoutMs: 120_000 });
      assert.equal(r.signal, null, `camctl did not end: ${r.stderr}`);
      assert.equal(r.code, 3, r.stderr);
      const results = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { context: string; account: string; outcome: string });
      assert.deepEqual(results.map((x) => [x.context, x.account, x.outcome]), [["a", jid, "revoked"]]);
      assert.match(r.stderr, /^camctl: a\s+ok\s+1 record, /m);
      assert.match(r.stderr, /^camctl: endless\s+exit 3\s+The plan for the admin socket \S+endless\.sock was not complete within 2 s, so nothing is revoked there: with --all-contexts --yes, --timeout bounds each context's whole plan\./m);
      assert.match(r.stderr, /^camctl: 1 of 2 contexts failed \(endless\); the others' results are complete\.$/m);
      const after = await runCamctl(["user", "clients", jid, "--json", "--socket", a.socketPath]);
      assert.deepEqual((JSON.parse(after.stdout) as { clients: unknown[] }).clients, []);
    } finally {
      await endless.close();
    }
  });

  const haveScript = spawnSync("script", ["--version"]).status === 0;
  test("on a terminal, --all-contexts --yes still shows each context's plan and asks once", { skip: haveScript ? false : "util-linux script is not installed" }, async () => {
    for (const sb of [a, b]) await sb.createGrant((await sb.createAccount("asked")).jid, { software: "Evil Asked" });
    const env = config(threeServers());
    const onTerminal = (typed: string) => {
      const args = [process.execPath, CAMCTL_BIN, "host", "revoke", "camctl.test", "--software", "Evil Asked", "--yes", "--all-contexts"];
      const quoted = args.map((x) => `'${x.replace(/'/g, `'\\''`)}'`).join(" ");
      const r = spawnSync("script", ["-qec", `stty cols 200 rows 50; ${quoted}`, "/dev/null"], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1", ...env },
        encoding: "utf8",
        timeout: 60_000,
        input: typed,
      });
      return { code: r.status, out: r.stdout.replace(/\r\n/g, "\n") };
    };
    const left = async () => (await Promise.all([a, b].map((sb) => runCamctl(["user", "clients", "asked@camctl.test", "--json", "--socket", sb.socketPath]))))
      .map((r) => (JSON.parse(r.stdout) as { clients: unknown[] }).clients.length);
    let r = onTerminal("n\r");
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /camctl: a: 1 client on 1 account\n/);
    assert.match(r.out, /camctl: b: 1 client on 1 account\n/);
    assert.match(r.out, /camctl: c: cannot plan, so nothing is revoked there \(There is no admin socket/);
    assert.match(r.out, /Revoke 2 clients of camctl\.test on 2 contexts\?/);
    assert.deepEqual(await left(), [1, 1], "no means nothing is revoked anywhere");
    r = onTerminal("y\r");
    assert.equal(r.code, 3, r.out);
    assert.deepEqual(await left(), [0, 0]);
  });

  test("several contexts refuse options that name one server, and commands that work on one", async () => {
    const env = config(threeServers());
    const ssh = await runCamctl(["host", "clients", "camctl.test", "--all-contexts", "--ssh", "h"], { env });
    assert.equal(ssh.code, 2);
    assert.match(ssh.stderr, /--ssh names one server/);
    const revoke = await runCamctl(["--all-contexts", "user", "revoke_client", ALICE, "grant/x", "--yes"], { env });
    assert.equal(revoke.code, 2);
    assert.match(revoke.stderr, /^camctl: --all-contexts does not apply to `camctl user revoke_client`\.\n$/);
  });
});

describe("Ctrl-C during a revocation on several contexts", () => {
  test("on a real terminal: exit 130 with the counts in all and per context, which add up and match what is left on each server; the same command finishes the run", { skip: scriptInstalled ? false : "util-linux script is not installed" }, async () => {
    // 500 grants per server (made quickly, see bulk-grants.ts): two batches each (BATCH_ITEMS, src/engines/apply.ts), so both
    // runs are still going when Ctrl-C is typed. Not more: a revocation's cost grows with the account's number of grants
    // (25 ms each at 800), so all of an account's cost the square of its size (800 made this test 90-130 s, near the
    // suite's 180 s per file).
    const GRANTS = 500;
    for (const sb of [a, b]) await addBulkGrants(sb, (await sb.createAccount("tally")).jid, GRANTS, "Stale app");
    const jid = "tally@camctl.test";
    // A third context that cannot be planned (no server there) is named as such.
    const env = config(`${twoServers()}[contexts.nowhere]\nsocket = "${path.join(dir, "nowhere.sock")}"\n`);
    const left = async () => Promise.all([a, b].map(async (sb) => {
      const r = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { clients: unknown[] }).clients.length;
    }));
    assert.deepEqual(await left(), [GRANTS, GRANTS]);
    const args = ["host", "revoke", "camctl.test", "--account", "tally*", "--type", "access", "--yes", "--all-contexts"];
    // The host name typed at the question (1,000 items); Ctrl-C once 20 outcomes are on screen (the terminal turns it into SIGINT).
    const r = await typeOnTerminal(args, [
      { when: /type the host name \(camctl\.test\) to go ahead:/, typed: "camctl.test\r" },
      { when: /(^[ab] {2}revoked .*\r?\n){20}/m, typed: "\x03" },
    ], { env: { ...env, NO_COLOR: "1" }, timeoutMs: 120_000 });
    assert.equal(r.typed, 2, r.out);
    assert.equal(r.code, 130, r.out);
    const num = (s: string | undefined) => (s === undefined ? 0 : Number(s.replace(/,/g, "")));

    // The terminal echoes the Ctrl-C as ^C before the first line.
    const all = /^(?:\^C)?camctl: interrupted\. It got through ([\d,]+) of 1,000 items on 2 contexts: ([\d,]+) revoked; (?:([\d,]+) under way; )?([\d,]+) not started\.$/m.exec(r.out);
    assert.ok(all, r.out);
    const total = { done: num(all[1]), revoked: num(all[2]), underWay: num(all[3]), notStarted: num(all[4]) };
    const sum = { done: 0, revoked: 0, underWay: 0, notStarted: 0 };
    const each = new Map<string, typeof sum>();
    for (const m of r.out.matchAll(/^camctl: It got through ([\d,]+) of 500 items on ([ab]): ([\d,]+) revoked; (?:([\d,]+) under way; )?([\d,]+) not started\.(?: The revocation of grant\/\S+ of tally@camctl\.test may already have happened\.| Those under way may already have happened\.)?$/gm)) {
      const c = { done: num(m[1]), revoked: num(m[3]), underWay: num(m[4]), notStarted: num(m[5]) };
      each.set(m[2]!, c);
      for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += c[k];
      // Nothing failed or was gone: every item done was revoked; done, under way and not started are the plan.
      assert.equal(c.revoked, c.done, m[0]);
      assert.equal(c.done + c.underWay + c.notStarted, GRANTS, m[0]);
      // The line says the revocations under way may have happened (naming it when there is one), and only then.
      assert.equal(/may already have happened/.test(m[0]), c.underWay > 0, m[0]);
      if (c.underWay === 1) assert.match(m[0], /The revocation of grant\/\S+ of tally@camctl\.test may already have happened\.$/);
    }
    assert.deepEqual([...each.keys()].sort(), ["a", "b"], r.out);
    assert.deepEqual(sum, total, "the total is the sum of the contexts");
    assert.ok(total.done >= 20 && total.done < 2 * GRANTS, `interrupted after ${total.done} items`);
    assert.match(r.out, /^camctl: Nothing was revoked on nowhere: it could not be planned\.$/m);
    assert.match(r.out, /^camctl: To finish, run the same command again: what was revoked is gone by then, and nothing is revoked twice\.$/m);

    // On screen, each context's outcomes, at most as many as it counted (the merge may still hold some).
    for (const [context, c] of each) {
      const shown = r.out.split("\n").filter((l) => l.startsWith(`${context}  revoked  `)).length;
      assert.ok(shown <= c.done, `${context}: ${shown} rows on screen, ${c.done} counted`);
    }
    // What is left on each server: the items not started, and those under way whose revocation did not go through.
    const [leftA, leftB] = await left();
    for (const [context, n] of [["a", leftA!], ["b", leftB!]] as const) {
      const c = each.get(context)!;
      assert.ok(n >= c.notStarted && n <= c.notStarted + c.underWay, `${context}: ${n} grants left, ${c.notStarted} not started, ${c.underWay} under way`);
    }

    // The same command again (no terminal: --yes is enough) revokes what was left, and only that.
    const again = await runCamctl([...args, "-o", "ndjson"], { env, timeoutMs: 120_000 });
    assert.equal(again.code, 3, again.stderr); // the context with no server still fails
    // Nothing may be left: over the admin socket a whole batch is under way, and it may all have gone through.
    const results = again.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as { context: string; outcome: string });
    for (const [context, n] of [["a", leftA!], ["b", leftB!]] as const) {
      assert.equal(results.filter((x) => x.context === context && x.outcome === "revoked").length, n, context);
    }
    assert.deepEqual(await left(), [0, 0]);
  });
});
