// camctl over --container, against a real Prosody in mount and PID namespaces of its own.
//
// Why not a real container: on these machines the docker CLI has no daemon, and Debian's podman
// cannot start one (`crun: setrlimit RLIMIT_NOFILE/RLIMIT_NPROC: Operation not permitted`). So
// the sandbox's Prosody runs under `unshare --mount --pid --fork` with its admin socket at
// Prosody's default path, /var/lib/prosody/prosody.sock, on a tmpfs mounted only inside; and
// camctl enters it with `nsenter --target <pid> --mount --pid` exactly where it would run
// `docker exec -i <name>` ($CAMCTL_CONTAINER_EXEC_TEMPLATE, for tests only). The bridge, the
// relay, the deadline and the diagnosis are camctl's real ones; the engine's command line is
// unit-tested word for word (test/unit/container-command.test.ts). The failures that need the
// engine itself use the real docker CLI (no daemon here) and a PATH without it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { startSshd, sshdUnavailable, type Sshd } from "../sshd/sshd.js";
import { runCamctl, type CamctlRun } from "../helpers/run-camctl.js";

const INSIDE = "/var/lib/prosody/prosody.sock";
const TIMEOUT_S = 10;
const NSENTER = JSON.stringify(["nsenter", "--target", "{name}", "--mount", "--pid"]);
const skip = (() => {
  if (process.getuid?.() !== 0) return "needs root for unshare/nsenter";
  const r = spawnSync("unshare", ["--mount", "--pid", "--fork", "true"]);
  return r.status === 0 ? false : "unshare --mount --pid is not permitted here";
})();

let sb: Sandbox;
let sshd: Sshd | undefined;

before(async () => {
  if (skip) return;
  sb = await startSandbox({ isolated: { socketInside: INSIDE } });
  if (!sshdUnavailable()) sshd = await startSshd();
});
after(async () => {
  await Promise.all([sb?.stop(), sshd?.stop()]);
});

/** --container <the namespace's pid>, entered through nsenter. */
function inContainer(name = String(sb.isolatedPid)): string[] {
  return ["--container", name, "--timeout", String(TIMEOUT_S)];
}
const nsenterEnv = { CAMCTL_CONTAINER_EXEC_TEMPLATE: NSENTER };

function assertOneSentence(r: CamctlRun, code: number, sentence: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^camctl: [^\n]+\n$/, `exactly one line: ${r.stderr}`);
  assert.match(r.stderr, sentence);
  assert.ok(r.ms < TIMEOUT_S * 1000, `took ${r.ms} ms`);
}

