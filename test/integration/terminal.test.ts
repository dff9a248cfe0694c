// camctl on a real pseudo-terminal (util-linux `script`): colour, relative times and the width
// limit are for terminals only, and NO_COLOR / --no-color / FORCE_COLOR are honoured.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { startSandbox, type Sandbox, type SandboxClient } from "../sandbox/sandbox.js";
import { CAMCTL_BIN, runCamctl } from "../helpers/run-camctl.js";

const haveScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

let sb: Sandbox;
let jid: string;
let grantId: string;
let kept: SandboxClient;

before(async () => {
  sb = await startSandbox();
  const account = await sb.createAccount("tty");
  jid = account.jid;
  kept = await sb.sasl2Login({ jid, password: account.password, userAgentId: randomUUID(), software: "Gajim", version: "1.9.5", device: "A rather long device name for a laptop", keepConnected: true });
  grantId = await sb.createGrant(jid, { software: "A bridge with quite a long software name", ttlSeconds: 7 * 86400 });
});
after(async () => {
  await kept?.close();
  await sb?.stop();
});

/** Runs camctl on a pseudo-terminal of the given width; returns what the terminal received. */
function onTerminal(args: string[], o: { cols: number; env?: Record<string, string>; typed?: string }): { code: number | null; out: string } {
  const quoted = [process.execPath, CAMCTL_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const r = spawnSync("script", ["-qec", `stty cols ${o.cols} rows 50; ${quoted}`, "/dev/null"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", TERM: "xterm-256color", ...o.env },
    encoding: "utf8",
    timeout: 30_000,
    input: o.typed ?? "",
  });
  return { code: r.status, out: r.stdout.replace(/\r\n/g, "\n") };
}

const SGR = /\x1b\[[0-9;]*m/;
const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

describe("on a terminal", { skip: haveScript ? false : "util-linux script is not installed" }, () => {
  test("colour and relative times that still tell the date", () => {
    const r = onTerminal(["user", "clients", jid, "--socket", sb.socketPath], { cols: 200 });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, SGR, "coloured");
    assert.doesNotMatch(visible(r.out), /\x1b/, "nothing but colour");
    assert.match(visible(r.out), /in [67] days \((\w{3} \d\d \d\d:\d\d|\d{4}-\d\d-\d\d)\)/, "expiry is relative and dated");
    assert.match(visible(r.out), /just now \(\d\d:\d\d\)|min ago \(\d\d:\d\d\)/);
    assert.ok(visible(r.out).includes(grantId));
  });

  for (const [name, extra, env] of [
    ["NO_COLOR", [], { NO_COLOR: "1" }],
    ["--no-color", ["--no-color"], {}],
  ] as const) {
    test(`${name} turns colour off`, () => {
      const r = onTerminal(["user", "clients", jid, "--socket", sb.socketPath, ...extra], { cols: 200, env });
      assert.equal(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /\x1b/);
    });
  }

  for (const cols of [60, 80, 100]) {
    test(`never wider than a ${cols}-column terminal, ids whole`, () => {
      const r = onTerminal(["user", "clients", jid, "--socket", sb.socketPath], { cols });
      assert.equal(r.code, 0, r.out);
      const lines = visible(r.out).split("\n").filter((l) => l !== "");
      for (const line of lines) assert.ok([...line].length <= cols, `${[...line].length} > ${cols}: ${line}`);
      assert.ok(lines.some((l) => l.includes(grantId)), "the grant id is whole");
    });
  }
});

describe("the confirmation prompt, answered on a terminal", { skip: haveScript ? false : "util-linux script is not installed" }, () => {
  const grantIds = async () => (JSON.parse((await runCamctl(["user", "clients", jid, "--socket", sb.socketPath, "--json"])).stdout) as { clients: { id: string }[] }).clients.map((c) => c.id);

  test("no keeps the client (exit 2); the question names it, sanitised", async () => {
    const hostile = await sb.createGrant(jid, { software: "Evil\x1b]0;pwned\x07Bot" });
    const r = onTerminal(["user", "revoke_client", jid, hostile, "--socket", sb.socketPath], { cols: 120, typed: "n\r" });
    assert.equal(r.code, 2, r.out);
    assert.ok(visible(r.out).includes(`Revoke ${hostile} (Evil\\x1b]0;pwned\\x07Bot)`), r.out);
    assert.ok(!r.out.includes("\x1b]0;pwned"), "the title sequence never reaches the terminal");
    assert.match(r.out, /Nothing was revoked/);
    assert.ok((await grantIds()).includes(hostile));
  });

  test("yes revokes it (exit 0)", async () => {
    const doomed = await sb.createGrant(jid, { software: "Doomed" });
    const r = onTerminal(["user", "revoke-client", jid, doomed, "--socket", sb.socketPath], { cols: 120, typed: "y\r" });
    assert.equal(r.code, 0, r.out);
    assert.match(visible(r.out), new RegExp(`Revoked ${doomed}`));
    assert.ok(!(await grantIds()).includes(doomed));
  });
});

test("piped: no colour unless FORCE_COLOR, absolute times", async () => {
  const plain = await runCamctl(["user", "clients", jid, "--socket", sb.socketPath]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stdout, /\x1b/);
  assert.match(plain.stdout, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
  assert.doesNotMatch(plain.stdout, /ago|just now/);
  const forced = await runCamctl(["user", "clients", jid, "--socket", sb.socketPath], { env: { FORCE_COLOR: "1" } });
  assert.match(forced.stdout, SGR);
  const json = await runCamctl(["user", "clients", jid, "--socket", sb.socketPath, "--json"], { env: { FORCE_COLOR: "1" } });
  assert.doesNotMatch(json.stdout, /\x1b/, "JSON is never coloured");
});
