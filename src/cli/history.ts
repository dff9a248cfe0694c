// `camctl user history <jid>` and `camctl host history <host>`: the options both take and the run.
import { Option, type Command } from "commander";
import { CamError } from "../core/errors.js";
import { EVENT_NAMES, parseEvents, parseWindow, type HistoryQuery } from "../core/history.js";
import type { IOStreams } from "../term/iostreams.js";
import { addCommonOptions, resolveCommon, type CommonOptions } from "../config/options.js";
import { withSource } from "../transports/lifecycle.js";
import { msg } from "../text/untrusted.js";
import type { Deps } from "./deps.js";
import { boundYoungGeneration } from "../core/memory.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const HISTORY_HELP = `
Entries come from mod_audit's archive where mod_audit is loaded (logins and
failed logins with the address and country as recorded, new clients, account
events) and from camctl's own store (its revocations and lock-outs where
mod_audit is not loaded); "source" says which. Neither present: exit 8.
<when> is a duration back from now (90d, 12h, 30m, 2w, 45s) or an ISO date
(2026-01-31, 2026-01-31T12:00:00Z; UTC unless it says otherwise); --since
and --until include their own second. --event is repeatable or a comma list:
${EVENT_NAMES.join(", ")}.
Output: a table on a terminal; -o ndjson one event per line as it arrives;
-o json one document; -o csv. Every field is described in docs/history.md.
Over the admin socket (or --ssh), or over XMPP (--jid) as an admin through
the companion module mod_client_management_admin (without it: exit 8).`;

/** The options of both history commands. */
export function addHistoryOptions(cmd: Command): Command {
  return addCommonOptions(
    cmd
      .option("--since <when>", "only entries at or after <when> (12h, 30d, or an ISO date)")
      .option("--until <when>", "only entries at or before <when> (12h, 30d, or an ISO date)")
      .addOption(new Option("--event <name>", "only these events (repeatable, or a comma list), e.g. authentication-failure").argParser(collect)),
  );
}

export interface HistoryOptions extends CommonOptions {
  query: HistoryQuery;
}

export function parseHistoryOptions(raw: Record<string, unknown>, deps: Deps, target: { host: string; jid: string | null }): HistoryOptions {
  const window = parseWindow(raw as { since?: string; until?: string }, deps.io.now());
  const events = parseEvents(raw.event as string[] | undefined);
  return { ...resolveCommon(raw, deps.defaultSocket), query: { ...target, ...window, events } };
}

export async function runHistory(opts: HistoryOptions, io: IOStreams, deps: Pick<Deps, "prepareSource">): Promise<void> {
  const prepared = await deps.prepareSource(opts, io);
  const q = opts.query;
  boundYoungGeneration();
  await withSource(prepared, opts.timeoutSeconds, async (source, _signal, alive) => {
    if (!source.history) {
      throw new CamError("unsupported", "This transport cannot read the history: use Prosody's admin socket (--socket, or --ssh for a remote server), or --jid with the companion module mod_client_management_admin.", "history-needs-socket");
    }
    // A slow reader of our output is not a slow server: every entry re-arms the deadline.
    const keepAlive = setInterval(alive, Math.min(1000, opts.timeoutSeconds * 500));
    keepAlive.unref();
    try {
      const { writeHistory } = await import("../render/history.js");
      const what = q.jid ?? q.host;
      await writeHistory(source.history(q, alive), opts.output, io, {
        head: q.jid ? { jid: q.jid, transport: opts.transport.kind } : { host: q.host, transport: opts.transport.kind },
        account: q.jid === null,
        empty: msg`No history entries for ${what}${q.since !== null || q.until !== null || q.events.length > 0 ? " match" : ""}.`.toString(),
      });
    } finally {
      clearInterval(keepAlive);
    }
  });
}
