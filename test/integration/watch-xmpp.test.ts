// `camctl watch` over XMPP through the companion module (urn:camctl:admin:0 <watch/>), against a
// real Prosody while real clients log in and fail from different loopback addresses: the events,
// who may watch, that the hooks go with the session however it ends, and a reader that stops
// reading while the host is flooded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import type { StartedCamctl } from "../helpers/run-camctl.js";
import { rawSasl2Login } from "../helpers/sasl2-raw.js";
import { homesRemovedAfterAll, xmppCamctl, xmppInvocation, type Login } from "../helpers/xmpp-camctl.js";
import { floodEvents, handlerCount, handlersBecome, has, killAll, parsed, revokeThenInterrupt, startWatcher } from "../helpers/watcher.js";

let sb: Sandbox;
let boss: Login;
let alice: Login;
let bob: Login;
const newHome = homesRemovedAfterAll();
const started: StartedCamctl[] = [];
let noWatchers: number;

before(async () => {
  sb = await startSandbox({ extraModules: ["client_management_admin"], admins: ["boss"] });
  boss = await sb.createAccount("boss");
  alice = await sb.createAccount("alice");
  bob = await sb.createAccount("bob");
  // Before any watcher: what the server hooks on its own.
  noWatchers = await handlerCount(sb);
});
after(async () => {
  killAll(started);
  await sb?.stop();
});

function watchAs(login: Login, args: string[], env: NodeJS.ProcessEnv = {}) {
  const home = newHome();
  const inv = xmppInvocation(sb, home, login, ["watch", sb.host, ...args]);
  return startWatcher(inv.args, { ...inv.env, ...env }, started);
}

describe("camctl watch over XMPP (companion)", () => {
  test("an admin sees logins, failed logins, new clients and revocations with their addresses; Ctrl-C ends with 0", async () => {
    const w = watchAs(boss, ["-o", "ndjson"]);
    await w.ready;
    const uaId = randomUUID();
    assert.ok((await rawSasl2Login(sb, { jid: alice.jid, userAgentId: uaId, software: "Dino", device: "phone", credential: { password: alice.password }, localAddress: "127.0.0.2" })).ok);
    assert.equal((await rawSasl2Login(sb, { jid: bob.jid, userAgentId: randomUUID(), credential: { password: "wrong" }, localAddress: "127.0.0.3" })).ok, false);
    const { grant, events } = await revokeThenInterrupt(sb, w, alice.jid);
    const login = events.find((e) => e.event === "login" && e.clientId === `client/${uaId}`);
    assert.deepEqual(login && [login.account, login.ip, login.software, login.device, login.mechanism], [alice.jid, "127.0.0.2", "Dino", "phone", "PLAIN"]);
    assert.ok(events.some((e) => e.event === "new-client" && e.clientId === `client/${uaId}` && e.ip === "127.0.0.2"));
    const failed = events.find((e) => e.event === "login-failed");
    assert.deepEqual(failed && [failed.account, failed.ip], [bob.jid, "127.0.0.3"]);
    assert.ok(events.some((e) => e.event === "revoked" && e.clientId === grant && e.account === alice.jid));
  });

  test("an account that is not an admin may not watch (exit 5, one sentence)", async () => {
    const r = await xmppCamctl(sb, newHome(), alice, ["watch", sb.host, "--for", "5s"]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /^camctl: .*watch the events of/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  });

  test("the hooks go with the session however it ends (killed, interrupted, terminated)", async () => {
    // The watchers of the tests before end a moment after their processes.
    const baseline = await handlersBecome(sb, noWatchers);
    assert.equal(baseline, noWatchers);
    // (Not --count: each watcher's login is an event the others see.)
    const ws = Array.from({ length: 9 }, () => watchAs(boss, []));
    await Promise.all(ws.map((w) => w.ready));
    assert.equal(await handlerCount(sb), baseline + ws.length * 11, "each watcher hooks its events");
    ws.forEach((w, i) => {
      if (i % 3 === 0) w.run.child.kill("SIGKILL");
      if (i % 3 === 1) w.run.child.kill("SIGINT");
      if (i % 3 === 2) w.run.child.kill("SIGTERM");
    });
    const results = await Promise.all(ws.map((w) => w.run.result));
    results.forEach((r, i) => i % 3 === 1 && assert.equal(r.code, 0, r.stderr));
    assert.equal(await handlersBecome(sb, baseline), baseline, "no handler is left behind");
  });

  test("a reader that stops reading never blocks the server; drops are counted", async () => {
    const w = watchAs(boss, ["-o", "ndjson"], { CAMCTL_WATCH_QUEUE: "5" });
    await w.ready;
    w.run.child.stdout!.pause();
    const flood = 3000;
    await floodEvents(sb, flood);
    assert.equal(await sb.lua(`return "pong"`), "pong");
    assert.ok((await rawSasl2Login(sb, { jid: alice.jid, userAgentId: randomUUID(), credential: { password: alice.password }, localAddress: "127.0.0.2" })).ok);
    w.run.child.stdout!.resume();
    await w.until(has((e) => e.event === "dropped"));
    assert.equal((await rawSasl2Login(sb, { jid: `marker@${sb.host}`, userAgentId: randomUUID(), credential: { password: "x" } })).ok, false);
    await w.until(has((e) => e.account === `marker@${sb.host}`));
    w.run.child.kill("SIGINT");
    const r = await w.run.result;
    assert.equal(r.code, 0, r.stderr);
    const events = parsed(w.lines);
    const dropped = events.filter((e) => e.event === "dropped").reduce((n, e) => n + Number(e.dropped), 0);
    const floodSeen = events.filter((e) => e.account === `flood@${sb.host}`).length;
    assert.ok(dropped > 0, "some events were dropped");
    // Everything else that was dropped came from alice's login in the same window.
    assert.ok(floodSeen + dropped >= flood, `${floodSeen} delivered + ${dropped} dropped cover the ${flood} flood events`);
    assert.ok(floodSeen < flood);
  });
});
