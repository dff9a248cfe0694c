// Contexts: the config file (location, parsing, refusals), choosing one, precedence, and
// setting the default safely.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  applyContext, configPath, contextsByNames, loadContextFile, parseContextFile, selectContext, setDefaultContext, withDefault,
  type ContextFile, type SelectedContext,
} from "../../src/config/contexts.js";
import { CamError, exitCodeFor } from "../../src/core/errors.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-contexts-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh config dir with `text` as config.toml (mode 0600 unless given). */
function configFile(text: string, mode = 0o600): { path: string; env: NodeJS.ProcessEnv } {
  const dir = path.join(root, `c${n++}`);
  fs.mkdirSync(path.join(dir, "camctl"), { recursive: true });
  const file = path.join(dir, "camctl", "config.toml");
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
  return { path: file, env: { XDG_CONFIG_HOME: dir, HOME: "/home/op" } };
}

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CamError, String(e));
    assert.equal(exitCodeFor(e), 2, e.message);
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

/** The ssh of SAMPLE's context prod, parsed as the file is loaded. */
const PROD_TARGET = { user: "prosody-admin", host: "xmpp.example.com", port: 2222 };

const SAMPLE = `# camctl contexts
default = "prod"

[contexts.prod]
description = "production"
ssh = "prosody-admin@xmpp.example.com:2222"
socket = "/var/lib/prosody/prosody.sock"
ssh_args = ["-J", "bastion.example.com"]
timeout = 30

[contexts.local]
socket = "/run/prosody/prosody.sock"

[contexts.staging]
jid = "admin@staging.example.com"
password_file = "staging.password"
ca_file = "~/ca/staging.pem"
server = "xmpp.staging.example.com:5222"
`;

describe("where the file is", () => {
  test("$CAMCTL_CONFIG, else $XDG_CONFIG_HOME (only when absolute), else ~/.config", () => {
    assert.equal(configPath({ CAMCTL_CONFIG: "/etc/camctl.toml", XDG_CONFIG_HOME: "/x" }), "/etc/camctl.toml");
    assert.equal(configPath({ XDG_CONFIG_HOME: "/x", HOME: "/home/op" }), "/x/camctl/config.toml");
    assert.equal(configPath({ XDG_CONFIG_HOME: "relative", HOME: "/home/op" }), "/home/op/.config/camctl/config.toml");
    assert.equal(configPath({ HOME: "/home/op" }), "/home/op/.config/camctl/config.toml");
  });
});

