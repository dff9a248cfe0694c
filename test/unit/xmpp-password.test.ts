// Where the XMPP password comes from, and that it never shows up in a message.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { readPassword } from "../../src/xmpp/password.js";
import { CamError, exitCodeFor } from "../../src/errors.js";
import type { IOStreams } from "../../src/iostreams.js";

function io(o: { env?: NodeJS.ProcessEnv; tty?: boolean } = {}): IOStreams {
  return {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    stdinIsTTY: o.tty ?? false,
    stdoutIsTTY: false,
    color: false,
    width: undefined,
    now: () => new Date(),
    env: o.env ?? {},
  };
}

const src = (passwordFile?: string) => ({ loginJid: "alice@example.com", passwordFile });
const noPrompt = async () => assert.fail("must not prompt");

test("--password-file: first line, one trailing newline stripped, wins over CAMCTL_PASSWORD", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-pw-"));
  try {
    const f = path.join(dir, "pw");
    fs.writeFileSync(f, "s3cret pass\n", { mode: 0o600 });
    assert.equal(await readPassword(src(f), io({ env: { CAMCTL_PASSWORD: "other" } }), noPrompt), "s3cret pass");
    fs.writeFileSync(f, "crlf\r\n");
    assert.equal(await readPassword(src(f), io(), noPrompt), "crlf");
    fs.writeFileSync(f, "hunter2\nsecond\n");
    await assert.rejects(readPassword(src(f), io(), noPrompt), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && !/hunter2|second/.test(e.message));
    fs.writeFileSync(f, "\n");
    await assert.rejects(readPassword(src(f), io(), noPrompt), /empty/);
    await assert.rejects(readPassword(src(path.join(dir, "missing")), io(), noPrompt), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && /does not exist/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("CAMCTL_PASSWORD is used when there is no file", async () => {
  assert.equal(await readPassword(src(), io({ env: { CAMCTL_PASSWORD: "pässwörd" } }), noPrompt), "pässwörd");
});

test("a terminal gets a prompt (on stderr), anything else a usage error that says how to pass it", async () => {
  let asked = "";
  const prompt = async (message: string) => {
    asked = message;
    return "typed";
  };
  assert.equal(await readPassword(src(), io({ tty: true }), prompt), "typed");
  assert.match(asked, /alice@example\.com/);
  await assert.rejects(readPassword(src(), io({ tty: false }), noPrompt), (e: unknown) => {
    assert.ok(e instanceof CamError);
    assert.equal(exitCodeFor(e), 2);
    assert.match(e.message, /--password-file/);
    assert.match(e.message, /CAMCTL_PASSWORD/);
    return true;
  });
  const cancelled = async () => {
    throw new Error("User force closed the prompt");
  };
  await assert.rejects(readPassword(src(), io({ tty: true }), cancelled), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2);
});

test("a typed password is asked once per process and login JID (revoke on a terminal logs in twice)", async () => {
  const { primePassword } = await import("../../src/xmpp/open.js");
  let asked = 0;
  const prompt = async () => {
    asked++;
    return "typed-once";
  };
  const t = { kind: "xmpp" as const, loginJid: "once@example.com", passwordFile: undefined, server: undefined, tls: "starttls" as const, caFile: undefined };
  await primePassword(t, io({ tty: true }), prompt);
  await primePassword(t, io({ tty: true }), prompt);
  assert.equal(asked, 1);
  await primePassword({ ...t, loginJid: "other@example.com" }, io({ tty: true }), prompt);
  assert.equal(asked, 2);
});
