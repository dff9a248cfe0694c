// camctl on a real pseudo-terminal (util-linux `script`), typing an answer: for tests of what
// only happens on a terminal (questions, colour, width).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { camctlCommand } from "./run-camctl.js";

/** Whether util-linux `script` is installed (tests that need a terminal skip without it). */
export const haveScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

type TerminalOptions = { cols?: number; env?: Record<string, string>; timeoutMs?: number };

/** `script` running camctl on a pseudo-terminal of `cols` columns: its command and options. */
function scriptCommand(args: string[], o: TerminalOptions): [string, string[], { env: NodeJS.ProcessEnv }] {
  const quoted = [...camctlCommand(), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  return ["script", ["-qec", `stty cols ${o.cols ?? 160} rows 50; ${quoted}`, "/dev/null"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", TERM: "xterm-256color", ...o.env },
  }];
}

/** Runs camctl on a pseudo-terminal of `cols` columns, typing `typed`; returns what the terminal showed. */
export function onTerminal(args: string[], o: TerminalOptions & { typed?: string } = {}): { code: number | null; out: string } {
  const [command, argv, options] = scriptCommand(args, o);
  const r = spawnSync(command, argv, { ...options, encoding: "utf8", timeout: o.timeoutMs ?? 60_000, input: o.typed ?? "" });
  return { code: r.status, out: r.stdout.replace(/\r\n/g, "\n") };
}

/**
 * Runs camctl on a pseudo-terminal and types `typed` only once the terminal shows `when` (a
 * password prompt reads in raw mode what is typed after it appears; anything typed earlier is
 * the terminal's to echo). Never typed if `when` never shows. Returns what the terminal showed.
 */
export function answerOnTerminal(args: string[], when: RegExp, typed: string, o: TerminalOptions = {}): Promise<{ code: number | null; out: string; typed: boolean }> {
  const [command, argv, options] = scriptCommand(args, o);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { ...options, stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    let answered = false;
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (!answered && when.test(out)) {
        answered = true;
        child.stdin!.write(typed);
      }
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, out: out.replace(/\r\n/g, "\n"), typed: answered });
    });
  });
}
