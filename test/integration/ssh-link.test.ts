// The SSH link against a real sshd (test/sshd) in front of a real sandbox Prosody: the sandbox's
// admin socket is the "remote" socket, since sshd runs on this same machine.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { startSshd, sshdUnavailable, type Sshd } from "../sshd/sshd.js";
import { AdminStream } from "../../src/transports/socket/adminstream.js";
import { SocketClientSource } from "../../src/transports/socket/socket-source.js";
import { openSshLink, type SshLink, type SshLinkOptions } from "../../src/transports/ssh/link.js";
import { openSourceOverSsh } from "../../src/transports/ssh/ssh-source.js";
import { CamError, exitCodeFor } from "../../src/core/errors.js";
import { parseSshTarget } from "../../src/transports/ssh/target.js";
import type { SshRoute } from "../../src/transports/types.js";

const skip = sshdUnavailable();
// Every failure must be reported well within this (it is the operation's deadline).
const DEADLINE_MS = 10_000;

let sb: Sandbox;
let sshd: Sshd;

before(async () => {
  if (skip) return;
  [sb, sshd] = await Promise.all([startSandbox(), startSshd()]);
});
after(async () => {
  await Promise.all([sb?.stop(), sshd?.stop()]);
});

function deadline(ms = DEADLINE_MS): AbortController {
  const c = new AbortController();
  setTimeout(() => c.abort(new CamError("unreachable", "test deadline")), ms).unref();
  return c;
}

/** What the link test varies: the spec's fields (the target as written), the remote path, the deadline. */
interface LinkVariant {
  target?: string;
  route?: SshRoute;
  sudoUser?: string;
  extraArgs?: string[];
  remoteSocket?: string;
  signal?: AbortSignal;
}

function options(o: LinkVariant = {}): SshLinkOptions {
  return {
    ssh: { target: parseSshTarget(o.target ?? sshd.target), route: o.route ?? "forward", sudoUser: o.sudoUser, extraArgs: o.extraArgs ?? sshd.sshArgs },
    remoteSocket: o.remoteSocket ?? sb.socketPath,
    signal: o.signal ?? deadline().signal,
  };
}

/** Processes whose command line mentions `needle` (e.g. a link's private socket path). */
function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, "utf8").includes(needle)) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(name), ...descendantsOf(Number(name)));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function expectCamError(p: Promise<unknown>, code: number, sentence: RegExp, maxMs = DEADLINE_MS): Promise<CamError> {
  const started = Date.now();
  const err = await p.then(() => assert.fail("expected a failure"), (e: unknown) => e);
  const ms = Date.now() - started;
  assert.ok(err instanceof CamError, `not a CamError: ${String(err)}`);
  assert.equal(exitCodeFor(err), code, err.message);
  assert.match(err.message, sentence);
  assert.ok(ms < maxMs, `took ${ms} ms`);
  // One or two plain sentences: no raw control characters, no stack, no ssh banner.
  assert.doesNotMatch(err.message, /[\x00-\x1f\x7f]|@@@|\n/);
  return err;
}

