// camctl host history <host>: the history of every account of a virtual host (and its host-wide
// entries), from mod_audit's archive and camctl's own store (src/cli/history.ts).
import type { Command } from "commander";
import type { Deps } from "../deps.js";
import { addHistoryOptions, HISTORY_HELP, parseHistoryOptions, runHistory } from "../history.js";
import { parseHost } from "../../core/validate.js";

export function register(host: Command, deps: Deps): void {
  addHistoryOptions(
    host
      .command("history")
      .description("the host's history: logins (with address), failed logins, new clients, revocations, lock-outs")
      .argument("<host>", "the virtual host, e.g. example.com"),
  ).addHelpText("after", HISTORY_HELP + `

Examples:
  camctl host history example.com --since 12h --event authentication-failure
  camctl host history example.com --since 2026-01-01 --until 2026-01-31 -o csv > january.csv`).action(async (hostArg: string, raw: Record<string, unknown>) => {
    const opts = parseHistoryOptions(raw, deps, { host: parseHost(hostArg), jid: null });
    await runHistory(opts, deps.io, deps);
  });
}
