// `host clients --summary -o openmetrics` and --output-file against a real Prosody (the sandbox),
// checked with the real parsers (test/metrics/install-promtool.sh): promtool, which parses the
// classic text format as node-exporter's textfile collector does, and python3-prometheus-client's
// strict OpenMetrics parser. The numbers are compared with the JSON summary of the same host.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { luaString } from "../sandbox/admin-socket.js";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { spawnSync } from "node:child_process";
import { CAMCTL_BIN, runCamctl, startCamctl } from "../helpers/run-camctl.js";
import fc from "fast-check";
import { displaySafe } from "../../src/text/untrusted.js";
import { SummaryBuilder, type ClientSummary } from "../../src/core/summary.js";
import { renderOpenMetrics } from "../../src/render/openmetrics.js";
import { metricsToolsUnavailable, parseOpenMetrics, promtoolCheck, type ParsedFamily } from "../metrics/tools.js";

const toolsMissing = metricsToolsUnavailable();
const DAY = 86_400;
/** Attacker-chosen software: a double quote, a backslash, a line feed and an escape sequence. */
const HOSTILE = 'Evil "Client" C:\\x\nfake_metric 1\x1b[31m';

let sb: Sandbox;
let dir: string;
let silent: net.Server;
let silentPath: string;

const camctl = (args: string[], env?: NodeJS.ProcessEnv) => runCamctl(args, { timeoutMs: 60_000, env });
const metricsArgs = (...more: string[]) => ["host", "clients", sb.host, "--summary", "-o", "openmetrics", ...more];

/** Sets a grant's last use (Unix seconds) in mod_tokenauth's store, as an old grant looks there. */
async function setGrantAccessed(jid: string, grantId: string, accessed: number): Promise<void> {
  const [user, host] = jid.split("@") as [string, string];
  await sb.lua(`local store = require "prosody.core.storagemanager".open(${luaString(host)}, "auth_tokens", "keyval+")
local g = assert(store:get_key(${luaString(user)}, ${luaString(grantId.replace(/^grant\//, ""))}))
g.accessed = ${accessed}
assert(store:set_key(${luaString(user)}, g.id, g)) return "ok"`);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir().length <= 60 ? os.tmpdir() : "/tmp", "camctl-metrics-"));
  silentPath = path.join(dir, "silent.sock");
  silent = net.createServer(() => undefined).listen(silentPath);
  sb = await startSandbox();
  // Every type, several auth methods (password, grant), one connected client, a hostile
  // name, grants expiring within 7 and within 30 days, and one last used 100 days ago.
  const accounts = await sb.populate({
    accounts: 4,
    prefix: "m",
    clients: (i) => [
      [
        { kind: "sasl2", software: "Conversations", device: "Phone", fastToken: true },
        { kind: "sasl2", software: "Gajim", device: "Laptop", keepConnected: true },
        { kind: "grant", software: "Webmail", ttlSeconds: 3 * DAY },
      ],
      [{ kind: "grant", software: HOSTILE }, { kind: "grant", software: "Calendar", ttlSeconds: 20 * DAY }],
      [{ kind: "legacy", resource: "old" }, { kind: "grant", software: "Old App" }],
      [],
    ][i]! as never,
  });
  const old = accounts[2]!.clients.find((c) => c.software === "Old App")!;
  await setGrantAccessed(accounts[2]!.jid, old.id, Math.floor(Date.now() / 1000) - 100 * DAY);
});
after(async () => {
  silent?.close();
  await sb?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function jsonSummary(): Promise<ClientSummary> {
  const r = await camctl(["host", "clients", sb.host, "--summary", "--json", "--socket", sb.socketPath]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { summary: ClientSummary }).summary;
}

/** A parsed exposition's samples as "name{label=value,...}" → value, labels in name order. */
function samples(families: ParsedFamily[], without: string[] = []): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of families) {
    for (const s of f.samples) {
      const labels = Object.entries(s.labels).filter(([k]) => !without.includes(k)).sort(([a], [b]) => (a < b ? -1 : 1));
      m.set(`${s.name}{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`, s.value);
    }
  }
  return m;
}

