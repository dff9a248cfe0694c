// Faults and hostile peers, through the real CLI: a broken admin socket, a server killed
// in the middle of a request, TCP peers that go silent at each stage of an XMPP login, error replies
// to the client-management requests, and proof that a revocation touches only the client selected
// and that --dry-run changes nothing on the server.
//
// Every failure must end within --timeout with the contract's exit code and one sentence on stderr
// ("camctl: ..."), never a stack trace, an unhandled rejection or Node's internals.
//
// Not repeated here (covered elsewhere): an XMPP TCP peer that never answers with the default
// STARTTLS, malformed XML and early close from an XMPP peer, missing STARTTLS
// (xmpp-fake-server.test.ts); a missing socket path (socket-clients.test.ts).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { luaString } from "../sandbox/admin-socket.js";
import { rawSasl2, type RawSasl2Options } from "../sandbox/raw-client.js";
import { lateAllowanceMs, runCamctl, startCamctl, type CamctlRun } from "../helpers/run-camctl.js";
import { addBulkGrants } from "../helpers/bulk-grants.js";
import { ADMIN_HEADER, adminPeer, camctlForNobody, replErrorResult, selfSignedCert, staleSocket, tcpPeer, unixPeer, when } from "../helpers/fault-peers.js";
import type { ClientListJson, JsonClient } from "../helpers/client-json.js";
import { CamctlHome, homesRemovedAfterAll, xmppCamctl, type Login } from "../helpers/xmpp-camctl.js";

/** --timeout for every run that is expected to wait for a silent peer. */
const TIMEOUT_S = 2;
/** --timeout for runs expected to end at once: ending far below it shows they did not wait for it. */
const PATIENT_S = 20;
/** The runner's kill timeout: a run that reaches it has hung. */
const KILL_MS = 30_000;

const MC = "xmpp:prosody.im/protocol/manage-clients";
const CAM = "urn:xmpp:cam:0";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Unix socket paths are limited to ~107 bytes.
const tempBase = () => (os.tmpdir().length <= 60 ? os.tmpdir() : "/tmp");
const scratch = fs.mkdtempSync(path.join(tempBase(), "camctl-faults-"));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
let socketCount = 0;
const socketPath = () => path.join(scratch, `s${socketCount++}.sock`);

/** Exit code, one "camctl: " line on stderr and nothing on stdout; no trace of a crash anywhere. */
function assertFails(r: CamctlRun, code: number, sentence?: RegExp): void {
  const show = `exit ${r.code} (signal ${r.signal}) after ${r.ms} ms\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 500)}`;
  assert.equal(r.signal, null, show);
  assert.equal(r.code, code, show);
  assert.match(r.stderr, /^camctl: [^\n]+\n$/, `one line starting with "camctl: "\n${show}`);
  assert.equal(r.stdout, "", show);
  assertNoCrash(r);
  if (sentence) assert.match(r.stderr, sentence, show);
}

function assertNoCrash(r: CamctlRun): void {
  const all = r.stderr + r.stdout;
  assert.doesNotMatch(all, /at .*:\d+:\d+/, "no stack trace");
  assert.doesNotMatch(all, /unhandled/i, "no unhandled rejection/exception");
  assert.ok(!all.includes("node:internal"), "no Node internals");
  assert.doesNotMatch(all, /stack traceback/, "no Lua traceback");
}

/** The one sentence camctl says when --timeout runs out, whatever it was waiting for, as stderr holds it. */
const timedOut = (where: string, timeoutS = TIMEOUT_S) =>
  `camctl: No answer from ${where} within ${timeoutS} s; is it overloaded or stuck? Raise --timeout to wait longer.\n`;

/** What the revoke command adds when it stopped without the server's report after the request may have gone out. */
const mayHaveHappened = (id: string, jid: string) => `The revoke of ${id} may have happened, entirely or in part; check with \`camctl user clients ${jid}\`.`;

/** It ran out of time: exit 3, exactly the timeout sentence, nothing else. */
function assertTimedOut(r: CamctlRun, where: string, timeoutS = TIMEOUT_S): void {
  assertFails(r, 3);
  assert.equal(r.stderr, timedOut(where, timeoutS));
}

/** Ended within --timeout (plus start-up and exit on this machine now), far from the runner's kill timeout. */
async function assertWithinTimeout(r: CamctlRun, timeoutS = TIMEOUT_S): Promise<void> {
  const late = await lateAllowanceMs();
  assert.ok(r.ms < timeoutS * 1000 + late, `took ${r.ms} ms with --timeout ${timeoutS} (allowed ${late} ms more)`);
}

/** Something a running camctl does at once (end on a signal, notice a dead peer) took no longer than a busy machine explains. */
async function assertPrompt(tookMs: number, what: string): Promise<void> {
  const late = await lateAllowanceMs(1500);
  assert.ok(tookMs < late, `${what} took ${tookMs} ms (allowed ${late} ms on this machine now)`);
}

/** Ended long before --timeout PATIENT_S: it said what happened instead of waiting. */
function assertEndedAtOnce(r: CamctlRun): void {
  assert.ok(r.ms < (PATIENT_S * 1000) / 2, `took ${r.ms} ms with --timeout ${PATIENT_S}: it waited instead of saying what it got`);
}

/** It really waited for the peer (did not give up early for another reason). */
function assertWaited(r: CamctlRun, timeoutS = TIMEOUT_S): void {
  assert.ok(r.ms >= timeoutS * 1000 - 100, `gave up after ${r.ms} ms, before --timeout ${timeoutS}`);
}

const socketCamctl = (sock: string, args: string[] = ["user", "clients", "alice@example.com"], timeoutS = TIMEOUT_S) =>
  runCamctl([...args, "--socket", sock, "--timeout", String(timeoutS)], { timeoutMs: KILL_MS });

// ---------------------------------------------------------------------------------------------
// 1. The admin socket