async function assertGone(link: SshLink): Promise<void> {
  const dir = link.localPath.slice(0, link.localPath.lastIndexOf("/"));
  assert.equal(fs.existsSync(dir), false, "the private directory is removed");
  // ssh is killed by process group; give the kernel a moment to reap.
  for (let i = 0; i < 50 && processesWith(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(processesWith(dir), [], "no ssh process left");
}

describe("SSH link to a remote admin socket", { skip }, () => {
  for (const route of ["forward", "exec"] as const) {
    test(`${route} route: a Lua request and a real client listing go through`, async () => {
      const link = await openSshLink(options({ route }));
      const stream = new AdminStream(link.localPath);
      try {
        const r = await stream.request('>return "ok"');
        assert.deepEqual(r, { output: [], result: "Result: ok", isError: false });
      } finally {
        stream.close();
        await link.close();
      }
      await assertGone(link);

      const { jid } = await sb.createAccount(`listed-${route}`);
      const grant = await sb.createGrant(jid, { software: "Over SSH" });
      const source = await openSourceOverSsh(options({ route }), (p) => new SocketClientSource(p));
      try {
        const list = await source.list(jid);
        assert.equal(list.transport, "socket");
        assert.deepEqual(list.clients.map((c) => [c.id, c.userAgent.software]), [[grant, "Over SSH"]]);
      } finally {
        await source.close();
      }
    });
  }

  // The sudo route needs a NOPASSWD rule; root has one implicitly, so this runs where the suite
  // runs as root (CI) and sudo is installed (install-openssh.sh).
  const sudoSkip = process.getuid?.() !== 0 ? "needs root (sudo without a password rule)" : !fs.existsSync("/usr/bin/sudo") ? "sudo is not installed" : false;

  test("sudo route: the bridge runs as the sudo user and carries a request", { skip: sudoSkip }, async () => {
    const link = await openSshLink(options({ route: "sudo", sudoUser: "root" }));
    const stream = new AdminStream(link.localPath);
    try {
      assert.equal((await stream.request('>return "ok"')).result, "Result: ok");
    } finally {
      stream.close();
      await link.close();
    }
    await assertGone(link);
  });

  test("sudo route: a user who may not open the socket gets code 5 and says who", { skip: sudoSkip || (/^prosody:/m.test(fs.readFileSync("/etc/passwd", "utf8")) ? false : "no prosody user") }, async () => {
    // The sandbox directory is private to root, as /var/lib/prosody is private to prosody.
    await expectCamError(openSshLink(options({ route: "sudo", sudoUser: "prosody" })), 5, /the user prosody may not open the admin socket/);
  });

  test("a changed host key ends in one sentence and code 4, before any login", async () => {
    const err = await expectCamError(openSshLink(options({ extraArgs: sshd.wrongHostKeyArgs })), 4, /host key of 127\.0\.0\.1 does not match/);
    assert.equal(err.condition, "host-key-changed");
  });

  test("an unknown host key is refused, never accepted silently (code 4)", async () => {
    await expectCamError(openSshLink(options({ extraArgs: sshd.unknownHostKeyArgs })), 4, /not in known_hosts.*never accepts a new key/);
  });

  test("a refused key ends in one sentence and code 4", async () => {
    const err = await expectCamError(openSshLink(options({ extraArgs: sshd.refusedKeyArgs })), 4, /refused the SSH login as \S+ \(publickey\)/);
    assert.equal(err.condition, "ssh-login-refused");
  });

  test("nothing listening on the SSH port: code 3", async () => {
    const target = `${sshd.user}@127.0.0.1:1`;
    await expectCamError(openSshLink(options({ target })), 3, /Cannot connect to the SSH server of 127\.0\.0\.1: Connection refused/);
  });

  test("forward route, missing remote socket: the first request fails with code 3 naming the path", async () => {
    const missing = `${sb.dir}/no-such.sock`;
    const source = await openSourceOverSsh(options({ remoteSocket: missing }), (p) => new SocketClientSource(p));
    try {
      await expectCamError(source.list("someone@camctl.test"), 3, new RegExp(`There is no admin socket at ${missing} on 127\\.0\\.0\\.1`));
    } finally {
      await source.close();
    }
  });

  test("exec route, missing remote socket: the link itself fails with code 3", async () => {
    await expectCamError(openSshLink(options({ route: "exec", remoteSocket: `${sb.dir}/no-such.sock` })), 3, /There is no admin socket at/);
  });

  test("a remote path that is not a socket is named as such", async () => {
    await expectCamError(openSshLink(options({ route: "exec", remoteSocket: sb.configPath })), 3, /is not a socket/);
  });

  for (const route of ["forward", "exec"] as const) {
    test(`${route} route: a link killed mid-request fails that request at once with code 3`, async () => {
      const link = await openSshLink(options({ route }));
      const stream = new AdminStream(link.localPath);
      try {
        await stream.request('>return "warm"');
        const pending = stream.request('>require "prosody.util.async".sleep(8) return "late"').catch(async (e: unknown) => {
          throw await link.explain(e);
        });
        await new Promise((r) => setTimeout(r, 300));
        assert.ok(sshd.killSessions() > 0, "a session was killed");
        const err = await expectCamError(pending, 3, /SSH connection to 127\.0\.0\.1 was lost before Prosody answered/, 4_000);
        assert.equal(err.condition, "ssh-link-lost");
      } finally {
        stream.close();
        await link.close();
      }
      await assertGone(link);
    });
  }

  test("the deadline kills ssh and removes everything, even mid-request", async () => {
    const c = new AbortController();
    const link = await openSshLink(options({ signal: c.signal }));
    const stream = new AdminStream(link.localPath);
    const pending = stream.request('>require "prosody.util.async".sleep(8) return "late"');
    pending.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    c.abort(new CamError("unreachable", "deadline"));
    await assert.rejects(pending);
    assert.ok(Date.now() - started < 2_000);
    stream.close();
    await link.close();
    await assertGone(link);
  });

  for (const route of ["forward", "exec"] as const) {
    test(`${route} route: when camctl itself is killed (SIGKILL, no clean-up), ssh goes too`, async () => {
      const linkModule = new URL("../../src/transports/ssh/link.js", import.meta.url).href;
      const script = `
        const { openSshLink } = await import(${JSON.stringify(linkModule)});
        const o = JSON.parse(process.argv[1]);
        const link = await openSshLink({ ...o, signal: new AbortController().signal });
        console.log(link.localPath);
        setInterval(() => {}, 1000);`;
      const { spawn } = await import("node:child_process");
      const child = spawn(process.execPath, ["--input-type=module", "-e", script, JSON.stringify({ ssh: { target: parseSshTarget(sshd.target), route, sudoUser: undefined, extraArgs: sshd.sshArgs }, remoteSocket: sb.socketPath })], { stdio: ["ignore", "pipe", "inherit"] });
      const localPath = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (out.includes("\n")) resolve(out.trim());
        });
        child.once("exit", (code) => reject(new Error(`exited early with ${code}`)));
      });
      const dir = localPath.slice(0, localPath.lastIndexOf("/"));
      const ssh = descendantsOf(child.pid!);
      assert.ok(ssh.length > 0, "ssh runs while camctl runs");
      child.kill("SIGKILL");
      const alive = () => ssh.filter((p) => fs.existsSync(`/proc/${p}`) && !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, "utf8")));
      const started = Date.now();
      while (alive().length > 0 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(alive(), [], "ssh ended with camctl");
      if (route === "forward") {
        // The watchdog removes the directory right after ssh has exited: give it the same bound.
        const gone = Date.now();
        while (fs.existsSync(dir) && Date.now() - gone < 5_000) await new Promise((r) => setTimeout(r, 50));
        assert.equal(fs.existsSync(dir), false, "the watchdog removed the private directory");
      }
      else fs.rmSync(dir, { recursive: true, force: true }); // nothing can remove it after a SIGKILL: an empty directory
    });
  }

  test("fan-out over links: the reachable servers' records arrive, the broken ones each end in their own sentence", async () => {
    const { runFanout, outcomesJson } = await import("../../src/engines/fanout.js");
    const { jid } = await sb.createAccount("fanned");
    await sb.createGrant(jid, { software: "Fan" });
    const targets: Record<string, LinkVariant> = {
      forward: {},
      exec: { route: "exec" },
      down: { target: `${sshd.user}@127.0.0.1:1` },
      "no-socket": { remoteSocket: `${sb.dir}/gone.sock` },
      "bad-key": { extraArgs: sshd.refusedKeyArgs },
    };
    const gen = runFanout(Object.keys(targets), async (ctx, emit, signal) => {
      const source = await openSourceOverSsh(options({ ...targets[ctx], signal }), (p) => new SocketClientSource(p));
      try {
        for (const c of (await source.list(jid)).clients) await emit(c.id);
      } finally {
        await source.close();
      }
    }, { parallel: 3 });
    const records: string[] = [];
    let r = await gen.next();
    for (; !r.done; r = await gen.next()) if (r.value.kind === "record") records.push(r.value.context);
    const json = outcomesJson(r.value);
    assert.deepEqual(records.sort(), ["exec", "forward"]);
    assert.deepEqual(json.contexts.map((c) => [c.context, c.exitCode]), [["forward", 0], ["exec", 0], ["down", 3], ["no-socket", 3], ["bad-key", 4]]);
    assert.equal(json.exitCode, 4);
    assert.match(String(json.contexts[3]!.message), /There is no admin socket at/);
  });

  test("a deadline that fires while ssh is still connecting rejects with its reason", async () => {
    const c = new AbortController();
    const p = openSshLink(options({ signal: c.signal }));
    c.abort(new CamError("unreachable", "No answer within 0 s."));
    await assert.rejects(p, /No answer within 0 s/);
  });
});
