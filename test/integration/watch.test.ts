// `camctl watch` over the admin socket against a real Prosody, while real clients log in and fail
// from different loopback addresses: the events and their fields, how a watch ends (--count,
// --for, Ctrl-C: exit 0; a bad --for: exit 2), that the server's hooks go with the connection
// however it ends (100 watchers), and that a reader that stops reading never blocks the server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { runCamctl, type StartedCamctl } from "../helpers/run-camctl.js";
import { floodEvents, handlerCount, handlersBecome, has, killAll, parsed, revokeThenInterrupt, startWatcher } from "../helpers/watcher.js";
import { rawSasl2Login } from "../helpers/sasl2-raw.js";
import { HOSTILE, UNSAFE_FOR_TERMINAL } from "../helpers/hostile-strings.js";

let sb: Sandbox;
let alice: { jid: string; password: string };
let bob: { jid: string; password: string };

const watch = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  startWatcher(["watch", sb.host, "--socket", sb.socketPath, ...args], env, started);

before(async () => {
  sb = await startSandbox();
  alice = await sb.createAccount("alice");
  bob = await sb.createAccount("bob");
  // Before any watcher: what the server hooks on its own.
  noWatchers = await handlerCount(sb);
});
const started: StartedCamctl[] = [];
let noWatchers: number;
after(async () => {
  killAll(started);
  await sb?.stop();
});

