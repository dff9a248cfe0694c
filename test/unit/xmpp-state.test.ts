// What camctl keeps between runs: the stable SASL2 user-agent id and the namespace memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CamState, SERVERS_FILE, USER_AGENT_ID_FILE, derivedUuid } from "../../src/xmpp/state.js";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const mode = (p: string) => fs.statSync(p).mode & 0o777;

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "camctl-state-"));
}

test("the user-agent id is a UUID v4 made once and kept: file 0600, directory 0700", () => {
  const base = tempDir();
  try {
    const dir = path.join(base, "state", "camctl");
    const first = new CamState(dir).userAgentId();
    assert.match(first, UUID_V4);
    for (let i = 0; i < 5; i++) assert.equal(new CamState(dir).userAgentId(), first);
    assert.equal(mode(path.join(dir, USER_AGENT_ID_FILE)), 0o600);
    assert.equal(mode(dir), 0o700);
    assert.deepEqual(fs.readdirSync(dir), [USER_AGENT_ID_FILE], "no temp files left behind");
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("loose permissions on our own files are tightened; damaged content is replaced", () => {
  const dir = tempDir();
  try {
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, USER_AGENT_ID_FILE), "not a uuid\n", { mode: 0o644 });
    const id = new CamState(dir).userAgentId();
    assert.match(id, UUID_V4);
    assert.equal(mode(path.join(dir, USER_AGENT_ID_FILE)), 0o600);
    assert.equal(mode(dir), 0o700);
    assert.equal(new CamState(dir).userAgentId(), id);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("an unwritable state directory still gives a stable id, with a warning", { skip: process.getuid?.() === 0 ? "root can write anywhere" : false }, () => {
  const base = tempDir();
  try {
    fs.chmodSync(base, 0o500);
    const a = new CamState(path.join(base, "camctl"));
    const id = a.userAgentId();
    assert.match(id, UUID_V4);
    assert.equal(a.warnings.length, 1);
    assert.equal(new CamState(path.join(base, "camctl")).userAgentId(), id);
  } finally {
    fs.chmodSync(base, 0o700);
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("a state path that cannot be a directory still gives a stable id, with a warning", () => {
  const base = tempDir();
  try {
    const file = path.join(base, "file");
    fs.writeFileSync(file, "x");
    const a = new CamState(path.join(file, "camctl"));
    const id = a.userAgentId();
    assert.match(id, UUID_V4);
    assert.match(a.warnings[0] ?? "", /XDG_STATE_HOME/);
    assert.equal(new CamState(path.join(file, "camctl")).userAgentId(), id);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

test("derived ids are UUID v4-shaped and depend on the seed", () => {
  assert.match(derivedUuid("a"), UUID_V4);
  assert.equal(derivedUuid("a"), derivedUuid("a"));
  assert.notEqual(derivedUuid("a"), derivedUuid("b"));
});

test("the namespace that answered is remembered per server host, written only on change, 0600", () => {
  const dir = tempDir();
  try {
    const s = new CamState(dir);
    assert.equal(s.rememberedNamespace("example.com"), undefined);
    s.rememberNamespace("Example.com", "urn:xmpp:cam:0");
    const file = path.join(dir, SERVERS_FILE);
    assert.equal(mode(file), 0o600);
    assert.equal(new CamState(dir).rememberedNamespace("example.com"), "urn:xmpp:cam:0");
    assert.equal(s.rememberedNamespace("other.example"), undefined);
    const before = fs.statSync(file).mtimeMs;
    fs.utimesSync(file, new Date(0), new Date(0));
    s.rememberNamespace("example.com", "urn:xmpp:cam:0");
    assert.equal(fs.statSync(file).mtimeMs, 0, "unchanged value is not rewritten");
    assert.ok(before > 0);
    fs.writeFileSync(file, "{ damaged");
    assert.equal(s.rememberedNamespace("example.com"), undefined, "a damaged file costs only a round trip");
    s.rememberNamespace("example.com", "xmpp:prosody.im/protocol/manage-clients");
    assert.equal(s.rememberedNamespace("example.com"), "xmpp:prosody.im/protocol/manage-clients");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
