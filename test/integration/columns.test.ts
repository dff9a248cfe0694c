// An operator's first day on an 80-column terminal (issue 22, items 5 and 7): the columns a filter
// is about stay, --wide shows everything, a short id copied from the table revokes that client and
// no other, and --software ignores case, takes a glob and names the nearest software on a typo.
// camctl runs as a real process, on a real pseudo-terminal where the width matters.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { luaString } from "../sandbox/admin-socket.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { haveScript, onTerminal } from "../helpers/terminal.js";
import type { JsonClient } from "../helpers/client-json.js";

let sb: Sandbox;
let phone: { jid: string; password: string };
/** Two ids sharing their first 12 characters after "client/", then one more. */
const TWINS = ["5f3a9c1e-77aa-4c1d-8e2f-0a1b2c3d4e5f", "5f3a9c1e-77ab-4c1d-8e2f-0a1b2c3d4e5f", "0b9d2e44-1c3f-4a5b-9c6d-7e8f90a1b2c3"];

before(async () => {
  sb = await startSandbox();
  phone = await sb.createAccount("operator.first.day.phone");
  for (const [i, id] of TWINS.entries()) {
    await sb.sasl2Login({ ...phone, userAgentId: id, software: i === 2 ? "Nextcloud Talk" : "Conversations", device: "A phone with a long device name" });
  }
  // Grants last used 60 days ago (mod_tokenauth's record, as host-clients-suite.ts sets it):
  // "not seen since 30 days" matches them.
  const longAgo = Math.floor(Date.now() / 1000) - 60 * 86400;
  for (const name of ["operator.first.day.bridge", "operator.first.day.webmail"]) {
    const a = await sb.createAccount(name);
    const grant = await sb.createGrant(a.jid, { software: "A bridge with quite a long software name", ttlSeconds: 30 * 86400 });
    await sb.lua(`local store = require "prosody.core.storagemanager".open(${luaString(sb.host)}, "auth_tokens", "keyval+")
local g = assert(store:get_key(${luaString(name)}, ${luaString(grant.replace(/^grant\//, ""))}))
g.accessed = ${longAgo}
assert(store:set_key(${luaString(name)}, g.id, g)) return "ok"`);
  }
});
after(async () => {
  await sb?.stop();
});

const socket = () => ["--socket", sb.socketPath];
/** What stays on the terminal: no colour, and no progress line (erased with CR and EL). */
const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").replace(/^[^\n]*\r\x1b\[2K/gm, "");
const tableLines = (out: string) => visible(out).split("\n").filter((l) => l !== "");
/** The short ids a table shows: a prefix and "…". */
const shortIds = (out: string) => [...visible(out).matchAll(/client\/[^\s…]+…/g)].map((m) => m[0]);

describe("80 columns", { skip: haveScript ? false : "util-linux script is not installed" }, () => {
  test("host clients --last-seen-before 30d keeps Last seen, which the unfiltered table drops", () => {
    const plain = onTerminal(["host", "clients", sb.host, ...socket()], { cols: 80 });
    assert.equal(plain.code, 0, plain.out);
    assert.doesNotMatch(tableLines(plain.out)[0]!, /Last seen/, "at 80 columns the table has to drop columns");

    const r = onTerminal(["host", "clients", sb.host, "--last-seen-before", "30d", ...socket()], { cols: 80 });
    assert.equal(r.code, 0, r.out);
    const lines = tableLines(r.out);
    assert.match(lines[0]!, /^Account +ID +.*Last seen/);
    assert.equal(lines.filter((l) => l.includes("@")).length, 2, "the two grants last used 60 days ago");
    for (const line of lines) assert.ok([...line].length <= 80, `${[...line].length} > 80: ${line}`);

    const expiring = onTerminal(["host", "clients", sb.host, "--expires-before", "60d", ...socket()], { cols: 80 });
    assert.match(tableLines(expiring.out)[0]!, /Expires/);
  });

  test("long ids are shortened to a unique prefix; --wide shows them whole", () => {
    const r = onTerminal(["user", "clients", phone.jid, ...socket()], { cols: 80 });
    assert.equal(r.code, 0, r.out);
    const shown = shortIds(r.out).sort();
    assert.equal(shown.length, 3, r.out);
    // The twins differ only at their 13th character: their prefixes go that far, the other stops at 7.
    assert.deepEqual(shown, ["client/0b9d2e4…", "client/5f3a9c1e-77aa…", "client/5f3a9c1e-77ab…"]);
    for (const id of TWINS) assert.ok(!visible(r.out).includes(id), "no id whole");

    const wide = onTerminal(["user", "clients", phone.jid, "--wide", ...socket()], { cols: 80 });
    assert.equal(wide.code, 0, wide.out);
    for (const id of TWINS) assert.ok(visible(wide.out).includes(`client/${id}`), `--wide shows client/${id}`);
    assert.match(tableLines(wide.out)[0]!, /ID +Type +Connected +Software +Device +First seen +Last seen/);
    assert.equal(shortIds(wide.out).length, 0);
  });

  test("--columns picks the columns; an unknown one is exit 2 with the names", () => {
    const r = onTerminal(["user", "clients", phone.jid, "--columns", "last-seen,software,id", ...socket()], { cols: 80 });
    assert.equal(r.code, 0, r.out);
    assert.match(tableLines(r.out)[0]!, /^Last seen +Software +ID$/);
    const bad = onTerminal(["user", "clients", phone.jid, "--columns", "id,lastseen", ...socket()], { cols: 80 });
    assert.equal(bad.code, 2);
    assert.match(visible(bad.out), /--columns has no column "lastseen"; the columns are id, type, connected, software, device, first-seen, last-seen/);
  });
});

