// camctl itself (the built bin/camctl, as users run it) over --ssh: a real sshd (test/sshd) in
// front of a real sandbox Prosody, whose admin socket plays the remote one. The link's own
// behaviour is tested in ssh-link.test.ts; this is the command line on top of it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { startSshd, sshdUnavailable, type Sshd } from "../sshd/sshd.js";
import { CAMCTL_BIN, runCamctl, type CamctlRun } from "../helpers/run-camctl.js";
import { randomUUID } from "node:crypto";
import { rawSasl2Login } from "../helpers/sasl2-raw.js";

const skip = sshdUnavailable();
const TIMEOUT_S = 10;

let sb: Sandbox;
let sshd: Sshd;

before(async () => {
  if (skip) return;
  [sb, sshd] = await Promise.all([startSandbox(), startSshd()]);
});
after(async () => {
  await Promise.all([sb?.stop(), sshd?.stop()]);
});

/** --ssh to the test sshd, with its client config (-F) and the sandbox's socket as the remote path. */
function overSsh(config = sshd.sshArgs, socket = sb.socketPath): string[] {
  return ["--ssh", sshd.target, "--ssh-config", config[1]!, "--socket", socket, "--timeout", String(TIMEOUT_S)];
}

/** A private config file in `dir` holding `text`; the environment that names it. */
function contextFile(dir: string, text: string): NodeJS.ProcessEnv {
  const file = path.join(dir, "config.toml");
  fs.writeFileSync(file, text, { mode: 0o600 });
  return { CAMCTL_CONFIG: file };
}

/** One sentence on stderr, nothing on stdout, the code, within --timeout. */
function assertOneSentence(r: CamctlRun, code: number, sentence: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^camctl: [^\n]+\n$/, "exactly one line");
  assert.match(r.stderr, sentence);
  assert.ok(r.ms < TIMEOUT_S * 1000, `took ${r.ms} ms`);
}

/** Blocks the sandbox's Prosody (its whole event loop) for `seconds`: a server that does not answer. */
function blockProsody(seconds: number): Promise<string> {
  return sb.lua(`local now = require "prosody.util.time".now; local t = now(); while now() - t < ${seconds} do end return "done"`);
}

