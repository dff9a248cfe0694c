// `camctl config …` on a program of its own (the command module is registered the way cli.ts
// registers every command), with a fake terminal and a config directory in a temp dir.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { Command } from "commander";
import * as config from "../../src/cli/config.js";
import { CamError, exitCodeFor } from "../../src/core/errors.js";
import type { IOStreams } from "../../src/term/iostreams.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-config-cmd-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

const FILE = `default = "prod"

[contexts.prod]
description = "production \\u001b[31m(red)"
ssh = "prosody-admin@xmpp.example.com"

[contexts.local]
socket = "/run/prosody/prosody.sock"

[contexts.staging]
jid = "admin@staging.example.com"
password_file = "/etc/camctl/staging.pw"
server = "127.0.0.1:5222"
tls = "none"
`;

function home(text?: string): NodeJS.ProcessEnv {
  const dir = path.join(root, `h${n++}`);
  fs.mkdirSync(path.join(dir, "camctl"), { recursive: true });
  if (text !== undefined) fs.writeFileSync(path.join(dir, "camctl", "config.toml"), text, { mode: 0o600 });
  return { XDG_CONFIG_HOME: dir };
}

async function camctl(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const io: IOStreams = { stdin: new PassThrough(), stdout, stderr, stdinIsTTY: false, stdoutIsTTY: false, color: false, width: undefined, now: () => new Date(), env };
  const program = new Command("camctl").exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  config.register(program, { io, defaultSocket: "/var/lib/prosody/prosody.sock", prepareSource: async () => assert.fail("no server"), confirm: async () => false, ask: async () => undefined });
  try {
    await program.parseAsync(args, { from: "user" });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CamError) return { code: exitCodeFor(e), out, err: err + e.message };
    throw e;
  }
}

test("`config` lists the contexts, marks the one in effect, and shows untrusted text safely", async () => {
  const r = await camctl(["config"], home(FILE));
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, [
    "CURRENT  NAME     TRANSPORT  SERVER                                                        DESCRIPTION",
    "*        prod     ssh        prosody-admin@xmpp.example.com:/var/lib/prosody/prosody.sock  production \\x1b[31m(red)",
    "         local    socket     /run/prosody/prosody.sock",
    "         staging  xmpp       admin@staging.example.com via 127.0.0.1:5222 (tls none)",
    "",
  ].join("\n"));
});

test("`config list --json`: every context, no secrets (there are none: only the password file's path)", async () => {
  const env = { ...home(FILE), CAMCTL_CONTEXT: "local" };
  const r = await camctl(["config", "list", "--json"], env);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { default: string; current: string; contexts: Record<string, unknown>[] };
  assert.equal(doc.default, "prod");
  assert.equal(doc.current, "local");
  assert.deepEqual(doc.contexts.map((c) => [c.name, c.transport, c.current, c.default]), [["prod", "ssh", false, true], ["local", "socket", true, false], ["staging", "xmpp", false, false]]);
  assert.deepEqual(doc.contexts[0], {
    name: "prod", default: true, current: false, transport: "ssh", description: "production \u001b[31m(red)", timeout: null,
    socket: "/var/lib/prosody/prosody.sock", ssh: "prosody-admin@xmpp.example.com", sshRoute: "forward", sudoUser: null, sshArgs: [], container: null, containerEngine: null,
  });
  assert.doesNotMatch(r.out, /\u001b/, "JSON escapes control characters");
  assert.equal(doc.contexts[2]!.passwordFile, "/etc/camctl/staging.pw");
});

test("no config file: an empty list that says where the file would be", async () => {
  const env = home();
  const r = await camctl(["config"], env);
  assert.equal(r.code, 0);
  assert.match(r.out, /^No contexts: .*camctl\/config\.toml does not exist\./);
  const j = await camctl(["config", "--json"], env);
  assert.deepEqual(JSON.parse(j.out).contexts, []);
});

test("`config current`: --context, then $CAMCTL_CONTEXT, then the default", async () => {
  const env = home(FILE);
  assert.equal((await camctl(["config", "current"], env)).out, "prod\n");
  assert.equal((await camctl(["config", "current"], { ...env, CAMCTL_CONTEXT: "staging" })).out, "staging\n");
  assert.equal((await camctl(["config", "current", "--context", "local"], { ...env, CAMCTL_CONTEXT: "staging" })).out, "local\n");
  const j = JSON.parse((await camctl(["config", "current", "--json"], { ...env, CAMCTL_CONTEXT: "staging" })).out);
  assert.equal(j.current, "staging");
  assert.equal(j.source, "CAMCTL_CONTEXT");
  assert.equal(j.context.jid, "admin@staging.example.com");
  const none = await camctl(["config", "current"], home(FILE.replace('default = "prod"\n', "")));
  assert.equal(none.code, 0);
  assert.equal(none.out, "");
  assert.match(none.err, /no context is in effect/);
  const bad = await camctl(["config", "current", "--context", "nope"], env);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /no context "nope"/);
});

test("`config use` sets the default; an unknown name is a usage error and changes nothing", async () => {
  const env = home(FILE);
  const r = await camctl(["config", "use", "staging"], env);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^The default context is now staging \(/);
  assert.equal((await camctl(["config", "current"], env)).out, "staging\n");
  const bad = await camctl(["config", "use", "nope"], env);
  assert.equal(bad.code, 2);
  assert.equal((await camctl(["config", "current"], env)).out, "staging\n");
});

test("`config use` over a default written as any TOML string (multi-line too): set, and the rest of the file byte for byte", async () => {
  const rest = FILE.slice(FILE.indexOf("\n"));
  const tail = `\n# the end\n[contexts.odd]\nsocket = "/s" # default = 'local'\n`;
  for (const old of [`default = '''\nprod'''`, `default = '''prod''' # usual`, `default = """\nprod"""`, `default = 'prod'`, `"default"="prod"`, `default = "pr\\u006fd"`]) {
    const env = home(old + rest + tail);
    const file = path.join(env.XDG_CONFIG_HOME!, "camctl", "config.toml");
    const r = await camctl(["config", "use", "local"], env);
    assert.equal(r.code, 0, `${old}: ${r.err}`);
    const comment = old.endsWith(" # usual") ? " # usual" : "";
    assert.equal(fs.readFileSync(file, "utf8"), `default = "local"${comment}` + rest + tail, old);
    assert.equal((await camctl(["config", "current"], env)).out, "local\n");
  }
});

test("a broken file is refused with exit 2 by every subcommand", async () => {
  const env = home(FILE + "\n[contexts.x]\nsokcet = \"/s\"\n");
  for (const args of [["config"], ["config", "current"], ["config", "use", "prod"]]) {
    const r = await camctl(args, env);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, /unknown key "sokcet"/);
  }
});

test("`config path` prints where the file is looked for", async () => {
  assert.equal((await camctl(["config", "path"], { CAMCTL_CONFIG: "/etc/camctl.toml" })).out, "/etc/camctl.toml\n");
});