describe("admin socket peers that misbehave", { concurrency: true }, () => {
  test("accepts and never answers, not even a stream header: 3 within --timeout", async () => {
    const peer = await unixPeer(socketPath(), () => undefined);
    try {
      const r = await socketCamctl(peer.address);
      assertTimedOut(r, `the admin socket ${peer.address}`);
      assertWaited(r);
      await assertWithinTimeout(r);
      assert.match(peer.received[0] ?? "", /<stream:stream/, "camctl did connect and open its stream");
    } finally {
      await peer.close();
    }
  });

  test("sends the stream header, then never answers the request: 3 within --timeout", async () => {
    const peer = await unixPeer(socketPath(), (sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(ADMIN_HEADER));
    });
    try {
      const r = await socketCamctl(peer.address);
      assertTimedOut(r, `the admin socket ${peer.address}`);
      assertWaited(r);
      await assertWithinTimeout(r);
      assert.match(peer.received[0] ?? "", /<repl-input[^>]*>/, "the request was sent");
    } finally {
      await peer.close();
    }
  });

  test("answers the request with malformed XML: 3 at once", async () => {
    const peer = await unixPeer(socketPath(), (sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(ADMIN_HEADER));
      when(sock, received, /<\/repl-input>/, () => sock.write("<repl-output>half</repl-output><repl-result type='x'>&bogus;<</oops>"));
    });
    try {
      const r = await socketCamctl(peer.address, undefined, PATIENT_S);
      assertFails(r, 3, /not well-formed XML/);
      assertEndedAtOnce(r);
    } finally {
      await peer.close();
    }
  });

  test("answers every request with <repl-result type='error'> (the request raised in the server): 3 at once, the server's reason, not a camctl bug", async () => {
    // What mod_admin_shell sends when a chunk raises, e.g. a storage error under the module.
    const peer = await adminPeer(socketPath(), () => replErrorResult("Error: storage backend failed: disk I/O error\nstack traceback:\n\t[C]: in ?"));
    try {
      for (const args of [["user", "clients", "alice@example.com"], ["host", "clients", "example.com"], ["host", "revoke", "example.com", "--all", "--dry-run"]]) {
        const r = await socketCamctl(peer.address, args, PATIENT_S);
        assertFails(r, 3);
        assert.match(r.stderr, /^camctl: Prosody failed while running camctl's request for the clients of \S+: Error: storage backend failed: disk I\/O error\. Prosody's log may say more\.\n$/, args.join(" "));
        assert.doesNotMatch(r.stderr, /bug in camctl/);
        assertEndedAtOnce(r);
      }
    } finally {
      await peer.close();
    }
  });

  test("answers with a result that is not camctl's (another program on the socket): 3 at once, not a camctl bug", async () => {
    const peer = await adminPeer(socketPath(), () => "<repl-result>hello from something else</repl-result>");
    try {
      const r = await socketCamctl(peer.address, undefined, PATIENT_S);
      assertFails(r, 3, /answered the request for the clients of alice@example\.com with something camctl cannot read \(the result "hello from something else" is not camctl's\)/);
      assertEndedAtOnce(r);
    } finally {
      await peer.close();
    }
  });

  test("answers the stream header with something that is not XML at all: 3 at once", async () => {
    const peer = await unixPeer(socketPath(), (sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
    });
    try {
      const r = await socketCamctl(peer.address, undefined, PATIENT_S);
      assertFails(r, 3, /not well-formed XML/);
      assertEndedAtOnce(r);
    } finally {
      await peer.close();
    }
  });

  test("closes right after the stream header: 3 at once", async () => {
    const peer = await unixPeer(socketPath(), (sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.end(ADMIN_HEADER));
    });
    try {
      const r = await socketCamctl(peer.address, undefined, PATIENT_S);
      assertFails(r, 3, /closed the admin (socket connection|session) before answering/);
      assertEndedAtOnce(r);
    } finally {
      await peer.close();
    }
  });

  test("a stale socket file nobody listens on: 3, refused, and says it may be stale", async () => {
    const p = socketPath();
    staleSocket(p);
    assert.ok(fs.statSync(p).isSocket(), "the socket file was left behind");
    const r = await socketCamctl(p);
    assertFails(r, 3, /refused/);
    assert.match(r.stderr, /stale/);
    assert.ok(r.stderr.includes(p), "names the path");
  });

  test("a path that is a regular file: 3, and says it is not a socket", async () => {
    const p = path.join(scratch, "regular-file");
    fs.writeFileSync(p, "not a socket\n");
    const r = await socketCamctl(p);
    assertFails(r, 3, /is not a socket/);
    assert.doesNotMatch(r.stderr, /stale/, "a regular file is not a stale socket");
  });

  test("a path that is a directory: 3, and says it is not a socket", async () => {
    const p = fs.mkdtempSync(path.join(scratch, "dir-"));
    const r = await socketCamctl(p);
    assertFails(r, 3, /is not a socket/);
  });

  test("a socket the user may not open: 5, permission denied", async (t) => {
    let prefix: string[] | null = null;
    let bin: string | undefined;
    if (process.getuid?.() === 0) {
      // Root opens any socket; only another user sees the permission check.
      const nobody = camctlForNobody();
      if ("skip" in nobody) {
        t.skip(`running as root, and camctl cannot run as nobody: ${nobody.skip}; root may open any socket`);
        return;
      }
      ({ prefix, bin } = nobody);
      fs.chmodSync(scratch, 0o711); // so that nobody meets the socket's own mode, not the directory's
    }
    const dir = fs.mkdtempSync(path.join(scratch, "perm-"));
    fs.chmodSync(dir, 0o755);
    const p = path.join(dir, "prosody.sock");
    const peer = await unixPeer(p, (sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(ADMIN_HEADER));
    });
    try {
      fs.chmodSync(p, prefix ? 0o600 : 0o000); // owned by root (0600) or by us (0000)
      const run = startCamctl(["user", "clients", "alice@example.com", "--socket", p, "--timeout", String(TIMEOUT_S)], {
        prefix: prefix ?? undefined,
        bin,
        env: { HOME: "/nonexistent" },
        timeoutMs: KILL_MS,
      });
      const r = await run.result;
      assertFails(r, 5, /Permission denied/);
      assert.deepEqual(peer.received, [], "no connection got through");
    } finally {
      await peer.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 2. The server killed in the middle of a request

/**
 * Makes mod_client_management's get_active_clients count the call and then wait (an async sleep:
 * the rest of the server keeps running, so the test can ask whether the request has arrived).
 */
async function slowListing(sb: Sandbox): Promise<void> {
  await sb.lua(`local async = require "prosody.util.async"
local cm = prosody.hosts[${luaString(sb.host)}].modules.client_management
local original = cm.get_active_clients
prosody.camctl_test_in_flight = 0
cm.get_active_clients = function (...)
  prosody.camctl_test_in_flight = prosody.camctl_test_in_flight + 1
  async.sleep(60)
  return original(...)
end
return "ok"`);
}

async function waitInFlight(sb: Sandbox, finished: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await sb.lua("return tostring(prosody.camctl_test_in_flight)")) === "0") {
    assert.ok(!finished(), "camctl ended before its request reached the server");
    assert.ok(Date.now() < deadline, "the request never reached get_active_clients");
    await sleep(20);
  }
  assert.ok(!finished(), "camctl ended before the server was killed");
}

describe("the server is killed while a request is in flight", { concurrency: true }, () => {
  test("over the admin socket: 3 at once; afterwards the left-over socket is reported as refused (3)", async () => {
    const sb = await startSandbox();
    try {
      const { jid } = await sb.createAccount("busy");
      await addBulkGrants(sb, jid, 1200);
      await slowListing(sb);
      let finished = false;
      const run = runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath, "--timeout", "20"], { timeoutMs: KILL_MS });
      void run.then(() => (finished = true));
      await waitInFlight(sb, () => finished);
      const killedAt = Date.now();
      process.kill(sb.pid, "SIGKILL");
      const r = await run;
      assertFails(r, 3, /Prosody closed the admin socket connection before answering/);
      await assertPrompt(Date.now() - killedAt, "noticing the kill");

      // The killed server left its socket file behind.
      assert.ok(fs.existsSync(sb.socketPath));
      const again = await socketCamctl(sb.socketPath, ["user", "clients", jid]);
      assertFails(again, 3, /refused.*stale/);
    } finally {
      await assert.doesNotReject(sb.stop(), "stopping a killed sandbox");
    }
  });

  test("over XMPP: 3 at once, the sentence says the server closed the connection", async () => {
    const sb = await startSandbox();
    const home = new CamctlHome();
    try {
      const login = await sb.createAccount("busy");
      await addBulkGrants(sb, login.jid, 1200);
      await slowListing(sb);
      let finished = false;
      const run = xmppCamctl(sb, home, login, ["user", "clients", login.jid, "--json"], { timeoutSeconds: 20 });
      void run.then(() => (finished = true));
      await waitInFlight(sb, () => finished);
      const killedAt = Date.now();
      process.kill(sb.pid, "SIGKILL");
      const r = await run;
      assertFails(r, 3, /closed the connection/);
      await assertPrompt(Date.now() - killedAt, "noticing the kill");
      assert.ok(!r.stderr.includes(login.password));
    } finally {
      await assert.doesNotReject(sb.stop(), "stopping a killed sandbox");
      home.remove();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. XMPP peers that go silent at each stage before the login

describe("XMPP peers that accept and then say nothing, at each stage", { concurrency: true }, () => {
  // A self-signed certificate for fake.test, trusted with --ca-file, so the silence comes after TLS.
  let key: string;
  let cert: string;
  let certFile: string;
  const home = new CamctlHome();
  before(() => {
    ({ certFile, key, cert } = selfSignedCert(fs.mkdtempSync(path.join(scratch, "tls-")), "fake.test"));
  });
  after(() => home.remove());

  const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='f1' from='fake.test' version='1.0'>`;
  const FEATURES_STARTTLS = `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>`;

  const xmpp = (port: number, extra: string[]) =>
    runCamctl(["user", "clients", "alice@fake.test", "--jid", "alice@fake.test", "--server", `127.0.0.1:${port}`, "--timeout", String(TIMEOUT_S), ...extra], {
      env: { ...home.env, CAMCTL_PASSWORD: "fault-secret-Pw1" },
      timeoutMs: KILL_MS,
    });

  async function expectSilenceEnds(port: number, extra: string[]): Promise<CamctlRun> {
    const r = await xmpp(port, extra);
    assertTimedOut(r, `the XMPP server at 127.0.0.1:${port}`);
    assertWaited(r);
    await assertWithinTimeout(r);
    assert.ok(!r.stderr.includes("fault-secret-Pw1"));
    return r;
  }

  test("--tls direct: TCP accepted, the TLS handshake never answered", async () => {
    const peer = await tcpPeer(() => undefined);
    try {
      await expectSilenceEnds(peer.port, ["--tls", "direct"]);
      assert.ok((peer.received[0] ?? "").length > 0, "camctl sent its TLS hello");
    } finally {
      await peer.close();
    }
  });

  test("--tls direct: TLS done, then no stream header", async () => {
    let secured = 0;
    const peer = await tcpPeer((sock) => {
      const secure = new tls.TLSSocket(sock, { isServer: true, key, cert });
      secure.on("error", () => undefined);
      secure.on("secure", () => secured++);
    });
    try {
      await expectSilenceEnds(peer.port, ["--tls", "direct", "--ca-file", certFile]);
      assert.equal(secured, 1, "the handshake completed");
    } finally {
      await peer.close();
    }
  });

  test("--tls starttls: features offer STARTTLS, then <starttls/> is never answered", async () => {
    const peer = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(HEADER + FEATURES_STARTTLS));
    });
    try {
      await expectSilenceEnds(peer.port, ["--tls", "starttls", "--ca-file", certFile]);
      assert.match(peer.received[0] ?? "", /<starttls/);
    } finally {
      await peer.close();
    }
  });

  test("--tls starttls: <proceed/> and TLS done, then no stream header", async () => {
    let secured = 0;
    const peer = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(HEADER + FEATURES_STARTTLS));
      when(sock, received, /<starttls/, () =>
        sock.write(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`, () => {
          const secure = new tls.TLSSocket(sock, { isServer: true, key, cert });
          secure.on("error", () => undefined);
          secure.on("secure", () => secured++);
        }),
      );
    });
    try {
      await expectSilenceEnds(peer.port, ["--tls", "starttls", "--ca-file", certFile]);
      assert.equal(secured, 1, "the handshake completed");
    } finally {
      await peer.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 4 and 5: one sandbox with a test-only module that answers chosen accounts' requests with errors

const FAULT_MODULE = `-- Test only (camctl's faults.test.ts): for accounts listed in prosody.camctl_test_faults, answers
-- client-management requests with a chosen error, a malformed reply, or not at all.
local st = require "prosody.util.stanza";
local faults = {};
prosody.camctl_test_faults = faults;
for _, ns in ipairs({ "${MC}", "${CAM}" }) do
  for _, ev in ipairs({ "iq-get/self/"..ns..":list", "iq-set/self/"..ns..":revoke" }) do
    module:hook(ev, function (event)
      local origin, stanza = event.origin, event.stanza;
      local f = faults[origin.username];
      if not f or (f.only and f.only ~= stanza.tags[1].name) then return; end
      f.seen = (f.seen or 0) + 1;
      if f.silent then return true; end
      if f.condition then
        origin.send(st.error_reply(stanza, f.type or "cancel", f.condition, f.text));
      elseif f.bare_error then
        local reply = st.reply(stanza);
        reply.attr.type = "error";
        origin.send(reply);
      elseif f.bogus_result then
        origin.send(st.reply(stanza):tag("bogus", { xmlns = "urn:example:bogus" }):text("?"));
      end
      return true;
    end, 100);
  end
end
-- With ping_silent, the account's pings go unanswered too: a server that says nothing at all.
module:hook("iq-get/host/urn:xmpp:ping:ping", function (event)
  local f = faults[event.origin.username];
  if f and f.ping_silent then return true; end
end, 100);
`;

let sb: Sandbox;
const newHome = homesRemovedAfterAll();

before(async () => {
  sb = await startSandbox({ testModules: { camctl_test_faults: FAULT_MODULE } });
  // Public functions of the server's modules misbehave for the accounts named in
  // prosody.camctl_test_cm_faults[function name] ("throw", "nil", "sleep"); everyone else gets the real thing.
  await sb.lua(`local async = require "prosody.util.async"
local modules = prosody.hosts[${luaString(sb.host)}].modules
local faults = {}
prosody.camctl_test_cm_faults = faults
local function wrap(module_name, name)
  local m = modules[module_name]
  local original = m[name]
  faults[name] = {}
  m[name] = function (username, ...)
    local f = faults[name][username]
    if f == "throw" then error("boom in " .. name .. " (test)") end
    if f == "nil" then return nil, "internal-server-error" end
    if f == "sleep" then async.sleep(60) end
    return original(username, ...)
  end
end
wrap("client_management", "get_active_clients")
wrap("client_management", "revoke_client_access")
wrap("tokenauth", "revoke_grant")
return "ok"`);
});
after(async () => {
  await sb?.stop();
});

async function setXmppFault(user: string, fault: string): Promise<void> {
  await sb.lua(`prosody.camctl_test_faults[${luaString(user)}] = ${fault} return "ok"`);
}
type ModuleFunction = "get_active_clients" | "revoke_client_access" | "revoke_grant";
/** `fn` throws, fails (nil, error) or never returns for `user`; null puts it right again. */
async function setModuleFault(user: string, fault: "throw" | "nil" | "sleep" | null, fn: ModuleFunction = "get_active_clients"): Promise<void> {
  const value = fault === null ? "nil" : luaString(fault);
  await sb.lua(`prosody.camctl_test_cm_faults[${luaString(fn)}][${luaString(user)}] = ${value} return "ok"`);
}

const socketRun = (args: string[], timeoutS = 10) => runCamctl([...args, "--socket", sb.socketPath, "--timeout", String(timeoutS)], { timeoutMs: KILL_MS });

async function socketList(jid: string): Promise<JsonClient[]> {
  const r = await socketRun(["user", "clients", jid, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as ClientListJson).clients;
}

describe("server error replies to list and revoke", { concurrency: true }, () => {
  async function account(name: string): Promise<Login & { local: string }> {
    const a = await sb.createAccount(`${name}-${randomUUID().slice(0, 8)}`);
    await sb.createGrant(a.jid, { software: "Untouched" });
    return { ...a, local: a.jid.split("@")[0]! };
  }

  const xmppCases: Array<{ name: string; fault: string; code: number; sentence: RegExp }> = [
    // The server's own failures: 3 (no usable answer), never 1, which is for camctl's bugs.
    { name: "internal-server-error", fault: `{ condition = "internal-server-error", type = "wait" }`, code: 3, sentence: /failed to answer the list request \(internal-server-error\)/ },
    { name: "forbidden", fault: `{ condition = "forbidden", type = "auth" }`, code: 5, sentence: /refused to list .* \(forbidden\)/ },
    { name: "not-authorized", fault: `{ condition = "not-authorized", type = "auth" }`, code: 5, sentence: /refused to list .* \(not-authorized\)/ },
    { name: "not-allowed", fault: `{ condition = "not-allowed", type = "cancel" }`, code: 5, sentence: /\(not-allowed\)/ },
    { name: "an unknown condition", fault: `{ condition = "resource-constraint", type = "wait" }`, code: 3, sentence: /\(resource-constraint\)/ },
    {
      name: "a hostile error text (escapes, newlines)",
      fault: `{ condition = "internal-server-error", type = "wait", text = ${luaString("boom\x1b[31m\nsecond line\u202e")} }`,
      code: 3,
      sentence: /The server said: "boom\\x1b\[31m\\nsecond line\\u202e"/,
    },
    { name: "an error without any condition", fault: `{ bare_error = true }`, code: 3, sentence: /\(undefined-condition\)/ },
    { name: "a result camctl does not understand", fault: `{ bogus_result = true }`, code: 3, sentence: /does not understand/ },
  ];
  for (const c of xmppCases) {
    test(`XMPP list answered with ${c.name}: exit ${c.code}, one sentence`, async () => {
      const login = await account("xerr");
      await setXmppFault(login.jid.split("@")[0]!, c.fault);
      const r = await xmppCamctl(sb, newHome(), login, ["user", "clients", login.jid, "--json"], { timeoutSeconds: 10 });
      assertFails(r, c.code, c.sentence);
      assert.ok(!r.stderr.includes(login.password));
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
    });
  }

  test("XMPP revoke answered with forbidden (5) or internal-server-error (3); nothing is revoked", async () => {
    const login = await account("xrev");
    const before = await socketList(login.jid);
    const grant = before.find((c) => c.type === "access")!;
    const local = login.jid.split("@")[0]!;
    await setXmppFault(local, `{ condition = "forbidden", type = "auth", only = "revoke" }`);
    const forbidden = await xmppCamctl(sb, newHome(), login, ["user", "revoke_client", login.jid, grant.id, "--yes"], { timeoutSeconds: 10 });
    assertFails(forbidden, 5, /refused to revoke .* \(forbidden\)/);
    await setXmppFault(local, `{ condition = "internal-server-error", type = "wait", only = "revoke" }`);
    const broken = await xmppCamctl(sb, newHome(), login, ["user", "revoke_client", login.jid, grant.id, "--yes"], { timeoutSeconds: 10 });
    assertFails(broken, 3);
    assert.equal(
      broken.stderr,
      `camctl: The server failed to answer the revoke request (internal-server-error). See the server's log for details. ${mayHaveHappened(grant.id, login.jid)}\n`,
    );
    const after = await socketList(login.jid);
    assert.ok(after.some((c) => c.id === grant.id), "the grant is still there");
  });

  // A server that answers camctl's ping but never the request has failed at the request (it handles
  // a session's stanzas in order): camctl says so at once. One that answers nothing runs into --timeout.
  const unanswered = (jid: string) =>
    `camctl: The server answers camctl, but never answered its client list request for ${jid}: the request failed inside the server. ` +
    `See the server's log (mod_client_management fails like this on a grant whose client name holds a control character); ` +
    `camctl --socket on the server lists such an account.\n`;

  test("XMPP list that the server drops while it still answers pings: 3 at once, the request failed inside the server", async () => {
    const login = await account("xdropped");
    await setXmppFault(login.local, `{ silent = true }`);
    const r = await xmppCamctl(sb, newHome(), login, ["user", "clients", login.jid], { timeoutSeconds: PATIENT_S });
    assertFails(r, 3);
    assert.equal(r.stderr, unanswered(login.jid));
    assertEndedAtOnce(r);
    assert.equal(await sb.lua(`return tostring(prosody.camctl_test_faults[${luaString(login.local)}].seen)`), "1", "the list request arrived once");
  });

  test("XMPP list where the module's code throws (the server sends no reply, answers pings): 3 at once, the same sentence", async () => {
    const login = await account("xthrow");
    await setModuleFault(login.local, "throw");
    const r = await xmppCamctl(sb, newHome(), login, ["user", "clients", login.jid], { timeoutSeconds: PATIENT_S });
    assertFails(r, 3);
    assert.equal(r.stderr, unanswered(login.jid));
    assertEndedAtOnce(r);
  });

  test("XMPP list where the server says nothing at all after login (not even to a ping): 3 within --timeout", async () => {
    const login = await account("xsilent");
    await setXmppFault(login.local, `{ silent = true, ping_silent = true }`);
    // Long enough for a TLS login on a busy machine: the list request must be what it waits on.
    const timeoutS = 6;
    const r = await xmppCamctl(sb, newHome(), login, ["user", "clients", login.jid], { timeoutSeconds: timeoutS });
    assertTimedOut(r, `the XMPP server at 127.0.0.1:${sb.c2sPort}`, timeoutS);
    assertWaited(r, timeoutS);
    await assertWithinTimeout(r, timeoutS);
    assert.equal(await sb.lua(`return tostring(prosody.camctl_test_faults[${luaString(login.local)}].seen)`), "1", "the list request arrived");
  });

  test("socket: get_active_clients throws: 3, the sentence names the server error, no Lua traceback", async () => {
    const a = await account("sthrow");
    await setModuleFault(a.local, "throw");
    const r = await socketRun(["user", "clients", a.jid]);
    assertFails(r, 3, /Prosody reported an error \(internal-server-error\)/);
    assert.match(r.stderr, /boom in get_active_clients/);
    assert.match(r.stderr, /Prosody's log/);
  });

  test("socket: get_active_clients fails (nil, error): 3, never an empty list", async () => {
    const a = await account("snil");
    await setModuleFault(a.local, "nil");
    for (const format of ["table", "json"]) {
      const r = await socketRun(["user", "clients", a.jid, "-o", format]);
      assertFails(r, 3, /^camctl: Prosody reported an error \(internal-server-error\)\. See Prosody's log for details\.\n$/);
    }
  });

  test("socket: get_active_clients never returns: 3 within --timeout", async () => {
    const a = await account("ssleep");
    await setModuleFault(a.local, "sleep");
    const r = await socketRun(["user", "clients", a.jid], TIMEOUT_S);
    assertTimedOut(r, `the admin socket ${sb.socketPath}`);
    assertWaited(r);
    await assertWithinTimeout(r);
  });

  test("socket: the revoke does not depend on the module's revoke_client_access (here it throws): the grant is revoked, 0", async () => {
    const a = await account("srev");
    const grant = (await socketList(a.jid)).find((c) => c.type === "access")!;
    await setModuleFault(a.local, "throw", "revoke_client_access");
    try {
      const r = await socketRun(["user", "revoke_client", a.jid, grant.id, "--yes"]);
      assert.equal(r.code, 0, r.stderr);
      assertNoCrash(r);
    } finally {
      await setModuleFault(a.local, null, "revoke_client_access");
    }
    assert.ok(!(await socketList(a.jid)).some((c) => c.id === grant.id), "the grant is revoked");
  });

  test("socket: a step of the revoke fails inside the server (revoking the grant throws, or fails): 3, says what failed and how to check", async () => {
    const a = await account("srevfail");
    const grant = (await socketList(a.jid)).find((c) => c.type === "access")!;
    try {
      await setModuleFault(a.local, "throw", "revoke_grant");
      const thrown = await socketRun(["user", "revoke_client", a.jid, grant.id, "--yes"]);
      assertFails(thrown, 3, /^camctl: Prosody reported an error \(internal-server-error\): .*boom in revoke_grant \(test\).*\. See Prosody's log for details\. /);
      assert.ok(thrown.stderr.endsWith(` ${mayHaveHappened(grant.id, a.jid)}\n`), thrown.stderr);
      await setModuleFault(a.local, "nil", "revoke_grant");
      const failed = await socketRun(["user", "revoke_client", a.jid, grant.id, "--yes"]);
      assertFails(failed, 3);
      assert.equal(
        failed.stderr,
        `camctl: Prosody reported an error (internal-server-error): revoking the grant failed: internal-server-error. See Prosody's log for details. ${mayHaveHappened(grant.id, a.jid)}\n`,
      );
    } finally {
      await setModuleFault(a.local, null, "revoke_grant");
    }
    assert.ok((await socketList(a.jid)).some((c) => c.id === grant.id), "the grant is still there");
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Revocation touches only the selected client; --dry-run touches nothing

describe("revocation touches only the client selected", () => {
  let jid: string;
  let local: string;
  const byName = new Map<string, string>(); // label -> id

  /** A grant like mod_http_oauth2 makes, with a chosen name and version; returns its grant id. */
  async function grant(name: string, version?: string): Promise<string> {
    const info = [`name = ${luaString(name)}`, `uri = ${luaString(`https://${name.replace(/\W/g, "")}.example/`)}`];
    if (version !== undefined) info.push(`version = ${luaString(version)}`);
    const id = await sb.lua(`local t = prosody.hosts[${luaString(sb.host)}].modules.tokenauth
local g = assert(t.create_grant(${luaString(jid)}, ${luaString(jid)}, nil, { oauth2_client = { ${info.join(", ")} } }))
assert(t.create_token(${luaString(jid)}, g, nil, nil, "oauth2-refresh"))
return g.id`);
    return `grant/${id}`;
  }

  /** Renames a grant in mod_tokenauth's store (ids that share prefixes with each other and with a client id). */
  async function renameGrant(from: string, to: string): Promise<string> {
    await sb.lua(`local store = require "prosody.core.storagemanager".open(${luaString(sb.host)}, "auth_tokens", "keyval+")
local grants = assert(store:get(${luaString(local)}))
local g = assert(grants[${luaString(from.slice("grant/".length))}])
grants[g.id] = nil
g.id = ${luaString(to)}
grants[g.id] = g
assert(store:set(${luaString(local)}, grants)) return "ok"`);
    return `grant/${to}`;
  }

  /**
   * The server's own state, read through its public functions (not through camctl): grants with
   * their tokens, the module's records of the clients it lists, their FAST tokens, sessions.
   */
  async function serverState(): Promise<unknown> {
    const text = await sb.lua(`local json = require "prosody.util.json"
local host = ${luaString(sb.host)}
local user = ${luaString(local)}
local modules = prosody.hosts[host].modules
local grants = {}
for id, g in pairs(modules.tokenauth.get_user_grants(user) or {}) do
  local tokens = {}
  for k in pairs(g.tokens or {}) do tokens[#tokens + 1] = k end
  table.sort(tokens)
  grants[#grants + 1] = id .. " created=" .. tostring(g.created) .. " tokens=" .. table.concat(tokens, ",")
end
table.sort(grants)
local clients = {}
for _, c in ipairs(modules.client_management.get_active_clients(user)) do
  if c.type == "session" then
    local how = {}
    for k in pairs(c.active) do how[#how + 1] = k end
    for m, t in pairs(c.mechanisms or {}) do how[#how + 1] = m .. "@" .. t end
    table.sort(how)
    clients[#clients + 1] = c.id .. " first=" .. tostring(c.first_seen) .. " last=" .. tostring(c.last_seen) .. " " .. table.concat(how, ",")
      .. " fast_auth=" .. tostring(c.fast_auth) .. " fast_token=" .. tostring(modules.sasl2_fast.is_client_fast(user, c.id:sub(#"client/" + 1)))
  end
end
table.sort(clients)
local sessions = {}
local u = prosody.hosts[host].sessions[user]
for resource in pairs(u and u.sessions or {}) do sessions[#sessions + 1] = resource end
table.sort(sessions)
return json.encode({ grants = grants, clients = clients, sessions = sessions })`);
    return JSON.parse(text);
  }

  /**
   * A client that holds only a FAST token, under a client id of our choosing: it logged in with an
   * OAuth access token asking for a FAST token, then with that token; the OAuth grant is then
   * revoked (through mod_tokenauth), as if it had expired.
   */
  async function fastOnlyClient(clientId: string, software: string, device: string): Promise<void> {
    const { grantId, token } = await sb.createAccessToken(jid, { software: `${software} web login` });
    const login = async (o: Pick<RawSasl2Options, "mechanism" | "secret" | "requestFastToken">) => {
      const conn = await sb.rawConnect({ from: jid });
      const r = await rawSasl2(conn, sb.host, { username: local, userAgent: { id: clientId, software, device }, bindTag: software, ...o }, 10_000);
      await conn.close();
      assert.ok(r.ok, `${o.mechanism} login`);
      return r;
    };
    const first = await login({ mechanism: "OAUTHBEARER", secret: token, requestFastToken: true });
    assert.ok(first.ok && first.fastToken, "a FAST token was issued");
    await login({ mechanism: "HT-SHA-256-NONE", secret: first.fastToken });
    await sb.lua(`assert(prosody.hosts[${luaString(sb.host)}].modules.tokenauth.revoke_grant(${luaString(local)}, ${luaString(grantId.slice("grant/".length))})) return "ok"`);
  }

  const sorted = (clients: JsonClient[]) => [...clients].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  /** Revokes `selector` with --yes; exactly `expectedId` is gone, every other record is unchanged. */
  async function revokeExactly(selector: string, expectedId: string): Promise<void> {
    const beforeList = await socketList(jid);
    assert.ok(beforeList.some((c) => c.id === expectedId), `${expectedId} is listed before`);
    const r = await socketRun(["user", "revoke_client", jid, selector, "--yes", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.deepEqual({ jid: body.jid, selector: body.selector, revoked: body.revoked, id: body.id }, { jid, selector, revoked: true, id: expectedId });
    const afterList = await socketList(jid);
    assert.deepEqual(sorted(afterList), sorted(beforeList.filter((c) => c.id !== expectedId)), `revoking ${selector} removed exactly ${expectedId}`);
  }

  /** A password client: the server answers 7 and closes its sessions; no other record changes. */
  async function revokePasswordClient(id: string): Promise<void> {
    const beforeList = await socketList(jid);
    const target = beforeList.find((c) => c.id === id);
    assert.ok(target, `${id} is listed before`);
    const r = await socketRun(["user", "revoke_client", jid, id, "--yes"]);
    assertFails(r, 7, /password/);
    const afterList = await socketList(jid);
    const after = afterList.find((c) => c.id === id);
    assert.ok(after, "a password client stays listed until the password changes");
    // Its session was closed, which also updates its last-seen time and ends its live address;
    // nothing else about it changes.
    const offline = (c: JsonClient) => ({ ...c, connected: false, lastSeen: null, ip: null, connectedSince: null });
    assert.deepEqual(offline(after), offline(target));
    assert.equal(after.ip, null, "no live address once its session is closed");
    assert.equal(after.connected, false, "its session was closed");
    assert.deepEqual(sorted(afterList.filter((c) => c.id !== id)), sorted(beforeList.filter((c) => c.id !== id)), "no other record changed");
  }

  before(async () => {
    const account = await sb.createAccount("many-clients");
    jid = account.jid;
    local = jid.split("@")[0]!;
    const { password } = account;
    const ua = () => randomUUID();
    // SASL2 clients: the same program on two devices (the server keeps no version for SASL2
    // clients), one kept connected; another program; and one that holds only a FAST token.
    await sb.sasl2Login({ jid, password, userAgentId: ua(), software: "Gajim", device: "Laptop", keepConnected: true });
    await sb.sasl2Login({ jid, password, userAgentId: ua(), software: "Gajim", device: "Desktop" });
    await sb.sasl2Login({ jid, password, userAgentId: ua(), software: "Conversations", device: "Phone", keepConnected: true });
    await sb.legacyLogin({ jid, password, resource: "old-client", keepConnected: true });
    // Grants whose names are prefixes of each other, and two versions of one name.
    byName.set("Bot 1.0", await grant("Bot", "1.0"));
    byName.set("Bot 2.0", await grant("Bot", "2.0"));
    byName.set("Bot 3.0", await grant("Bot", "3.0"));
    byName.set("Bot2", await grant("Bot2"));
    byName.set("bot", await grant("bot"));
    byName.set("RoBot", await grant("RoBot", "2.0"));
    byName.set("Bot 2", await grant("Bot 2", "1.0"));
    // Ids that share prefixes, and a grant and a client with the same id.
    byName.set("fx", await renameGrant(await grant("Fx grant"), "fx"));
    byName.set("fx1", await renameGrant(await grant("Fx1 grant"), "fx1"));
    byName.set("fx10", await renameGrant(await grant("Fx10 grant"), "fx10"));
    // Dino: only a FAST token, client id "fx".
    await fastOnlyClient("fx", "Dino", "Tablet");

    const list = await socketList(jid);
    const find = (p: (c: JsonClient) => boolean, what: string) => {
      const found = list.filter(p);
      assert.equal(found.length, 1, `${what}: ${JSON.stringify(list, null, 1)}`);
      return found[0]!;
    };
    const sw = (name: string, device: string) => (c: JsonClient) => c.userAgent.software === name && c.userAgent.device === device;
    byName.set("Gajim laptop", find(sw("Gajim", "Laptop"), "Gajim laptop").id);
    byName.set("Gajim desktop", find(sw("Gajim", "Desktop"), "Gajim desktop").id);
    byName.set("Conversations", find(sw("Conversations", "Phone"), "Conversations").id);
    byName.set("legacy", find((c) => c.type === "session" && c.userAgent.software === null, "legacy").id);
    const dino = find(sw("Dino", "Tablet"), "Dino");
    assert.equal(dino.id, "client/fx");
    assert.deepEqual(dino.auth, ["fast"], "Dino holds only a FAST token");
    byName.set("Dino", dino.id);
    assert.equal(list.length, 15, "5 session clients and 10 grants");
    assert.ok(list.find((c) => c.id === byName.get("Gajim laptop"))!.connected);
    assert.ok(list.find((c) => c.id === byName.get("legacy"))!.connected);
  });

  test("--dry-run, as JSON and as a table, names the match and changes nothing on the server", async () => {
    const listBefore = await socketList(jid);
    const stateBefore = await serverState();
    const firstBot = listBefore.find((c) => c.userAgent.software === "Bot")!;
    const cases: Array<[string, string]> = [
      ["grant/fx", byName.get("fx")!],
      ["client/fx", byName.get("Dino")!],
      ["software/Bot", firstBot.id], // the first "Bot" in the server's order
      ["software/Bot/2.0", byName.get("Bot 2.0")!],
      ["software/Bot 2", byName.get("Bot 2")!],
      [byName.get("Gajim laptop")!, byName.get("Gajim laptop")!], // connected, password: would be 7
      [byName.get("legacy")!, byName.get("legacy")!],
    ];
    for (const [selector, id] of cases) {
      const json = await socketRun(["user", "revoke_client", jid, selector, "--dry-run", "--json"]);
      assert.equal(json.code, 0, json.stderr);
      const out = JSON.parse(json.stdout) as { selector: string; revoked: boolean; dryRun: boolean; client: JsonClient };
      assert.equal(out.selector, selector);
      assert.equal(out.revoked, false);
      assert.equal(out.dryRun, true);
      assert.equal(out.client.id, id, `dry run of ${selector} names ${id}`);
      const table = await socketRun(["user", "revoke_client", jid, selector, "--dry-run"]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /Would revoke/);
      assert.ok(table.stdout.includes(id), `table names ${id}: ${table.stdout}`);
      assert.match(table.stdout, /Nothing was changed/);
    }
    // An unknown selector in a dry run is 6 and also changes nothing.
    const unknown = await socketRun(["user", "revoke_client", jid, "grant/f", "--dry-run"]);
    assertFails(unknown, 6, /No client matches grant\/f/);
    assert.deepEqual(await serverState(), stateBefore, "the server's own state is unchanged");
    assert.deepEqual(await socketList(jid), listBefore, "camctl's view is unchanged too");
  });

  test("each revocation removes exactly the selected client, and no other record changes", async () => {
    // A grant whose id is a prefix of other grants' ids and equal to a client's id.
    await revokeExactly("grant/fx", byName.get("fx")!);
    // A prefix of a grant id matches nothing.
    const none = await socketRun(["user", "revoke_client", jid, "grant/f", "--yes"]);
    assertFails(none, 6);
    // Three grants named "Bot" (1.0, 2.0, 3.0), in the server's order b1, b2, b3; the names that
    // merely look alike (Bot2, "Bot 2", bot, RoBot) are never matched.
    const [b1, b2, b3] = (await socketList(jid)).filter((c) => c.userAgent.software === "Bot");
    assert.ok(b1 && b2 && b3);
    // software/<name>/<version> picks that version even when it is not the first of the name.
    await revokeExactly(`software/Bot/${b2.userAgent.version}`, b2.id);
    // software/<name> with two candidates: the one the dry run announces is the one that goes.
    // (The server orders by last use only; entries used in the same second have no fixed order,
    // and it may change when another entry goes, so the first "Bot" is read again.)
    const dry = await socketRun(["user", "revoke_client", jid, "software/Bot", "--dry-run", "--json"]);
    assert.equal(dry.code, 0, dry.stderr);
    const announced = (JSON.parse(dry.stdout) as { client: JsonClient }).client;
    assert.equal(announced.id, (await socketList(jid)).find((c) => c.userAgent.software === "Bot")?.id);
    const other = announced.id === b1.id ? b3 : b1;
    assert.ok([b1.id, b3.id].includes(announced.id));
    await revokeExactly("software/Bot", announced.id);
    assertFails(await socketRun(["user", "revoke_client", jid, `software/Bot/${announced.userAgent.version}`, "--yes"]), 6);
    await revokeExactly(`software/Bot/${other.userAgent.version}`, other.id);
    assertFails(await socketRun(["user", "revoke_client", jid, "software/Bot", "--yes"]), 6);
    assertFails(await socketRun(["user", "revoke_client", jid, "software/RoBot/1.0", "--yes"]), 6);
    // The client that shares its id with a (now gone) grant, while grants fx1 and fx10 remain.
    await revokeExactly("client/fx", byName.get("Dino")!);
    await revokeExactly("grant/fx1", byName.get("fx1")!);
    await revokeExactly(byName.get("fx10")!, byName.get("fx10")!);
    await revokeExactly("software/Bot 2/1.0", byName.get("Bot 2")!);
    await revokeExactly("software/bot", byName.get("bot")!);
    await revokeExactly("software/RoBot/2.0", byName.get("RoBot")!);
    await revokeExactly("software/Bot2", byName.get("Bot2")!);
    // Password clients: the server refuses (7) but closes their sessions; nothing else changes.
    await revokePasswordClient(byName.get("Gajim desktop")!);
    await revokePasswordClient(byName.get("Gajim laptop")!);
    await revokePasswordClient(byName.get("legacy")!);
    const left = await socketList(jid);
    assert.deepEqual(left.map((c) => c.userAgent.software).sort(), ["Conversations", "Gajim", "Gajim", null].sort());
    assert.ok(left.find((c) => c.id === byName.get("Conversations"))!.connected, "Conversations was never touched");
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Interrupted while waiting

describe("interrupted while waiting on a silent peer", { concurrency: true }, () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`${signal} ends camctl promptly, without a stack trace`, async () => {
      const peer = await unixPeer(socketPath(), (sock, received) => {
        when(sock, received, /<stream:stream/, () => sock.write(ADMIN_HEADER));
      });
      try {
        const run = startCamctl(["user", "clients", "alice@example.com", "--socket", peer.address, "--timeout", "30"], { timeoutMs: KILL_MS });
        await peer.waitFor(/<\/repl-input>/);
        const sentAt = Date.now();
        run.child.kill(signal);
        const r = await run.result;
        await assertPrompt(Date.now() - sentAt, `ending after ${signal}`);
        assert.ok(r.signal === signal || (r.code !== null && r.code !== 0), `exit ${r.code} signal ${r.signal}`);
        if (signal === "SIGINT") {
          assert.equal(r.code, 130, "Ctrl-C: the shell's usual 130");
          assert.equal(r.stderr, "camctl: interrupted.\n");
        }
        assertNoCrash(r);
      } finally {
        await peer.close();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 7. Nothing can keep camctl from ending when its deadline or Ctrl-C says so: no wait inside
// Node's thread pool that cannot be abandoned (process.exit waits for such a thread), no
// synchronous file system call that never returns, nothing in the state directory that is
// followed or waited on.

/** The sentence camctl warns with when it cannot use its state directory, up to the reason. */
const stateWarning = (dir: string) => `camctl: warning: not using the state directory ${dir}: `;

describe("camctl always ends when --timeout or Ctrl-C says so", { concurrency: true }, () => {
  const home = new CamctlHome();
  after(() => home.remove());
  const PASSWORD = "fault-secret-Pw1";
  const xmppArgs = (server: string, timeoutS = TIMEOUT_S) =>
    ["user", "clients", "alice@fake.test", "--jid", "alice@fake.test", "--server", server, "--timeout", String(timeoutS)];

  test("--ca-file naming a FIFO: refused at once (2), nothing read", async () => {
    const fifo = path.join(fs.mkdtempSync(path.join(scratch, "fifo-")), "ca.pem");
    execFileSync("mkfifo", [fifo]);
    const r = await runCamctl([...xmppArgs("127.0.0.1:1", PATIENT_S), "--ca-file", fifo], { env: { ...home.env, CAMCTL_PASSWORD: PASSWORD }, timeoutMs: KILL_MS });
    assertFails(r, 2, /--ca-file .*: it is a FIFO or pipe, not a regular file, and camctl reads only regular files\./);
    assertEndedAtOnce(r);
  });

  test("--password-file naming a FIFO: refused at once (2), nothing read", async () => {
    const fifo = path.join(fs.mkdtempSync(path.join(scratch, "fifo-")), "password");
    execFileSync("mkfifo", [fifo]);
    const r = await runCamctl([...xmppArgs("127.0.0.1:1", PATIENT_S), "--password-file", fifo], { env: home.env, timeoutMs: KILL_MS });
    assertFails(r, 2, /--password-file .*: it is a FIFO or pipe, not a regular file, and camctl reads only regular files\./);
    assertEndedAtOnce(r);
  });

  // One after the other: both count the queries the one silent DNS server receives, and Ctrl-C
  // must not be sent to a camctl that has not started yet because the other test's camctl asked.
  describe("a DNS resolver that never answers (--server <name>)", { concurrency: false }, () => {
    // The system resolver (getaddrinfo) is pointed at a loopback DNS server that never answers,
    // through a private mount namespace in which a resolv.conf of the test's own is mounted over
    // /etc/resolv.conf for camctl alone; glibc would wait 5 x 30 s before giving up.
    const NAME = "xmpp.never-answers.test";
    let dns: { queries: number; close(): Promise<void> } | undefined;
    let prefix: string[] | null = null;
    let why = "";
    before(async () => {
      if (process.getuid?.() !== 0) {
        why = "needs root: a private mount namespace and a DNS server on port 53";
        return;
      }
      const rc = path.join(scratch, "resolv.conf");
      fs.writeFileSync(rc, "nameserver 127.53.0.1\noptions timeout:30 attempts:5\n");
      prefix = ["unshare", "-m", "--", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', rc];
      if (spawnSync(prefix[0]!, [...prefix.slice(1), "true"], { stdio: "ignore", timeout: 5000 }).status !== 0) {
        why = "unshare -m cannot mount a resolv.conf of the test's own here";
        prefix = null;
        return;
      }
      const socket = dgram.createSocket("udp4");
      const server = { queries: 0, close: () => new Promise<void>((r) => socket.close(() => r())) };
      socket.on("message", () => server.queries++); // and never a word back
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.bind(53, "127.53.0.1", () => resolve());
        });
        dns = server;
      } catch (e) {
        why = `no DNS server on 127.53.0.1:53 (${(e as Error).message})`;
        prefix = null;
      }
    });
    after(() => dns?.close());

    test("--timeout ends the run with the timeout sentence (3), the resolver still waiting", async (t) => {
      if (!prefix || !dns) return t.skip(why);
      const before = dns.queries;
      const run = startCamctl(xmppArgs(`${NAME}:5222`), { prefix, env: { ...home.env, CAMCTL_PASSWORD: PASSWORD }, timeoutMs: KILL_MS });
      const r = await run.result;
      assertTimedOut(r, `the XMPP server at ${NAME}:5222`);
      assertWaited(r);
      await assertWithinTimeout(r);
      assert.ok(dns.queries > before, "the resolver really asked the silent DNS server");
    });

    test("Ctrl-C ends the run at once (130)", async (t) => {
      if (!prefix || !dns) return t.skip(why);
      const before = dns.queries;
      const run = startCamctl(xmppArgs(`${NAME}:5222`, 30), { prefix, env: { ...home.env, CAMCTL_PASSWORD: PASSWORD }, timeoutMs: KILL_MS });
      const asked = Date.now() + 10_000;
      while (dns.queries === before && Date.now() < asked) await sleep(20);
      assert.ok(dns.queries > before, "the resolver asked the silent DNS server");
      const sentAt = Date.now();
      run.child.kill("SIGINT");
      const r = await run.result;
      await assertPrompt(Date.now() - sentAt, "ending after SIGINT");
      assert.equal(r.code, 130, r.stderr);
      assert.equal(r.stderr, "camctl: interrupted.\n");
    });
  });

  test("XDG_STATE_HOME below /proc: a warning, then the run goes on and ends within --timeout (3)", async () => {
    const peer = await tcpPeer(() => undefined);
    try {
      const r = await runCamctl(xmppArgs(peer.address), {
        env: { ...home.env, XDG_STATE_HOME: "/proc/camctl-no-such", CAMCTL_PASSWORD: PASSWORD },
        timeoutMs: KILL_MS,
      });
      assert.equal(r.code, 3, r.stderr);
      const [warning, error, rest] = r.stderr.split(/(?<=\n)/);
      assert.ok(warning?.startsWith(stateWarning("/proc/camctl-no-such/camctl")), r.stderr);
      assert.equal(error, timedOut(`the XMPP server at ${peer.address}`));
      assert.equal(rest, undefined);
      assertNoCrash(r);
      await assertWithinTimeout(r);
    } finally {
      await peer.close();
    }
  });

  test("a FIFO planted as the state's user-agent-id: refused with a warning, never waited on", async () => {
    const h = new CamctlHome();
    const peer = await tcpPeer(() => undefined);
    try {
      fs.mkdirSync(h.stateDir, { recursive: true, mode: 0o700 });
      execFileSync("mkfifo", [path.join(h.stateDir, "user-agent-id")]);
      const r = await runCamctl(xmppArgs(peer.address), { env: { ...h.env, CAMCTL_PASSWORD: PASSWORD }, timeoutMs: KILL_MS });
      assert.equal(r.code, 3, r.stderr);
      assert.ok(r.stderr.startsWith(stateWarning(h.stateDir) + "user-agent-id is not a regular file."), r.stderr);
      assert.ok(r.stderr.endsWith(timedOut(`the XMPP server at ${peer.address}`)), r.stderr);
      await assertWithinTimeout(r);
    } finally {
      await peer.close();
      h.remove();
    }
  });

  test("the state directory as a planted link: the directory it points at is neither chmodded nor written", async () => {
    const h = new CamctlHome();
    try {
      const victim = fs.mkdtempSync(path.join(scratch, "victim-"));
      fs.chmodSync(victim, 0o755);
      fs.writeFileSync(path.join(victim, "precious"), "keep\n", { mode: 0o644 });
      fs.mkdirSync(path.dirname(h.stateDir), { recursive: true });
      fs.symlinkSync(victim, h.stateDir);
      const r = await runCamctl(xmppArgs("127.0.0.1:1"), { env: { ...h.env, CAMCTL_PASSWORD: PASSWORD }, timeoutMs: KILL_MS });
      assert.equal(r.code, 3, r.stderr);
      assert.ok(r.stderr.startsWith(stateWarning(h.stateDir) + "it is a symbolic link."), r.stderr);
      assert.equal(fs.statSync(victim).mode & 0o777, 0o755, "not chmodded");
      assert.deepEqual(fs.readdirSync(victim), ["precious"], "nothing written into it");
      assert.equal(fs.statSync(path.join(victim, "precious")).mode & 0o777, 0o644);
    } finally {
      h.remove();
    }
  });
});