const BUCKET: Record<string, string> = { "< 7 d": "lt_7d", "< 30 d": "lt_30d", "< 90 d": "lt_90d" };

/** What the metrics must say for a summary, labelled with `labels` (plus the family's own). */
function expected(s: ClientSummary, labels: Record<string, string>): Map<string, number> {
  const m = new Map<string, number>();
  const key = (name: string, extra: Record<string, string> = {}) => {
    const all = Object.entries({ ...labels, ...extra }).sort(([a], [b]) => (a < b ? -1 : 1));
    return `${name}{${all.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
  };
  m.set(key("camctl_accounts"), s.accounts);
  m.set(key("camctl_clients"), s.clients);
  m.set(key("camctl_clients_connected"), s.connected);
  const each = (name: string, label: string, counts: Record<string, number>, value: (k: string) => string = (k) => k) => {
    for (const [k, v] of Object.entries(counts)) m.set(key(name, { [label]: value(k) }), v);
  };
  each("camctl_clients_by_type", "type", s.byType);
  each("camctl_clients_by_auth", "auth", s.byAuth);
  // Label values are what camctl's tables show: control characters as visible escapes.
  each("camctl_clients_by_software", "software", s.bySoftware, displaySafe);
  each("camctl_clients_by_last_seen", "last_seen", s.byLastSeen, (k) => BUCKET[k] ?? k);
  each("camctl_clients_by_expiry", "expires", s.byExpiry, (k) => BUCKET[k] ?? k);
  each("camctl_accounts_by_last_activity", "last_activity", s.byAccountActivity, (k) => BUCKET[k] ?? k);
  each("camctl_accounts_by_status", "status", s.byAccountStatus);
  m.set(key("camctl_clients_by_software_others"), 0);
  m.set(key("camctl_scan_success"), 1);
  m.set(key("camctl_scan_unread_accounts"), 0);
  return m;
}

/** The samples of `got` whose family `want` names too (scan time, duration and accounts are checked apart). */
function countsOf(got: Map<string, number>): Map<string, number> {
  return new Map([...got].filter(([k]) => !/^camctl_scan_(timestamp|duration)_seconds|^camctl_scan_accounts\{/.test(k)));
}

/** No raw control character (but the line feeds between lines) can reach a reader of the file. */
function assertOneLinePerSample(text: string): void {
  assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  for (const line of text.trimEnd().split("\n")) assert.match(line, /^(# (TYPE|UNIT|HELP) camctl_|# EOF$|camctl_[a-z_]+\{)/, line);
  assert.ok(text.endsWith("\n# EOF\n"));
}

describe("host clients --summary -o openmetrics", { skip: toolsMissing ?? false }, () => {
  test("the counts are the JSON summary's; promtool and the strict OpenMetrics parser accept the text", async () => {
    const s = await jsonSummary();
    // The population reaches every bucket the metrics carry, and the hostile name is there whole.
    assert.equal(s.bySoftware[HOSTILE], 1);
    assert.ok(s.byLastSeen.older >= 1 && s.byExpiry["< 7 d"] >= 1 && s.byExpiry["< 30 d"] >= 1 && s.connected >= 1, JSON.stringify(s));
    assert.deepEqual(Object.keys(s.byType).sort(), ["access", "session"]);
    assert.ok(["password", "grant"].every((a) => (s.byAuth[a] ?? 0) >= 1), JSON.stringify(s.byAuth));

    const t0 = Date.now() / 1000;
    const r = await camctl([...metricsArgs(), "--socket", sb.socketPath]);
    const t1 = Date.now() / 1000;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assertOneLinePerSample(r.stdout);
    assert.deepEqual(promtoolCheck(r.stdout), { status: 0, output: "" });
    const families = parseOpenMetrics(r.stdout);
    assert.ok(families.every((f) => f.type === "gauge"));
    assert.equal(families.find((f) => f.name === "camctl_scan_timestamp_seconds")?.unit, "seconds");

    const got = samples(families);
    assert.deepEqual(countsOf(got), expected(s, { host: sb.host }));
    const when = got.get(`camctl_scan_timestamp_seconds{host="${sb.host}"}`)!;
    assert.ok(when >= Math.floor(t0) && when <= t1 + 1, `scan time ${when} within the run (${t0}..${t1})`);
    // Every account of the host was gone through, the one without clients too.
    const users = Number(await sb.lua(`local n = 0 for _ in require "prosody.core.usermanager".users(${luaString(sb.host)}) do n = n + 1 end return tostring(n)`));
    assert.equal(got.get(`camctl_scan_accounts{host="${sb.host}"}`), users);
    assert.ok(users > s.accounts);
  });

  test("docs/metrics.md's scrape is this run's output (but the scan's time and duration)", async () => {
    const r = await camctl([...metricsArgs(), "--socket", sb.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    // CAMCTL_DUMP=<file>: this run's output, for updating the docs after a deliberate change.
    if (process.env.CAMCTL_DUMP) fs.writeFileSync(process.env.CAMCTL_DUMP, r.stdout);
    const doc = fs.readFileSync(new URL("../../../docs/metrics.md", import.meta.url), "utf8");
    const command = `$ camctl host clients ${sb.host} --summary -o openmetrics\n`;
    const start = doc.indexOf(command);
    assert.ok(start >= 0, `docs/metrics.md shows ${command.trim()}`);
    const shown = doc.slice(start + command.length, doc.indexOf("\n```", start) + 1);
    // The two values that change from run to run are compared by their shape.
    const normal = (text: string) => text.replace(/^(camctl_scan_(?:timestamp|duration)_seconds\{[^}]*\}) [0-9.e+]+$/gm, "$1 <number>");
    assert.equal(normal(shown), normal(r.stdout));
  });

  test("docs/metrics.md's systemd units: systemd-analyze accepts them, and their ExecStart writes a valid file", async (t) => {
    const doc = fs.readFileSync(new URL("../../../docs/metrics.md", import.meta.url), "utf8");
    const unit = (name: string) => {
      const m = new RegExp("```ini\\n# /etc/systemd/system/" + name.replace(".", "\\.") + "\\n([\\s\\S]*?)```").exec(doc);
      assert.ok(m, `docs/metrics.md shows ${name}`);
      return m[1]!;
    };
    const service = unit("camctl-metrics.service");
    const exec = /^ExecStart=(\S+) (.*)$/m.exec(service)!;
    assert.equal(exec[1], "/usr/local/bin/camctl");
    const out = path.join(dir, "node-exporter", "camctl.prom");
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const args = exec[2]!.split(" ").map((w) => (w === "example.com" ? sb.host : w.replace("/var/lib/prometheus/node-exporter", path.dirname(out))));
    const r = await camctl([...args, "--socket", sb.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(promtoolCheck(fs.readFileSync(out, "utf8")), { status: 0, output: "" });

    if (spawnSync("systemd-analyze", ["--version"]).status !== 0) return t.skip("systemd-analyze is not installed");
    const units = fs.mkdtempSync(path.join(dir, "units-"));
    fs.writeFileSync(path.join(units, "camctl-metrics.service"), service.replace("/usr/local/bin/camctl", CAMCTL_BIN));
    fs.writeFileSync(path.join(units, "camctl-metrics.timer"), unit("camctl-metrics.timer"));
    const v = spawnSync("systemd-analyze", ["verify", path.join(units, "camctl-metrics.service"), path.join(units, "camctl-metrics.timer")], { encoding: "utf8" });
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stderr.trim(), "");
  });

  test("several contexts: one context label each; a failing context gives its success 0 and the documented exit code", async () => {
    const config = path.join(dir, "config.toml");
    fs.writeFileSync(config, `[contexts.a]\nsocket = "${sb.socketPath}"\n[contexts.b]\nsocket = "${sb.socketPath}"\n[contexts.down]\nsocket = "${path.join(dir, "none.sock")}"\n`, { mode: 0o600 });
    const env = { CAMCTL_CONFIG: config };
    const s = await jsonSummary();

    const ok = await camctl([...metricsArgs(), "--context", "a,b"], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(promtoolCheck(ok.stdout), { status: 0, output: "" });
    const both = samples(parseOpenMetrics(ok.stdout));
    for (const context of ["a", "b"]) {
      const mine = new Map([...both].filter(([k]) => k.includes(`context="${context}"`)).map(([k, v]) => [k.replace(`context="${context}",`, ""), v]));
      assert.deepEqual(countsOf(mine), expected(s, { host: sb.host }), `context ${context}`);
    }

    const partly = await camctl([...metricsArgs(), "--context", "a,down"], env);
    assert.equal(partly.code, 3, "the unreachable context's exit code, as for any fan-out");
    assert.match(partly.stderr, /down/);
    assert.deepEqual(promtoolCheck(partly.stdout), { status: 0, output: "" });
    const got = samples(parseOpenMetrics(partly.stdout));
    assert.equal(got.get(`camctl_scan_success{context="a",host="${sb.host}"}`), 1);
    assert.equal(got.get(`camctl_clients{context="a",host="${sb.host}"}`), s.clients);
    assert.equal(got.get(`camctl_scan_success{context="down",host="${sb.host}"}`), 0);
    assert.ok(got.has(`camctl_scan_timestamp_seconds{context="down",host="${sb.host}"}`));
    assert.ok(![...got.keys()].some((k) => k.startsWith("camctl_clients") && k.includes('context="down"')), "no counts for a scan that did not run");
  });

  test("--output-file: the file is replaced whole (a new inode), nothing else is left in the directory", async () => {
    const out = path.join(dir, "textfile", "camctl.prom");
    fs.mkdirSync(path.dirname(out));
    fs.writeFileSync(out, "# the previous scrape\n");
    const before = fs.statSync(out).ino;
    const r = await camctl([...metricsArgs("--output-file", out), "--socket", sb.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "", "nothing on stdout");
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ["camctl.prom"]);
    assert.notEqual(fs.statSync(out).ino, before, "renamed over the old file, not written into it");
    const text = fs.readFileSync(out, "utf8");
    assert.deepEqual(promtoolCheck(text), { status: 0, output: "" });
    assert.deepEqual(countsOf(samples(parseOpenMetrics(text))), expected(await jsonSummary(), { host: sb.host }));

    // A scan that fails replaces the file too: Prometheus sees success 0, not the last good numbers.
    const down = await camctl([...metricsArgs("--output-file", out), "--socket", path.join(dir, "none.sock")]);
    assert.equal(down.code, 3);
    const failed = samples(parseOpenMetrics(fs.readFileSync(out, "utf8")));
    assert.equal(failed.get(`camctl_scan_success{host="${sb.host}"}`), 0);
    assert.ok(!failed.has(`camctl_clients{host="${sb.host}"}`));
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ["camctl.prom"]);
  });
});

