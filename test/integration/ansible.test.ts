// The Ansible collection (ansible/ansible_collections/camctl/prosody) run by the real
// ansible-playbook (Debian's ansible-core, installed by test/ansible/install-ansible.sh) against
// a real sandbox Prosody, on two managed hosts at once: this machine with `connection: local`,
// and this machine again reached over SSH through the suite's own sshd (test/sshd), where the
// modules run the camctl that the collection's install role unpacked there from `npm pack`'s
// tarball. The first run is ansible/examples/incident.yml, the very playbook docs/ansible.md
// shows; the second, test/ansible/edge.yml, covers selectors, unlocking and failures. Results
// come from the suite's JSON callback and the server's state from camctl itself. Before that,
// ansible-doc reads every module's documentation against its argument_spec, and ansible-galaxy
// builds the collection.
//
// Each managed host works on accounts of its own, so both run in parallel on one sandbox.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { startSandbox, type PopulatedAccount, type Sandbox } from "../sandbox/sandbox.js";
import { startSshd, sshdUnavailable, type Sshd } from "../sshd/sshd.js";
import { runCamctl } from "../helpers/run-camctl.js";
import { REVOKE_FAULT } from "../helpers/server-faults.js";

const execFileP = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const COLLECTIONS = path.join(ROOT, "ansible");
const EXAMPLE = path.join(ROOT, "ansible/examples/incident.yml");
const EDGE = path.join(ROOT, "test/ansible/edge.yml");

const onPath = (tool: string) => (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, tool)));
const skip = ["ansible-playbook", "ansible-doc", "ansible-galaxy"].filter((t) => !onPath(t)).map((t) => `${t} is not on PATH (run test/ansible/install-ansible.sh as root)`)[0];
// Without sshd only the local managed host runs (and the test says why in its name).
const SFTP_SERVER = "/usr/lib/openssh/sftp-server";
const sshSkip = skip ? undefined : sshdUnavailable() ?? (fs.existsSync(SFTP_SERVER) ? undefined : `${SFTP_SERVER} is missing`);


const REASON = "Phishing report 4711";

interface Managed {
  name: string;
  vars: Record<string, string | number>;
  software: string;
  mallory: string;
  exposedBefore: Set<string>;
  passwordClients: Set<string>;
  grants: Set<string>;
  selectorJid: string;
  pick: string;
  keep: string;
  /** The server's state after the example playbook, before the edge cases. */
  afterExample?: { exposed: Set<string>; mallory: UserClients };
}

interface UserClients {
  clients: { id: string }[];
  accountStatus: string;
  disabledReason: string | null;
}

interface HostResult {
  changed?: boolean;
  failed?: boolean;
  camctl_exit?: number;
  msg?: string;
  warnings?: string[];
  diff?: { before: string; after: string };
  [k: string]: unknown;
}
interface PlaybookRun {
  code: number | null;
  stderr: string;
  task(name: string, host: string): HostResult;
  stats: Record<string, { failures: number; ignored: number; unreachable: number; rescued: number }>;
}

let sb: Sandbox;
let sshd: Sshd | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-ansible-"));
const managed: Managed[] = [];
let tarball: string;
let inventory: string;
let example: PlaybookRun;
let edge: PlaybookRun;
// ansible-playbook starts slowly and each task runs camctl: generous bounds for a busy machine
// (these only stop a hung run; nothing is timed).
const PLAYBOOK_TIMEOUT_MS = 540_000;

const key = (r: { account?: unknown; id?: unknown }) => `${String(r.account)} ${String(r.id)}`;
const ndjson = <T>(text: string): T[] => text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as T);

async function hostClients(args: string[]): Promise<{ account: string; id: string }[]> {
  const r = await runCamctl(["host", "clients", sb.host, ...args, "-o", "ndjson", "--socket", sb.socketPath]);
  assert.equal(r.code, 0, r.stderr);
  return ndjson(r.stdout);
}

async function userClients(jid: string): Promise<UserClients> {
  const r = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as UserClients;
}

