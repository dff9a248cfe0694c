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
    // No config file unless a test names one: a developer's own contexts must not redirect camctl.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", CAMCTL_CONFIG: "/nonexistent/camctl-test/config.toml", ...o.env };
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
