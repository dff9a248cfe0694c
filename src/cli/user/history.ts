// camctl user history <jid>: the account's logins, failed logins, new clients, revocations and
// lock-outs, from mod_audit's archive and camctl's own store (src/cli/history.ts).
import type { Command } from "commander";
import { parseBareJid } from "../../core/validate.js";
import type { Deps } from "../deps.js";
import { addHistoryOptions, HISTORY_HELP, parseHistoryOptions, runHistory } from "../history.js";

export function register(user: Command, deps: Deps): void {
  addHistoryOptions(
    user
      .command("history")
      .description("the account's history: logins (with address), failed logins, new clients, revocations, lock-outs")
      .argument("<jid>", "the account, e.g. alice@example.com"),
  ).addHelpText("after", HISTORY_HELP + `

Examples:
  camctl user history alice@example.com --since 30d
  camctl user history alice@example.com --event authentication-failure -o ndjson`).action(async (jidArg: string, raw: Record<string, unknown>) => {
    const jid = parseBareJid(jidArg, "account JID");
    const opts = parseHistoryOptions(raw, deps, { host: jid.slice(jid.indexOf("@") + 1), jid });
    await runHistory(opts, deps.io, deps);
  });
}
