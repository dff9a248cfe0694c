// The harness side of bench/pinger.mjs: start it against a sandbox host, then take round-trip
// statistics for time windows (before / during a measured command).
import { spawn } from "node:child_process";
import { percentile, median } from "./measure.mjs";

const PINGER = new URL("./pinger.mjs", import.meta.url).pathname;

/** Starts a pinger logged in as a fresh account on `host` (by default the sandbox's host without the module, so the scanned host's account count is not changed). */
export async function startPinger(sb, { host = sb.bareHost, name = "pinger" } = {}) {
  const { password } = await sb.createAccount(name, host);
  const child = spawn(process.execPath, [PINGER, JSON.stringify({ port: sb.c2sPort, domain: host, caFile: sb.caFile, username: name, password })], { stdio: ["pipe", "pipe", "pipe"] });
  const samples = [];
  let buffered = "";
  let stderr = "";
  let ready;
  const readyP = new Promise((resolve, reject) => {
    ready = resolve;
    child.once("exit", (code) => reject(new Error(`bench: the pinger exited (${code}) before logging in: ${stderr.trim()}`)));
  });
  let ended;
  const endedP = new Promise((r) => (ended = r));
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  child.stdout.setEncoding("utf8").on("data", (d) => {
    buffered += d;
    let i;
    while ((i = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (line === "ready") ready();
      else if (line === "end") ended();
      else {
        const [at, rtt] = line.split(" ").map(Number);
        samples.push({ at, rtt });
      }
    }
  });
  child.once("exit", () => ended());
  await readyP;
  return {
    /** The pinger's process id (for its run-queue wait, see watch.mjs). */
    pid: child.pid,
    samples,
    /** Round trips of the pings SENT within [from, to] (epoch ms, see measure.clock). */
    window(from, to) {
      return stats(samples.filter((s) => s.at >= from && s.at <= to));
    },
    async stop() {
      child.stdin.end();
      await endedP;
    },
  };
}

export function stats(samples) {
  const ok = samples.filter((s) => s.rtt >= 0).map((s) => s.rtt);
  return { count: samples.length, lost: samples.length - ok.length, p50: median(ok), p99: percentile(ok, 99), max: ok.length ? Math.max(...ok) : NaN };
}
