// Runs one process and measures it: wall time, time to the first line on stdout, peak RSS (Node
// processes: VmHWM read at exit through bench/vmhwm.cjs; other programs: GNU time's maximum
// resident set when /usr/bin/time exists), stdout saved to a file (not held in memory).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const PRELOAD = new URL("./vmhwm.cjs", import.meta.url).pathname;
const GNU_TIME = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : null;

/** Milliseconds on a clock all bench processes share (epoch, sub-millisecond resolution). */
export const clock = () => performance.timeOrigin + performance.now();

/**
 * cmd: argv. node: true when cmd is [node, script, …] (the preload is added). Resolves with
 * { ms, firstLineMs, rssKiB, lines, bytes, code, stderr, outFile, startedAt, endedAt }.
 */
export function measure(cmd, { env = {}, node = false, work, outFile = path.join(work, "stdout"), expectCode = 0, timeoutMs = 600_000 } = {}) {
  const rssFile = path.join(work, `rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  let argv = cmd;
  const extraEnv = { ...env };
  if (node) {
    argv = [cmd[0], "--require", PRELOAD, ...cmd.slice(1)];
    extraEnv.CAMCTL_BENCH_RSS_FILE = rssFile;
  } else if (GNU_TIME) {
    argv = [GNU_TIME, "-f", "%M", "-o", rssFile, ...cmd];
  }
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(outFile);
    const startedAt = clock();
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
    let firstLineAt = null;
    let lines = 0;
    let bytes = 0;
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk) => {
      if (firstLineAt === null && chunk.includes(10)) firstLineAt = clock();
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      out.write(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (d) => {
      if (stderr.length < 20_000) stderr += d;
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const endedAt = clock();
      out.end(() => {
        let rssKiB = null;
        try {
          rssKiB = Number(fs.readFileSync(rssFile, "utf8").trim().split("\n").pop());
          fs.rmSync(rssFile, { force: true });
        } catch {
          /* no figure */
        }
        const result = { ms: endedAt - startedAt, firstLineMs: firstLineAt === null ? null : firstLineAt - startedAt, rssKiB, lines, bytes, code: code ?? 128, signal, stderr, outFile, startedAt, endedAt };
        if (expectCode !== null && code !== expectCode) {
          reject(Object.assign(new Error(`bench: ${cmd.slice(0, 6).join(" ")}… exited ${code ?? signal}: ${stderr.trim().split("\n").slice(-3).join(" / ")}`), { result }));
        } else resolve(result);
      });
    });
  });
}

export const median = (xs) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The p-th percentile (0-100), nearest rank. */
export const percentile = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
