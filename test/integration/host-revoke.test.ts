// `camctl host revoke` and `camctl host apply` against a real Prosody: the plan is the audit with
// the same filters; applying it revokes exactly the plan and nothing else (the server's listings
// before and after, and logins with what was revoked); applied twice it revokes nothing the second
// time; interrupted, it is finished by applying it again; entries that vanished or changed are
// reported and not touched; failures give 9; the typed host name on a real pseudo-terminal; and
// over XMPP as an admin through the companion module.
//
// Each test works on accounts of its own (a localpart prefix, selected with --account), so the
// tests share one sandbox without seeing each other's clients.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSandbox, type PopulatedAccount, type Sandbox } from "../sandbox/sandbox.js";
import { CAMCTL_BIN, runCamctl, startCamctl } from "../helpers/run-camctl.js";
import { rawSasl2Login, createBearerGrant } from "../helpers/sasl2-raw.js";
import { haveScript, onTerminal } from "../helpers/terminal.js";
import { homesRemovedAfterAll, xmppCamctl, type Login } from "../helpers/xmpp-camctl.js";
import { REVOKE_FAULT } from "../helpers/server-faults.js";


let sb: Sandbox;
let host: string;
const newHome = homesRemovedAfterAll();
let boss: Login;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-host-revoke-"));

before(async () => {
  sb = await startSandbox({ extraModules: ["client_management_admin"], admins: ["boss"], testModules: { camctl_test_revoke_fault: REVOKE_FAULT } });
  host = sb.host;
  boss = await sb.createAccount("boss");
});
after(async () => {
  await sb?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const socket = (args: string[], o: { timeoutMs?: number } = {}) => runCamctl([...args, "--socket", sb.socketPath], { timeoutMs: o.timeoutMs ?? 60_000 });

interface Row {
  account: string;
  id: string;
  auth: string[];
  connected: boolean;
  userAgent: { software: string | null };
}

const ndjson = <T>(text: string): T[] => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as T);

/** The server's state for the accounts of a prefix: `host clients` over the socket, by account and id. */
async function state(prefix: string): Promise<Map<string, Row>> {
  const r = await socket(["host", "clients", host, "--account", `${prefix}*`, "-o", "ndjson"]);
  assert.equal(r.code, 0, r.stderr);
  return new Map(ndjson<Row>(r.stdout).map((row) => [`${row.account} ${row.id}`, row]));
}

const planFile = (name: string) => path.join(dir, `${name}-${randomUUID().slice(0, 8)}.json`);

/** Accounts `${prefix}1..n`, each with an Evil Client phone that obtained a FAST token, a Gajim laptop and two grants. */
function evilHost(prefix: string, accounts: number): Promise<PopulatedAccount[]> {
  return sb.populate({
    accounts,
    prefix,
    clients: (i) => [
      { kind: "sasl2", software: "Evil Client", device: "Phone", fastToken: true },
      { kind: "sasl2", software: "Gajim", device: "Laptop" },
      { kind: "grant", software: "Evil Client" },
      { kind: "grant", software: "Webmail" },
      ...(i === 0 ? [{ kind: "sasl2" as const, software: "Evil Client", device: "Tablet", keepConnected: true }] : []),
    ],
  });
}

/**
 * camctl on a pseudo-terminal (util-linux script): once `question` shows, `answer()` runs (it may
 * change things meanwhile) and what it returns is typed.
 */
function onTerminalAnswering(args: string[], question: RegExp, answer: () => string): Promise<{ code: number | null; out: string }> {
  const quoted = [process.execPath, CAMCTL_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const child = spawn("script", ["-qec", `stty cols 160 rows 50; ${quoted}`, "/dev/null"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", TERM: "xterm-256color", NO_COLOR: "1", CAMCTL_CONFIG: "/nonexistent/camctl-test/config.toml" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let answered = false;
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    if (!answered && question.test(out)) {
      answered = true;
      child.stdin.end(answer());
    }
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out: out.replace(/\r\n/g, "\n") })));
}

