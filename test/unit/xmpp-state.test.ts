// What camctl keeps between runs: the stable SASL2 user-agent id and the namespace memory, and
// that the state directory is never a way to make camctl chmod, write or wait on something else.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CamState, SERVERS_FILE, USER_AGENT_ID_FILE, derivedUuid } from "../../src/transports/xmpp/state.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const mode = (p: string) => fs.lstatSync(p).mode & 0o777;
const never = () => new AbortController().signal;
const asRoot = process.getuid?.() === 0;

async function withTemp(fn: (base: string) => Promise<void>): Promise<void> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-state-"));
  try {
    await fn(base);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

async function loaded(dir: string): Promise<CamState> {
  const s = new CamState(dir);
  await s.load(never());
  return s;
}

/** A victim directory and file that a planted link points at; `unchanged()` checks nothing touched them. */
function victim(base: string) {
  const dir = path.join(base, "victim");
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, "precious");
  fs.writeFileSync(file, "keep me\n", { mode: 0o644 });
  fs.chmodSync(file, 0o644);
  return {
    dir,
    file,
    unchanged() {
      assert.equal(mode(dir), 0o755, "the victim directory was not chmodded");
      assert.equal(mode(file), 0o644, "the victim file was not chmodded");
      assert.equal(fs.readFileSync(file, "utf8"), "keep me\n", "the victim file was not written");
      assert.deepEqual(fs.readdirSync(dir), ["precious"], "nothing was written into the victim directory");
    },
  };
}

test("the user-agent id is a UUID v4 made once and kept: file 0600, directory 0700, missing parents made", () =>
  withTemp(async (base) => {
    const dir = path.join(base, "state", "deeper", "camctl");
    const first = (await loaded(dir)).userAgentId();
    assert.match(first, UUID_V4);
    for (let i = 0; i < 5; i++) assert.equal((await loaded(dir)).userAgentId(), first);
    assert.equal(mode(path.join(dir, USER_AGENT_ID_FILE)), 0o600);
    assert.equal(mode(dir), 0o700);
    assert.deepEqual(fs.readdirSync(dir), [USER_AGENT_ID_FILE], "no temp files left behind");
  }));

test("loose permissions on our own files are tightened; damaged content is replaced", () =>
  withTemp(async (dir) => {
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, USER_AGENT_ID_FILE), "not a uuid\n", { mode: 0o644 });
    const s = await loaded(dir);
    const id = s.userAgentId();
    assert.match(id, UUID_V4);
    assert.equal(s.takeWarning(), undefined);
    assert.equal(mode(path.join(dir, USER_AGENT_ID_FILE)), 0o600);
    assert.equal(mode(dir), 0o700);
    assert.equal((await loaded(dir)).userAgentId(), id);
  }));

test("load happens once per state (a second open reuses it) and hands out its warning once", () =>
  withTemp(async (base) => {
    const file = path.join(base, "file");
    fs.writeFileSync(file, "x");
    const s = new CamState(path.join(file, "camctl"));
    await s.load(never());
    await s.load(never());
    assert.match(s.takeWarning() ?? "", /XDG_STATE_HOME/);
    assert.equal(s.takeWarning(), undefined, "warned once");
  }));

test("an unwritable state directory still gives a stable id, with a warning", { skip: asRoot ? "root can write anywhere" : false }, () =>
  withTemp(async (base) => {
    fs.chmodSync(base, 0o500);
    try {
      const a = await loaded(path.join(base, "camctl"));
      const id = a.userAgentId();
      assert.match(id, UUID_V4);
      assert.match(a.takeWarning() ?? "", /EACCES/);
      assert.equal((await loaded(path.join(base, "camctl"))).userAgentId(), id);
    } finally {
      fs.chmodSync(base, 0o700);
    }
  }));

test("a state path that cannot be a directory still gives a stable id, with a warning", () =>
  withTemp(async (base) => {
    const file = path.join(base, "file");
    fs.writeFileSync(file, "x");
    const a = await loaded(path.join(file, "camctl"));
    assert.match(a.userAgentId(), UUID_V4);
    assert.match(a.takeWarning() ?? "", /XDG_STATE_HOME/);
    assert.equal((await loaded(path.join(file, "camctl"))).userAgentId(), a.userAgentId());
  }));

test("a state directory below /proc: a warning at once, no endless retrying", async () => {
  const started = Date.now();
  const s = await loaded("/proc/camctl-no-such/camctl");
  assert.match(s.userAgentId(), UUID_V4);
  assert.match(s.takeWarning() ?? "", /cannot be used/);
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
});

test("the state directory as a link to another directory: refused, the target neither chmodded nor written", () =>
  withTemp(async (base) => {
    const v = victim(base);
    const dir = path.join(base, "camctl");
    fs.symlinkSync(v.dir, dir);
    const s = await loaded(dir);
    assert.match(s.userAgentId(), UUID_V4);
    assert.match(s.takeWarning() ?? "", /is a symbolic link/);
    s.rememberNamespace("example.com", "urn:xmpp:cam:0");
    await s.flush(never());
    v.unchanged();
    assert.equal(s.rememberedNamespace("example.com"), "urn:xmpp:cam:0", "remembered for this run only");
  }));

