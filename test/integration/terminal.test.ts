// camctl on a real pseudo-terminal (util-linux `script`): colour, relative times and the width
// limit are for terminals only, and NO_COLOR / --no-color / FORCE_COLOR are honoured. Also what
// happens to output that cannot be written (a full disk, an unwritable descriptor, a reader that
// goes away), and that hostile argv and environment values reach the terminal escaped.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import { startSandbox, type Sandbox, type SandboxClient } from "../sandbox/sandbox.js";
import { addBulkGrants } from "../helpers/bulk-grants.js";
import { CAMCTL_BIN, runCamctl } from "../helpers/run-camctl.js";
import { haveScript } from "../helpers/terminal.js";

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
    test(`never wider than a ${cols}-column terminal, ids whole or as a unique prefix`, () => {
      const r = onTerminal(["user", "clients", jid, "--socket", sb.socketPath], { cols });
      assert.equal(r.code, 0, r.out);
      const lines = visible(r.out).split("\n").filter((l) => l !== "");
      for (const line of lines) assert.ok([...line].length <= cols, `${[...line].length} > ${cols}: ${line}`);
      // A table that does not fit shortens ids (render/short-id.ts): "grant/" and at least 7 more, then "…".
      const shown = lines.map((l) => /grant\/\S+/.exec(l)?.[0]).find((x) => x !== undefined);
      assert.ok(shown !== undefined && (shown === grantId || (shown.endsWith("…") && grantId.startsWith(shown.slice(0, -1)) && shown.length >= "grant/".length + 8)), `the grant id: ${shown}`);
      const wide = onTerminal(["user", "clients", jid, "--socket", sb.socketPath, "--wide"], { cols });
      assert.ok(visible(wide.out).includes(grantId), "--wide: the grant id whole");
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

// ---------------------------------------------------------------------------------------------
// Output that cannot be written

/** Runs camctl with stdout on the given file descriptor (stderr captured). */
function withStdout(args: string[], stdoutFd: number, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAMCTL_BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", ...env },
      stdio: ["ignore", stdoutFd, "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stderr });
    });
  });
}

const haveDevFull = existsSync("/dev/full");

describe("output that cannot be written", () => {
  test("> /dev/full: exit 10 and one sentence, for JSON, CSV, the table and help", { skip: haveDevFull ? false : "/dev/full does not exist here" }, async () => {
    for (const args of [["user", "clients", jid, "--socket", sb.socketPath, "--json"], ["user", "clients", jid, "--socket", sb.socketPath, "-o", "csv"], ["user", "clients", jid, "--socket", sb.socketPath], ["--help"]]) {
      const full = openSync("/dev/full", "w");
      try {
        const r = await withStdout(args, full);
        assert.equal(r.code, 10, `${args.join(" ")}: ${r.stderr}`);
        assert.equal(r.stderr, "camctl: Could not write the output: no space left on device (ENOSPC). It is missing or incomplete.\n");
      } finally {
        closeSync(full);
      }
    }
  });

  test("a stdout that cannot be written to (opened read-only): exit 10 and one sentence", async () => {
    const readOnly = openSync("/dev/null", "r");
    try {
      const r = await withStdout(["user", "clients", jid, "--socket", sb.socketPath, "--json"], readOnly);
      assert.equal(r.code, 10, r.stderr);
      assert.match(r.stderr, /^camctl: Could not write the output: bad file descriptor \(EBADF\)\. It is missing or incomplete\.\n$/);
    } finally {
      closeSync(readOnly);
    }
  });

  test("a reader that goes away early (| head) is a quiet success", async () => {
    const big = (await sb.createAccount("bigpipe")).jid;
    await addBulkGrants(sb, big, 1000);
    const child = spawn(process.execPath, [CAMCTL_BIN, "user", "clients", big, "--socket", sb.socketPath, "--json"], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdout.once("data", () => child.stdout.destroy()); // like `head -c 1`
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
  });
});

// ---------------------------------------------------------------------------------------------
// One long name among many clients, end to end over the socket

test("1,001 clients with one 200 KB software name: the piped table stays proportional, JSON keeps the name", async () => {
  const account = (await sb.createAccount("longname")).jid;
  await addBulkGrants(sb, account, 1000);
  const long = "L".repeat(200_000);
  await sb.createGrant(account, { software: long });
  const table = await runCamctl(["user", "clients", account, "--socket", sb.socketPath]);
  assert.equal(table.code, 0, table.stderr);
  // A header, one line per client, and the account's status line.
  assert.equal(table.stdout.trimEnd().split("\n").length, 1 + 1001 + 1);
  assert.ok(table.stdout.length < 1001 * 250, `${table.stdout.length} characters of table`);
  assert.match(table.stdout, /L+…/);
  const json = await runCamctl(["user", "clients", account, "--socket", sb.socketPath, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  assert.ok((JSON.parse(json.stdout) as { clients: { userAgent: { software: string } }[] }).clients.some((c) => c.userAgent.software === long));
});

// ---------------------------------------------------------------------------------------------
// Hostile values from argv and the environment, as a real process writes them

test("a hostile --socket path, CAMCTL_SOCKET or XDG_STATE_HOME reaches stderr escaped", async () => {
  const title = "/tmp/x\x1b]0;pwned\x07";
  for (const r of [
    await runCamctl(["user", "clients", "alice@example.com", "--socket", title]),
    await runCamctl(["user", "clients", "alice@example.com"], { env: { CAMCTL_SOCKET: title } }),
  ]) {
    assert.equal(r.code, 3, r.stderr);
    assert.ok(!r.stderr.includes("\x1b") && !r.stderr.includes("\x07"), JSON.stringify(r.stderr));
    assert.ok(r.stderr.includes("/tmp/x\\x1b]0;pwned\\x07"), r.stderr);
  }
  // The state directory's warning is written by the XMPP transport itself; the net in cli.ts
  // still escapes it. (Port 1 on loopback refuses at once.)
  const state = await runCamctl(["user", "clients", "alice@example.com", "--jid", "me@example.com", "--server", "127.0.0.1:1", "--tls", "none"], {
    env: { XDG_STATE_HOME: `/etc/passwd/${title}\u202e`, CAMCTL_PASSWORD: "secret" },
  });
  assert.equal(state.code, 3, state.stderr);
  assert.match(state.stderr, /^camctl: warning: .*\/etc\/passwd\/+tmp\/x\\x1b\]0;pwned\\x07\\u202e/m);
  assert.ok(!/[\x00-\x09\x0b-\x1f\x7f\u202e]/.test(state.stderr), JSON.stringify(state.stderr));
});
