// Asking before a change, for every command that asks (`user revoke_client`, `user lockout`,
// `host revoke`, `host apply`): the refusal when nobody can answer (stdin is not a terminal and
// --yes was not given), and the question before a bulk change.
import { CamError } from "../core/errors.js";
import { msg } from "../text/untrusted.js";
import type { IOStreams } from "./iostreams.js";

/** The questions a command may ask on the terminal (src/cli/deps.ts; tests pass fakes). */
export interface Prompts {
  /** A yes/no question; only called when stdin is a TTY. */
  confirm: (question: string, io: IOStreams) => Promise<boolean>;
  /** A line of text (e.g. the host name to confirm a bulk change); undefined on Ctrl-C or Ctrl-D. Only called when stdin is a TTY. */
  ask: (question: string, io: IOStreams) => Promise<string | undefined>;
}

/**
 * Refuses (exit 2, before anything is done) a change that would ask when stdin is not a terminal:
 * `asks` is false with --yes, or when nothing will be changed (--dry-run). `doing` and `advice`
 * are the command's own words: "Refusing to <doing> without confirmation … <advice>".
 */
export function refuseWithoutTerminal(io: IOStreams, asks: boolean, doing: string, advice: string): void {
  if (asks && !io.stdinIsTTY) {
    throw new CamError("usage", `Refusing to ${doing} without confirmation because stdin is not a terminal. ${advice}`);
  }
}

/**
 * Above this many items the question is answered by typing the host name (or the account's JID),
 * not y: a bulk change of that size should not go ahead on a reflex.
 */
export const TYPE_NAME_ABOVE = 20;

/**
 * Asks before a bulk change (only called when stdin is a terminal). Up to TYPE_NAME_ABOVE items
 * a yes/no question; above, the operator types `name`. Anything else means no: exit 2, nothing done.
 */
export async function confirmBulk(
  o: { question: string; items: number; name: string; kind: "host name" | "account" },
  io: IOStreams,
  prompts: Prompts,
): Promise<void> {
  if (o.items <= TYPE_NAME_ABOVE) {
    if (!(await prompts.confirm(o.question, io))) throw new CamError("usage", "Nothing was revoked.");
    return;
  }
  const typed = await prompts.ask(`${o.question} This is more than ${TYPE_NAME_ABOVE} items: type the ${o.kind} (${o.name}) to go ahead:`, io);
  if (typed === undefined || typed.trim() === "") throw new CamError("usage", "Nothing was revoked.");
  if (typed.trim() !== o.name) throw new CamError("usage", msg`"${typed.trim()}" is not ${o.name}; nothing was revoked.`);
}
