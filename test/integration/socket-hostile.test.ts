// Hostile strings: client names chosen by an intruder must not reach the terminal raw, and
// command-line values must never become Lua on the server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { parseCsv } from "../helpers/csv.js";
import { HOSTILE, UNSAFE_FOR_TERMINAL } from "../helpers/hostile-strings.js";

let sb: Sandbox;
before(async () => {
  sb = await startSandbox();
});
after(async () => {
  await sb?.stop();
});

const camctl = (...args: string[]) => runCamctl([...args, "--socket", sb.socketPath], { timeoutMs: 30_000 });


describe("untrusted client names", () => {
  let jid: string;
  const grants = new Map<string, string>();
  before(async () => {
    ({ jid } = await sb.createAccount("mallory"));
    for (const [name, software] of Object.entries(HOSTILE)) grants.set(name, await sb.createGrant(jid, { software, uri: `https://x.test/${software}` }));
  });

  test("JSON keeps the exact strings, valid and free of raw controls", async () => {
    const r = await camctl("user", "clients", jid, "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout.replace(/\n/g, ""), UNSAFE_FOR_TERMINAL);
    const body = JSON.parse(r.stdout) as { clients: { userAgent: { software: string } }[] };
    const names = body.clients.map((c) => c.userAgent.software).sort();
    assert.deepEqual(names, Object.values(HOSTILE).sort());
  });

  test("the table shows each client on its own row with escapes made visible", async () => {
    const r = await camctl("user", "clients", jid);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout.replace(/\n/g, ""), UNSAFE_FOR_TERMINAL);
    assert.ok(!r.stdout.includes("\x1b"), "no escape character at all");
    // One line per grant id: a newline inside a name never makes a row of its own.
    for (const id of grants.values()) {
      assert.equal(r.stdout.split("\n").filter((line) => line.includes(id)).length, 1, `${id} on one line`);
    }
    assert.ok(!r.stdout.split("\n").some((line) => line.trimStart().startsWith("Fake row")));
  });

  test("CSV has one record per client and no raw controls", async () => {
    const r = await camctl("user", "clients", jid, "-o", "csv");
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout.replace(/\r\n/g, ""), UNSAFE_FOR_TERMINAL);
    const rows = parseCsv(r.stdout);
    assert.equal(rows.length, Object.keys(HOSTILE).length + 1);
    const software = rows[0]!.indexOf("software");
    assert.ok(rows.some((row) => row[software] === 'Comma, "quoted"'), "commas and quotes survive quoting");
  });

  test("revoke messages and dry runs are sanitised too", async () => {
    const r = await camctl("user", "revoke_client", jid, grants.get("title")!, "--dry-run");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes("\x1b"));
    assert.match(r.stdout, /\\x1b/);
  });
});

test("a client name that is not valid UTF-8 does not break the listing", async () => {
  const { jid } = await sb.createAccount("badutf8");
  await sb.lua(`local t = prosody.hosts["${sb.host}"].modules.tokenauth
local g = t.create_grant("${jid}", "${jid}", nil, { oauth2_client = { name = "Bad\\255\\254Name" } })
t.create_token("${jid}", g, nil, nil, "oauth2-refresh") return "ok"`);
  const r = await camctl("user", "clients", jid, "--json");
  assert.equal(r.code, 0, r.stderr);
  const body = JSON.parse(r.stdout) as { clients: { userAgent: { software: string } }[] };
  assert.equal(body.clients.length, 1);
  assert.equal(body.clients[0]!.userAgent.software, "Bad\ufffd\ufffdName");
});

describe("command-line values never become Lua", () => {
  const breakouts = [
    `software/x" ; _G.CAMCTL_PWNED = true ; --`,
    `software/x"..(function() _G.CAMCTL_PWNED = true end)().."`,
    `software/x]] _G.CAMCTL_PWNED = true --[[`,
    `software/x\\" _G.CAMCTL_PWNED = true --`,
    `software/%s%q%x00 _G.CAMCTL_PWNED=true`,
    `software/x</repl-input><repl-input>>_G.CAMCTL_PWNED = true</repl-input>`,
    `software/x'&amp;<![CDATA[ ]]>`,
  ];
  for (const selector of breakouts) {
    test(`selector ${JSON.stringify(selector)} is just a name the server does not know`, async () => {
      const { jid } = await sb.createAccount(`lua${breakouts.indexOf(selector)}`);
      const r = await camctl("user", "revoke_client", jid, selector, "--yes");
      assert.equal(r.code, 6, r.stderr);
      assert.equal(await sb.lua("return tostring(_G.CAMCTL_PWNED)"), "nil");
    });
  }

  test("JIDs that try to break out are refused before sending, or treated as data", async () => {
    for (const jid of [`x"..os.exit()..\"@${sb.host}`, `x]]@${sb.host}`, `x@${sb.host}"..os.exit().."`]) {
      const r = await camctl("user", "clients", jid);
      assert.ok(r.code === 2 || r.code === 6, `exit ${r.code}: ${r.stderr}`);
    }
    // Still alive and answering.
    const { jid } = await sb.createAccount("stillalive");
    assert.equal((await camctl("user", "clients", jid)).code, 0);
    assert.equal(await sb.lua("return tostring(_G.CAMCTL_PWNED)"), "nil");
  });
});