/** ansible-playbook with nothing of this machine's or the developer's Ansible set-up taking part. */
function playbook(file: string, inventory: string): Promise<PlaybookRun> {
  const home = path.join(dir, "home");
  const tmp = path.join(dir, "tmp");
  fs.mkdirSync(home, { recursive: true });
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const config = path.join(dir, "ansible.cfg");
  fs.writeFileSync(config, "");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    LANG: "C.UTF-8",
    ANSIBLE_CONFIG: config,
    ANSIBLE_COLLECTIONS_PATH: COLLECTIONS,
    ANSIBLE_LOCAL_TEMP: tmp,
    ANSIBLE_REMOTE_TEMP: tmp,
    // ansible-core has no JSON callback of its own; the suite's (test/ansible/callback_plugins).
    ANSIBLE_CALLBACK_PLUGINS: path.join(ROOT, "test/ansible/callback_plugins"),
    ANSIBLE_STDOUT_CALLBACK: "camctl_test_json",
    ANSIBLE_NOCOWS: "1",
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_RETRY_FILES_ENABLED: "0",
    // No master connection left behind for 60 s after the run.
    ANSIBLE_SSH_ARGS: "-o ControlMaster=no",
    CAMCTL_CONFIG: "/nonexistent/camctl-test/config.toml",
  };
  const child = spawn("ansible-playbook", ["-i", inventory, file], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), PLAYBOOK_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(killer);
      let out: { plays: { tasks: { task: { name: string }; hosts: Record<string, HostResult> }[] }[]; stats: PlaybookRun["stats"] };
      try {
        out = JSON.parse(stdout) as typeof out;
      } catch {
        reject(new Error(`ansible-playbook ${path.basename(file)} exited ${code} without its JSON:\n${stdout}\n${stderr}`));
        return;
      }
      const tasks = out.plays.flatMap((p) => p.tasks);
      resolve({
        code,
        stderr,
        stats: out.stats,
        task(name, host) {
          const t = tasks.find((x) => x.task.name === name);
          assert.ok(t, `no task named ${JSON.stringify(name)} in ${path.basename(file)}; it ran: ${JSON.stringify(tasks.map((x) => [x.task.name, Object.fromEntries(Object.entries(x.hosts).map(([h, r]) => [h, r.failed ? r.msg ?? "failed" : "ok"]))]))}`);
          const r = t.hosts[host];
          assert.ok(r, `task ${JSON.stringify(name)} did not run on ${host}`);
          return r;
        },
      });
    });
  });
}

/** The accounts and clients one managed host works on; `h` is its name, part of every account name. */
async function accountsFor(h: string, vars: Record<string, string | number>): Promise<Managed> {
  const software = `Evil Client ${h}`;
  const exposed: PopulatedAccount[] = await sb.populate({
    accounts: 3,
    prefix: `${h}-user`,
    clients: [
      { kind: "sasl2", software, device: "Phone", fastToken: true },
      { kind: "grant", software },
      { kind: "grant", software: "Webmail" },
    ],
  });
  const [mallory] = await sb.populate({ accounts: 1, prefix: `${h}-mallory`, clients: [{ kind: "sasl2", software: "Gajim", device: "Laptop" }, { kind: "grant", software: "Backup" }] });
  const [sel] = await sb.populate({ accounts: 1, prefix: `${h}-sel`, clients: [{ kind: "grant", software: "Pick me" }, { kind: "grant", software: "Keep me" }] });
  await sb.populate({ accounts: 1, prefix: `doomed-${h}-part`, clients: [{ kind: "grant", software: "Doomed" }] });
  await sb.populate({ accounts: 1, prefix: `fine-${h}-part`, clients: [{ kind: "grant", software: "Fine" }] });
  const mine = exposed.flatMap((a) => a.clients.filter((c) => c.software === software).map((c) => ({ account: a.jid, ...c })));
  const exposedBefore = new Set((await hostClients(["--software", software])).map(key));
  assert.equal(exposedBefore.size, 6);
  return {
    name: h,
    software,
    mallory: mallory!.jid,
    exposedBefore,
    passwordClients: new Set(mine.filter((c) => c.kind === "sasl2").map(key)),
    grants: new Set(mine.filter((c) => c.kind === "grant").map(key)),
    selectorJid: sel!.jid,
    pick: sel!.clients.find((c) => c.software === "Pick me")!.id,
    keep: sel!.clients.find((c) => c.software === "Keep me")!.id,
    vars: {
      ...vars,
      ansible_python_interpreter: "/usr/bin/python3",
      xmpp_host: sb.host,
      compromised_software: software,
      compromised_account: mallory!.jid,
      incident_reason: REASON,
      camctl_tarball: tarball,
      camctl_prefix: path.join(dir, `${h}-prefix`),
      camctl_socket: sb.socketPath,
      selector_jid: sel!.jid,
      selector: sel!.clients.find((c) => c.software === "Pick me")!.id,
      partial_accounts: `*-${h}-part?`,
      no_node_prefix: path.join(dir, `${h}-no-node-prefix`),
    },
  };
}

