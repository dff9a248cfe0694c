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
import { haveScript, onTerminal } from "../helpers/terminal.js";

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
    // Not Snikket; no audit modules (a warning: only history needs them); internal storage.
    assert.deepEqual([find(r.checks, null, "snikket")?.status, find(r.checks, healthy.host, "audit")?.status, find(r.checks, healthy.host, "storage")?.status], ["ok", "warn", "ok"]);
    assert.match(find(r.checks, null, "snikket")!.message, /^This does not look like a Snikket server/);
    assert.match(find(r.checks, healthy.host, "audit")!.message, /mod_audit and mod_audit_auth are not loaded on camctl\.test, so camctl history has nothing to read/);
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

  test("on a terminal, the Detail sentences wrap at its width, continuation lines under the column", { skip: haveScript ? false : "util-linux script is not installed" }, async () => {
    const piped = await runCamctl(["doctor", healthy.host, "--socket", healthy.socketPath]);
    const r = onTerminal(["doctor", healthy.host, "--socket", healthy.socketPath], { cols: 100, env: { NO_COLOR: "1" } });
    assert.equal(r.code, 0, r.out);
    const lines = r.out.trimEnd().split("\n");
    const start = lines[0]!.indexOf("Detail");
    assert.ok(start > 0, r.out);
    // Only a word wider than the column (a path) may stick out, alone on its line.
    for (const l of lines) assert.ok(l.length <= 100 || !l.slice(start).includes(" "), `wider than the terminal: ${l}`);
    assert.ok(lines.some((l) => l.startsWith(" ".repeat(start)) && l[start] !== " "), "some sentence continues on the next line");
    // The same sentences as when piped (one line each), only broken into lines at spaces.
    const sentences = (text: string[]) => text.slice(1).reduce<string[]>((acc, l) => (l.startsWith(" ".repeat(start)) ? [...acc.slice(0, -1), `${acc.at(-1)} ${l.trim()}`] : [...acc, l.slice(start)]), []);
    assert.deepEqual(sentences(lines), piped.stdout.trimEnd().split("\n").slice(1).map((l) => l.slice(piped.stdout.indexOf("Detail"))));
  });

  test("a host without mod_client_management, asked about: fail, exit 8, one sentence on stderr", async () => {
    const r = await doctor([healthy.bareHost, "--socket", healthy.socketPath]);
    assert.equal(r.code, 8);
    assert.equal(r.exitCode, 8);
    const check = find(r.checks, healthy.bareHost, "client-management")!;
    assert.equal(check.status, "fail");
    assert.match(check.message, /mod_client_management is not loaded on bare\.camctl\.test/);
    // How to get it: enable it, or install it from the modules server (not from Debian's prosody-modules).
    assert.match(check.message, /add "client_management" to that host's modules_enabled and reload Prosody; if Prosody does not have the module, install it with `prosodyctl install --server=https:\/\/modules\.prosody\.im\/rocks\/ mod_client_management` \(Debian's prosody-modules package does not contain it\)\.$/);
    assert.match(r.stderr, /^camctl: client management on bare\.camctl\.test: mod_client_management is not loaded[^\n]*\n$/);
  });

  test("an unknown host: exit 6; a missing socket: exit 3 with the socket's own sentence", async () => {
    assert.equal((await doctor(["no-such.example", "--socket", healthy.socketPath])).code, 6);
    const missing = await doctor(["--socket", path.join(dir, "none.sock")]);
    assert.equal(missing.code, 3);
    assert.deepEqual(missing.checks.map((c) => [c.check, c.status]), [["admin-socket", "fail"]]);
    assert.match(missing.checks[0]!.message, /There is no admin socket at/);
  });

  test("the default socket missing on a Docker host: the failing check names the Snikket volumes' sockets, and --socket with one works", async () => {
    // A fake /var/lib/docker/volumes (CAMCTL_TEST_DOCKER_VOLUMES_DIR is test-only): two compose
    // projects' snikket_data volumes, one without a socket, and an unrelated volume.
    const volumes = path.join(dir, "volumes");
    const sock = path.join(volumes, "snikket_snikket_data", "_data", "prosody", "prosody.sock");
    fs.mkdirSync(path.dirname(sock), { recursive: true });
    fs.symlinkSync(healthy.socketPath, sock);
    fs.mkdirSync(path.join(volumes, "other_snikket_data", "_data", "prosody"), { recursive: true });
    fs.mkdirSync(path.join(volumes, "web_data", "_data", "prosody"), { recursive: true });
    fs.writeFileSync(path.join(volumes, "web_data", "_data", "prosody", "prosody.sock"), "");
    assert.equal(fs.existsSync("/var/lib/prosody/prosody.sock"), false, "the default socket must be missing for this test");
    const env = { CAMCTL_TEST_DOCKER_VOLUMES_DIR: volumes };
    const r = await runCamctl(["doctor", "--json"], { env });
    assert.equal(r.code, 3, r.stderr);
    const checks = (JSON.parse(r.stdout) as { checks: CheckJson[] }).checks;
    assert.deepEqual(checks.map((c) => [c.check, c.status]), [["admin-socket", "fail"]]);
    assert.match(checks[0]!.message, /^There is no admin socket at \/var\/lib\/prosody\/prosody\.sock\./);
    assert.ok(checks[0]!.message.endsWith(` On this Docker host, a Snikket volume has an admin socket: ${sock}; give it with --socket ${sock} (as root), or reach it inside the container with --container snikket.`), checks[0]!.message);
    // The suggestion works.
    const through = await doctor([healthy.host, "--socket", sock]);
    assert.equal(through.code, 0, through.stderr);
    // An explicit --socket that is missing gets no suggestion (the operator chose it).
    const explicit = await runCamctl(["doctor", "--json", "--socket", path.join(dir, "none.sock")], { env });
    assert.doesNotMatch(explicit.stdout, /Docker host/);
    // No volumes directory (not a Docker host, or not root): the plain sentence.
    const none = await runCamctl(["doctor", "--json"], { env: { CAMCTL_TEST_DOCKER_VOLUMES_DIR: path.join(dir, "no-volumes") } });
    assert.doesNotMatch(none.stdout, /Docker host/);
  });

  test("over --ssh: the same checks through the link", { skip: sshdUnavailable() }, async () => {
    const r = await doctor(["--ssh", sshd!.target, "--ssh-config", sshd!.sshArgs[1]!, "--socket", healthy.socketPath, healthy.host]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(find(r.checks, null, "admin-socket")!.message, /on \S+@127\.0\.0\.1:\d+ \(over SSH\)/);
    assert.equal(find(r.checks, healthy.host, "client-management")?.status, "ok");
  });
});