describe("any software name survives both parsers", { skip: toolsMissing ?? false }, () => {
  test("random names of any code points (controls, quotes, backslashes, lone surrogates): valid text, each name its own label", () => {
    const names = new Set(fc.sample(fc.string({ unit: "binary", minLength: 1, maxLength: 16 }), { numRuns: 90, seed: 20 }));
    for (const n of ['"', "\\", "\n", "\\n", '\\"', "\r\n", "# EOF", "a} 1\nb{", HOSTILE]) names.add(n);
    const b = new SummaryBuilder(new Date());
    let i = 0;
    for (const software of names) {
      b.add({ account: `u${i++}@x`, id: "client/x", type: "session", connected: false, firstSeen: null, lastSeen: null, expires: null, auth: [],
        userAgent: { software, version: null, softwareId: null, uri: null, device: null }, permission: null });
    }
    const text = renderOpenMetrics([{ labels: { host: "x" }, success: true, endedAt: new Date(), durationSeconds: 0, accountsScanned: null, unreadAccounts: 0, summary: b.result() }]);
    assertOneLinePerSample(text);
    assert.deepEqual(promtoolCheck(text), { status: 0, output: "" });
    const software = parseOpenMetrics(text).find((f) => f.name === "camctl_clients_by_software")!;
    assert.deepEqual(software.samples.map((s) => s.labels.software).sort(), [...names].map(displaySafe).sort());
  });
});