const fastWorks = async (jid: string, clientId: string, token: string) =>
  (await rawSasl2Login(sb, { jid, userAgentId: clientId.replace(/^client\//, ""), credential: { fastToken: token } })).ok;

describe("plan and apply over the admin socket", () => {
  test("the plan is the audit with the same filters (dry run, plan file)", async () => {
    await evilHost("audit", 3);
    const filters = ["--account", "audit*", "--software", "Evil Client"];
    const audit = await socket(["host", "clients", host, ...filters, "-o", "ndjson"]);
    assert.equal(audit.code, 0, audit.stderr);
    const dry = await socket(["host", "revoke", host, ...filters, "--dry-run", "-o", "ndjson"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout, audit.stdout);
    assert.equal(ndjson(audit.stdout).length, 3 * 2 + 1);

    const file = planFile("audit");
    const written = await socket(["host", "revoke", host, ...filters, "--plan-out", file]);
    assert.equal(written.code, 0, written.stderr);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const plan = JSON.parse(fs.readFileSync(file, "utf8")) as { host: string; transport: string; createdAt: string; filters: { software: string }; items: { account: string; id: string; entry: object }[]; count: number };
    assert.equal(plan.host, host);
    assert.equal(plan.transport, "socket");
    assert.equal(plan.filters.software, "Evil Client");
    assert.ok(Math.abs(Date.parse(plan.createdAt) - Date.now()) < 60_000);
    assert.deepEqual(plan.items.map((i) => ({ account: i.account, ...i.entry })), ndjson(audit.stdout));
    assert.equal(plan.count, plan.items.length);
    // Nothing was revoked by any of it.
    assert.equal((await socket(["host", "clients", host, ...filters, "-o", "ndjson"])).stdout, audit.stdout);
  });

  test("--yes revokes exactly the plan and nothing else, verified by logging in with what was revoked", async () => {
    const accounts = await evilHost("exact", 3);
    const tablet = accounts[0]!.clients.find((c) => c.device === "Tablet")!;
    const beforeState = await state("exact");
    const r = await socket(["host", "revoke", host, "--account", "exact*", "--software", "Evil Client", "--yes", "-o", "ndjson"]);
    assert.equal(r.code, 7, r.stderr);
    const results = ndjson<{ account: string; id: string; outcome: string; done: Record<string, boolean> | null }>(r.stdout);
    const planned = [...beforeState.values()].filter((row) => row.userAgent.software === "Evil Client").map((row) => `${row.account} ${row.id}`);
    assert.deepEqual(results.map((x) => `${x.account} ${x.id}`), planned, "one record per planned item, in plan order");
    for (const x of results) assert.equal(x.outcome, x.id.startsWith("grant/") ? "revoked" : "password-reset-required", JSON.stringify(x));
    assert.match(r.stderr, /7 items: 3 revoked, 4 can still sign in with the password/);

    const afterState = await state("exact");
    for (const [key, row] of beforeState) {
      if (row.userAgent.software === "Evil Client") {
        if (row.id.startsWith("grant/")) assert.ok(!afterState.has(key), `${key} is gone`);
        else assert.deepEqual({ auth: afterState.get(key)?.auth, connected: afterState.get(key)?.connected }, { auth: ["password"], connected: false }, key);
      } else {
        assert.deepEqual(afterState.get(key), row, `${key} was not touched`);
      }
    }
    assert.equal(afterState.size, beforeState.size - 3);
    for (const a of accounts) {
      const phone = a.clients.find((c) => c.device === "Phone")!;
      assert.equal(await fastWorks(a.jid, phone.id, phone.fastToken!), false, `${a.jid}'s Evil Client FAST token no longer logs in`);
    }
    assert.match(sb.readLog(), new RegExp(`camctl\\tinfo\\tadmin socket \\(user [^)]+\\) revoked ${tablet.id} of exact1@${host}: closed 1 session`));
  });

  test("a plan applied twice revokes nothing the second time and says so", async () => {
    await evilHost("twice", 2);
    const file = planFile("twice");
    assert.equal((await socket(["host", "revoke", host, "--account", "twice*", "--type", "access", "--plan-out", file])).code, 0);
    const first = await socket(["host", "apply", file, "--yes"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /4 items: 4 revoked\./);
    const between = await state("twice");
    const second = await socket(["host", "apply", file, "--yes"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /4 items: 0 revoked, 4 gone\.\nGone items: .*\nNothing was revoked this time/);
    assert.deepEqual(await state("twice"), between);
    const json = await socket(["host", "apply", file, "--yes", "-o", "json"]);
    const doc = JSON.parse(json.stdout) as { summary: { acted: number; gone: number } };
    assert.deepEqual([doc.summary.acted, doc.summary.gone], [0, 4]);
  });

  test("an apply interrupted halfway (Ctrl-C) is finished by applying the same plan again", async () => {
    const { jid } = await sb.createAccount("halfway1");
    await sb.createAccount("halfway2");
    // Grants made quickly (see bulk-grants.ts's reasons), enough that the run is still going when it is interrupted.
    const { addBulkGrants } = await import("../helpers/bulk-grants.js");
    await addBulkGrants(sb, jid, 150, "Stale app");
    await addBulkGrants(sb, `halfway2@${host}`, 150, "Stale app");
    const file = planFile("halfway");
    assert.equal((await socket(["host", "revoke", host, "--account", "halfway*", "--type", "access", "--plan-out", file])).code, 0);
    const planned = (JSON.parse(fs.readFileSync(file, "utf8")) as { items: { account: string; id: string }[] }).items.map((i) => `${i.account} ${i.id}`);
    assert.equal(planned.length, 300);

    const child = spawn(process.execPath, [CAMCTL_BIN, "host", "apply", file, "--yes", "-o", "ndjson", "--socket", sb.socketPath], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (out.split("\n").length > 20 && !child.killed) {
          child.kill("SIGINT");
          resolve();
        }
      });
      child.on("close", () => resolve());
    });
    assert.equal(await exited, 130, err);
    // Over the socket items go in batches (src/engines/apply.ts): the whole batch in flight is named.
    assert.match(err, /camctl: interrupted\. It got through [\d,]+ of 300 items: [\d,]+ revoked; .*not started\.( The (?:revocation of grant\/\S+ of halfway\d@camctl\.test|revocations of the \d+ items from grant\/\S+ of halfway\d@camctl\.test to grant\/\S+ of halfway\d@camctl\.test) may already have happened\.)? To finish, apply the same plan again \(camctl host apply .*\): what was revoked is gone by then\./);
    const inFlight = Number(/revocations of the (\d+) items/.exec(err)?.[1] ?? 1);
    const firstRun = ndjson<{ account: string; id: string; outcome: string }>(out.split("\n").slice(0, -1).join("\n"));
    assert.ok(firstRun.length >= 20 && firstRun.length < 300, `interrupted after ${firstRun.length} items`);
    assert.ok(firstRun.every((x) => x.outcome === "revoked"));

    const second = await socket(["host", "apply", file, "--yes", "-o", "ndjson"]);
    assert.equal(second.code, 0, second.stderr);
    const secondRun = ndjson<{ account: string; id: string; outcome: string }>(second.stdout);
    assert.deepEqual(secondRun.map((x) => `${x.account} ${x.id}`), planned, "every item again, in order");
    const firstRevoked = new Set(firstRun.map((x) => `${x.account} ${x.id}`));
    for (const x of secondRun) {
      const key = `${x.account} ${x.id}`;
      // The items in flight when camctl was interrupted may have been revoked or not: either outcome is honest.
      if (firstRevoked.has(key)) assert.equal(x.outcome, "gone", key);
      else assert.ok(x.outcome === "revoked" || x.outcome === "gone", `${key}: ${x.outcome}`);
    }
    assert.ok(secondRun.filter((x) => x.outcome === "revoked").length >= 300 - firstRun.length - inFlight);
    assert.equal((await state("halfway")).size, 0, "every planned grant is revoked");
  });

  test("Ctrl-C typed on a terminal during an apply: exit 130 with the counts so far (revoked, under way, not started) and how to finish", { skip: haveScript ? false : "util-linux script is not installed" }, async () => {
    const { jid } = await sb.createAccount("ctrlc1");
    const { addBulkGrants } = await import("../helpers/bulk-grants.js");
    // Several batches (src/engines/apply.ts: up to 250 items a request), so the run is still going when Ctrl-C comes.
    await addBulkGrants(sb, jid, 500, "Stale app");
    const file = planFile("ctrlc");
    assert.equal((await socket(["host", "revoke", host, "--account", "ctrlc*", "--type", "access", "--plan-out", file])).code, 0);
    // Typed once 20 outcomes are on screen; the terminal turns it into SIGINT for camctl.
    const r = await onTerminalAnswering(["host", "apply", file, "--yes", "--socket", sb.socketPath], /(^revoked .*\r?\n){20}/m, () => "\x03");
    assert.equal(r.code, 130, r.out);
    // Over the socket items go in batches (src/engines/apply.ts): several may be under way, all named.
    const m = /camctl: interrupted\. It got through ([\d,]+) of 500 items: ([\d,]+) revoked; (?:([\d,]+) under way; )?([\d,]+) not started\.(?: The (?:revocation of grant\/\S+ of ctrlc1@camctl\.test|revocations of the \d+ items from grant\/\S+ of ctrlc1@camctl\.test to grant\/\S+ of ctrlc1@camctl\.test) may already have happened\.)? To finish, apply the same plan again \(camctl host apply .*\): what was revoked is gone by then\./.exec(r.out.replace(/\n(?!camctl)/g, ""));
    assert.ok(m, r.out);
    const [done, revoked, underWay, notStarted] = [Number(m[1]!.replace(/,/g, "")), Number(m[2]!.replace(/,/g, "")), m[3] ? Number(m[3].replace(/,/g, "")) : 0, Number(m[4]!.replace(/,/g, ""))];
    assert.equal(revoked, done, "every finished item was revoked");
    assert.equal(done + underWay + notStarted, 500);
    const shown = r.out.split("\n").filter((l) => /^revoked /.test(l)).length;
    assert.ok(done >= 20 && done < 500, `interrupted after ${done} items`);
    // An outcome is counted as it arrives and then written: over the socket a batch's outcomes
    // arrive together, so the screen may be a few rows behind the tally, never ahead of it.
    assert.ok(shown >= 20 && shown <= done, `${shown} rows on screen, ${done} counted`);
    const left = (await state("ctrlc")).size;
    // Of the items under way, any number may have been revoked by the time camctl stopped.
    assert.ok(left >= notStarted && left <= notStarted + underWay, `${left} grants left, ${notStarted} not started, ${underWay} under way`);
  });

  test("--keep-newest keeps each account's most recently seen matching clients", async () => {
    const logins: { jid: string; ids: string[] }[] = [];
    for (const name of ["keep1", "keep2"]) {
      const { jid, password } = await sb.createAccount(name);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1100)); // last seen one second apart
        const id = randomUUID();
        await sb.sasl2Login({ jid, password, userAgentId: id, software: "Old phone" });
        ids.push(`client/${id}`);
      }
      logins.push({ jid, ids });
    }
    const r = await socket(["host", "revoke", host, "--account", "keep*", "--software", "Old phone", "--keep-newest", "1", "--yes", "-o", "ndjson"]);
    assert.equal(r.code, 7, r.stderr);
    const planned = ndjson<{ account: string; id: string }>(r.stdout).map((x) => `${x.account} ${x.id}`).sort();
    assert.deepEqual(planned, logins.flatMap((l) => l.ids.slice(0, 2).map((id) => `${l.jid} ${id}`)).sort(), "all but the newest of each account");
  });

  test("entries that vanished or changed between plan and apply are reported and not touched", async () => {
    const accounts = await evilHost("drift", 1);
    const jid = accounts[0]!.jid;
    const file = planFile("drift");
    assert.equal((await socket(["host", "revoke", host, "--account", "drift*", "--type", "access", "--plan-out", file])).code, 0);
    const plan = JSON.parse(fs.readFileSync(file, "utf8")) as { items: { id: string; entry: { userAgent: { software: string } } }[] };
    const [vanished, changed] = plan.items.map((i) => i.id) as [string, string];
    // One grant goes meanwhile (revoked elsewhere); the plan's other entry no longer matches what is listed.
    await sb.lua(`assert(prosody.hosts["${host}"].modules.tokenauth.revoke_grant("drift1", ${JSON.stringify(vanished.slice("grant/".length))})) return "ok"`);
    const text = fs.readFileSync(file, "utf8");
    const line = text.split("\n").find((l) => l.includes(`"id":"${changed}"`))!;
    fs.writeFileSync(file, text.replace(line, line.replace(/"software":"[^"]*"/, '"software":"Something else"')));

    const r = await socket(["host", "apply", file, "--yes", "-o", "ndjson"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ndjson<{ id: string; outcome: string }>(r.stdout).map((x) => [x.id, x.outcome]), [[vanished, "gone"], [changed, "changed"]]);
    assert.ok((await state("drift")).has(`${jid} ${changed}`), "the changed entry is still there");
    assert.match(r.stderr, /2 items: 0 revoked, 1 gone, 1 changed \(not touched\)\./);
  });

  test("items that fail are reported with their reason, the others are done: exit 9", async () => {
    const ok = await sb.createAccount("mixedok");
    const doomed = await sb.createAccount("doomedmixed");
    await sb.createGrant(ok.jid, { software: "Mixed app" });
    await sb.createGrant(doomed.jid, { software: "Mixed app" });
    await sb.sasl2Login({ jid: ok.jid, password: ok.password, userAgentId: randomUUID(), software: "Mixed app" });
    const r = await socket(["host", "revoke", host, "--software", "Mixed app", "--yes", "-o", "ndjson"]);
    assert.equal(r.code, 9, r.stderr);
    const results = ndjson<{ account: string; id: string; outcome: string; reason?: string }>(r.stdout);
    assert.deepEqual(results.map((x) => [x.account, x.id.split("/")[0], x.outcome]).sort(), [
      [`doomedmixed@${host}`, "grant", "failed"],
      [`mixedok@${host}`, "client", "password-reset-required"],
      [`mixedok@${host}`, "grant", "revoked"],
    ]);
    assert.match(results.find((x) => x.outcome === "failed")!.reason!, /the grant store refuses writes \(test fault\)/);
    assert.match(r.stderr, /1 of the 3 items could not be revoked \(each one's reason is in the output\); nothing was retried/);
    assert.equal([...(await state("doomedmixed")).values()].length, 1, "the failed grant is still there");
  });

  test("a host that loses client management between plan and apply: every item fails, nothing is revoked (9)", async () => {
    const a = await sb.createAccount("gone1", sb.strictHost);
    await sb.createGrant(a.jid, { software: "Strict app" });
    await sb.createGrant(a.jid, { software: "Strict app" });
    const file = planFile("strict");
    assert.equal((await socket(["host", "revoke", sb.strictHost, "--all", "--plan-out", file])).code, 0);
    await sb.lua(`require "prosody.core.modulemanager".unload("${sb.strictHost}", "client_management") return "ok"`);
    try {
      const r = await socket(["host", "apply", file, "--yes", "-o", "ndjson"]);
      assert.equal(r.code, 9, r.stderr);
      const results = ndjson<{ outcome: string; reason: string }>(r.stdout);
      assert.equal(results.length, 2);
      for (const x of results) {
        assert.equal(x.outcome, "failed");
        assert.match(x.reason, /mod_client_management is not loaded on strict\.camctl\.test/);
      }
    } finally {
      await sb.lua(`require "prosody.core.modulemanager".load("${sb.strictHost}", "client_management") return "ok"`);
    }
    const grants = await sb.lua(`local n = 0 for _ in pairs(prosody.hosts["${sb.strictHost}"].modules.tokenauth.get_user_grants("gone1") or {}) do n = n + 1 end return tostring(n)`);
    assert.equal(grants, "2", "nothing was revoked");
  });
});

describe("only the reviewed plan is applied; a plan file is treated like a secret (issue 16)", () => {
  /** Accounts `${prefix}1..2` with `grants` grants each, and a plan of them written by camctl. */
  async function grantPlan(prefix: string, grants: number): Promise<{ file: string; planned: string[] }> {
    const { addBulkGrants } = await import("../helpers/bulk-grants.js");
    for (const i of [1, 2]) {
      const { jid } = await sb.createAccount(`${prefix}${i}`);
      await addBulkGrants(sb, jid, grants, "Reviewed app");
    }
    const file = planFile(prefix);
    const made = await socket(["host", "revoke", host, "--account", `${prefix}*`, "--type", "access", "--plan-out", file]);
    assert.equal(made.code, 0, made.stderr);
    const planned = (JSON.parse(fs.readFileSync(file, "utf8")) as { items: { account: string; id: string }[] }).items.map((i) => `${i.account} ${i.id}`);
    assert.equal(planned.length, 2 * grants);
    return { file, planned };
  }

  test("a --yes apply whose plan file is emptied and rewritten while it runs applies the plan it read, whole", async () => {
    const { file, planned } = await grantPlan("heldyes", 150);
    const decoy = await grantPlan("heldecoy", 1);
    const decoyBefore = await state("heldecoy");
    const started = startCamctl(["host", "apply", file, "--yes", "-o", "ndjson", "--socket", sb.socketPath]);
    // Once the first outcome is out, the file is cut to nothing and then holds another plan.
    await new Promise<void>((resolve) => {
      const onData = () => {
        started.child.stdout!.off("data", onData);
        fs.truncateSync(file, 0);
        fs.writeFileSync(file, fs.readFileSync(decoy.file));
        resolve();
      };
      started.child.stdout!.on("data", onData);
    });
    const r = await started.result;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ndjson<{ account: string; id: string }>(r.stdout).map((x) => `${x.account} ${x.id}`), planned, "every reviewed item, in order, nothing else");
    assert.match(r.stderr, /300 items: 300 revoked\./);
    assert.equal((await state("heldyes")).size, 0, "every planned grant is revoked");
    assert.deepEqual(await state("heldecoy"), decoyBefore, "what the file said afterwards was not touched");
  });

  test("on a terminal, a plan file rewritten after the preview: the plan that was shown is applied", { skip: haveScript ? false : "util-linux script is not installed" }, async () => {
    const { file, planned } = await grantPlan("heldtty", 2);
    const decoy = await grantPlan("decoytty", 2);
    const decoyBefore = await state("decoytty");
    const r = await onTerminalAnswering(["host", "apply", file, "--socket", sb.socketPath], /Revoke these 4 clients on 2 accounts of camctl\.test\?/, () => {
      fs.writeFileSync(file, fs.readFileSync(decoy.file)); // in place: the same file, another plan
      return "y\r";
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /4 items: 4 revoked\./);
    assert.equal((await state("heldtty")).size, 0, `the reviewed grants are revoked: ${planned.join(", ")}`);
    assert.deepEqual(await state("decoytty"), decoyBefore, "the plan written after the preview was not applied");
  });

  test("a plan file that is a symbolic link, that others may change, or that another user owns is refused: exit 2, one sentence, nothing revoked", async () => {
    const { file } = await grantPlan("secret", 1);
    const before = await state("secret");
    const refused = async (plan: string, re: RegExp) => {
      const r = await socket(["host", "apply", plan, "--yes"]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.split("\n").filter((l) => l !== "").length, 1, r.stderr);
      assert.equal(r.stdout, "");
    };
    const link = path.join(dir, `link-${randomUUID().slice(0, 8)}.json`);
    fs.symlinkSync(file, link);
    await refused(link, /^camctl: Cannot read the plan .*link-\S+\.json: it is a symbolic link; give the plan file itself\.\n$/);
    fs.chmodSync(file, 0o666);
    await refused(file, /^camctl: Cannot read the plan .*: other users may change it \(mode 666\); make it yours alone with chmod 600\.\n$/);
    fs.chmodSync(file, 0o600);
    if (process.getuid?.() === 0) {
      // root too: another user could have changed their plan after it was reviewed.
      fs.chownSync(file, 65534, 65534);
      await refused(file, /^camctl: Cannot read the plan .*: it belongs to another user \(uid 65534\); camctl applies only plans of your own: review it and copy it\.\n$/);
      fs.chownSync(file, 0, 0);
    }
    assert.deepEqual(await state("secret"), before, "nothing was revoked");
    const ok = await socket(["host", "apply", file, "--yes"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await state("secret")).size, 0);
  });
});

describe("a write failure never stops a confirmed bulk run (issue 16)", () => {
  /** camctl's args run through bash: `"$@" <shell>`; camctl's own exit code is written to stderr as "camctl exit N". */
  const throughShell = (args: string[], shell: string) =>
    runCamctl([...args, "--socket", sb.socketPath], { prefix: ["bash", "-c", `"$@" ${shell}; echo "camctl exit \${PIPESTATUS[0]}" >&2`, "bash"], timeoutMs: 120_000 });
  const exitOf = (stderr: string) => Number(/camctl exit (\d+)/.exec(stderr)?.[1]);

  async function grants(prefix: string, n: number): Promise<void> {
    const { addBulkGrants } = await import("../helpers/bulk-grants.js");
    const { jid } = await sb.createAccount(`${prefix}1`);
    await addBulkGrants(sb, jid, n, "Piped app");
  }

  test("host apply --yes -o ndjson | head -n 1: every item is revoked, exit 0, one sentence saying where the output stopped", async () => {
    // More output than a pipe holds (~150 bytes a line, 64 KiB), so camctl is still writing when head
    // leaves: a batched apply (src/engines/apply.ts) writes 100 outcomes before head can read one.
    await grants("headn", 500);
    const file = planFile("headn");
    assert.equal((await socket(["host", "revoke", host, "--account", "headn*", "--plan-out", file])).code, 0);
    const r = await throughShell(["host", "apply", file, "--yes", "-o", "ndjson"], "| head -n 1");
    assert.equal(ndjson(r.stdout).length, 1);
    assert.equal((await state("headn")).size, 0, "nothing planned is still listed");
    assert.equal(exitOf(r.stderr), 0, r.stderr);
    assert.match(r.stderr, /camctl: The output stopped after \d+ of the 500 items \(its reader went away\), but the run went on to its end: 500 revoked\.\n/);
  });

  test("host revoke --yes | head -c 10: every item is revoked, exit 0", async () => {
    await grants("headc", 100);
    const r = await throughShell(["host", "revoke", host, "--account", "headc*", "--yes"], "| head -c 10");
    assert.equal(r.stdout.length, 10);
    assert.equal((await state("headc")).size, 0, "nothing planned is still listed");
    assert.equal(exitOf(r.stderr), 0, r.stderr);
    assert.match(r.stderr, /The output stopped after \d+ of the 100 items \(its reader went away\), but the run went on to its end: 100 revoked\./);
  });

  test("host apply --yes > /dev/full: every item is revoked, exit 10, one sentence saying the work was finished", { skip: fs.existsSync("/dev/full") ? false : "no /dev/full" }, async () => {
    await grants("devfull", 30);
    const file = planFile("devfull");
    assert.equal((await socket(["host", "revoke", host, "--account", "devfull*", "--plan-out", file])).code, 0);
    const r = await throughShell(["host", "apply", file, "--yes", "-o", "ndjson"], "> /dev/full");
    assert.equal((await state("devfull")).size, 0, "nothing planned is still listed");
    assert.equal(exitOf(r.stderr), 10, r.stderr);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("camctl: "));
    assert.deepEqual(lines.filter((l) => /output/i.test(l)), ["camctl: The output stopped after 0 of the 30 items (it could not be written: no space left on device (ENOSPC)), but the run went on to its end: 30 revoked."]);
  });
});

describe("the question on a real pseudo-terminal", { skip: haveScript ? false : "util-linux script is not installed" }, () => {
  const ask = (args: string[], typed: string) => onTerminal(args, { typed, env: { NO_COLOR: "1" } });

  test("above 20 items the host name must be typed: anything else revokes nothing", async () => {
    const { jid } = await sb.createAccount("typed1");
    const { addBulkGrants } = await import("../helpers/bulk-grants.js");
    await addBulkGrants(sb, jid, 25, "Typed app");
    const args = ["host", "revoke", host, "--account", "typed*", "--socket", sb.socketPath];

    let r = ask(args, "camctl.tes\r");
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /25 clients on 1 account of camctl\.test \(0 connected\)/);
    assert.match(r.out, /The first 10 of 25:/);
    assert.match(r.out, /Revoke these 25 clients on 1 account of camctl\.test\? This is more than 20 items: type the host name \(camctl\.test\) to go ahead:/);
    assert.match(r.out, /camctl: "camctl\.tes" is not camctl\.test; nothing was revoked\./);
    assert.equal((await state("typed")).size, 25);

    r = ask(args, "y\r");
    assert.equal(r.code, 2, r.out);
    assert.equal((await state("typed")).size, 25, "y is not the host name");

    r = ask(args, `${host}\r`);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /25 items: 25 revoked\./);
    assert.equal((await state("typed")).size, 0);
  });

  test("up to 20 items a yes/no question", async () => {
    const { jid } = await sb.createAccount("yesno1");
    await sb.createGrant(jid, { software: "Yes app" });
    await sb.createGrant(jid, { software: "Yes app" });
    const args = ["host", "revoke", host, "--account", "yesno*", "--socket", sb.socketPath];
    let r = ask(args, "n\r");
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /Revoke these 2 clients on 1 account of camctl\.test\?/);
    assert.equal((await state("yesno")).size, 2);
    r = ask(args, "y\r");
    assert.equal(r.code, 0, r.out);
    assert.equal((await state("yesno")).size, 0);
  });
});

describe("over XMPP as an admin (companion module)", () => {
  test("host apply --jid admin: the plan is revoked through the companion, camctl's own login last", async () => {
    const home = newHome();
    const accounts = await sb.populate({ accounts: 2, prefix: "viaxmpp", clients: [{ kind: "grant", software: "Remote app" }, { kind: "sasl2", software: "Remote app", fastToken: true }] });
    // camctl's own login is one of boss's clients; put it in a plan with another of boss's clients.
    assert.equal((await xmppCamctl(sb, home, boss, ["user", "clients", boss.jid])).code, 0);
    const { grantId } = await createBearerGrant(sb, boss.jid, { software: "Boss app" });
    const bossFile = planFile("boss");
    assert.equal((await socket(["host", "revoke", host, "--account", "boss", "--plan-out", bossFile])).code, 0);
    const bossPlan = (JSON.parse(fs.readFileSync(bossFile, "utf8")) as { items: { id: string; entry: { userAgent: { software: string } } }[] }).items;
    assert.ok(bossPlan.some((i) => i.entry.userAgent.software === "camctl"), "camctl's own login is in the plan");
    const own = bossPlan.findIndex((i) => i.entry.userAgent.software === "camctl");

    const file = planFile("viaxmpp");
    assert.equal((await socket(["host", "revoke", host, "--account", "viaxmpp*", "--software", "Remote app", "--plan-out", file])).code, 0);
    const r = await xmppCamctl(sb, home, boss, ["host", "apply", file, "--yes", "-o", "ndjson"]);
    assert.equal(r.code, 7, r.stderr);
    assert.deepEqual(ndjson<{ outcome: string; id: string }>(r.stdout).map((x) => x.outcome).sort(), ["password-reset-required", "password-reset-required", "revoked", "revoked"]);
    for (const a of accounts) {
      const fast = a.clients.find((c) => c.kind === "sasl2")!;
      assert.equal(await fastWorks(a.jid, fast.id, fast.fastToken!), false);
    }
    assert.match(sb.readLog(), new RegExp(`Admin boss@camctl\\.test/\\S+ revoked grant/\\S+ of viaxmpp1@camctl\\.test`));

    const mine = await xmppCamctl(sb, home, boss, ["host", "apply", bossFile, "--yes", "-o", "ndjson"]);
    const outcomes = ndjson<{ id: string; outcome: string }>(mine.stdout);
    assert.equal(outcomes[outcomes.length - 1]!.id, bossPlan[own]!.id, "camctl's own login comes last");
    assert.ok(outcomes.some((x) => x.id === grantId && x.outcome === "revoked"), JSON.stringify(outcomes));
    assert.equal(mine.code, 7, mine.stderr);
  });

  test("host revoke --jid admin: the plan is the same as over the socket, and --yes revokes it", async () => {
    const home = newHome();
    await evilHost("samexmpp", 2);
    const filters = ["--account", "samexmpp*", "--software", "Evil Client"];
    const overSocket = await socket(["host", "revoke", host, ...filters, "--dry-run", "-o", "ndjson"]);
    const overXmpp = await xmppCamctl(sb, home, boss, ["host", "revoke", host, ...filters, "--dry-run", "-o", "ndjson"]);
    assert.equal(overXmpp.code, 0, overXmpp.stderr);
    assert.equal(overXmpp.stdout, overSocket.stdout);
    const before = await state("samexmpp");
    const r = await xmppCamctl(sb, home, boss, ["host", "revoke", host, ...filters, "--yes", "-o", "ndjson"]);
    assert.equal(r.code, 7, r.stderr);
    const results = ndjson<{ account: string; id: string; outcome: string }>(r.stdout);
    assert.deepEqual(results.map((x) => `${x.account} ${x.id}`), ndjson<Row>(overSocket.stdout).map((x) => `${x.account} ${x.id}`));
    const afterState = await state("samexmpp");
    for (const [key, row] of before) {
      if (row.userAgent.software !== "Evil Client") assert.deepEqual(afterState.get(key), row, `${key} was not touched`);
      else if (row.id.startsWith("grant/")) assert.ok(!afterState.has(key));
    }
  });

  test("a non-admin: every item is refused (forbidden), nothing is revoked (9)", async () => {
    const home = newHome();
    const nobody = await sb.createAccount("nobody");
    const { jid } = await sb.createAccount("forbid1");
    await sb.createGrant(jid, { software: "Forbidden app" });
    const file = planFile("forbid");
    assert.equal((await socket(["host", "revoke", host, "--account", "forbid*", "--plan-out", file])).code, 0);
    const r = await xmppCamctl(sb, home, nobody, ["host", "apply", file, "--yes", "-o", "ndjson"]);
    assert.equal(r.code, 9, r.stderr);
    const [x] = ndjson<{ outcome: string; reason: string }>(r.stdout);
    assert.equal(x!.outcome, "failed");
    assert.match(x!.reason, /does not let nobody@camctl\.test manage forbid1@camctl\.test's clients \(forbidden\)/);
    assert.equal((await state("forbid")).size, 1);
  });
});
