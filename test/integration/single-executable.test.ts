// The single executable (scripts/build-sea.mjs): built here from the checkout, then the core
// commands' own integration tests run again with it in place of `node bin/camctl`
// (test/helpers/run-camctl.ts reads CAMCTL_TEST_EXECUTABLE). What passes there passes here.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const supported = process.platform === "linux" && process.arch === "x64";
/**
 * The core commands' tests: listing, revoking, lock-out and unlock, doctor; and, since the
 * executable starts from a snapshot taken at build time, the ones that read the terminal and the
 * environment (terminal), load the host commands' pieces from its assets (host-clients), and log in
 * over XMPP with TLS (xmpp-login).
 */
const CORE_TESTS = ["socket-clients", "socket-revoke", "user-lockout", "doctor", "terminal", "host-clients", "xmpp-login"];

describe("the single executable", { skip: supported ? false : "built for linux-x64 only" }, () => {
  let dir = "";
  let executable = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "camctl-sea-test-"));
    executable = join(dir, "camctl");
    execFileSync(process.execPath, [join(root, "scripts/build-sea.mjs"), executable], { stdio: ["ignore", "ignore", "pipe"] });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("runs on its own: no node on PATH, started from another directory", () => {
    assert.equal(statSync(executable).mode & 0o111, 0o111);
    const r = spawnSync(executable, ["--version"], { cwd: dir, env: { PATH: "/nonexistent" }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const { version } = JSON.parse(execFileSync(process.execPath, ["-p", "JSON.stringify(require('./package.json'))"], { cwd: root, encoding: "utf8" }));
    assert.equal(r.stdout.trim(), version);
    // No "experimental" warning, nothing else on stderr.
    assert.equal(r.stderr, "");
    const usage = spawnSync(executable, ["user", "clients"], { cwd: dir, env: { PATH: "/nonexistent" }, encoding: "utf8" });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /^camctl: Missing <jid>/);
  });

  it("keeps its timers: --timeout ends a wait on a server that never answers (exit 3)", async () => {
    // The snapshot is taken after a listing; a timer still pending then would stop every timer of
    // the executable, and this wait would never end.
    const socketPath = join(dir, "silent.sock");
    const server = createServer((c) => c.on("error", () => {}));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(executable, ["user", "clients", "alice@example.com", "--socket", socketPath, "--timeout", "1"], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.on("close", (code) => {
          clearTimeout(kill);
          resolve({ code, stderr });
        });
      });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^camctl: No answer from the admin socket .* within 1 s;/);
    } finally {
      server.close();
    }
  });

  it("passes the core commands' integration tests", { timeout: 900_000 }, () => {
    // A nested runner that inherits NODE_TEST_CONTEXT reports to this one instead of printing.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const files = CORE_TESTS.map((t) => join(root, `build/test/integration/${t}.test.js`));
    const r = spawnSync(process.execPath, ["--import", join(root, "scripts/lua-text-hook.mjs"), "--test", "--test-concurrency=2", "--test-reporter=tap", ...files], {
      cwd: root,
      env: { ...env, CAMCTL_TEST_EXECUTABLE: executable },
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    const count = (what: string) => Number(new RegExp(`^# ${what} (\\d+)$`, "m").exec(r.stdout)?.[1] ?? NaN);
    const failures = r.stdout.split("\n").filter((l) => /^\s*not ok /.test(l)).join("\n");
    assert.equal(r.status, 0, `failing with the single executable:\n${failures}\n${r.stderr.slice(-2000)}`);
    assert.equal(count("fail"), 0, failures);
    assert.ok(count("pass") >= 40, `only ${count("pass")} tests ran`);
  });
});
