// Runs the built camctl (bin/camctl -> dist/) as a real process, the way users and scripts do.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CAMCTL_BIN = fileURLToPath(new URL("../../../bin/camctl", import.meta.url));

export interface CamctlRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCamctl(
  args: string[],
  o: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CamctlRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // A clean environment: nothing from the developer's shell leaks into what is tested.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", ...o.env };
    const child = spawn(process.execPath, [CAMCTL_BIN, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(o.input ?? "");
  });
}

/**
 * How far past a deadline (or a signal) a camctl run may end on this machine at this moment: a
 * fixed allowance for start-up and exit (which a busy machine stretches: 2 s were measured with
 * a dozen camctl processes starting at once on two shared cores), plus twice what a run that
 * does nothing (`camctl --version`) takes right now. That stays far below what the tests guard
 * against: a run that outlasts its deadline by many seconds, or never ends.
 */
export async function lateAllowanceMs(fixedMs = 3000): Promise<number> {
  const idle = await runCamctl(["--version"]);
  return fixedMs + 2 * idle.ms;
}