describe("camctl --container (Prosody in namespaces of its own, entered with nsenter)", { skip }, () => {
  test("the socket is inside only: outside, Prosody's default path is not this Prosody's", () => {
    assert.ok(sb.isolatedPid > 0);
    assert.ok(!fs.existsSync(INSIDE), `${INSIDE} must not exist outside the namespace`);
    assert.ok(fs.existsSync(sb.socketPath), "reachable through /proc/<pid>/root for the sandbox's own helpers");
  });

  test("user clients over --container equals the listing of the socket itself", async () => {
    const { jid } = await sb.createAccount("ctr-same");
    await sb.createGrant(jid, { software: "In a container" });
    const local = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath]);
    assert.equal(local.code, 0, local.stderr);
    const inside = await runCamctl(["user", "clients", jid, "--json", ...inContainer()], { env: nsenterEnv });
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(inside.stderr, "");
    assert.deepEqual(JSON.parse(inside.stdout), JSON.parse(local.stdout));
    assert.equal((JSON.parse(inside.stdout) as { clients: unknown[] }).clients.length, 1);
  });

  test("user revoke_client over --container revokes; host clients and doctor work over it", async () => {
    const { jid } = await sb.createAccount("ctr-revoke");
    const grant = await sb.createGrant(jid, { software: "To revoke" });
    const r = await runCamctl(["user", "revoke_client", jid, grant, "--yes", "--json", ...inContainer()], { env: nsenterEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { revoked: boolean }).revoked, true);
    const after = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath]);
    assert.deepEqual((JSON.parse(after.stdout) as { clients: unknown[] }).clients, []);

    const host = await runCamctl(["host", "clients", sb.host, "-o", "ndjson", ...inContainer()], { env: nsenterEnv });
    assert.equal(host.code, 0, host.stderr);
    const doctor = await runCamctl(["doctor", ...inContainer()], { env: nsenterEnv });
    assert.match(doctor.stdout, /client_management|client-management/, doctor.stderr);
  });

  test("from a context: container = \"<name>\" (and --socket alone is the path inside)", async () => {
    const { jid } = await sb.createAccount("ctr-context");
    await sb.createGrant(jid, { software: "From a context" });
    const file = path.join(sb.dir, "ctr-config.toml");
    fs.writeFileSync(file, `default = "snikket"\n[contexts.snikket]\ncontainer = "${sb.isolatedPid}"\ncontainer_engine = "docker"\ntimeout = ${TIMEOUT_S}\n`, { mode: 0o600 });
    const env = { ...nsenterEnv, CAMCTL_CONFIG: file };
    const r = await runCamctl(["user", "clients", jid, "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { clients: unknown[] }).clients.length, 1);
    const wrong = await runCamctl(["user", "clients", jid, "--socket", "/snikket/prosody/prosody.sock"], { env });
    assertOneSentence(wrong, 3, /no admin socket at \/snikket\/prosody\/prosody\.sock inside the container/);
  });

  test("docs/containers.md's Snikket walk-through, command for command, and the rest of the command set, over a context's container", async () => {
    // The guide's context, with the namespace's pid for the container's name and the sandbox's host for chat.example.com.
    const dir = fs.mkdtempSync(path.join(sb.dir, "guide-"));
    const config = path.join(dir, "config.toml");
    fs.writeFileSync(config, `default = "snikket"\n[contexts.snikket]\ncontainer = "${sb.isolatedPid}"\nsocket = "${INSIDE}"\ntimeout = ${TIMEOUT_S}\n`, { mode: 0o600 });
    const env = { ...nsenterEnv, CAMCTL_CONFIG: config };
    const run = (args: string[]) => runCamctl(args, { env });
    const host = sb.host;
    const mallory = await sb.createAccount("mallory");
    await sb.createGrant(mallory.jid, { software: "Evil Client" });

    assert.equal((await run(["doctor"])).code, 0, "is client management there?");
    const summary = await run(["host", "clients", host, "--summary"]);
    assert.equal(summary.code, 0, summary.stderr);
    assert.match(summary.stdout, /clients? on \d+ accounts? of /);
    const audit = await run(["host", "clients", host, "--software", "Evil Client", "-o", "ndjson"]);
    assert.equal(audit.code, 0, audit.stderr);
    assert.deepEqual(audit.stdout.trimEnd().split("\n").map((l) => (JSON.parse(l) as { account: string }).account), [mallory.jid]);
    const lockout = await run(["user", "lockout", mallory.jid, "--disable", "--reason", "phished", "--yes"]);
    assert.equal(lockout.code, 0, lockout.stderr);
    const after = JSON.parse((await run(["user", "clients", mallory.jid, "--json"])).stdout) as { clients: unknown[]; accountStatus: string; disabledReason: string };
    assert.deepEqual([after.clients, after.accountStatus, after.disabledReason], [[], "disabled", "phished"], "nothing left");

    // The CI smoke check.
    assert.equal((await run(["doctor", "--context", "snikket", "--timeout", "20"])).code, 0);
    assert.equal((await run(["host", "clients", host, "--context", "snikket", "-o", "json", "--summary"])).code, 0);

    // The rest: history (camctl's own record of the lock-out), unlock, a reviewed plan, watch.
    const history = await run(["user", "history", mallory.jid, "--event", "account-locked-out", "-o", "ndjson"]);
    assert.equal(history.code, 0, history.stderr);
    assert.equal(history.stdout.trimEnd().split("\n").length, 1);
    assert.equal((await run(["user", "unlock", mallory.jid, "--yes"])).code, 0);
    const victim = await sb.createAccount("ctr-planned");
    await sb.createGrant(victim.jid, { software: "Planned away" });
    const plan = path.join(dir, "plan.json");
    assert.equal((await run(["host", "revoke", host, "--software", "Planned away", "--plan-out", plan])).code, 0);
    const apply = await run(["host", "apply", plan, "--yes", "-o", "ndjson"]);
    assert.equal(apply.code, 0, apply.stderr);
    assert.deepEqual(apply.stdout.trimEnd().split("\n").map((l) => (JSON.parse(l) as { outcome: string }).outcome), ["revoked"]);
    const watch = await run(["watch", host, "--for", "1s", "-o", "ndjson"]);
    assert.equal(watch.code, 0, watch.stderr);
  });

  test("no socket inside: one sentence, exit 3", async () => {
    const r = await runCamctl(["user", "clients", "a@camctl.test", ...inContainer(), "--socket", "/snikket/prosody/prosody.sock"], { env: nsenterEnv });
    assertOneSentence(r, 3, /There is no admin socket at \/snikket\/prosody\/prosody\.sock inside the container \d+\. .*--socket/);
  });

  test("no such container: one sentence, exit 3", async () => {
    const r = await runCamctl(["user", "clients", "a@camctl.test", ...inContainer("999999999")], { env: nsenterEnv });
    assertOneSentence(r, 3, /There is no container named 999999999/);
  });

  test("engine missing (PATH without docker or podman): one sentence, exit 3", async () => {
    const env = { PATH: "/usr/bin:/bin" };
    const auto = await runCamctl(["user", "clients", "a@camctl.test", "--container", "snikket"], { env });
    assertOneSentence(auto, 3, /--container needs docker or podman, and neither is installed/);
    const named = await runCamctl(["user", "clients", "a@camctl.test", "--container", "snikket", "--container-engine", "podman"], { env });
    assertOneSentence(named, 3, /--container-engine podman is not installed/);
  });

  test("the real docker CLI without a daemon: one sentence, exit 3", { skip: spawnSync("docker", ["--version"]).status === 0 ? false : "no docker CLI" }, async () => {
    const r = await runCamctl(["user", "clients", "a@camctl.test", "--container", "snikket", "--timeout", String(TIMEOUT_S)], { env: { DOCKER_HOST: `unix://${sb.dir}/no-docker.sock` } });
    assertOneSentence(r, 3, /docker cannot reach its daemon .*is it running/);
  });

  // The real docker CLI against a Docker Engine API of the test's own (a unix socket that answers
  // /_ping and the exec call as dockerd does for a stopped container, or refuses this user).
  async function fakeDockerd(answer: (res: http.ServerResponse) => void): Promise<{ socket: string; close: () => Promise<void> }> {
    const socket = path.join(sb.dir, `dockerd-${Math.random().toString(36).slice(2)}.sock`);
    const server = http.createServer((req, res) => {
      if ((req.url ?? "").endsWith("/_ping")) {
        res.writeHead(200, { "Api-Version": "1.41", "Content-Type": "text/plain" });
        res.end(req.method === "HEAD" ? undefined : "OK");
        return;
      }
      answer(res);
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    return { socket, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  const dockerCli = spawnSync("docker", ["--version"]).status === 0 ? false : "no docker CLI";

  test("the real docker CLI, a container that is not running: one sentence, exit 3", { skip: dockerCli }, async () => {
    const d = await fakeDockerd((res) => {
      res.writeHead(409, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ message: "Container 4f2a9c1e7b3d is not running" }));
    });
    try {
      const r = await runCamctl(["user", "clients", "a@camctl.test", "--container", "snikket", "--container-engine", "docker", "--timeout", String(TIMEOUT_S)], { env: { DOCKER_HOST: `unix://${d.socket}` } });
      assertOneSentence(r, 3, /The container snikket is not running; start it/);
    } finally {
      await d.close();
    }
  });

  test("the real docker CLI, no such container (the daemon's 404): one sentence, exit 3", { skip: dockerCli }, async () => {
    const d = await fakeDockerd((res) => {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ message: "No such container: snikket" }));
    });
    try {
      const r = await runCamctl(["user", "clients", "a@camctl.test", "--container", "snikket", "--container-engine", "docker", "--timeout", String(TIMEOUT_S)], { env: { DOCKER_HOST: `unix://${d.socket}` } });
      assertOneSentence(r, 3, /There is no container named snikket/);
    } finally {
      await d.close();
    }
  });

  test("the real docker CLI, run by a user who may not use the engine's socket: one sentence, exit 5", {
    skip: dockerCli || (process.getuid?.() !== 0 ? "needs root to drop to another user" : spawnSync("setpriv", ["--version"]).status === 0 ? false : "no setpriv"),
  }, async () => {
    const d = await fakeDockerd((res) => res.end());
    fs.chmodSync(d.socket, 0o600); // root's alone, as /var/run/docker.sock is root's and the docker group's
    try {
      const r = await runCamctl(["user", "clients", "a@camctl.test", "--container", "snikket", "--container-engine", "docker", "--timeout", String(TIMEOUT_S)], {
        env: { DOCKER_HOST: `unix://${d.socket}`, HOME: "/nonexistent" },
        prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"],
      });
      assertOneSentence(r, 5, /may not use docker's socket .*add it to the docker group, or run camctl as root/);
    } finally {
      await d.close();
    }
  });

  test("a container name docker would refuse: exit 2", async () => {
    for (const bad of ["-it", "a b", "x;rm", ""]) {
      const r = await runCamctl(["user", "clients", "a@camctl.test", `--container=${bad}`]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    }
  });

  test("with --ssh: the engine runs on the SSH server", { skip: sshdUnavailable() }, async () => {
    const { jid } = await sb.createAccount("ctr-ssh");
    await sb.createGrant(jid, { software: "Over SSH into a container" });
    const ssh = ["--ssh", sshd!.target, "--ssh-config", sshd!.sshArgs[1]!];
    const r = await runCamctl(["user", "clients", jid, "--json", ...ssh, ...inContainer()], { env: nsenterEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { clients: unknown[] }).clients.length, 1);
    const missing = await runCamctl(["user", "clients", jid, ...ssh, ...inContainer(), "--socket", "/snikket/prosody/prosody.sock"], { env: nsenterEnv });
    assertOneSentence(missing, 3, /no admin socket at \/snikket\/prosody\/prosody\.sock inside the container \d+ on /);
  });
});
