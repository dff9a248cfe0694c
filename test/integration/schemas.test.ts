// The published JSON Schemas (schemas/, `camctl schema`) against real output: every command that
// prints JSON or NDJSON is run against one real Prosody (the sandbox, with the companion module,
// mod_audit and mod_account_activity) in each JSON format, on one server and on several contexts,
// and every record it prints is validated with ajv. A field added to the output without its
// schema fails here (the schemas admit no field they do not describe); so does a record kind
// without a schema.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Ajv2020 } from "ajv/dist/2020.js";
import { startSandbox, type PopulatedAccount, type Sandbox } from "../sandbox/sandbox.js";
import { CAMCTL_BIN, runCamctl, type CamctlRun, type StartedCamctl } from "../helpers/run-camctl.js";
import { rawSasl2Login } from "../helpers/sasl2-raw.js";
import { killAll, startWatcher } from "../helpers/watcher.js";
import { homesRemovedAfterAll, xmppCamctl } from "../helpers/xmpp-camctl.js";
import { check, loadSchemas } from "../helpers/schemas.js";

let sb: Sandbox;
let ajv: Ajv2020;
let accounts: PopulatedAccount[];
const open: Array<{ close(): Promise<void> }> = [];
const started: StartedCamctl[] = [];
const newHome = homesRemovedAfterAll();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-schemas-"));