describe("--output-file", () => {
  test("other formats: the listing replaces the file once complete; a failed run leaves it as it was", async () => {
    const out = path.join(dir, "list.json");
    const r = await camctl(["host", "clients", sb.host, "--json", "--output-file", out, "--socket", sb.socketPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((JSON.parse(fs.readFileSync(out, "utf8")) as { clients: unknown[] }).clients.length >= 7);
    const down = await camctl(["host", "clients", sb.host, "--json", "--output-file", out, "--socket", path.join(dir, "none.sock")]);
    assert.equal(down.code, 3);
    assert.ok((JSON.parse(fs.readFileSync(out, "utf8")) as { clients: unknown[] }).clients.length >= 7, "the earlier listing is still there");
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")), []);
  });

  test("a symbolic link, a missing or non-directory parent, a directory: refused with one sentence, exit 2, nothing written", async () => {
    const victim = path.join(dir, "victim");
    fs.writeFileSync(victim, "keep me\n");
    const link = path.join(dir, "planted.prom");
    fs.symlinkSync(victim, link);
    const cases: [string, RegExp][] = [
      [link, /is a symbolic link/],
      [path.join(dir, "no-such-dir", "m.prom"), /does not exist/],
      [path.join(victim, "m.prom"), /not a directory/],
      [dir, /not a regular file/],
    ];
    for (const [target, why] of cases) {
      const r = await camctl([...metricsArgs("--output-file", target), "--socket", sb.socketPath]);
      assert.equal(r.code, 2, `${target}: ${r.stderr}`);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.split("\n").length, 2, "one line");
    }
    assert.equal(fs.readFileSync(victim, "utf8"), "keep me\n");
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")), []);
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`${signal} while the server has not answered: the temporary file is removed, the target never appears`, async () => {
      const sub = fs.mkdtempSync(path.join(dir, "sig-"));
      const out = path.join(sub, "camctl.prom");
      const run = startCamctl([...metricsArgs("--output-file", out), "--socket", silentPath, "--timeout", "120"], { timeoutMs: 120_000 });
      // The temporary file exists from before the connection, so its appearance says camctl is waiting.
      while (fs.readdirSync(sub).length === 0) await new Promise((r) => setTimeout(r, 50));
      assert.match(fs.readdirSync(sub)[0]!, /^\.camctl\.prom\.[0-9a-f]+\.tmp$/);
      run.child.kill(signal);
      const r = await run.result;
      if (signal === "SIGINT") assert.equal(r.code, 130, r.stderr);
      else assert.equal(r.signal, "SIGTERM");
      assert.deepEqual(fs.readdirSync(sub), []);
    });
  }
});

describe("-o openmetrics where it does not apply", () => {
  test("without --summary, on other commands, --summary with other formats on several contexts: exit 2, one sentence", async () => {
    const noSummary = await camctl(["host", "clients", sb.host, "-o", "openmetrics", "--socket", sb.socketPath]);
    assert.equal(noSummary.code, 2);
    assert.equal(noSummary.stderr, "camctl: -o openmetrics writes the counts of --summary; add --summary.\n");
    const other = await camctl(["user", "clients", `m1@${sb.host}`, "-o", "openmetrics", "--socket", sb.socketPath]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /^camctl: Invalid value "openmetrics" for --output: allowed choices are table, json, csv, ndjson\./);
    const config = path.join(dir, "two.toml");
    fs.writeFileSync(config, `[contexts.a]\nsocket = "${sb.socketPath}"\n[contexts.b]\nsocket = "${sb.socketPath}"\n`, { mode: 0o600 });
    const many = await camctl(["host", "clients", sb.host, "--summary", "--json", "--context", "a,b"], { CAMCTL_CONFIG: config });
    assert.equal(many.code, 2);
    assert.match(many.stderr, /^camctl: --summary with several contexts writes -o openmetrics only/);
  });
});
