// Which server(s) a command talks to, through main() with a fake source: options before or after
// the command, contexts against commander's defaults, the SSH settings, and fan-out with a
// context that fails on its own.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main } from "../../src/cli/program.js";
import { CamError } from "../../src/core/errors.js";
import type { HostClientRecord } from "../../src/core/filters.js";
import type { ClientList } from "../../src/core/model.js";
import type { ServerSpec } from "../../src/transports/types.js";
import type { ClientSource } from "../../src/core/client-source.js";
import type { PrepareSource } from "../../src/transports/prepare-source.js";
import { fakeIO } from "../helpers/fake-io.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-selection-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
function config(text: string): NodeJS.ProcessEnv {
  const file = path.join(dir, `c${n++}.toml`);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return { CAMCTL_CONFIG: file };
}

/** A source that lists one client whose software names the server it was prepared for. */
function recording(fail?: (o: ServerSpec) => CamError | undefined) {
  const seen: ServerSpec[] = [];
  const prepareSource: PrepareSource = async (opts) => {
    seen.push(opts);
    const e = fail?.(opts);
    if (e) throw e;
    const name = opts.transport.kind === "socket" ? opts.transport.socketPath : opts.transport.loginJid;
    const source: ClientSource = {
      async list(jid): Promise<ClientList> {
        return {
          jid, transport: "socket",
          clients: [{ id: "grant/x", type: "access", connected: false, firstSeen: null, lastSeen: null, expires: null, auth: [], userAgent: { software: name, version: null, softwareId: null, uri: null, device: null }, permission: null }],
        };
      },
      async revoke() {
        throw new Error("not used");
      },
      // eslint-disable-next-line require-yield
      async *listHost(): AsyncIterable<HostClientRecord> {
        throw new Error("not used");
      },
      async close() {},
    };
    return { where: name, open: async () => source };
  };
  return { seen, prepareSource };
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}, fail?: (o: ServerSpec) => CamError | undefined) {
  const f = fakeIO({ env: { CAMCTL_CONFIG: path.join(dir, "none.toml"), ...env } });
  const r = recording(fail);
  const code = await main(argv, { io: f.io, prepareSource: r.prepareSource });
  return { code, out: f.out(), err: f.err(), seen: r.seen };
}

test("options before the command are the command's; typed after it, they win", async () => {
  const before = await run(["--socket", "/before.sock", "--timeout", "7", "user", "clients", "a@example.com"]);
  assert.equal(before.code, 0, before.err);
  assert.deepEqual(before.seen[0]!.transport, { kind: "socket", socketPath: "/before.sock" });
  assert.equal(before.seen[0]!.timeoutSeconds, 7);
  const both = await run(["--socket", "/before.sock", "user", "clients", "a@example.com", "--socket", "/after.sock"]);
  assert.deepEqual(both.seen[0]!.transport, { kind: "socket", socketPath: "/after.sock" });
});

test("--ssh: the socket path is the remote one (never $CAMCTL_SOCKET), routes and ssh_config pass through", async () => {
  const r = await run(["--ssh", "ops@xmpp.example.com:2222", "--ssh-route", "sudo", "--sudo-user", "prosody", "--ssh-config", "/etc/fleet_ssh", "user", "clients", "a@example.com"], { CAMCTL_SOCKET: "/local.sock" });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.seen[0]!.transport, {
    kind: "socket",
    socketPath: "/var/lib/prosody/prosody.sock",
    ssh: { target: { user: "ops", host: "xmpp.example.com", port: 2222 }, route: "sudo", sudoUser: "prosody", extraArgs: ["-F", "/etc/fleet_ssh"] },
  });
});

test("--sudo-user without the sudo route, a bad --ssh target, --parallel 0: usage errors", async () => {
  for (const [argv, sentence] of [
    [["user", "clients", "a@example.com", "--ssh", "h", "--sudo-user", "prosody"], /--sudo-user applies to the sudo route/],
    [["user", "clients", "a@example.com", "--ssh", "-oProxyCommand=x"], /--ssh "-oProxyCommand=x" has a host name that ssh would not accept/],
    [["user", "clients", "a@example.com", "--parallel", "0"], /Invalid value "0" for --parallel/],
    [["--ssh", "h", "config"], /--ssh does not apply to `camctl config list`/],
  ] as const) {
    const r = await run([...argv]);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.err, sentence);
  }
});

