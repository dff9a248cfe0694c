// Hostile text through every error path the command line reaches (argv values, environment
// values, parse errors), run in-process with the real transports: whatever camctl says, no raw
// control, bidi or format character reaches stdout or stderr, and stderr is `camctl: …` lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { main } from "../../src/cli/program.js";
import { fakeIO } from "../helpers/fake-io.js";
import { HOSTILE, anyText, unsafeChar } from "../helpers/render-fixtures.js";

/** Text an attacker controls, made nasty more often than chance would make it. */
const hostile = fc.oneof(anyText, fc.constantFrom(...HOSTILE), anyText.map((s) => `/tmp/x\x1b]0;pwned\x07${s}`));

/** A path no test machine has, so every transport fails fast and says so. */
const MISSING = "/nonexistent-camctl-test";

interface Scenario {
  name: string;
  argv: (x: string) => string[];
  env?: (x: string) => NodeJS.ProcessEnv;
}

const SCENARIOS: Scenario[] = [
  { name: "account JID", argv: (x) => ["user", "clients", x, "--socket", `${MISSING}/s`] },
  { name: "selector", argv: (x) => ["user", "revoke_client", "alice@example.com", x, "--socket", `${MISSING}/s`, "--dry-run"] },
  { name: "--socket", argv: (x) => ["user", "clients", "alice@example.com", "--socket", `${MISSING}/${x}`] },
  { name: "--socket (relative)", argv: (x) => ["user", "clients", "alice@example.com", "--socket", `nonexistent-${x}`] },
  { name: "--server", argv: (x) => ["user", "clients", "alice@example.com", "--jid", "me@example.com", "--server", `${x}:99999`] },
  { name: "--server host", argv: (x) => ["user", "clients", "alice@example.com", "--jid", "me@example.com", "--server", x, "--password-file", `${MISSING}/pw`] },
  {
    name: "--ca-file",
    argv: (x) => ["user", "clients", "alice@example.com", "--jid", "me@example.com", "--server", "127.0.0.1:1", "--ca-file", `${MISSING}/${x}`],
    env: () => ({ CAMCTL_PASSWORD: "secret" }),
  },
  { name: "--password-file", argv: (x) => ["user", "clients", "alice@example.com", "--jid", "me@example.com", "--password-file", `${MISSING}/${x}`] },
  { name: "--jid", argv: (x) => ["user", "clients", "alice@example.com", "--jid", x] },
  { name: "CAMCTL_SOCKET", argv: () => ["user", "clients", "alice@example.com"], env: (x) => ({ CAMCTL_SOCKET: `${MISSING}/${x}` }) },
  { name: "CAMCTL_JID", argv: () => ["user", "clients", "alice@example.com"], env: (x) => ({ CAMCTL_JID: x }) },
  { name: "CAMCTL_JID, no password", argv: () => ["user", "clients", "alice@example.com"], env: (x) => ({ CAMCTL_JID: `me${x.replace(/[@/]/g, "")}@example.com` }) },
  { name: "--timeout", argv: (x) => ["user", "clients", "alice@example.com", "--timeout", x] },
  { name: "--output", argv: (x) => ["user", "clients", "alice@example.com", "-o", x] },
  { name: "--tls", argv: (x) => ["user", "clients", "alice@example.com", "--jid", "me@example.com", "--tls", x] },
  { name: "unknown option", argv: (x) => ["user", "clients", "alice@example.com", `--${x}`] },
  { name: "unknown command", argv: (x) => [`u${x}`] },
  { name: "unknown user command", argv: (x) => ["user", `c${x}`] },
  { name: "completion shell", argv: (x) => ["completion", x] },
  { name: "too many arguments", argv: (x) => ["user", "clients", "alice@example.com", x] },
];

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const f = fakeIO({ env });
  const code = await main(argv, { io: f.io });
  return { code, out: f.out(), err: f.err() };
}

function assertSafeOutput(r: { code: number; out: string; err: string }, what: string): void {
  const rawIn = (s: string) => unsafeChar().exec(s.replace(/\n/g, ""));
  assert.equal(rawIn(r.err), null, `${what}: raw ${JSON.stringify(rawIn(r.err)?.[0])} on stderr: ${JSON.stringify(r.err)}`);
  assert.equal(rawIn(r.out), null, `${what}: raw character on stdout: ${JSON.stringify(r.out)}`);
  for (const line of r.err.trimEnd().split("\n")) assert.match(line, /^camctl: \S/, `${what}: ${JSON.stringify(r.err)}`);
  assert.notEqual(r.code, 0, `${what} should fail`);
  assert.notEqual(r.code, 1, `${what}: an internal error: ${r.err}`);
}

for (const s of SCENARIOS) {
  test(`property: hostile ${s.name} never reaches the terminal raw`, async () => {
    await fc.assert(
      fc.asyncProperty(hostile, async (x) => {
        assertSafeOutput(await run(s.argv(x), s.env?.(x)), `${s.name} ${JSON.stringify(x)}`);
      }),
      { numRuns: 60 },
    );
  });
}

