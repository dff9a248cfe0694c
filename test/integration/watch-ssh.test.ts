// `camctl watch --ssh`: the admin socket of another machine through a real sshd (test/sshd) in
// front of a real sandbox Prosody; the watcher's hooks go when the SSH link does.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { startSshd, sshdUnavailable, type Sshd } from "../sshd/sshd.js";
import type { StartedCamctl } from "../helpers/run-camctl.js";
import { rawSasl2Login } from "../helpers/sasl2-raw.js";
import { handlerCount, handlersBecome, killAll, parsed, startWatcher } from "../helpers/watcher.js";

const skip = sshdUnavailable();
let sb: Sandbox;
let sshd: Sshd;
const started: StartedCamctl[] = [];

before(async () => {
  if (skip) return;
  [sb, sshd] = await Promise.all([startSandbox(), startSshd()]);
});
after(async () => {
  killAll(started);
  await Promise.all([sb?.stop(), sshd?.stop()]);
});

describe("camctl watch over --ssh", { skip }, () => {
  test("events arrive through the SSH link; --count ends with 0; killed, its hooks go", async () => {
    const noWatchers = await handlerCount(sb);
    const { jid } = await sb.createAccount("carol");
    const ssh = ["--ssh", sshd.target, "--ssh-config", sshd.sshArgs[1]!, "--socket", sb.socketPath];
    const counted = startWatcher(["watch", sb.host, ...ssh, "-o", "ndjson", "--count", "2"], {}, started);
    const killed = startWatcher(["watch", sb.host, ...ssh], {}, started);
    await Promise.all([counted.ready, killed.ready]);
    assert.equal(await handlerCount(sb), noWatchers + 22);
    await rawSasl2Login(sb, { jid, userAgentId: randomUUID(), credential: { password: "wrong" }, localAddress: "127.0.0.2" });
    await rawSasl2Login(sb, { jid, userAgentId: randomUUID(), credential: { password: "wrong" }, localAddress: "127.0.0.3" });
    const r = await counted.run.result;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parsed(counted.lines).map((e) => [e.event, e.account, e.ip]), [
      ["login-failed", jid, "127.0.0.2"],
      ["login-failed", jid, "127.0.0.3"],
    ]);
    killed.run.child.kill("SIGKILL");
    await killed.run.result;
    assert.equal(await handlersBecome(sb, noWatchers), noWatchers, "no handler is left behind");
  });
});