describe("camctl watch over the admin socket", () => {
  test("logins, failed logins, new clients and revocations arrive with their fields; Ctrl-C ends with 0", async () => {
    const w = watch(["-o", "ndjson"]);
    await w.ready;
    const uaId = randomUUID();
    // With a FAST token: something revoke_client can take away.
    const ok = await rawSasl2Login(sb, { jid: alice.jid, userAgentId: uaId, software: "Dino", device: "laptop", credential: { password: alice.password }, requestFast: true, localAddress: "127.0.0.2" });
    assert.ok(ok.ok);
    const bad = await rawSasl2Login(sb, { jid: bob.jid, userAgentId: randomUUID(), software: "Evil", credential: { password: "wrong" }, localAddress: "127.0.0.3" });
    assert.equal(bad.ok, false);
    const { grant, events } = await revokeThenInterrupt(sb, w, alice.jid);
    for (const e of events) {
      assert.equal(e.host, sb.host);
      assert.match(String(e.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const newClient = events.find((e) => e.event === "new-client");
    assert.deepEqual(
      newClient && { account: newClient.account, clientId: newClient.clientId, software: newClient.software, device: newClient.device, ip: newClient.ip },
      { account: alice.jid, clientId: `client/${uaId}`, software: "Dino", device: "laptop", ip: "127.0.0.2" },
    );
    const login = events.find((e) => e.event === "login");
    assert.deepEqual(
      login && { account: login.account, clientId: login.clientId, software: login.software, ip: login.ip, mechanism: login.mechanism },
      { account: alice.jid, clientId: `client/${uaId}`, software: "Dino", ip: "127.0.0.2", mechanism: "PLAIN" },
    );
    const failed = events.find((e) => e.event === "login-failed");
    assert.equal(failed?.account, bob.jid);
    assert.equal(failed?.ip, "127.0.0.3");
    assert.equal(failed?.software, "Evil");
    assert.match(String(failed?.detail), /not-authorized/);
    const revoked = events.find((e) => e.event === "revoked");
    assert.equal(revoked?.account, alice.jid);
    assert.equal(revoked?.clientId, grant);
    assert.equal(revoked?.dropped, null);
  });

  test("--count ends with 0 after that many events; readable lines show hostile strings safely", async () => {
    const w = watch(["--count", "2"]);
    await w.ready;
    await rawSasl2Login(sb, { jid: bob.jid, userAgentId: randomUUID(), software: HOSTILE.c1 + HOSTILE.bidi, credential: { password: "wrong" }, localAddress: "127.0.0.3" });
    await rawSasl2Login(sb, { jid: bob.jid, userAgentId: randomUUID(), software: HOSTILE.c1 + HOSTILE.bidi, credential: { password: "wrong" }, localAddress: "127.0.0.3" });
    const r = await w.run.result;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 2, r.stdout);
    for (const l of lines) {
      assert.match(l, /login-failed/);
      assert.match(l, /from 127\.0\.0\.3/);
      assert.doesNotMatch(l, UNSAFE_FOR_TERMINAL, "nothing a terminal interprets");
    }
  });

  test("--for ends with 0; a bad --for or --count exits 2 with one sentence", async () => {
    const r = await runCamctl(["watch", sb.host, "--socket", sb.socketPath, "--for", "1s", "-o", "ndjson"]);
    assert.equal(r.code, 0, r.stderr);
    for (const bad of [["--for", "soon"], ["--for", "0s"], ["--count", "0"], ["--count", "two"]]) {
      const b = await runCamctl(["watch", sb.host, "--socket", sb.socketPath, ...bad]);
      assert.equal(b.code, 2, b.stderr);
      assert.equal(b.stderr.trim().split("\n").length, 1, b.stderr);
      assert.match(b.stderr, /^camctl: --(for|count) takes/);
      assert.equal(b.stdout, "");
    }
    const csv = await runCamctl(["watch", sb.host, "--socket", sb.socketPath, "-o", "csv"]);
    assert.equal(csv.code, 2, csv.stderr);
    const unknown = await runCamctl(["watch", "nowhere.example", "--socket", sb.socketPath, "--for", "5s"]);
    assert.equal(unknown.code, 6, unknown.stderr);
  });

  test("the server's hooks go with the connection however it ends: 100 watchers", async () => {
    // The watchers of the tests before end a moment after their processes.
    const baseline = await handlersBecome(sb, noWatchers);
    assert.equal(baseline, noWatchers);
    const perWatcher = 11;
    let total = 0;
    for (let batch = 0; batch < 5; batch++) {
      // 20 at once: 5 killed (SIGKILL), 5 interrupted (Ctrl-C), 5 ended by --count, 5 by --for.
      const ws = Array.from({ length: 20 }, (_, i) => watch(i % 4 === 2 ? ["--count", "1"] : i % 4 === 3 ? ["--for", "60s"] : []));
      await Promise.all(ws.map((w) => w.ready));
      total += ws.length;
      assert.equal(await handlerCount(sb), baseline + ws.length * perWatcher, "each watcher hooks its events");
      ws.forEach((w, i) => {
        if (i % 4 === 0) w.run.child.kill("SIGKILL");
        if (i % 4 === 1) w.run.child.kill("SIGINT");
        // --for: the process ends abruptly half-way, with its connection open.
        if (i % 4 === 3) w.run.child.kill("SIGTERM");
      });
      // The --count watchers end on the next event.
      await rawSasl2Login(sb, { jid: bob.jid, userAgentId: randomUUID(), credential: { password: "wrong" }, localAddress: "127.0.0.2" });
      const results = await Promise.all(ws.map((w) => w.run.result));
      results.forEach((r, i) => {
        if (i % 4 === 1 || i % 4 === 2) assert.equal(r.code, 0, r.stderr);
      });
    }
    assert.equal(total, 100);
    assert.equal(await handlersBecome(sb, baseline), baseline, "no handler is left behind");
    // And the server still works.
    assert.ok((await rawSasl2Login(sb, { jid: alice.jid, userAgentId: randomUUID(), credential: { password: alice.password } })).ok);
  });

  test("a reader that stops reading never blocks the server; the drops are reported when it reads again", async () => {
    const w = watch(["-o", "ndjson"], { CAMCTL_WATCH_QUEUE: "5" });
    await w.ready;
    w.run.child.stdout!.pause();
    // Enough events to fill the pipe, both sockets and the server's allowance many times over.
    const flood = 4000;
    await floodEvents(sb, flood);
    // While nobody reads: the server answers, and real clients log in and fail.
    assert.equal(await sb.lua(`return "pong"`), "pong");
    const uaId = randomUUID();
    assert.ok((await rawSasl2Login(sb, { jid: alice.jid, userAgentId: uaId, credential: { password: alice.password }, localAddress: "127.0.0.2" })).ok);
    const bad = await rawSasl2Login(sb, { jid: bob.jid, userAgentId: randomUUID(), credential: { password: "nope" }, localAddress: "127.0.0.3" });
    assert.equal(bad.ok, false);
    w.run.child.stdout!.resume();
    await w.until(has((e) => e.event === "dropped"));
    // Reading again: new events arrive.
    const lastId = randomUUID();
    assert.ok((await rawSasl2Login(sb, { jid: alice.jid, userAgentId: lastId, credential: { password: alice.password }, localAddress: "127.0.0.3" })).ok);
    await w.until(has((e) => e.event === "login" && e.clientId === `client/${lastId}`));
    // A last failure marks the end: everything of the login before it has arrived by then.
    assert.equal((await rawSasl2Login(sb, { jid: `marker@${sb.host}`, userAgentId: randomUUID(), credential: { password: "x" } })).ok, false);
    await w.until(has((e) => e.event === "login-failed" && e.account === `marker@${sb.host}`));
    w.run.child.kill("SIGINT");
    const r = await w.run.result;
    assert.equal(r.code, 0, r.stderr);
    const all = parsed(w.lines);
    const markerAt = all.findIndex((e) => e.account === `marker@${sb.host}`);
    // What one such login makes (new-client, login, and the session's start and end where it binds), measured.
    const perLogin = all.filter((e) => e.clientId === `client/${lastId}`).length;
    const events = all.slice(0, markerAt).filter((e) => e.clientId !== `client/${lastId}`);
    const dropped = events.filter((e) => e.event === "dropped").reduce((n, e) => n + Number(e.dropped), 0);
    assert.ok(dropped > 0, "some events were dropped");
    // The flood, then alice's login and bob's failure, made while nobody read: each delivered or counted.
    const delivered = events.filter((e) => e.event !== "dropped").length;
    assert.equal(delivered + dropped, flood + perLogin + 1, "every event was either delivered or counted as dropped");
  });

  test("--context a,b watches every context at once; each record says which; a failing context is reported and the others go on", async () => {
    const dir = fs.mkdtempSync(path.join("/tmp", "camctl-watch-"));
    const file = path.join(dir, "config.toml");
    fs.writeFileSync(file, `[contexts.one]\nsocket = "${sb.socketPath}"\n[contexts.two]\nsocket = "${sb.socketPath}"\n[contexts.gone]\nsocket = "${path.join(dir, "missing.sock")}"\n`, { mode: 0o600 });
    try {
      const w = startWatcher(["--all-contexts", "watch", sb.host, "-o", "ndjson", "--count", "2"], { CAMCTL_CONFIG: file }, started);
      await w.until(() => (w.stderr().match(/watching /g) ?? []).length === 2);
      await rawSasl2Login(sb, { jid: bob.jid, userAgentId: randomUUID(), credential: { password: "wrong" }, localAddress: "127.0.0.2" });
      const r = await w.run.result;
      const events = parsed(w.lines);
      assert.deepEqual(events.map((e) => e.context).sort(), ["one", "two"]);
      for (const e of events) {
        assert.equal(e.event, "login-failed");
        assert.equal(e.ip, "127.0.0.2");
        assert.equal(Object.keys(e)[0], "context");
      }
      assert.match(r.stderr, /gone: There is no admin socket/);
      assert.equal(r.code, 3, r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
