// Runs the built camctl (bin/camctl -> dist/) as a real process, the way users and scripts do.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CAMCTL_BIN = fileURLToPath(new URL("../../../bin/camctl", import.meta.url));

/**
 * The command that runs camctl: node with bin/camctl, or the single executable named by
 * CAMCTL_TEST_EXECUTABLE (test/integration/single-executable.test.ts runs core tests that way).
 */
export function camctlCommand(bin: string = CAMCTL_BIN): string[] {
  const executable = process.env.CAMCTL_TEST_EXECUTABLE;
  return executable && bin === CAMCTL_BIN ? [executable] : [process.execPath, bin];
}

export interface CamctlRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs camctl to the end; `input` is what it reads on stdin. */
export function runCamctl(args: string[], o: CamctlOptions & { input?: string } = {}): Promise<CamctlRun> {
  return startCamctl(args, o).result;
}

export interface CamctlOptions {
  env?: NodeJS.ProcessEnv;
  /** Runs it through another program, e.g. setpriv to drop privileges. */
  prefix?: string[];
  /** The runner kills a run that takes longer (SIGKILL): it hung. */
  timeoutMs?: number;
  /** Another copy of bin/camctl. */
  bin?: string;
}

export interface StartedCamctl {
  child: ChildProcess;
  result: Promise<CamctlRun>;
}

/** Starts camctl and hands back the child, so a test can signal it while it runs. */
export function startCamctl(args: string[], o: CamctlOptions & { input?: string } = {}): StartedCamctl {
  const started = Date.now();
  // A clean environment: nothing from the developer's shell leaks into what is tested.
  // No config file unless a test names one: a developer's own contexts must not redirect camctl.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", CAMCTL_CONFIG: "/nonexistent/camctl-test/config.toml", ...o.env };
  const argv = [...(o.prefix ?? []), ...camctlCommand(o.bin), ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
  const result = new Promise<CamctlRun>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  child.stdin!.end(o.input ?? "");
  return { child, result };
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