test("a context's tls and timeout apply unless typed: commander's defaults do not hide them", async () => {
  const env = config(`[contexts.x]\njid = "me@example.com"\ntls = "direct"\ntimeout = 42\n`);
  const ctx = await run(["user", "clients", "a@example.com", "--context", "x"], env);
  assert.equal(ctx.code, 0, ctx.err);
  assert.equal(ctx.seen[0]!.transport.kind === "xmpp" && ctx.seen[0]!.transport.tls, "direct");
  assert.equal(ctx.seen[0]!.timeoutSeconds, 42);
  assert.deepEqual(ctx.seen[0]!.transport.kind === "xmpp" && ctx.seen[0]!.transport.password, { from: "prompt", contextByName: true }, "a context chosen by name: not $CAMCTL_PASSWORD");
  const typed = await run(["user", "clients", "a@example.com", "--context", "x", "--tls", "starttls", "--timeout", "15"], env);
  assert.equal(typed.seen[0]!.transport.kind === "xmpp" && typed.seen[0]!.transport.tls, "starttls");
  assert.equal(typed.seen[0]!.timeoutSeconds, 15);
});

test("the password: --password-file, else $CAMCTL_PASSWORD (not for a context chosen by name), else the prompt", async () => {
  const password = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = await run(["user", "clients", "a@example.com", ...argv], env);
    assert.equal(r.code, 0, r.err);
    return r.seen[0]!.transport.kind === "xmpp" ? r.seen[0]!.transport.password : undefined;
  };
  assert.deepEqual(await password(["--jid", "me@example.com", "--password-file", "/pw"], { CAMCTL_PASSWORD: "env" }), { from: "file", path: "/pw" });
  assert.deepEqual(await password(["--jid", "me@example.com"], { CAMCTL_PASSWORD: "env" }), { from: "environment", value: "env" });
  assert.deepEqual(await password([], { CAMCTL_JID: "me@example.com", CAMCTL_PASSWORD: "" }), { from: "prompt", contextByName: false });
  const env = config(`[contexts.x]\njid = "me@example.com"\n`);
  assert.deepEqual(await password(["--context", "x"], { ...env, CAMCTL_PASSWORD: "env" }), { from: "prompt", contextByName: true });
  const byDefault = config(`default = "x"\n[contexts.x]\njid = "me@example.com"\n`);
  assert.deepEqual(await password([], { ...byDefault, CAMCTL_PASSWORD: "env" }), { from: "environment", value: "env" }, "the file's default is not a choice by name");
});

test("fan-out: every context prepared once, in order; one that cannot be prepared fails alone", async () => {
  const env = config(`[contexts.a]\nsocket = "/a.sock"\n[contexts.b]\nsocket = "/b.sock"\n[contexts.c]\nsocket = "/c.sock"\n`);
  const r = await run(["user", "clients", "a@example.com", "--all-contexts", "--json"], env, (o) =>
    o.transport.kind === "socket" && o.transport.socketPath === "/b.sock" ? new CamError("forbidden", "b says no.") : undefined);
  assert.equal(r.code, 5);
  assert.deepEqual(r.seen.map((o) => o.transport.kind === "socket" && o.transport.socketPath), ["/a.sock", "/b.sock", "/c.sock"]);
  const doc = JSON.parse(r.out) as { clients: { context: string; userAgent: { software: string } }[]; contexts: { context: string; exitCode: number; message: string | null }[]; exitCode: number };
  assert.deepEqual(doc.clients.map((c) => [c.context, c.userAgent.software]).sort(), [["a", "/a.sock"], ["c", "/c.sock"]]);
  assert.deepEqual(doc.contexts.map((c) => [c.context, c.exitCode, c.message]), [["a", 0, null], ["b", 5, "b says no."], ["c", 0, null]]);
  assert.equal(doc.exitCode, 5);
  assert.equal(r.err, "camctl: 1 of 3 contexts failed (b: b says no); the others' results are complete.\n");
});

test("fan-out table: a Context column, and each context's status on stderr", async () => {
  const env = config(`[contexts.a]\nsocket = "/a.sock"\n[contexts.b]\nsocket = "/b.sock"\n`);
  const r = await run(["--context", "a,b", "user", "clients", "a@example.com"], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out.split("\n")[0]!, /^Context\s+ID\s+/);
  assert.match(r.err, /^camctl: a\s+ok\s+1 record, \d\.\d s\ncamctl: b\s+ok\s+1 record, \d\.\d s\n$/);
});