describe("a short id as the table printed it", { skip: haveScript ? false : "util-linux script is not installed" }, () => {
  test("revokes that client and no other; a prefix of several is refused with their names", async () => {
    const table = onTerminal(["user", "clients", phone.jid, ...socket()], { cols: 80 });
    const copied = shortIds(table.out).find((s) => s.startsWith("client/5f3a9c1e-77ab"))!;
    assert.ok(copied, table.out);

    const ambiguous = await runCamctl(["user", "revoke-client", phone.jid, "client/5f3a9c1e-77a…", "--yes", ...socket()]);
    assert.equal(ambiguous.code, 2, ambiguous.stderr);
    assert.match(ambiguous.stderr, /client\/5f3a9c1e-77a… is the start of 2 ids of operator\.first\.day\.phone@camctl\.test: client\/5f3a9c1e-77aa-4c1d-8e2f-0a1b2c3d4e5f, client\/5f3a9c1e-77ab-4c1d-8e2f-0a1b2c3d4e5f; nothing was revoked\./);

    // Copied without its "…": an exact id, which no client has; the error says how to use it.
    const unmarked = await runCamctl(["user", "revoke-client", phone.jid, copied.slice(0, -1), "--yes", ...socket()]);
    assert.equal(unmarked.code, 6, unmarked.stderr);
    assert.match(unmarked.stderr, /No client matches client\/5f3a9c1e-77ab for .*; nothing was revoked\..* It is the start of one listed id: to use it as a short id, end it with "…" or "\.\.\."/);

    const dry = await runCamctl(["user", "revoke-client", phone.jid, copied, "--dry-run", "-o", "json", ...socket()]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(JSON.parse(dry.stdout).client.id, `client/${TWINS[1]}`);

    // A password client stays listed after its revoke (the password is left: exit 7), so the
    // report says which entry the server revoked.
    const r = await runCamctl(["user", "revoke-client", phone.jid, copied, "--yes", "-o", "json", ...socket()]);
    assert.equal(r.code, 7, r.stderr);
    const report = JSON.parse(r.stdout) as { selector: string; id: string; outcome: string; client: JsonClient };
    assert.deepEqual([report.selector, report.id, report.client.id, report.outcome], [copied, `client/${TWINS[1]}`, `client/${TWINS[1]}`, "password-reset-required"]);
  });
});

describe("--software", () => {
  const ndjson = async (...args: string[]) => {
    const r = await runCamctl(["host", "clients", sb.host, ...args, "-o", "ndjson", ...socket()]);
    assert.equal(r.code, 0, r.stderr);
    return { rows: r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as JsonClient & { account: string }), stderr: r.stderr };
  };

  test("ignores case and takes a glob; --software-exact does neither", async () => {
    for (const pattern of ["nextcloud*", "NEXTCLOUD TALK", "Nextcloud ?alk", "*talk"]) {
      const { rows } = await ndjson("--software", pattern);
      assert.deepEqual(rows.map((r) => r.userAgent.software), ["Nextcloud Talk"], pattern);
    }
    assert.deepEqual((await ndjson("--software-exact", "Nextcloud Talk")).rows.map((r) => r.id), [`client/${TWINS[2]}`]);
    assert.deepEqual((await ndjson("--software-exact", "nextcloud talk")).rows, []);
    assert.deepEqual((await ndjson("--software-exact", "Nextcloud*")).rows, []);
  });

  test("a typo plans nothing, exits 0 as before, and names the nearest software seen on the host", async () => {
    const listed = await ndjson("--software", "Nextclod Talk");
    assert.deepEqual(listed.rows, []);
    assert.match(listed.stderr, /^No software seen on camctl\.test matches 'Nextclod Talk'; the nearest name is 'Nextcloud Talk' \(--software ignores case; \* and \? are wildcards\)\.$/m);

    const planned = await runCamctl(["host", "revoke", sb.host, "--software", "conversation", "--dry-run", ...socket()]);
    assert.equal(planned.code, 0, planned.stderr);
    assert.match(planned.stdout, /No client on camctl\.test matches; nothing would be revoked\./);
    assert.match(planned.stderr, /the nearest name is 'Conversations'/);

    // Filters the nearest names respect: only the software of what the other filters keep.
    const scoped = await runCamctl(["host", "clients", sb.host, "--software", "Nextclod Talk", "--type", "access", ...socket()]);
    assert.doesNotMatch(scoped.stderr, /Nextcloud Talk/);
  });
});