test("user-agent-id or servers.json as links: refused, the targets neither chmodded nor written", () =>
  withTemp(async (base) => {
    const v = victim(base);
    const idDir = path.join(base, "a");
    fs.mkdirSync(idDir, { mode: 0o700 });
    fs.symlinkSync(v.file, path.join(idDir, USER_AGENT_ID_FILE));
    const a = await loaded(idDir);
    assert.match(a.takeWarning() ?? "", /user-agent-id is a symbolic link/);
    assert.equal(a.userAgentId(), (await loaded(idDir)).userAgentId(), "the derived id is stable");

    const serversDir = path.join(base, "b");
    fs.mkdirSync(serversDir, { mode: 0o700 });
    const kept = (await loaded(serversDir)).userAgentId();
    fs.symlinkSync(v.file, path.join(serversDir, SERVERS_FILE));
    const b = await loaded(serversDir);
    assert.match(b.takeWarning() ?? "", /servers\.json is a symbolic link/);
    assert.equal(b.userAgentId(), kept, "the id already read is still used");
    b.rememberNamespace("example.com", "urn:xmpp:cam:0");
    await b.flush(never());
    assert.ok(fs.lstatSync(path.join(serversDir, SERVERS_FILE)).isSymbolicLink(), "nothing is written after a refusal");
    v.unchanged();
  }));

test("a link planted after loading is replaced by the write, never followed", () =>
  withTemp(async (base) => {
    const v = victim(base);
    const dir = path.join(base, "camctl");
    const s = await loaded(dir);
    fs.symlinkSync(v.file, path.join(dir, SERVERS_FILE));
    s.rememberNamespace("example.com", "urn:xmpp:cam:0");
    await s.flush(never());
    assert.ok(fs.lstatSync(path.join(dir, SERVERS_FILE)).isFile());
    assert.equal((await loaded(dir)).rememberedNamespace("example.com"), "urn:xmpp:cam:0");
    v.unchanged();
  }));

test("a FIFO in the state directory is refused without waiting on it", () =>
  withTemp(async (base) => {
    for (const [where, name] of [["id", USER_AGENT_ID_FILE], ["servers", SERVERS_FILE], ["dir", ""]] as const) {
      const dir = path.join(base, where);
      fs.mkdirSync(dir, { mode: 0o700 });
      execFileSync("mkfifo", [name === "" ? path.join(dir, "camctl") : path.join(dir, name)]);
      const started = Date.now();
      const s = await loaded(name === "" ? path.join(dir, "camctl") : dir);
      assert.match(s.takeWarning() ?? "", /not a regular file|not a directory/, where);
      assert.ok(Date.now() - started < 2000, `${where}: took ${Date.now() - started} ms`);
    }
  }));

test("a state directory owned by another user is refused", { skip: asRoot ? false : "only root can give a directory to another user" }, () =>
  withTemp(async (base) => {
    const dir = path.join(base, "camctl");
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chownSync(dir, 65534, 65534);
    const s = await loaded(dir);
    assert.match(s.takeWarning() ?? "", /belongs to another user \(uid 65534\)/);
    assert.equal(mode(dir), 0o755, "not chmodded");
    assert.deepEqual(fs.readdirSync(dir), [], "nothing written");
  }));

test("a state directory whose parent another user (or everyone) may change is refused", { skip: asRoot ? false : "only root can give a directory to another user" }, () =>
  withTemp(async (base) => {
    const theirs = path.join(base, "theirs");
    fs.mkdirSync(theirs, { mode: 0o755 });
    fs.chownSync(theirs, 65534, 65534);
    const s = await loaded(path.join(theirs, "camctl"));
    assert.match(s.takeWarning() ?? "", /its parent .*theirs belongs to another user \(uid 65534\)/);
    assert.deepEqual(fs.readdirSync(theirs), [], "nothing made there");
    const open = path.join(base, "open");
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    assert.match((await loaded(path.join(open, "camctl"))).takeWarning() ?? "", /anyone may rename things in its parent/);
    fs.chmodSync(open, 0o1777);
    assert.equal((await loaded(path.join(open, "camctl"))).takeWarning(), undefined, "a sticky one like /tmp is fine");
  }));

test("loading obeys the signal: an aborted load rejects with its reason", () =>
  withTemp(async (base) => {
    const controller = new AbortController();
    const reason = new Error("deadline");
    controller.abort(reason);
    await assert.rejects(new CamState(path.join(base, "camctl")).load(controller.signal), (e: unknown) => e === reason);
  }));

test("derived ids are UUID v4-shaped and depend on the seed", () => {
  assert.match(derivedUuid("a"), UUID_V4);
  assert.equal(derivedUuid("a"), derivedUuid("a"));
  assert.notEqual(derivedUuid("a"), derivedUuid("b"));
});

test("the namespace that answered is remembered per server host, written only on change, 0600", () =>
  withTemp(async (dir) => {
    const s = await loaded(dir);
    assert.equal(s.rememberedNamespace("example.com"), undefined);
    s.rememberNamespace("Example.com", "urn:xmpp:cam:0");
    await s.flush(never());
    const file = path.join(dir, SERVERS_FILE);
    assert.equal(mode(file), 0o600);
    assert.equal((await loaded(dir)).rememberedNamespace("example.com"), "urn:xmpp:cam:0");
    assert.equal(s.rememberedNamespace("other.example"), undefined);
    fs.utimesSync(file, new Date(0), new Date(0));
    s.rememberNamespace("example.com", "urn:xmpp:cam:0");
    await s.flush(never());
    assert.equal(fs.statSync(file).mtimeMs, 0, "unchanged value is not rewritten");
    fs.writeFileSync(file, "{ damaged");
    assert.equal((await loaded(dir)).rememberedNamespace("example.com"), undefined, "a damaged file costs only a round trip");
    const again = await loaded(dir);
    again.rememberNamespace("example.com", "xmpp:prosody.im/protocol/manage-clients");
    await again.flush(never());
    assert.equal((await loaded(dir)).rememberedNamespace("example.com"), "xmpp:prosody.im/protocol/manage-clients");
  }));