describe("camctl doctor on a Snikket-like server (Snikket's module set as far as Debian has it; stand-ins for the rest)", () => {
  // mod_snikket_client_id is a do-nothing stand-in (test/fixtures/prosody-plugins); mod_audit and
  // mod_audit_auth are camctl's stand-ins; snikket_domain is one of the options Snikket's config sets.
  const SNIKKET_MODULES = ["snikket_client_id", "audit", "audit_auth", "client_management_admin"];
  let strict: Sandbox;
  let lax: Sandbox;
  before(async () => {
    [strict, lax] = await Promise.all([
      startSandbox({ extraModules: SNIKKET_MODULES, hostOptions: { enforce_client_ids: true }, globalOptions: { snikket_domain: "camctl.test" } }),
      startSandbox({ extraModules: SNIKKET_MODULES, hostOptions: { enforce_client_ids: false } }),
    ]);
  });
  after(async () => {
    await Promise.all([strict?.stop(), lax?.stop()]);
  });

  test("enforce_client_ids on: recognised as Snikket (module and option), the client-ids warning, audit and storage ok", async () => {
    const r = await doctor([strict.host, "--socket", strict.socketPath]);
    // enforce_client_ids with mod_saslauth loaded (as in Snikket) only warns: exit 0.
    assert.equal(r.code, 0, r.stderr);
    const snikket = find(r.checks, null, "snikket")!;
    assert.equal(snikket.status, "ok");
    assert.match(snikket.message, /^This looks like a Snikket server \(mod_snikket_client_id is loaded on camctl\.test; the configuration sets snikket_domain\)/);
    assert.equal(find(r.checks, strict.host, "client-management")?.status, "ok");
    assert.equal(find(r.checks, strict.host, "client-ids")?.status, "warn");
    assert.match(find(r.checks, strict.host, "client-ids")!.message, /^enforce_client_ids is on/);
    assert.equal(find(r.checks, strict.host, "audit")?.status, "ok");
    assert.match(find(r.checks, strict.host, "audit")!.message, /mod_audit and mod_audit_auth are loaded/);
    assert.deepEqual(find(r.checks, strict.host, "storage"), { host: strict.host, check: "storage", status: "ok", message: "Storage is internal (files under data_path).", exitCode: 0 });
  });

  test("enforce_client_ids off: Snikket by its module alone; client-ids ok and off", async () => {
    const r = await doctor([lax.host, "--socket", lax.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(find(r.checks, null, "snikket")!.message, /^This looks like a Snikket server \(mod_snikket_client_id is loaded on camctl\.test\)/);
    assert.equal(find(r.checks, lax.host, "client-ids")?.status, "ok");
    assert.match(find(r.checks, lax.host, "client-ids")!.message, /^enforce_client_ids is off/);
    assert.equal(find(r.checks, lax.host, "audit")?.status, "ok");
  });

  test("the table shows the new checks by their titles", async () => {
    const r = await runCamctl(["doctor", strict.host, "--socket", strict.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^-\s+Snikket\s+ok\s+This looks like a Snikket server/m);
    assert.match(r.stdout, /^camctl\.test\s+audit modules\s+ok\s+/m);
    assert.match(r.stdout, /^camctl\.test\s+storage\s+ok\s+Storage is internal/m);
    assert.match(r.stdout, /^camctl\.test\s+defects handled\s+ok\s+mod_client_management /m, "camctl works around the module's defects");
    assert.doesNotMatch(r.stdout, /module defects/);
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

  test("what the login changes, said by the login check: camctl's one entry in the account's clients, added once, then only updated", async () => {
    const acct = await healthy.createAccount("doclogin", undefined, "doc-password");
    const state = fs.mkdtempSync(path.join(dir, "state-"));
    const args = ["--jid", acct.jid, "--password-file", pwFile, "--server", `127.0.0.1:${healthy.c2sPort}`, "--ca-file", healthy.caFile];
    const listed = async () => {
      const r = await runCamctl(["user", "clients", acct.jid, "--json", "--socket", healthy.socketPath]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { clients: { id: string; userAgent: { software: string | null } }[] }).clients;
    };
    assert.deepEqual(await listed(), []);
    const first = await runCamctl(["doctor", "--json", ...args], { env: { XDG_STATE_HOME: state } });
    assert.equal(first.code, 0, first.stderr);
    const login = (JSON.parse(first.stdout) as { checks: CheckJson[] }).checks.find((c) => c.check === "login")!;
    assert.match(login.message, /the first adds camctl's entry to the account's clients, later ones update its last use/);
    const afterFirst = await listed();
    assert.deepEqual(afterFirst.map((c) => c.userAgent.software), ["camctl"]);
    const second = await runCamctl(["doctor", "--json", ...args], { env: { XDG_STATE_HOME: state } });
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual((await listed()).map((c) => c.id), afterFirst.map((c) => c.id), "the second run updates the same entry");
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