before(async () => {
  if (skip) return;
  const packed = path.join(dir, "pack");
  fs.mkdirSync(packed);
  // The package tarball as `npm pack` makes it (the build ran before the tests: no scripts again).
  const [sandbox, server] = await Promise.all([
    startSandbox({ testModules: { camctl_test_revoke_fault: REVOKE_FAULT } }),
    // Ansible copies its modules over SFTP, as to a Debian server (whose sshd_config has this line).
    sshSkip ? Promise.resolve(undefined) : startSshd({ extraConfig: [`Subsystem sftp ${SFTP_SERVER}`] }),
    execFileP("npm", ["pack", "--ignore-scripts", "--pack-destination", packed], { cwd: ROOT }),
  ]);
  sb = sandbox;
  sshd = server;
  tarball = path.join(packed, fs.readdirSync(packed).find((f) => f.endsWith(".tgz"))!);
  managed.push(...await Promise.all([
    accountsFor("local", { ansible_connection: "local" }),
    ...(sshd ? [accountsFor("remote", {
      ansible_host: "127.0.0.1",
      ansible_port: sshd.port,
      ansible_user: sshd.user,
      ansible_ssh_common_args: `-F ${sshd.sshArgs[1]!}`,
    })] : []),
  ]));
  inventory = path.join(dir, "inventory.yml");
  // JSON is YAML: the inventory Ansible reads, with each host's variables.
  fs.writeFileSync(inventory, JSON.stringify({ prosody: { hosts: Object.fromEntries(managed.map((m) => [m.name, m.vars])) } }));
}, { timeout: 300_000 });
after(async () => {
  await Promise.all([sb?.stop(), sshd?.stop()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const hosts = () => managed;
const between = (m: Managed) => m.afterExample!;
const lineIds = (text: string) => new Set(text.split("\n").filter((l) => l !== "").map((l) => l.split(" ").slice(0, 2).join(" ")));

describe("the collection as ansible-doc and ansible-galaxy read it", { skip }, () => {
  test("every module's documentation parses, and documents exactly the options its argument_spec declares", async () => {
    const modules = ["client_info", "client_revoke", "account_lockout"];
    const env = { PATH: process.env.PATH, HOME: dir, LANG: "C.UTF-8", ANSIBLE_COLLECTIONS_PATH: COLLECTIONS, ANSIBLE_CONFIG: path.join(dir, "ansible.cfg") };
    fs.writeFileSync(env.ANSIBLE_CONFIG, "");
    const { stdout } = await execFileP("ansible-doc", ["--json", "-t", "module", ...modules.map((m) => `camctl.prosody.${m}`)], { env });
    const docs = JSON.parse(stdout) as Record<string, { doc: { options: Record<string, { type?: string; default?: unknown; choices?: unknown; required?: boolean; elements?: string }> } }>;
    // The declarations, from the modules themselves (Ansible's own Python imports them the same way).
    const script = "import json, sys\nsys.path.insert(0, sys.argv[1])\nout = {}\nfor m in sys.argv[2:]:\n    out[m] = __import__('ansible_collections.camctl.prosody.plugins.modules.' + m, fromlist=['x']).ARGUMENT_SPEC\nprint(json.dumps(out))";
    const specs = JSON.parse((await execFileP("/usr/bin/python3", ["-c", script, COLLECTIONS, ...modules], { env })).stdout) as Record<string, Record<string, Record<string, unknown>>>;
    for (const m of modules) {
      const options = docs[`camctl.prosody.${m}`]!.doc.options;
      const spec = specs[m]!;
      assert.deepEqual(Object.keys(options).sort(), Object.keys(spec).sort(), m);
      for (const [name, declared] of Object.entries(spec)) {
        for (const field of ["type", "default", "choices", "required", "elements"] as const) {
          if (field in declared) assert.deepEqual(options[name]![field], declared[field], `${m} ${name} ${field}`);
        }
      }
    }
  });

  test("ansible-galaxy builds the collection from galaxy.yml, with its modules, module_utils and role", async () => {
    const out = path.join(dir, "galaxy");
    await execFileP("ansible-galaxy", ["collection", "build", path.join(COLLECTIONS, "ansible_collections/camctl/prosody"), "--output-path", out], { env: { PATH: process.env.PATH, HOME: dir, LANG: "C.UTF-8" } });
    const built = fs.readdirSync(out);
    assert.deepEqual(built, ["camctl-prosody-0.1.0.tar.gz"]);
    const { stdout } = await execFileP("tar", ["tzf", path.join(out, built[0]!)]);
    for (const f of ["MANIFEST.json", "meta/runtime.yml", "plugins/modules/client_info.py", "plugins/modules/client_revoke.py", "plugins/modules/account_lockout.py", "plugins/module_utils/camctl.py", "plugins/doc_fragments/camctl.py", "roles/install/tasks/main.yml"]) {
      assert.ok(stdout.split("\n").includes(f), f);
    }
  });
});

describe(`ansible-playbook with the camctl.prosody collection${sshSkip ? ` (local host only: ${sshSkip})` : ", on localhost and over SSH"}`, { skip }, () => {
  test("the example playbook runs to its end on every managed host", { timeout: PLAYBOOK_TIMEOUT_MS + 60_000 }, async () => {
    example = await playbook(EXAMPLE, inventory);
    // The server's state between the two runs is what this one left.
    for (const m of managed) {
      m.afterExample = { exposed: new Set((await hostClients(["--software", m.software])).map(key)), mallory: await userClients(m.mallory) };
    }
    assert.equal(example.code, 0, `${example.stderr}\n${JSON.stringify(example.stats)}`);
    assert.deepEqual(Object.keys(example.stats).sort(), hosts().map((m) => m.name).sort());
    for (const s of Object.values(example.stats)) assert.equal(s.failures + s.unreachable, 0);
  });

  test("the install role unpacked camctl from the tarball, and the modules ran that camctl", async () => {
    for (const m of hosts()) {
      const bin = path.join(String(m.vars.camctl_prefix), "bin/camctl");
      assert.equal(fs.readlinkSync(bin), path.join(String(m.vars.camctl_prefix), "lib/camctl/bin/camctl"));
      const { stdout } = await execFileP(bin, ["--version"]);
      assert.match(stdout, /0\.1\.0/);
      assert.equal(example.task("camctl.prosody.install : Unpack the tarball into camctl_prefix/lib/camctl", m.name).changed, true);
    }
  });

  test("client_info returns exactly the records camctl host clients lists", () => {
    for (const m of hosts()) {
      const r = example.task("Which accounts the app can reach", m.name);
      assert.equal(r.changed, false);
      assert.deepEqual(new Set((r.clients as { account: string; id: string }[]).map(key)), m.exposedBefore);
    }
  });

  test("check mode reports exactly what would be revoked, with the plan as its diff, and revokes nothing", () => {
    for (const m of hosts()) {
      const planned = example.task("What would be revoked (check mode revokes nothing)", m.name);
      assert.equal(planned.changed, true);
      assert.deepEqual(new Set((planned.plan as { account: string; id: string }[]).map(key)), m.exposedBefore);
      assert.deepEqual(lineIds(planned.diff!.before), m.exposedBefore);
      assert.equal(planned.diff!.after, "");
      // Nothing was revoked in check mode: the real run after it found every grant still there.
      const revoked = example.task("Revoke it on every account", m.name);
      const outcomes = new Map((revoked.results as { account: string; id: string; outcome: string }[]).map((r) => [key(r), r.outcome]));
      for (const g of m.grants) assert.equal(outcomes.get(g), "revoked", g);
    }
  });

  test("the real run revokes the plan, shows what is left as the diff's after, and warns about password clients", () => {
    for (const m of hosts()) {
      const r = example.task("Revoke it on every account", m.name);
      assert.equal(r.changed, true);
      assert.equal(r.camctl_exit, 7);
      const outcomes = new Map((r.results as { account: string; id: string; outcome: string }[]).map((x) => [key(x), x.outcome]));
      assert.equal(outcomes.size, 6);
      for (const c of m.passwordClients) assert.equal(outcomes.get(c), "password-reset-required", c);
      assert.deepEqual(new Set((r.password_access as { account: string; id: string }[]).map(key)), m.passwordClients);
      assert.ok(r.warnings?.some((w) => /can still sign in with their account's password/.test(w)), JSON.stringify(r.warnings));
      assert.deepEqual(lineIds(r.diff!.before), m.exposedBefore);
      assert.deepEqual(lineIds(r.diff!.after), m.passwordClients);
      // On the server: the grants are gone, the password clients are still listed.
      assert.deepEqual(between(m).exposed, m.passwordClients);
    }
  });

  test("run again, the same task changes nothing", () => {
    for (const m of hosts()) {
      const r = example.task("Run again, nothing is left to revoke", m.name);
      assert.equal(r.changed, false);
      assert.notEqual(r.failed, true);
      assert.ok((r.results as { outcome: string }[]).every((x) => x.outcome === "password-reset-required"));
    }
  });

  test("account_lockout disables the account with the reason", () => {
    for (const m of hosts()) {
      const r = example.task("Lock the compromised account out", m.name);
      assert.equal(r.changed, true);
      assert.equal((r.lockout as { accountDisabled: boolean }).accountDisabled, true);
      const state = between(m).mallory;
      assert.equal(state.accountStatus, "disabled");
      assert.equal(state.disabledReason, REASON);
      assert.deepEqual(state.clients, []);
    }
  });

  test("the edge-case playbook runs to its end, with its three failures ignored on every host", { timeout: PLAYBOOK_TIMEOUT_MS + 60_000 }, async () => {
    edge = await playbook(EDGE, inventory);
    assert.equal(edge.code, 0, edge.stderr);
    assert.deepEqual(Object.keys(edge.stats).sort(), hosts().map((m) => m.name).sort());
    for (const s of Object.values(edge.stats)) assert.deepEqual([s.failures, s.unreachable, s.ignored, s.rescued], [0, 0, 3, 1]);
  });

  test("client_info for one account, and locking out again changes nothing", () => {
    for (const m of hosts()) {
      const info = edge.task("One account's clients and status", m.name);
      assert.deepEqual(info.clients, []);
      assert.equal((info.account as { accountStatus: string }).accountStatus, "disabled");
      assert.equal((info.account as { disabledReason: string }).disabledReason, REASON);
      const again = edge.task("Lock out again (nothing left, already disabled)", m.name);
      assert.equal(again.changed, false);
      assert.equal((again.lockout as { alreadyDisabled: boolean }).alreadyDisabled, true);
    }
  });

  test("unlock: check mode shows the plan and changes nothing, then unlocks, then changes nothing", async () => {
    for (const m of hosts()) {
      const check = edge.task("Unlock, check mode", m.name);
      assert.equal(check.changed, true);
      assert.match(check.diff!.before, new RegExp(`account: disabled, reason: ${REASON}`));
      assert.equal(check.diff!.after, "account: enabled\n");
      const r = edge.task("Unlock", m.name);
      assert.equal(r.changed, true);
      // Had check mode enabled it, this would say already-enabled.
      assert.equal((r.unlock as { outcome: string }).outcome, "enabled");
      assert.equal((r.unlock as { wasDisabledReason: string }).wasDisabledReason, REASON);
      assert.equal(edge.task("Unlock again", m.name).changed, false);
      assert.equal((await userClients(m.mallory)).accountStatus, "enabled");
    }
  });

  test("a selector: check mode, the revocation, and the second run that finds nothing", async () => {
    for (const m of hosts()) {
      const check = edge.task("One grant by its id, check mode", m.name);
      assert.equal(check.changed, true);
      assert.deepEqual((check.plan as { id: string }[]).map((c) => c.id), [m.pick]);
      assert.deepEqual(lineIds(check.diff!.before), new Set([`${m.selectorJid} ${m.pick}`]));
      const r = edge.task("One grant by its id", m.name);
      assert.equal(r.changed, true);
      assert.equal((r.results as { outcome: string }[])[0]!.outcome, "revoked");
      const again = edge.task("The same grant again", m.name);
      assert.equal(again.changed, false);
      assert.notEqual(again.failed, true, JSON.stringify(again));
      assert.deepEqual((await userClients(m.selectorJid)).clients.map((c) => c.id), [m.keep]);
    }
  });

  test("failures fail the task: a run done in part (with each item's outcome), an unknown account, an unreachable socket", async () => {
    for (const m of hosts()) {
      const partial = edge.task("A run the server can do only in part", m.name);
      assert.equal(partial.failed, true);
      assert.equal(partial.camctl_exit, 9);
      const outcomes = (partial.results as { account: string; outcome: string }[]).map((x) => [x.account.split("@")[0], x.outcome]).sort();
      assert.deepEqual(outcomes, [[`doomed-${m.name}-part1`, "failed"], [`fine-${m.name}-part1`, "revoked"]]);
      assert.equal(partial.changed, true);
      assert.match(partial.msg!, /^camctl: /);

      const unknown = edge.task("An account that does not exist", m.name);
      assert.equal(unknown.failed, true);
      assert.equal(unknown.camctl_exit, 6);
      assert.match(unknown.msg!, /There is no account/);

      const unreachable = edge.task("A socket nobody listens on", m.name);
      assert.equal(unreachable.failed, true);
      assert.equal(unreachable.camctl_exit, 3);
    }
  });
});

describe("the install role without Node.js", { skip }, () => {
  test("refuses with one sentence that says what is missing, and installs nothing", () => {
    for (const m of hosts()) {
      const refusal = edge.task("The role's refusal", m.name);
      assert.equal((refusal.ansible_facts as { role_refusal: string }).role_refusal, `camctl needs Node.js 20.10 or later on ${m.name}, which has no node on PATH; install it first.`);
      assert.equal(fs.existsSync(String(m.vars.no_node_prefix)), false);
    }
  });
});