test("the reported leaks: socket path, --server, parse errors — escaped, one line, the right code", async () => {
  const title = "/tmp/x\x1b]0;pwned\x07";
  const socket = await run(["user", "clients", "alice@example.com", "--socket", title]);
  assert.equal(socket.code, 3);
  assert.equal(socket.err.split("\n").length, 2);
  assert.ok(socket.err.includes("/tmp/x\\x1b]0;pwned\\x07"), socket.err);

  const env = await run(["user", "clients", "alice@example.com"], { CAMCTL_SOCKET: title });
  assert.ok(env.err.includes("/tmp/x\\x1b]0;pwned\\x07"), env.err);

  const server = await run(["user", "clients", "alice@example.com", "--jid", "me@example.com", "--server", "evil\u202e:1:2"]);
  assert.equal(server.code, 2);
  assertSafeOutput(server, "--server");

  const timeout = await run(["user", "clients", "alice@example.com", "--timeout", "\x1b[2J"]);
  assert.equal(timeout.err, 'camctl: Invalid value "\\x1b[2J" for --timeout: give a number of seconds from 0.1 to 3600, e.g. --timeout 15. See `camctl user clients --help`.\n');
  assert.equal(timeout.code, 2);
});

test("parse errors speak camctl's voice with exit 2", async () => {
  const cases: Array<[string[], string]> = [
    [["user", "clients", "alice@example.com", "--timeout", "abc"], 'camctl: Invalid value "abc" for --timeout: give a number of seconds from 0.1 to 3600, e.g. --timeout 15. See `camctl user clients --help`.'],
    // Not a deadline anything can meet: refused, never "No answer … within 1e-9 s".
    [["user", "clients", "alice@example.com", "--timeout", "1e-9"], 'camctl: Invalid value "1e-9" for --timeout: give a number of seconds from 0.1 to 3600, e.g. --timeout 15. See `camctl user clients --help`.'],
    [["user", "clients", "alice@example.com", "--timeout", "0.05"], 'camctl: Invalid value "0.05" for --timeout: give a number of seconds from 0.1 to 3600, e.g. --timeout 15. See `camctl user clients --help`.'],
    [["user", "clients", "alice@example.com", "-o", "xml"], 'camctl: Invalid value "xml" for --output: allowed choices are table, json, csv, ndjson. See `camctl user clients --help`.'],
    [["user", "clients", "alice@example.com", "--jsn"], 'camctl: Unknown option "--jsn" (did you mean --json?). See `camctl user clients --help`.'],
    [["user", "clients"], "camctl: Missing <jid> (the account, e.g. alice@example.com). See `camctl user clients --help`."],
    [["user", "clients", "alice@example.com", "--socket"], "camctl: --socket needs a value (--socket <path>). See `camctl user clients --help`."],
    [["user", "revoke_client", "alice@example.com", "grant/x", "extra"], "camctl: Too many arguments for 'revoke_client'. Expected 2 arguments but got 3. See `camctl user revoke_client --help`."],
    [["completion", "tcsh"], 'camctl: Invalid <shell> "tcsh": allowed choices are bash, zsh, fish. See `camctl completion --help`.'],
    [["usr"], 'camctl: Unknown command "usr" (did you mean user?). See `camctl --help`.'],
  ];
  for (const [argv, stderr] of cases) {
    const r = await run(argv);
    assert.equal(r.err, stderr + "\n", argv.join(" "));
    assert.equal(r.code, 2, argv.join(" "));
    assert.equal(r.out, "");
  }
});

test("the net escapes what is left and never doubles a backslash of escaped text", async () => {
  const { escapeUnsafe, displaySafe, msg } = await import("../../src/text/untrusted.js");
  const { messageLine } = await import("../../src/term/iostreams.js");
  await fc.assert(
    fc.property(anyText, (s) => {
      const once = escapeUnsafe(s);
      assert.equal(unsafeChar().exec(once), null);
      assert.equal(escapeUnsafe(once), once, "idempotent");
      assert.equal(escapeUnsafe(displaySafe(s)), displaySafe(s), "escaped text passes unchanged");
      assert.equal(messageLine(msg`value ${s}.`), `camctl: value ${displaySafe(s)}.\n`);
    }),
    { numRuns: 1000 },
  );
});

test("help and version are exit 0 on stdout; help because a command is missing is exit 2 on stderr", async () => {
  for (const argv of [["--help"], ["help", "user"], ["user", "--help"], ["user", "clients", "--help"], ["--version"]]) {
    const r = await run(argv);
    assert.equal(r.code, 0, argv.join(" "));
    assert.ok(r.out.length > 0 && r.err === "", argv.join(" "));
  }
  for (const argv of [[], ["user"]]) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.err, /^Usage: camctl/);
  }
});