before(async () => {
  ajv = loadSchemas();
  sb = await startSandbox({ extraModules: ["client_management_admin", "audit", "audit_auth", "account_activity"], admins: ["boss"] });
  accounts = await sb.populate({
    accounts: 4,
    prefix: "pop",
    clients: [
      { kind: "sasl2", software: "Conversations", device: "Phone", fastToken: true },
      { kind: "sasl2", software: "Gajim", device: "Laptop" },
      { kind: "sasl2", software: "Dino", device: "Desktop", keepConnected: true },
      { kind: "grant", software: "Webmail", uri: "https://webmail.example/", ttlSeconds: 86_400 },
    ],
  });
  for (const a of accounts) for (const c of a.clients) if (c.connection) open.push(c.connection);
});
after(async () => {
  killAll(started);
  for (const c of open) await c.close().catch(() => undefined);
  await sb?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const camctl = (args: string[], env: NodeJS.ProcessEnv = {}) => runCamctl([...args, "--socket", sb.socketPath], { env, timeoutMs: 60_000 });

/** Asserts the exit code, and that stdout is one JSON document valid under `schema`; returns it. */
function doc(r: CamctlRun, code: number, schema: string): Record<string, unknown> {
  assert.equal(r.code, code, r.stderr);
  const value = JSON.parse(r.stdout) as Record<string, unknown>;
  const errors = check(ajv, schema, value);
  assert.equal(errors, null, `${schema}: ${errors}\n${r.stdout}`);
  return value;
}

/** Asserts the exit code, and that stdout is NDJSON, at least one line, each valid under `schema`. */
function lines(r: CamctlRun, code: number, schema: string): Record<string, unknown>[] {
  assert.equal(r.code, code, r.stderr);
  assert.ok(r.stdout.endsWith("\n"), `NDJSON ends with a line feed: ${JSON.stringify(r.stdout)}`);
  const records = r.stdout.slice(0, -1).split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const record of records) {
    const errors = check(ajv, schema, record);
    assert.equal(errors, null, `${schema}: ${errors}\n${JSON.stringify(record)}`);
  }
  return records;
}

/** A config file (0600) naming contexts; the env that points camctl at it. */
function config(name: string, text: string): NodeJS.ProcessEnv {
  const file = path.join(dir, `${name}.toml`);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return { CAMCTL_CONFIG: file };
}

describe("one server, over the admin socket", () => {
  test("docs/schemas.md's example runs as written: its validate.mjs and its shell lines, with the output it shows", () => {
    const page = fs.readFileSync(new URL("../../../docs/schemas.md", import.meta.url), "utf8");
    const block = (lang: string) => {
      const m = new RegExp("\n```" + lang + "\n([\\s\\S]*?)\n```\n").exec(page);
      assert.ok(m, `docs/schemas.md has a ${lang} block`);
      return m[1]!;
    };
    // Inside the repository, so that the script finds ajv and ajv-formats as `npm install` would put them.
    const work = fs.mkdtempSync(fileURLToPath(new URL("../../schema-doc-", import.meta.url)));
    try {
      fs.writeFileSync(path.join(work, "validate.mjs"), block("js") + "\n");
      fs.mkdirSync(path.join(work, "bin"));
      fs.symlinkSync(CAMCTL_BIN, path.join(work, "bin", "camctl"));
      // The page's session runs on the server: camctl finds the admin socket through CAMCTL_SOCKET.
      const env = { PATH: `${path.join(work, "bin")}:${process.env.PATH}`, HOME: process.env.HOME, LANG: "C.UTF-8", CAMCTL_CONFIG: "/nonexistent/camctl-test/config.toml", CAMCTL_SOCKET: sb.socketPath };
      const session = block("console").split("\n");
      let steps = 0;
      for (let i = 0; i < session.length; i++) {
        assert.ok(session[i]!.startsWith("$ "), `a command line: ${session[i]}`);
        const expected: string[] = [];
        while (i + 1 < session.length && !session[i + 1]!.startsWith("$ ")) expected.push(session[++i]!);
        const r = spawnSync("bash", ["-c", `${session[i - expected.length]!.slice(2)} 2>&1`], { cwd: work, env, encoding: "utf8", timeout: 120_000 });
        assert.equal(r.stdout, expected.map((l) => l + "\n").join(""), session[i - expected.length]);
        steps++;
      }
      assert.equal(steps, 5);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  test("user clients: -o json and -o ndjson, with and without --no-ip; a field the schema does not describe fails", async () => {
    const jid = accounts[0]!.jid;
    const listed = doc(await camctl(["user", "clients", jid, "-o", "json"]), 0, "user-clients");
    const clients = listed.clients as Record<string, unknown>[];
    assert.ok(clients.some((c) => c.connected === true && typeof c.ip === "string"), "a connected client with its address is among them");
    assert.ok(clients.some((c) => c.type === "access"), "a grant is among them");
    lines(await camctl(["user", "clients", jid, "-o", "ndjson"]), 0, "client");
    lines(await camctl(["user", "clients", jid, "-o", "ndjson", "--no-ip"]), 0, "client");
    doc(await camctl(["user", "clients", jid, "--json", "--no-ip"]), 0, "user-clients");
    // Strict: one more field, in the document or in a record, is refused.
    assert.notEqual(check(ajv, "user-clients", { ...listed, extra: 1 }), null);
    assert.notEqual(check(ajv, "user-clients", { ...listed, clients: [{ ...clients[0], extra: 1 }] }), null);
    assert.notEqual(check(ajv, "client", { ...clients[0], userAgent: { ...(clients[0]!.userAgent as object), extra: null } }), null);
    // And a field it requires cannot go missing.
    const { loginCount: _, ...without } = clients[0]!;
    assert.notEqual(check(ajv, "client", without), null);
  });

  test("host clients: -o json, -o ndjson, --summary -o json", async () => {
    const all = doc(await camctl(["host", "clients", sb.host, "-o", "json"]), 0, "host-clients");
    assert.ok((all.clients as unknown[]).length >= 16);
    lines(await camctl(["host", "clients", sb.host, "-o", "ndjson"]), 0, "host-client");
    lines(await camctl(["host", "clients", sb.host, "-o", "ndjson", "--connected", "--no-ip"]), 0, "host-client");
    doc(await camctl(["host", "clients", sb.host, "--summary", "-o", "json"]), 0, "host-summary");
    doc(await camctl(["host", "clients", sb.host, "--summary", "--json", "--software", "nothing-matches"]), 0, "host-summary");
  });

  test("user revoke_client: dry run, revoked, password left (7), no match (6), in json and ndjson", async () => {
    const a = accounts[1]!;
    const grant = a.clients.find((c) => c.kind === "grant")!.id;
    doc(await camctl(["user", "revoke_client", a.jid, "software/Gajim", "--dry-run", "--json"]), 0, "revoke-client");
    lines(await camctl(["user", "revoke_client", a.jid, "software/Gajim", "--dry-run", "-o", "ndjson"]), 0, "revoke-client");
    const revoked = doc(await camctl(["user", "revoke_client", a.jid, grant, "--yes", "--json"]), 0, "revoke-client");
    assert.equal(revoked.outcome, "revoked");
    const password = lines(await camctl(["user", "revoke_client", a.jid, "software/Gajim", "--yes", "-o", "ndjson"]), 7, "revoke-client");
    assert.equal(password[0]!.outcome, "password-reset-required");
    const none = doc(await camctl(["user", "revoke_client", a.jid, "grant/nothing-here", "--yes", "--json"]), 6, "revoke-client");
    assert.equal(none.outcome, "no-match");
  });

  test("host revoke and host apply: dry runs, the plan written (and the file itself), the outcomes", async () => {
    const filter = ["--software", "Conversations", "--account", "pop3"];
    doc(await camctl(["host", "revoke", sb.host, ...filter, "--dry-run", "-o", "json"]), 0, "host-clients");
    lines(await camctl(["host", "revoke", sb.host, ...filter, "--dry-run", "-o", "ndjson"]), 0, "host-client");
    const planFile = path.join(dir, "plan.json");
    const made = doc(await camctl(["host", "revoke", sb.host, ...filter, "--plan-out", planFile, "-o", "json"]), 0, "plan-out");
    assert.equal(made.items, 1);
    lines(await camctl(["host", "revoke", sb.host, "--software", "Webmail", "--plan-out", path.join(dir, "plan2.json"), "-o", "ndjson"]), 0, "plan-out");
    const plan = JSON.parse(fs.readFileSync(planFile, "utf8")) as unknown;
    assert.equal(check(ajv, "plan", plan), null, String(check(ajv, "plan", plan)));
    assert.equal(check(ajv, "plan", JSON.parse(fs.readFileSync(path.join(dir, "plan2.json"), "utf8"))), null);

    doc(await camctl(["host", "apply", planFile, "--dry-run", "-o", "json"]), 0, "host-clients");
    lines(await camctl(["host", "apply", planFile, "--dry-run", "-o", "ndjson"]), 0, "host-client");
    const applied = doc(await camctl(["host", "apply", planFile, "--yes", "-o", "json"]), 7, "bulk-run");
    assert.equal(applied.plan, planFile);
    // Applied again: the password is still left (7), each outcome a line.
    assert.equal(lines(await camctl(["host", "apply", planFile, "--yes", "-o", "ndjson"]), 7, "bulk-result")[0]!.outcome, "password-reset-required");
    doc(await camctl(["host", "revoke", sb.host, "--software", "Webmail", "--account", "pop4", "--yes", "-o", "json"]), 0, "bulk-run");
    lines(await camctl(["host", "revoke", sb.host, "--software", "Webmail", "--account", "pop3", "--yes", "-o", "ndjson"]), 0, "bulk-result");
  });

  test("user lockout and user unlock: dry runs and runs, in json and ndjson", async () => {
    const a = accounts[2]!;
    doc(await camctl(["user", "lockout", a.jid, "--disable", "--dry-run", "-o", "json"]), 0, "lockout");
    lines(await camctl(["user", "lockout", a.jid, "--disable", "--dry-run", "-o", "ndjson"]), 0, "client");
    const report = doc(await camctl(["user", "lockout", a.jid, "--disable", "--reason", "schema test", "--yes", "-o", "json"]), 0, "lockout");
    assert.equal(report.accountDisabled, true);
    doc(await camctl(["user", "unlock", a.jid, "--dry-run", "-o", "json"]), 0, "unlock");
    lines(await camctl(["user", "unlock", a.jid, "--dry-run", "-o", "ndjson"]), 0, "unlock");
    assert.equal(doc(await camctl(["user", "unlock", a.jid, "--yes", "-o", "json"]), 0, "unlock").outcome, "enabled");
    assert.equal(lines(await camctl(["user", "unlock", a.jid, "--yes", "-o", "ndjson"]), 0, "unlock")[0]!.outcome, "already-enabled");
    // Without --disable the password clients remain (exit 7): each outcome a line.
    lines(await camctl(["user", "lockout", accounts[3]!.jid, "--yes", "-o", "ndjson"]), 7, "bulk-result");
  });

  test("doctor, user history and host history in json and ndjson", async () => {
    doc(await camctl(["doctor", "-o", "json"]), 0, "doctor");
    lines(await camctl(["doctor", sb.host, "-o", "ndjson"]), 0, "doctor-check");
    const jid = accounts[0]!.jid;
    doc(await camctl(["user", "history", jid, "-o", "json"]), 0, "history");
    lines(await camctl(["user", "history", jid, "-o", "ndjson"]), 0, "history-event");
    doc(await camctl(["host", "history", sb.host, "-o", "json"]), 0, "history");
    lines(await camctl(["host", "history", sb.host, "-o", "ndjson", "--event", "authentication-success"]), 0, "history-event");
  });

  test("watch: -o ndjson and -o json, a login and a failed login", async () => {
    for (const format of ["ndjson", "json"]) {
      const w = startWatcher(["watch", sb.host, "--socket", sb.socketPath, "-o", format, "--count", "3"], {}, started);
      await w.ready;
      const a = accounts[0]!;
      await rawSasl2Login(sb, { jid: a.jid, userAgentId: randomUUID(), software: "Siskin", device: "iPad", credential: { password: a.password } });
      await rawSasl2Login(sb, { jid: a.jid, userAgentId: randomUUID(), credential: { password: "wrong" } });
      const events = lines(await w.run.result, 0, "watch-event");
      assert.equal(events.length, 3);
    }
  });
});

describe("over XMPP, as an admin through the companion module", () => {
  test("user clients and host clients in json and ndjson", async () => {
    const boss = await sb.createAccount("boss");
    const home = newHome();
    const jid = accounts[0]!.jid;
    const listed = doc(await xmppCamctl(sb, home, boss, ["user", "clients", jid, "-o", "json"]), 0, "user-clients");
    assert.equal(listed.transport, "xmpp");
    lines(await xmppCamctl(sb, home, boss, ["user", "clients", jid, "-o", "ndjson"]), 0, "client");
    doc(await xmppCamctl(sb, home, boss, ["host", "clients", sb.host, "-o", "json"]), 0, "host-clients");
    lines(await xmppCamctl(sb, home, boss, ["host", "clients", sb.host, "-o", "ndjson"]), 0, "host-client");
  });
});

describe("several contexts (fan-out) and the config file", () => {
  const twoAndGone = () =>
    config("fanout", `default = "one"\n[contexts.one]\nsocket = "${sb.socketPath}"\n[contexts.two]\nsocket = "${sb.socketPath}"\n[contexts.gone]\nsocket = "${path.join(dir, "missing.sock")}"\n`);
  const fan = (args: string[], env: NodeJS.ProcessEnv) => runCamctl(["--all-contexts", ...args], { env, timeoutMs: 60_000 });

  test("listings, doctor and host revoke tag each record with its context; the JSON carries each context's status", async () => {
    const env = twoAndGone();
    const jid = accounts[0]!.jid;
    const users = doc(await fan(["user", "clients", jid, "-o", "json"], env), 3, "user-clients");
    assert.deepEqual((users.contexts as { status: string }[]).map((c) => c.status), ["ok", "ok", "failed"]);
    assert.ok(lines(await fan(["user", "clients", jid, "-o", "ndjson"], env), 3, "client").every((r) => typeof r.context === "string"));
    doc(await fan(["host", "clients", sb.host, "-o", "json"], env), 3, "host-clients");
    assert.ok(lines(await fan(["host", "clients", sb.host, "-o", "ndjson"], env), 3, "host-client").every((r) => typeof r.context === "string"));
    doc(await fan(["doctor", "-o", "json"], env), 3, "doctor");
    lines(await fan(["doctor", "-o", "ndjson"], env), 3, "doctor-check");
    doc(await fan(["host", "revoke", sb.host, "--software", "Dino", "--dry-run", "-o", "json"], env), 3, "host-clients");
    lines(await fan(["host", "revoke", sb.host, "--software", "Dino", "--dry-run", "-o", "ndjson"], env), 3, "host-client");
    doc(await fan(["host", "revoke", sb.host, "--software", "Dino", "--plan-out", path.join(dir, "fan.json"), "-o", "json"], env), 3, "plan-out");
    lines(await fan(["host", "revoke", sb.host, "--software", "Dino", "--plan-out", path.join(dir, "fan-nd.json"), "-o", "ndjson"], env), 3, "plan-out");
    assert.equal(check(ajv, "plan", JSON.parse(fs.readFileSync(path.join(dir, "fan.one.json"), "utf8"))), null);
    // Both contexts are the same server: the second finds the first's items gone.
    doc(await fan(["host", "revoke", sb.host, "--software", "Siskin", "--yes", "-o", "json"], env), 3, "bulk-run");
    lines(await fan(["host", "revoke", sb.host, "--software", "Dino", "--account", "pop1", "--yes", "-o", "ndjson"], env), 3, "bulk-result");
  });

  test("watch on several contexts", async () => {
    const env = config("watch", `[contexts.one]\nsocket = "${sb.socketPath}"\n[contexts.two]\nsocket = "${sb.socketPath}"\n`);
    const w = startWatcher(["--all-contexts", "watch", sb.host, "-o", "ndjson", "--count", "2"], env, started);
    await w.until(() => (w.stderr().match(/watching /g) ?? []).length === 2);
    await rawSasl2Login(sb, { jid: accounts[0]!.jid, userAgentId: randomUUID(), credential: { password: "wrong" } });
    const events = lines(await w.run.result, 0, "watch-event");
    assert.deepEqual(events.map((e) => e.context).sort(), ["one", "two"]);
  });

  test("config list and config current, with socket, SSH, container and XMPP contexts", async () => {
    const env = config("all-kinds", [
      `default = "local"`,
      `[contexts.local]\nsocket = "${sb.socketPath}"\ndescription = "the sandbox"\ntimeout = 5`,
      `[contexts.remote]\nssh = "prosody-admin@xmpp.example.com:2222"\nssh_route = "sudo"\nssh_args = ["-J", "bastion.example.com"]`,
      `[contexts.snikket]\ncontainer = "snikket"\ncontainer_engine = "podman"`,
      `[contexts.phone]\njid = "admin@example.com"\nserver = "127.0.0.1:5222"\ntls = "direct"\npassword_file = "${path.join(dir, "pw")}"`,
    ].join("\n") + "\n");
    const list = doc(await runCamctl(["config", "list", "-o", "json"], { env }), 0, "config-list");
    assert.deepEqual((list.contexts as { transport: string }[]).map((c) => c.transport), ["socket", "ssh", "container", "xmpp"]);
    doc(await runCamctl(["config", "current", "--json"], { env }), 0, "config-current");
    doc(await runCamctl(["config", "current", "--context", "phone", "--json"], { env }), 0, "config-current");
    doc(await runCamctl(["config", "current", "--json"]), 0, "config-current");
    doc(await runCamctl(["config", "--json"]), 0, "config-list");
  });
});
