// camctl doctor against real sandboxes: a healthy server (with the companion module), a host
// without mod_client_management, an unknown host, a missing socket, the XMPP checks, and a server
// whose certificate has expired. Also over --ssh when sshd is available.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { startSshd, sshdUnavailable, type Sshd } from "../sshd/sshd.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { adminPeer, replErrorResult } from "../helpers/fault-peers.js";

interface CheckJson {
  host: string | null;
  check: string;
  status: "ok" | "warn" | "fail";
  message: string;
  exitCode: number;
}

const DAY = 86_400_000;
let healthy: Sandbox;
let expired: Sandbox;
let sshd: Sshd | undefined;
let pwFile: string;
let dir: string;
let peerCount = 0;

before(async () => {
  // Short: unix socket paths (the fake admin sockets below) are limited to ~107 bytes.
  dir = fs.mkdtempSync(path.join(os.tmpdir().length <= 60 ? os.tmpdir() : "/tmp", "camctl-doctor-"));
  [healthy, expired, sshd] = await Promise.all([
    startSandbox({ extraModules: ["client_management_admin"] }),
    startSandbox({ certificateValidity: { notBefore: new Date(Date.now() - 60 * DAY), notAfter: new Date(Date.now() - 2 * DAY) } }),
    sshdUnavailable() ? undefined : startSshd(),
  ]);
  pwFile = path.join(dir, "doc.pw");
  fs.writeFileSync(pwFile, "doc-password\n", { mode: 0o600 });
  await Promise.all([healthy.createAccount("doc", undefined, "doc-password"), expired.createAccount("doc", undefined, "doc-password")]);
});
after(async () => {
  await Promise.all([healthy?.stop(), expired?.stop(), sshd?.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function doctor(args: string[]): Promise<{ code: number | null; checks: CheckJson[]; exitCode: number; stderr: string }> {
  const r = await runCamctl(["doctor", "--json", ...args]);
  const doc = JSON.parse(r.stdout) as { checks: CheckJson[]; exitCode: number };
  return { code: r.code, checks: doc.checks, exitCode: doc.exitCode, stderr: r.stderr };
}

const find = (checks: CheckJson[], host: string | null, check: string) => checks.find((c) => c.host === host && c.check === check);

describe("camctl doctor over the admin socket", () => {
  test("a healthy server: exit 0, every check about camctl.test ok, the companion and its version", async () => {
    const r = await doctor(["--socket", healthy.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stderr, "");
    assert.equal(find(r.checks, null, "admin-socket")?.status, "ok");
    assert.match(find(r.checks, null, "prosody-version")?.message ?? "", /^Prosody 13\./);
    for (const check of ["client-management", "login-modules", "client-ids", "companion", "module-defects", "account-listing"]) {
      assert.equal(find(r.checks, healthy.host, check)?.status, "ok", check);
    }
    assert.match(find(r.checks, healthy.host, "companion")!.message, /mod_client_management_admin 0\.\d+\.\d+ is loaded/);
    assert.match(find(r.checks, healthy.host, "module-defects")!.message, /does not answer XEP-0494 itself/);
    // A host without the module is a warning when nobody asked about it: the server is still usable.
    assert.equal(find(r.checks, healthy.bareHost, "client-management")?.status, "warn");
    // enforce_client_ids with legacy SASL loaded: worth a warning.
    assert.equal(find(r.checks, healthy.strictHost, "client-ids")?.status, "warn");
    for (const c of r.checks) assert.doesNotMatch(c.message, /\n/, "one line");
  });

  test("the table, for people", async () => {
    const r = await runCamctl(["doctor", healthy.host, "--socket", healthy.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^Host\s+Check\s+Status\s+Detail$/);
    assert.match(lines.find((l) => l.includes("client management"))!, /^camctl\.test\s+client management\s+ok\s+mod_client_management is loaded/);
  });

  test("a host without mod_client_management, asked about: fail, exit 8, one sentence on stderr", async () => {
    const r = await doctor([healthy.bareHost, "--socket", healthy.socketPath]);
    assert.equal(r.code, 8);
    assert.equal(r.exitCode, 8);
    const check = find(r.checks, healthy.bareHost, "client-management")!;
    assert.equal(check.status, "fail");
    assert.match(check.message, /mod_client_management is not loaded on bare\.camctl\.test/);
    assert.match(r.stderr, /^camctl: client management on bare\.camctl\.test: mod_client_management is not loaded[^\n]*\n$/);
  });

  test("an unknown host: exit 6; a missing socket: exit 3 with the socket's own sentence", async () => {
    assert.equal((await doctor(["no-such.example", "--socket", healthy.socketPath])).code, 6);
    const missing = await doctor(["--socket", path.join(dir, "none.sock")]);
    assert.equal(missing.code, 3);
    assert.deepEqual(missing.checks.map((c) => [c.check, c.status]), [["admin-socket", "fail"]]);
    assert.match(missing.checks[0]!.message, /There is no admin socket at/);
  });

  test("over --ssh: the same checks through the link", { skip: sshdUnavailable() }, async () => {
    const r = await doctor(["--ssh", sshd!.target, "--ssh-config", sshd!.sshArgs[1]!, "--socket", healthy.socketPath, healthy.host]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(find(r.checks, null, "admin-socket")!.message, /on \S+@127\.0\.0\.1:\d+ \(over SSH\)/);
    assert.equal(find(r.checks, healthy.host, "client-management")?.status, "ok");
  });
});

describe("camctl doctor against a socket that is not a working Prosody admin socket", { concurrency: true }, () => {
  // Each accepts the connection; none gives camctl the facts it asks for.
  const peers: [string, Parameters<typeof adminPeer>[1], RegExp][] = [
    ["the shell raises on camctl's request (<repl-result type='error'>)", () => replErrorResult("Error: attempt to call a nil value (field 'get_hosts')"),
      /^Prosody failed while running camctl's request for the checks: Error: attempt to call a nil value \(field 'get_hosts'\)\. Prosody's log may say more\.$/],
    ["another program answers in the admin stream's framing", () => "<repl-result>Welcome to something else</repl-result>",
      /^The admin socket answered the request for the checks with something camctl cannot read \(the result "Welcome to something else" is not camctl's\)/],
    ["a result that is not JSON", () => "<repl-result>Result: {not json</repl-result>", /cannot read \(the result is not JSON\)/],
    ["the answer is not well-formed XML", () => "<repl-result>Result: <</oops>", /not well-formed XML/],
  ];
  for (const [name, answer, sentence] of peers) {
    test(`${name}: the admin-socket check fails with one sentence, exit 3 (never "ok" then a camctl bug)`, async () => {
      const peer = await adminPeer(path.join(dir, `p${peerCount++}.sock`), answer);
      try {
        const r = await doctor(["--socket", peer.address, "--timeout", "20"]);
        assert.equal(r.code, 3, r.stderr);
        assert.equal(r.exitCode, 3);
        assert.deepEqual(r.checks.map((c) => [c.check, c.status, c.exitCode]), [["admin-socket", "fail", 3]]);
        assert.match(r.checks[0]!.message, sentence);
        assert.match(r.stderr, /^camctl: admin socket: [^\n]+\n$/);
        assert.doesNotMatch(r.stderr, /bug in camctl/);
      } finally {
        await peer.close();
      }
    });
  }
});

describe("camctl doctor over XMPP", () => {
  const xmpp = (sb: Sandbox) => ["--jid", `doc@${sb.host}`, "--password-file", pwFile, "--server", `127.0.0.1:${sb.c2sPort}`, "--ca-file", sb.caFile];

  test("a healthy server: certificate, SASL2, FAST, login and <list/> (the sandbox's 7-day certificate warns)", async () => {
    const r = await doctor(xmpp(healthy));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.checks.map((c) => [c.check, c.status]), [["tls-certificate", "warn"], ["sasl2", "ok"], ["fast", "ok"], ["login", "ok"], ["list", "ok"]]);
    assert.match(r.checks[0]!.message, /camctl\.test.*expires on \d{4}-\d\d-\d\d, in \d days/);
    assert.match(r.checks[4]!.message, /client(s have| has) access to doc@camctl\.test/);
  });

  test("an expired certificate: fail with the date, exit 3, and no login attempted", async () => {
    const r = await doctor(xmpp(expired));
    assert.equal(r.code, 3, r.stderr);
    const cert = find(r.checks, null, "tls-certificate")!;
    assert.equal(cert.status, "fail");
    assert.match(cert.message, /expired on \d{4}-\d\d-\d\d \(2 days ago\)/);
    assert.equal(find(r.checks, null, "login"), undefined);
  });

  test("without the CA: the certificate is not trusted (exit 3)", async () => {
    const r = await doctor(xmpp(healthy).slice(0, -2));
    assert.equal(r.code, 3);
    assert.match(find(r.checks, null, "tls-certificate")!.message, /not trusted here/);
  });

  test("a wrong password: the login check fails with exit 4", async () => {
    const bad = path.join(dir, "bad.pw");
    fs.writeFileSync(bad, "wrong\n", { mode: 0o600 });
    const args = xmpp(healthy);
    args[args.indexOf(pwFile)] = bad;
    const r = await doctor(args);
    assert.equal(r.code, 4, r.stderr);
    assert.equal(find(r.checks, null, "login")?.status, "fail");
  });
});
