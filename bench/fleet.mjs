// The fleet benchmark:
// - `camctl host clients -o ndjson` through `--ssh` (OpenSSH to a throw-away sshd from test/sshd,
//   `--ssh-config` its client config, in front of the same sandbox) against the local socket: the
//   cost of the link;
// - a fan-out `--context s1,…,s5 --parallel 5 host clients` over 5 sandboxes against the slowest
//   single one (target ≤ 1.3 × the slowest). Contexts live in a config.toml under a private
//   XDG_CONFIG_HOME.
// Each part is skipped with the reason when this build or machine lacks what it needs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { camctl, hostClientsMissing } from "./host.mjs";
import { median } from "./measure.mjs";
import { populateHost } from "./populate.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");

function writeContexts(dir, contexts) {
  const conf = path.join(dir, "camctl");
  fs.mkdirSync(conf, { recursive: true, mode: 0o700 });
  const toml = Object.entries(contexts)
    .map(([name, c]) => `[contexts.${name}]\n` + Object.entries(c).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n"))
    .join("\n\n");
  fs.writeFileSync(path.join(conf, "config.toml"), toml + "\n", { mode: 0o600 });
  return { XDG_CONFIG_HOME: dir };
}

async function helpMentions(work, args, pattern) {
  const out = path.join(work, "help.txt");
  const r = await camctl([...args, "--help"], { work, expectCode: null, outFile: out });
  return r.code === 0 && pattern.test(fs.readFileSync(out, "utf8"));
}

export async function runFleetBench({ work, quick, log }) {
  const result = { skipped: [], targets: [] };
  const missing = await hostClientsMissing(work);
  if (missing) {
    result.skipped.push(`fleet: ${missing}`);
    console.log(`  skipped: ${missing}`);
    return result;
  }
  // The options may belong to the command or to the program.
  const offers = async (pattern) => (await helpMentions(work, ["host", "clients"], pattern)) || (await helpMentions(work, [], pattern));
  const hasSsh = await offers(/--ssh-config\b/);
  const hasContexts = await offers(/--context\b/) && (await offers(/--parallel\b/));
  const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);
  const accounts = quick ? 300 : 1000;
  const runs = 3;

  // --ssh vs the local socket, same sandbox, same host.
  const sshdFile = path.join(root, "build/test/sshd/sshd.js");
  const sshd = fs.existsSync(sshdFile) ? await import(sshdFile) : null;
  const sshWhy = !hasSsh ? "this build has no --ssh / --ssh-config for `host clients` yet" : !sshd ? "the throw-away sshd (test/sshd) is not in this build" : sshd.sshdUnavailable();
  if (sshWhy) {
    result.skipped.push(`--ssh vs local socket: ${sshWhy}`);
    console.log(`  --ssh: skipped (${sshWhy})`);
  } else {
    const sb = await startSandbox({});
    const server = await sshd.startSshd();
    try {
      await populateHost(sb, { count: accounts, seed: 11, log });
      // The sshd's own client config (its known_hosts and key): what --ssh-config is for.
      const sshConfig = server.sshArgs[server.sshArgs.indexOf("-F") + 1];
      const local = [];
      const viaSsh = [];
      const scan = (...link) => camctl([...link, "--socket", sb.socketPath, "host", "clients", sb.host, "-o", "ndjson"], { work });
      for (let i = 0; i < runs; i++) {
        local.push(await scan());
        viaSsh.push(await scan("--ssh", server.target, "--ssh-config", sshConfig));
      }
      if (viaSsh[0].lines !== local[0].lines) throw new Error(`bench: over ssh ${viaSsh[0].lines} rows, locally ${local[0].lines}`);
      result.ssh = { accounts, rows: local[0].lines, localMs: median(local.map((r) => r.ms)), sshMs: median(viaSsh.map((r) => r.ms)), localFirstRowMs: median(local.map((r) => r.firstLineMs)), sshFirstRowMs: median(viaSsh.map((r) => r.firstLineMs)) };
      console.log(`\n${accounts.toLocaleString("en")} accounts, ${result.ssh.rows.toLocaleString("en")} rows, median of ${runs}`);
      console.log(`  camctl host clients, local socket   ${f2(result.ssh.localMs / 1000)} s, first row ${result.ssh.localFirstRowMs.toFixed(0)} ms`);
      console.log(`  camctl host clients, --ssh          ${f2(result.ssh.sshMs / 1000)} s, first row ${result.ssh.sshFirstRowMs.toFixed(0)} ms  (link: +${(result.ssh.sshMs - result.ssh.localMs).toFixed(0)} ms)`);
    } finally {
      await server.stop();
      await sb.stop();
    }
  }

  // Fan-out over 5 sandboxes against the slowest single one.
  if (!hasContexts) {
    const why = "this build has no --context / --parallel (fan-out) for `host clients` yet";
    result.skipped.push(`fan-out over 5 sandboxes: ${why}`);
    console.log(`  fan-out: skipped (${why})`);
    return result;
  }
  const sandboxes = [];
  try {
    for (let i = 0; i < 5; i++) {
      const sb = await startSandbox({});
      sandboxes.push(sb);
      await populateHost(sb, { count: accounts, seed: 100 + i, log });
    }
    const names = sandboxes.map((_, i) => `s${i + 1}`);
    const env = writeContexts(path.join(work, "fanout-config"), Object.fromEntries(sandboxes.map((sb, i) => [names[i], { socket: sb.socketPath }])));
    const singles = names.map(() => []);
    const singleRows = [];
    const fan = [];
    for (let k = 0; k < runs; k++) {
      for (let i = 0; i < names.length; i++) {
        const r = await camctl(["--context", names[i], "host", "clients", "camctl.test", "-o", "ndjson"], { work, env });
        singles[i].push(r.ms);
        singleRows[i] = r.lines;
      }
      fan.push(await camctl(["--context", names.join(","), "--parallel", String(names.length), "host", "clients", "camctl.test", "-o", "ndjson"], { work, env }));
    }
    const rowsSum = singleRows.reduce((a, b) => a + b, 0);
    if (fan[0].lines !== rowsSum) throw new Error(`bench: the fan-out wrote ${fan[0].lines} rows, the single contexts ${rowsSum}`);
    const slowest = Math.max(...singles.map(median));
    const fanMs = median(fan.map((r) => r.ms));
    result.fanout = { accounts, singlesMs: singles.map(median), slowestMs: slowest, fanoutMs: fanMs, rows: fan[0].lines, rssKiB: Math.max(...fan.map((r) => r.rssKiB)) };
    console.log(`\nfan-out over 5 sandboxes of ${accounts.toLocaleString("en")} accounts (median of ${runs})`);
    // Here all five servers and camctl share this machine's cores (on a real fleet each server has
    // its own): the sum of the single runs over the core count is what the machine can do at best.
    const machineBound = result.fanout.singlesMs.reduce((a, b) => a + b, 0) / os.cpus().length;
    result.fanout.machineBoundMs = machineBound;
    console.log(`  single contexts: ${result.fanout.singlesMs.map((x) => f2(x / 1000)).join(", ")} s; slowest ${f2(slowest / 1000)} s; their sum over ${os.cpus().length} cores ${f2(machineBound / 1000)} s`);
    console.log(`  --context s1,…,s5: ${f2(fanMs / 1000)} s = ${f2(fanMs / slowest)} × the slowest; ${result.fanout.rows.toLocaleString("en")} rows (= the singles' sum); peak RSS ${(result.fanout.rssKiB / 1024).toFixed(1)} MiB`);
    result.targets.push({ what: "fan-out over 5 sandboxes ≤ 1.3 × the slowest single one", value: `${f2(fanMs / slowest)} ×`, met: fanMs / slowest <= 1.3,
      note: `all 5 servers on this machine's ${os.cpus().length} cores: their singles' sum over the cores is ${f2(machineBound / slowest)} × the slowest` });
  } finally {
    for (const sb of sandboxes) await sb.stop();
  }
  return result;
}
