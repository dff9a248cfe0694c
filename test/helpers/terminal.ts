// camctl on a real pseudo-terminal (util-linux `script`), typing an answer: for tests of what
// only happens on a terminal (questions, colour, width).
import { execFileSync, spawnSync } from "node:child_process";
import { CAMCTL_BIN } from "./run-camctl.js";

/** Whether util-linux `script` is installed (tests that need a terminal skip without it). */
export const haveScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Runs camctl on a pseudo-terminal of `cols` columns, typing `typed`; returns what the terminal showed. */
export function onTerminal(args: string[], o: { cols?: number; env?: Record<string, string>; typed?: string; timeoutMs?: number } = {}): { code: number | null; out: string } {
  const quoted = [process.execPath, CAMCTL_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const r = spawnSync("script", ["-qec", `stty cols ${o.cols ?? 160} rows 50; ${quoted}`, "/dev/null"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", TERM: "xterm-256color", ...o.env },
    encoding: "utf8",
    timeout: o.timeoutMs ?? 60_000,
    input: o.typed ?? "",
  });
  return { code: r.status, out: r.stdout.replace(/\r\n/g, "\n") };
}