/** Processes below `pid` (from /proc), with their command lines. */
function descendants(pid: number): { pid: number; cmdline: string[] }[] {
  const out: { pid: number; cmdline: string[] }[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== pid) continue;
      out.push({ pid: Number(name), cmdline: fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0") }, ...descendants(Number(name)));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("camctl over --ssh", { skip }, () => {
  test("camctl --ssh <target> host clients <host> -o ndjson streams every account's records", async () => {
    const alice = await sb.createAccount("ssh-alice");
    const bob = await sb.createAccount("ssh-bob");
    const ga = await sb.createGrant(alice.jid, { software: "Alice's webmail" });
    const gb = await sb.createGrant(bob.jid, { software: "Bob's app" });
    // Options before the command, as in `camctl --ssh prosody-admin@server host clients example.com`.
    const r = await runCamctl([...overSsh(), "host", "clients", sb.host, "-o", "ndjson"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const records = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { account: string; id: string });
    const mine = records.filter((x) => x.account === alice.jid || x.account === bob.jid).map((x) => [x.account, x.id]).sort();
    assert.deepEqual(mine, [[alice.jid, ga], [bob.jid, gb]].sort());
  });

  test("user clients over --ssh answers exactly as the local socket does (options after the command too)", async () => {
    const { jid } = await sb.createAccount("ssh-same");
    await sb.createGrant(jid, { software: "Same" });
    const local = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath]);
    const remote = await runCamctl(["user", "clients", jid, "--json", ...overSsh()]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.deepEqual(JSON.parse(remote.stdout), JSON.parse(local.stdout));
  });

  for (const route of ["forward", "exec"] as const) {
    test(`user revoke_client over --ssh (${route} route) revokes and verifies`, async () => {
      const { jid } = await sb.createAccount(`ssh-revoke-${route}`);
      const grant = await sb.createGrant(jid, { software: "To revoke" });
      const r = await runCamctl(["user", "revoke_client", jid, grant, "--yes", "--json", ...overSsh(), "--ssh-route", route]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { revoked: boolean }).revoked, true);
      const after = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath]);
      assert.deepEqual((JSON.parse(after.stdout) as { clients: unknown[] }).clients, []);
    });
  }

  test("host revoke --plan-out, host apply and user lockout over --ssh", async () => {
    const planned = await sb.createAccount("ssh-planned");
    await sb.createGrant(planned.jid, { software: "Evil over SSH" });
    const file = `${sb.dir}/ssh-plan.json`;
    const plan = await runCamctl(["host", "revoke", sb.host, "--software", "Evil over SSH", "--plan-out", file, ...overSsh()]);
    assert.equal(plan.code, 0, plan.stderr);
    const apply = await runCamctl(["host", "apply", file, "--yes", "-o", "ndjson", ...overSsh()]);
    assert.equal(apply.code, 0, apply.stderr);
    assert.deepEqual(apply.stdout.trimEnd().split("\n").map((l) => (JSON.parse(l) as { account: string; outcome: string })).map((x) => [x.account, x.outcome]), [[planned.jid, "revoked"]]);

    const direct = await sb.createAccount("ssh-direct");
    await sb.createGrant(direct.jid, { software: "Evil direct" });
    const revoke = await runCamctl(["host", "revoke", sb.host, "--account", "ssh-direct", "--yes", "-o", "ndjson", ...overSsh(), "--ssh-route", "exec"]);
    assert.equal(revoke.code, 0, revoke.stderr);

    const locked = await sb.createAccount("ssh-locked");
    await sb.createGrant(locked.jid, { software: "Lockout app" });
    const lockout = await runCamctl(["user", "lockout", locked.jid, "--disable", "--yes", ...overSsh()]);
    assert.equal(lockout.code, 0, lockout.stderr);
    const after = await runCamctl(["user", "clients", locked.jid, "--json", "--socket", sb.socketPath]);
    assert.deepEqual((JSON.parse(after.stdout) as { clients: unknown[] }).clients, []);
  });

  test("issue 18 over --ssh: live addresses, history, lockout --reason and unlock answer as over the local socket", async () => {
    const alice = await sb.createAccount("ssh-facts");
    const login = await rawSasl2Login(sb, {
      jid: alice.jid, userAgentId: randomUUID(), software: "Gajim", device: "Laptop",
      credential: { password: alice.password }, keepConnected: true, localAddress: "127.0.0.2",
    });
    assert.ok(login.ok, "the login from 127.0.0.2 works");
    try {
      const remote = await runCamctl(["user", "clients", alice.jid, "--json", ...overSsh()]);
      assert.equal(remote.code, 0, remote.stderr);
      const clients = (JSON.parse(remote.stdout) as { clients: { ip: string | null; connected: boolean }[] }).clients;
      assert.deepEqual(clients.map((c) => [c.connected, c.ip]), [[true, "127.0.0.2"]]);
      const local = await runCamctl(["user", "clients", alice.jid, "--json", "--socket", sb.socketPath]);
      assert.deepEqual(JSON.parse(remote.stdout), JSON.parse(local.stdout));
    } finally {
      await login.close();
    }
    // camctl's own revocation is recorded, and the history reads the same over SSH.
    const grant = await sb.createGrant(alice.jid, { software: "To revoke" });
    assert.equal((await runCamctl(["user", "revoke_client", alice.jid, grant, "--yes", ...overSsh()])).code, 0);
    const history = await runCamctl(["user", "history", alice.jid, "--event", "client-revoked", "-o", "ndjson", ...overSsh()]);
    assert.equal(history.code, 0, history.stderr);
    const events = history.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { event: string; account: string; source: string });
    assert.deepEqual(events.map((e) => [e.event, e.account, e.source]), [["client-revoked", alice.jid, "camctl"]]);
    // The incident record: the reason is stored with the disable and shown; unlock re-enables.
    const lockout = await runCamctl(["user", "lockout", alice.jid, "--disable", "--reason", "stolen laptop", "--yes", ...overSsh()]);
    assert.equal(lockout.code, 0, lockout.stderr);
    const disabled = JSON.parse((await runCamctl(["user", "clients", alice.jid, "--json", ...overSsh()])).stdout) as { accountStatus: string; disabledReason: string };
    assert.deepEqual([disabled.accountStatus, disabled.disabledReason], ["disabled", "stolen laptop"]);
    const unlock = await runCamctl(["user", "unlock", alice.jid, "--yes", ...overSsh()]);
    assert.equal(unlock.code, 0, unlock.stderr);
    const enabled = JSON.parse((await runCamctl(["user", "clients", alice.jid, "--json", ...overSsh()])).stdout) as { accountStatus: string };
    assert.equal(enabled.accountStatus, "enabled");
  });

  test("a changed host key: one sentence, code 4, before any login", async () => {
    const r = await runCamctl(["user", "clients", "x@camctl.test", ...overSsh(sshd.wrongHostKeyArgs)]);
    assertOneSentence(r, 4, /SSH host key of 127\.0\.0\.1 does not match the one in known_hosts/);
  });

  test("an unknown host key is refused, never accepted: code 4", async () => {
    const r = await runCamctl(["user", "clients", "x@camctl.test", ...overSsh(sshd.unknownHostKeyArgs)]);
    assertOneSentence(r, 4, /not in known_hosts/);
  });

  test("a key the server refuses: one sentence, code 4", async () => {
    const r = await runCamctl(["host", "clients", sb.host, ...overSsh(sshd.refusedKeyArgs)]);
    assertOneSentence(r, 4, /refused the SSH login as \S+ \(publickey\)/);
  });

  for (const route of ["forward", "exec"] as const) {
    test(`no admin socket at the remote path (${route} route): one sentence naming it, code 3`, async () => {
      const missing = `${sb.dir}/no-such.sock`;
      const r = await runCamctl(["user", "clients", "x@camctl.test", ...overSsh(sshd.sshArgs, missing), "--ssh-route", route]);
      assertOneSentence(r, 3, new RegExp(`There is no admin socket at ${missing} on 127\\.0\\.0\\.1`));
    });
  }

  test("nothing listening on the SSH port: code 3", async () => {
    const r = await runCamctl(["user", "clients", "x@camctl.test", "--ssh", `${sshd.user}@127.0.0.1:1`, "--ssh-config", sshd.sshArgs[1]!, "--socket", sb.socketPath]);
    assertOneSentence(r, 3, /Cannot connect to the SSH server of 127\.0\.0\.1/);
  });

  test("a server that does not answer over SSH ends at --timeout with camctl's sentence", async () => {
    const blocked = blockProsody(5);
    try {
      const r = await runCamctl(["user", "clients", "x@camctl.test", ...overSsh(), "--timeout", "2"]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^camctl: No answer from the admin socket \S+ on \S+ \(over SSH\) within 2 s/);
      assert.ok(r.ms < 4_500, `took ${r.ms} ms`);
    } finally {
      await blocked;
    }
  });

  test("a link killed mid-request: one sentence, code 3, at once (not at --timeout)", async () => {
    const blocked = blockProsody(6); // the request waits for Prosody while the link is cut
    try {
      const started = Date.now();
      const child = spawn(process.execPath, [CAMCTL_BIN, "user", "clients", "x@camctl.test", ...overSsh(), "--timeout", "20"], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, CAMCTL_CONFIG: "/nonexistent/camctl-test/config.toml" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
      // The link is up once ssh's forwarding socket exists; camctl connects through it at once.
      let forwarded: string | undefined;
      while (!forwarded && Date.now() - started < 10_000) {
        const ssh = descendants(child.pid!).find((p) => p.cmdline.includes("-L"));
        const spec = ssh?.cmdline[ssh.cmdline.indexOf("-L") + 1];
        const local = spec?.slice(0, spec.indexOf(":"));
        if (local && fs.existsSync(local)) forwarded = local;
        else await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(forwarded, "the link came up");
      await new Promise((r) => setTimeout(r, 500));
      const killedAt = Date.now();
      assert.ok(sshd.killSessions() > 0, "a session was killed");
      const code = await exited;
      assert.equal(code, 3, stderr);
      assert.equal(stdout, "");
      assert.match(stderr, /^camctl: The SSH connection to 127\.0\.0\.1 was lost before Prosody answered[^\n]*\n$/);
      assert.ok(Date.now() - killedAt < 3_000, `ended ${Date.now() - killedAt} ms after the kill`);
    } finally {
      await blocked;
    }
  });

  test("a remote path with % is refused (ssh would expand %h in a forwarded path and reach another socket): 2, one sentence", async () => {
    // Where ssh's expansion of "%h.sock" (127.0.0.1.sock) would lead: the real admin socket.
    const dir = fs.mkdtempSync("/tmp/camctl-pct-");
    try {
      fs.symlinkSync(sb.socketPath, path.join(dir, "127.0.0.1.sock"));
      const socket = path.join(dir, "%h.sock");
      const flags = await runCamctl(["user", "clients", "x@camctl.test", ...overSsh(sshd.sshArgs, socket)]);
      assertOneSentence(flags, 2, /^camctl: --socket "\/tmp\/camctl-pct-\w+\/%h\.sock" has a character camctl cannot pass through SSH \([^)]*%[^)]*\)\.\n$/);
      const env = contextFile(dir, `[contexts.pct]\nssh = "${sshd.target}"\nssh_config = "${sshd.sshArgs[1]}"\nsocket = "${socket}"\n`);
      const ctx = await runCamctl(["--context", "pct", "user", "clients", "x@camctl.test", "--timeout", String(TIMEOUT_S)], { env });
      assertOneSentence(ctx, 2, /: socket of context "pct" "[^"]+%h\.sock" has a character camctl cannot pass through SSH/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a positional word in a context's ssh_args (it would become the destination) is refused: 2, naming the context and the element", async () => {
    // ssh would dial 127.0.0.1 (the real server) while camctl names decoy.invalid.
    const dir = fs.mkdtempSync("/tmp/camctl-args-");
    try {
      const decoy = `${sshd.user}@decoy.invalid:${sshd.port}`;
      for (const [args, element] of [[`["127.0.0.1"]`, "127.0.0.1"], [`["-v", "--", "127.0.0.1"]`, "--"], [`["-J"]`, "-J"]] as const) {
        const env = contextFile(dir, `[contexts.decoy]\nssh = "${decoy}"\nssh_config = "${sshd.sshArgs[1]}"\nsocket = "${sb.socketPath}"\nssh_args = ${args}\n`);
        const r = await runCamctl(["--context", "decoy", "user", "clients", "x@camctl.test", "--timeout", String(TIMEOUT_S)], { env });
        assertOneSentence(r, 2, new RegExp(`: context "decoy": ssh_args element "${element.replace(/[.-]/g, "\\$&")}" [^\n]*; ssh_args takes ssh options only`));
      }
      // Options, with their values, are what ssh_args is for.
      const env = contextFile(dir, `[contexts.opts]\nssh = "${sshd.target}"\nssh_config = "${sshd.sshArgs[1]}"\nsocket = "${sb.socketPath}"\nssh_args = ["-o", "ConnectTimeout=5", "-4", "-oServerAliveInterval=5"]\n`);
      const ok = await runCamctl(["--context", "opts", "user", "clients", "x@camctl.test", "--json", "--timeout", String(TIMEOUT_S)], { env });
      assert.equal(ok.code, 6, ok.stderr); // reached the server: no such account
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--ssh with --jid, or --ssh-route without --ssh, is a usage error", async () => {
    const both = await runCamctl(["user", "clients", "x@camctl.test", ...overSsh(), "--jid", "me@camctl.test"]);
    assertOneSentence(both, 2, /Give either --ssh or --jid, not both/);
    const route = await runCamctl(["user", "clients", "x@camctl.test", "--ssh-route", "exec"]);
    assertOneSentence(route, 2, /apply to --ssh/);
  });
});
