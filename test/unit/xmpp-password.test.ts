// Where the XMPP password comes from, and that it never shows up in a message.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { readPassword, readPasswordFile } from "../../src/transports/xmpp/password.js";
import { prepareXmppSource } from "../../src/transports/xmpp/open.js";
import { CamState } from "../../src/transports/xmpp/state.js";
import { CamError, exitCodeFor } from "../../src/core/errors.js";
import type { IOStreams } from "../../src/term/iostreams.js";
import type { PasswordSpec, ServerSpec, XmppTransport } from "../../src/transports/types.js";
import { fakeIO } from "../helpers/fake-io.js";

const io = (o: { env?: NodeJS.ProcessEnv; tty?: boolean } = {}): IOStreams => fakeIO({ env: o.env, stdinIsTTY: o.tty }).io;

/** readPassword's account and source: the file when given, else the prompt. */
const src = (passwordFile?: string): [string, PasswordSpec] =>
  ["alice@example.com", passwordFile === undefined ? { from: "prompt", contextByName: false } : { from: "file", path: passwordFile }];
const spec = (t: XmppTransport, timeoutSeconds = 15): ServerSpec<XmppTransport> => ({ transport: t, timeoutSeconds });
const noPrompt = async () => assert.fail("must not prompt");

test("--password-file: the password alone, one trailing newline stripped", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-pw-"));
  try {
    const f = path.join(dir, "pw");
    fs.writeFileSync(f, "s3cret pass\n", { mode: 0o600 });
    assert.equal(await readPassword(...src(f), io(), noPrompt), "s3cret pass");
    fs.writeFileSync(f, "crlf\r\n");
    assert.equal(await readPassword(...src(f), io(), noPrompt), "crlf");
    fs.writeFileSync(f, "hunter2\nsecond\n");
    await assert.rejects(readPassword(...src(f), io(), noPrompt), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && !/hunter2|second/.test(e.message));
    fs.writeFileSync(f, "\n");
    await assert.rejects(readPassword(...src(f), io(), noPrompt), /empty/);
    await assert.rejects(readPassword(...src(path.join(dir, "missing")), io(), noPrompt), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && /does not exist/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("CAMCTL_PASSWORD, when the spec says so (selection.test.ts: when there is no file), checked like a file's", async () => {
  assert.equal(await readPassword("alice@example.com", { from: "environment", value: "pässwörd" }, io(), noPrompt), "pässwörd");
  await assert.rejects(readPassword("alice@example.com", { from: "environment", value: "a\nb" }, io(), noPrompt), /The password from CAMCTL_PASSWORD has more than one line/);
});

test("a terminal gets a prompt (on stderr), anything else a usage error that says how to pass it", async () => {
  let asked = "";
  const prompt = async (message: string) => {
    asked = message;
    return "typed";
  };
  assert.equal(await readPassword(...src(), io({ tty: true }), prompt), "typed");
  assert.match(asked, /alice@example\.com/);
  await assert.rejects(readPassword(...src(), io({ tty: false }), noPrompt), (e: unknown) => {
    assert.ok(e instanceof CamError);
    assert.equal(exitCodeFor(e), 2);
    assert.match(e.message, /--password-file/);
    assert.match(e.message, /CAMCTL_PASSWORD/);
    return true;
  });
  const cancelled = async () => {
    throw new Error("User force closed the prompt");
  };
  await assert.rejects(readPassword(...src(), io({ tty: true }), cancelled), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2);
});

test("a FIFO as --password-file is refused before it is opened for reading (no hang)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-pw-"));
  try {
    const fifo = path.join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    await assert.rejects(readPassword(...src(fifo), io(), noPrompt), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && /FIFO or pipe, not a regular file/.test(e.message));
    await assert.rejects(readPassword(...src("/dev/null"), io(), noPrompt), (e: unknown) => e instanceof CamError && /a device, not a regular file/.test(e.message));
    await assert.rejects(readPassword(...src(dir), io(), noPrompt), (e: unknown) => e instanceof CamError && /is a directory/.test(e.message));
    const link = path.join(dir, "link");
    fs.writeFileSync(path.join(dir, "pw"), "via-link\n", { mode: 0o600 });
    fs.symlinkSync(path.join(dir, "pw"), link);
    assert.equal(await readPassword(...src(link), io(), noPrompt), "via-link", "a link to a regular file is fine");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a password file must be private: others may not read or change it, it is yours, not another user's link (2, chmod 600)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-pw-"));
  const isRoot = process.getuid?.() === 0;
  const refused = (re: RegExp) => (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && re.test(e.message) && !e.message.includes("s3cret");
  try {
    const f = path.join(dir, "pw");
    fs.writeFileSync(f, "s3cret\n", { mode: 0o600 });
    for (const [mode, what] of [[0o644, "read it \\(mode 644\\)"], [0o640, "read it \\(mode 640\\)"], [0o604, "read it \\(mode 604\\)"], [0o620, "change it \\(mode 620\\)"]] as const) {
      fs.chmodSync(f, mode);
      const re = new RegExp(`^Cannot use --password-file \\S+: other users may ${what}; make it private with chmod 600\\.$`);
      await assert.rejects(readPassword(...src(f), io(), noPrompt), refused(re));
      await assert.rejects(readPasswordFile(f, "--new-password-file"), refused(/^Cannot use --new-password-file \S+: other users may .*chmod 600\.$/));
    }
    fs.chmodSync(f, 0o400);
    assert.equal(await readPassword(...src(f), io(), noPrompt), "s3cret", "owner-only is fine, read-only too");
    fs.chmodSync(f, 0o600);
    const mine = path.join(dir, "my-link");
    fs.symlinkSync(f, mine);
    assert.equal(await readPasswordFile(mine, "--new-password-file"), "s3cret", "your own link to your own private file is fine");
    if (isRoot) {
      // As root the test can make files of another user (uid 65534, nobody).
      const theirs = path.join(dir, "their-link");
      fs.symlinkSync(f, theirs);
      fs.lchownSync(theirs, 65534, 65534);
      await assert.rejects(readPassword(...src(theirs), io(), noPrompt), refused(/symbolic link that belongs to another user/));
      fs.chownSync(f, 65534, 65534);
      await assert.rejects(readPasswordFile(f, "--new-password-file"), refused(/belongs to another user; use a file of your own that only you can read \(chmod 600\)\.$/));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the password reaches the login through the prepared source: asked once, however often it is opened", async () => {
  let asked = 0;
  const prompt = async () => {
    asked++;
    return "typed-once";
  };
  const logins: string[] = [];
  const fakeLogin = (async (o: { password: string }) => {
    logins.push(o.password);
    return { close: async () => undefined } as never;
  }) as never;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-prep-"));
  try {
    const t = { kind: "xmpp" as const, loginJid: "once@example.com", password: { from: "prompt" as const, contextByName: false }, server: undefined, tls: "starttls" as const, caFile: undefined };
    const checked: string[] = [];
    const checkServer = async (o: { jid: string }) => void checked.push(o.jid);
    const prepared = await prepareXmppSource(spec(t), io({ tty: true }), { prompt, login: fakeLogin, checkServer, state: new CamState(path.join(dir, "camctl")) });
    assert.deepEqual(checked, ["once@example.com"], "the server was checked before the prompt");
    assert.equal(asked, 1, "asked while preparing, before any clock");
    assert.equal(prepared.where, "the XMPP server for example.com");
    for (let i = 0; i < 2; i++) await (await prepared.open(new AbortController().signal)).close();
    assert.equal(asked, 1, "not asked again");
    assert.deepEqual(logins, ["typed-once", "typed-once"]);
    await prepareXmppSource(spec({ ...t, loginJid: "other@example.com" }), io({ tty: true }), { prompt, login: fakeLogin, checkServer, state: new CamState(path.join(dir, "camctl")) });
    assert.equal(asked, 2, "another preparation asks again: nothing is kept behind the prepared source's back");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a server refused by the check before the prompt: nobody is asked; a password file or CAMCTL_PASSWORD needs no check", async () => {
  const t = { kind: "xmpp" as const, loginJid: "a@example.com", password: { from: "prompt" as const, contextByName: false }, server: undefined, tls: "starttls" as const, caFile: undefined };
  const untrusted = new CamError("unreachable", "The TLS certificate of example.com:5222 is not trusted.");
  const refuse = async () => {
    throw untrusted;
  };
  await assert.rejects(prepareXmppSource(spec(t), io({ tty: true }), { prompt: noPrompt, checkServer: refuse }), (e: unknown) => e === untrusted);
  const p = await prepareXmppSource(spec({ ...t, password: { from: "environment", value: "from-env" } }), io(), { prompt: noPrompt, checkServer: refuse });
  assert.equal(p.where, "the XMPP server for example.com", "no prompt, so no check: the login checks the server anyway");
  // A server that never answers: the check ends at --timeout, before the prompt.
  const silent = (_o: unknown, signal: AbortSignal) => new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
  await assert.rejects(
    prepareXmppSource(spec(t, 0.1), io({ tty: true }), { prompt: noPrompt, checkServer: silent }),
    (e: unknown) => e instanceof CamError && exitCodeFor(e) === 3 && /No answer from the XMPP server for example\.com within 0\.1 s/.test(e.message),
  );
});

test("--tls none to an address that is not loopback is refused before the password is asked", async () => {
  const prompt = async () => assert.fail("must not prompt");
  const t = { kind: "xmpp" as const, loginJid: "a@example.com", password: { from: "prompt" as const, contextByName: false }, server: { host: "192.0.2.1", port: 5222 }, tls: "none" as const, caFile: undefined };
  await assert.rejects(prepareXmppSource(spec(t), io({ tty: true }), { prompt }), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && /loopback/.test(e.message));
});

test("the docs (docs/xmpp.md) and man page describe the password file as the code reads it: the password alone, on one line", () => {
  const file = (name: string) => fs.readFileSync(new URL(`../../../${name}`, import.meta.url), "utf8");
  for (const [name, text] of [["docs/xmpp.md", file("docs/xmpp.md")], ["camctl.1", file("man/camctl.1")]] as const) {
    assert.doesNotMatch(text, /first line/, `${name} must not promise the first line: a file with more lines is refused`);
    assert.match(text.replace(/\s+/g, " "), /only the password, on one line/, name);
  }
  for (const name of ["README.md", ...fs.readdirSync(new URL("../../../docs/", import.meta.url)).map((n) => `docs/${n}`)]) {
    assert.doesNotMatch(file(name), /first line/, `${name} must not promise the first line: a file with more lines is refused`);
  }
});