describe("reading the file", () => {
  test("ssh_config: an ssh_config file for the context, relative to the config file; only with ssh", async () => {
    const f = await parseContextFile(`[contexts.a]\nssh = "h"\nssh_config = "fleet/ssh_config"\n`, "/etc/camctl/config.toml", {});
    assert.equal(f.contexts[0]!.server.kind === "socket" && f.contexts[0]!.server.sshConfig, "/etc/camctl/fleet/ssh_config");
    await assert.rejects(parseContextFile(`[contexts.a]\nsocket = "/s"\nssh_config = "x"\n`, "/c.toml", {}), /has ssh_route, sudo_user, ssh_args or ssh_config but no ssh/);
  });

  test("a complete file: three kinds of context, paths resolved, the default", async () => {
    const { path: file, env } = configFile(SAMPLE);
    const f = (await loadContextFile(env))!;
    assert.equal(f.path, file);
    assert.equal(f.defaultName, "prod");
    assert.deepEqual(f.contexts.map((c) => c.name), ["prod", "local", "staging"]);
    assert.deepEqual(f.contexts[0], {
      name: "prod", description: "production", timeout: 30,
      server: { kind: "socket", socket: "/var/lib/prosody/prosody.sock", ssh: { written: "prosody-admin@xmpp.example.com:2222", target: PROD_TARGET }, sshRoute: undefined, sudoUser: undefined, sshArgs: ["-J", "bastion.example.com"], sshConfig: undefined, container: undefined, containerEngine: undefined },
    });
    assert.deepEqual(f.contexts[2]!.server, {
      kind: "xmpp", jid: "admin@staging.example.com", server: "xmpp.staging.example.com:5222", tls: undefined,
      passwordFile: path.join(path.dirname(file), "staging.password"), caFile: "/home/op/ca/staging.pem",
    });
  });

  test("no file: no contexts, not an error", async () => {
    assert.equal(await loadContextFile({ XDG_CONFIG_HOME: path.join(root, "nothing-here") }), undefined);
  });

  test("unknown keys are refused, by name", async () => {
    const p = "/c.toml";
    await refused(parseContextFile(`[contexts.a]\nsocket = "/s"\nsokcet = "/t"\nuser = "x"\n`, p, {}), /context "a" has unknown keys "sokcet", "user"; known keys: socket, ssh/);
    await refused(parseContextFile(`defualt = "a"\n`, p, {}), /unknown key "defualt" at the top/);
  });

  test("what cannot be meant is refused with a sentence naming the context", async () => {
    const p = "/c.toml";
    const cases: [string, RegExp][] = [
      [`[contexts.a]\nsocket = "/s"\njid = "a@b.c"\n`, /context "a" mixes an admin socket \(socket\) with an XMPP login \(jid\)/],
      [`[contexts.a]\npassword_file = "/p"\n`, /has password_file but no jid/],
      [`[contexts.a]\ndescription = "x"\n`, /names no server/],
      [`[contexts.a]\nsocket = "relative.sock"\n`, /must be an absolute path/],
      [`[contexts.a]\nssh = "-oProxyCommand=x"\n`, /ssh of context "a"/],
      [`[contexts.a]\nssh = "h"\nsocket = "/a b"\n`, /socket of context "a"/],
      [`[contexts.a]\nsocket = "/s"\nssh_route = "sudo"\n`, /but no ssh =/],
      [`[contexts.a]\nssh = "h"\nssh_route = "telnet"\n`, /ssh_route must be one of forward, exec, sudo/],
      [`[contexts.a]\nssh = "h"\nssh_args = "-J b"\n`, /ssh_args must be a list of strings/],
      [`[contexts.a]\nssh = "h"\nssh_args = ["evilhost"]\n`, /^\/c\.toml: context "a": ssh_args element "evilhost" is not an option/],
      [`[contexts.a]\nssh = "h"\nssh_args = ["-J", "b", "--", "x"]\n`, /context "a": ssh_args element "--" ends ssh's options/],
      [`[contexts.a]\nssh = "h"\nsocket = "/var/lib/prosody/%h.sock"\n`, /socket of context "a" "\/var\/lib\/prosody\/%h\.sock" has a character camctl cannot pass through SSH/],
      [`[contexts.a]\njid = "not a jid"\n`, /jid of context "a"/],
      [`[contexts.a]\njid = "a@b.c"\ntls = "yes"\n`, /tls must be one of starttls, direct, none/],
      [`[contexts.a]\nsocket = "/s"\ntimeout = 0\n`, /timeout must be a number/],
      [`[contexts.a]\nsocket = "/s"\ntimeout = 1e-9\n`, /^\/c\.toml: context "a": timeout must be a number of seconds from 0\.1 to 3600\.$/],
      [`[contexts.a]\nsocket = "/s"\ntimeout = 0.09\n`, /timeout must be a number of seconds from 0\.1 to 3600/],
      [`[contexts.a]\nsocket = "/s"\ntimeout = 3601\n`, /timeout must be a number of seconds from 0\.1 to 3600/],
      [`[contexts."a,b"]\nsocket = "/s"\n`, /context name "a,b" is not allowed/],
      [`[contexts.a]\nsocket = 1979-05-27\n`, /socket must be a non-empty string/],
      [`default = "b"\n[contexts.a]\nsocket = "/s"\n`, /default names "b", which is not one of its contexts \(a\)/],
      [`contexts = 3\n`, /contexts must be tables/],
    ];
    for (const [text, re] of cases) await refused(parseContextFile(text, p, {}), re);
    assert.equal((await parseContextFile(`[contexts.a]\nsocket = "/s"\ntimeout = 0.1\n`, p, {})).contexts[0]!.timeout, 0.1, "the least timeout is allowed");
  });

  test("TOML syntax errors say where, on one line", async () => {
    await refused(parseContextFile(`default = "a"\n[contexts.a]\nsocket = /x\n`, "/c.toml", {}), /^\/c\.toml: line 3, column 10: invalid value \(not valid TOML\)\.$/);
  });

  test("a symbolic link at the file's path is never followed", async () => {
    const { path: real } = configFile(`[contexts.a]\nsocket = "/s"\n`);
    const dir = path.join(root, `c${n++}`, "camctl");
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(real, path.join(dir, "config.toml"));
    await refused(loadContextFile({ XDG_CONFIG_HOME: path.dirname(dir) }), /is a symbolic link/);
  });

  test("a file others may change is refused; one others may read only when it names password files", async () => {
    await refused(loadContextFile(configFile(`[contexts.a]\nsocket = "/s"\n`, 0o620).env), /may be changed by other users \(mode 620\); make it private with chmod 600/);
    await refused(loadContextFile(configFile(`[contexts.a]\nsocket = "/s"\n`, 0o602).env), /may be changed by other users/);
    const readable = `[contexts.a]\njid = "a@b.c"\npassword_file = "/p"\n`;
    await refused(loadContextFile(configFile(readable, 0o640).env), /names password files but other users may read it \(mode 640\)/);
    await refused(loadContextFile(configFile(readable, 0o604).env), /other users may read it/);
    assert.ok(await loadContextFile(configFile(readable, 0o600).env));
    assert.ok(await loadContextFile(configFile(`[contexts.a]\njid = "a@b.c"\n`, 0o644).env), "no password file: readable is fine");
  });

  test("a directory at the file's path is refused", async () => {
    const dir = path.join(root, `c${n++}`);
    fs.mkdirSync(path.join(dir, "camctl", "config.toml"), { recursive: true });
    await refused(loadContextFile({ XDG_CONFIG_HOME: dir }), /is not a regular file/);
  });
});

describe("choosing contexts", () => {
  const file = (): Promise<ContextFile> => parseContextFile(SAMPLE, "/c.toml", {});

  test("--context, else $CAMCTL_CONTEXT, else the default, else none", async () => {
    const f = await file();
    assert.deepEqual(pick(selectContext(f, "local", { CAMCTL_CONTEXT: "staging" })), ["local", "flag"]);
    assert.deepEqual(pick(selectContext(f, undefined, { CAMCTL_CONTEXT: "staging" })), ["staging", "env"]);
    assert.deepEqual(pick(selectContext(f, undefined, {})), ["prod", "default"]);
    assert.equal(selectContext({ ...f, defaultName: undefined }, undefined, {}), undefined);
    assert.equal(selectContext(undefined, undefined, {}), undefined);
  });

  test("a name that does not exist, or a list where one is expected, is a usage error", async () => {
    const f = await file();
    assert.throws(() => selectContext(f, "prdo", {}), /no context "prdo" in \/c\.toml; it has prod, local, staging\./);
    assert.throws(() => selectContext(undefined, "prod", { HOME: "/h" }), /camctl has no config file \(\/h\/\.config\/camctl\/config\.toml\)/);
    assert.throws(() => selectContext(f, "prod,local", {}), /names several contexts; this command works on one/);
  });

  test("lists for fan-out: in the order given, each once; --all-contexts is every context", async () => {
    const f = await file();
    assert.deepEqual(contextsByNames(f, "staging,prod,staging", {}).map((c) => c.name), ["staging", "prod"]);
    assert.deepEqual(contextsByNames(f, { all: true }, {}).map((c) => c.name), ["prod", "local", "staging"]);
    assert.throws(() => contextsByNames(f, "prod,,local", {}), /empty name/);
    assert.throws(() => contextsByNames(f, "prod,nope", {}), /no context "nope"/);
    assert.throws(() => contextsByNames(undefined, { all: true }, { HOME: "/h" }), /there are no contexts/);
  });
});

function pick(s: SelectedContext | undefined): [string, string] | undefined {
  return s ? [s.context.name, s.source] : undefined;
}

describe("precedence: command line > environment > context > defaults", () => {
  const ssh = async (source: SelectedContext["source"] = "default"): Promise<SelectedContext> => ({ context: (await parseContextFile(SAMPLE, "/c.toml", {})).contexts[0]!, source });
  const xmpp = async (source: SelectedContext["source"] = "default"): Promise<SelectedContext> => ({ context: (await parseContextFile(SAMPLE, "/c.toml", {})).contexts[2]!, source });

  test("no context, no environment: nothing is set (the option resolver applies its defaults)", () => {
    assert.deepEqual(applyContext({}, {}, undefined), { passwordFromEnv: true, origin: {}, context: undefined });
  });

  test("the context fills what the command line leaves open; the command line wins field by field", async () => {
    const a = applyContext({ socket: "/other.sock", timeout: 5 }, {}, await ssh());
    assert.deepEqual(a.ssh, PROD_TARGET);
    assert.equal(a.socket, "/other.sock", "--socket names the remote path under an ssh context");
    assert.equal(a.timeout, 5);
    assert.deepEqual(a.sshArgs, ["-J", "bastion.example.com"]);
    assert.deepEqual(a.origin, { ssh: "context prod", socket: "command line", sshArgs: "context prod", timeout: "command line" });
    assert.equal(applyContext({}, {}, await ssh()).timeout, 30);
  });

  test("the environment beats the file's default context, and nothing of that context is mixed in", async () => {
    const a = applyContext({}, { CAMCTL_SOCKET: "/env.sock" }, await ssh("default"));
    assert.equal(a.socket, "/env.sock");
    assert.equal(a.ssh, undefined, "$CAMCTL_SOCKET is a socket on this machine, never the remote path of the ssh context");
    assert.equal(a.sshArgs, undefined);
    assert.equal(a.timeout, 30);
    const b = applyContext({}, { CAMCTL_JID: "me@example.org", CAMCTL_SOCKET: "/env.sock" }, await ssh("default"));
    assert.equal(b.jid, "me@example.org", "$CAMCTL_JID picks XMPP, as without contexts");
    assert.equal(b.ssh, undefined, "the ssh context describes another server: nothing of it is used");
    assert.equal(b.socket, undefined);
    assert.equal(b.timeout, 30, "the timeout is not about which server");
    assert.equal(b.passwordFromEnv, true);
  });

  test("a context chosen explicitly (--context or $CAMCTL_CONTEXT) is not redirected by $CAMCTL_SOCKET/$CAMCTL_JID/$CAMCTL_PASSWORD", async () => {
    for (const source of ["flag", "env"] as const) {
      const a = applyContext({}, { CAMCTL_JID: "me@example.org", CAMCTL_SOCKET: "/env.sock", CAMCTL_PASSWORD: "x" }, await ssh(source));
      assert.deepEqual(a.ssh, PROD_TARGET);
      assert.equal(a.socket, "/var/lib/prosody/prosody.sock");
      assert.equal(a.jid, undefined);
      assert.equal(a.passwordFromEnv, false);
      const b = applyContext({}, { CAMCTL_JID: "me@example.org" }, await xmpp(source));
      assert.equal(b.jid, "admin@staging.example.com");
    }
  });

  test("a transport named on the command line replaces the context's transport", async () => {
    const a = applyContext({ jid: "ops@example.net" }, {}, await ssh("flag"));
    assert.equal(a.jid, "ops@example.net");
    assert.equal(a.ssh, undefined);
    assert.equal(a.socket, undefined);
    const b = applyContext({ socket: "/local.sock" }, {}, await xmpp("flag"));
    assert.equal(b.socket, "/local.sock");
    assert.equal(b.jid, undefined);
    assert.equal(b.passwordFile, undefined, "the XMPP context's password file is not carried over");
  });

  test("--ssh on the command line names another server: the context's ssh settings are not used for it", async () => {
    const other = { user: "ops", host: "other.example.net", port: undefined };
    const a = applyContext({ ssh: other }, {}, await ssh("flag"));
    assert.deepEqual(a.ssh, other);
    assert.equal(a.sshArgs, undefined);
    assert.equal(a.socket, undefined);
    const b = applyContext({ ssh: other }, { CAMCTL_SOCKET: "/env.sock" }, undefined);
    assert.equal(b.socket, undefined, "$CAMCTL_SOCKET is a local path, not the remote one");
    const c = applyContext({ socket: "/mine.sock" }, { CAMCTL_SOCKET: "/env.sock" }, await ssh("default"));
    assert.deepEqual([c.socket, c.ssh], ["/mine.sock", undefined], "--socket over $CAMCTL_SOCKET: the local socket");
  });

  test("options for the other transport typed on the command line are kept, for the resolver to refuse", async () => {
    const a = applyContext({ server: "xmpp.example.com" }, {}, await ssh());
    assert.equal(a.server, "xmpp.example.com");
    assert.equal(a.origin.server, "command line");
  });

  test("XMPP context: the command line overrides single fields, the rest stays", async () => {
    const a = applyContext({ server: "127.0.0.1:5222", tls: "none" }, {}, await xmpp());
    assert.equal(a.jid, "admin@staging.example.com");
    assert.equal(a.server, "127.0.0.1:5222");
    assert.equal(a.tls, "none");
    assert.match(a.passwordFile!, /staging\.password$/);
  });
});

describe("camctl config use: setting the default", () => {
  test("replaces the default line and keeps comments and layout", async () => {
    assert.equal(await withDefault(SAMPLE, "local"), SAMPLE.replace('default = "prod"', 'default = "local"'));
    const noDefault = "# mine\n[contexts.a]\nsocket = \"/s\"\n";
    assert.equal(await withDefault(noDefault, "a"), `default = "a"\n${noDefault}`);
    assert.equal(await withDefault('[contexts.a]\ndefault = "x"\n', "a"), 'default = "a"\n[contexts.a]\ndefault = "x"\n', "only the top level counts");
  });

  test("a look-alike inside another value is never touched; what cannot be rewritten exactly is not rewritten", async () => {
    const lookAlike = `contexts.a.description = """\ndefault = "b"\n"""\ncontexts.a.socket = "/s"\ndefault = '''\na'''\n`;
    assert.equal(await withDefault(lookAlike, "a"), lookAlike.replace(`default = '''\na'''`, 'default = "a"'));
    assert.equal(await withDefault(`default = "a" "b"\n`, "a"), undefined, "not TOML: nothing to keep exactly");
  });

  test("rewrites the file through a temporary file: 0600, same comments, no leftovers", async () => {
    const { path: file, env } = configFile(SAMPLE, 0o644);
    const f = await setDefaultContext(env, "staging");
    assert.equal(f.defaultName, "staging");
    assert.equal(fs.readFileSync(file, "utf8"), SAMPLE.replace('default = "prod"', 'default = "staging"'));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ["config.toml"]);
  });

  test("an unknown name changes nothing", async () => {
    const { path: file, env } = configFile(SAMPLE);
    await refused(setDefaultContext(env, "nope"), /no context "nope"/);
    assert.equal(fs.readFileSync(file, "utf8"), SAMPLE);
  });

  test("a planted symbolic link is neither followed nor written through", async () => {
    const target = path.join(root, `victim${n++}.toml`);
    fs.writeFileSync(target, SAMPLE);
    const dir = path.join(root, `c${n++}`);
    fs.mkdirSync(path.join(dir, "camctl"), { recursive: true });
    fs.symlinkSync(target, path.join(dir, "camctl", "config.toml"));
    await refused(setDefaultContext({ XDG_CONFIG_HOME: dir }, "local"), /is a symbolic link/);
    assert.equal(fs.readFileSync(target, "utf8"), SAMPLE);
  });
});
