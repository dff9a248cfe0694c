// Terminal facts passed into every command, so tests can fake TTY, colour and width
// and capture what was written.
import { isatty } from "node:tty";
import type { Readable, Writable } from "node:stream";

export interface IOStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  /** Colour on stdout: decided once from --no-color, NO_COLOR, FORCE_COLOR and the TTY. */
  color: boolean;
  /** Columns available on stdout; undefined when not a terminal (no width limit). */
  width: number | undefined;
  /** Reference time for relative timestamps ("3 hours ago"). */
  now: () => Date;
  env: NodeJS.ProcessEnv;
}

export function decideColor(env: NodeJS.ProcessEnv, isTTY: boolean, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  // https://no-color.org: any non-empty value disables colour.
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  return isTTY && env.TERM !== "dumb";
}

export function systemIO(noColorFlag = false): IOStreams {
  const stdoutIsTTY = Boolean(process.stdout.isTTY);
  return {
    // process.stdin builds a stream on first use, which costs start-up time; only prompts need it.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: isatty(0),
    stdoutIsTTY,
    color: decideColor(process.env, stdoutIsTTY, noColorFlag),
    width: stdoutIsTTY ? process.stdout.columns || 80 : undefined,
    now: () => new Date(),
    env: process.env,
  };
}
