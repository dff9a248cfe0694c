// camctl host clients <host>: every account's clients on a virtual host, one row per (account,
// client), streamed from the server to the output as they arrive, with the filters of
// src/core/filters.ts applied on the server and again here.
import type { Command } from "commander";
import { CamError } from "../../core/errors.js";
import { addFilterOptions, matchesFilter, parseFilter, WHEN_HELP, type ClientFilter, type HostClientRecord, type RawFilterOptions } from "../../core/filters.js";
import { OutputWriter, type IOStreams } from "../../term/iostreams.js";
import { addAddressOptions, addCommonOptions, addFanoutOptions, resolveCommon, type CommonOptions } from "../../config/options.js";
import { fanoutRuns } from "../../config/selection.js";
import { progressLine, type ProgressLine } from "../../term/progress.js";
import type { HostScan } from "../../core/client-source.js";
import { excerpt, msg } from "../../text/untrusted.js";
import { withSource } from "../../transports/lifecycle.js";
import { isValidDomain } from "../../core/validate.js";
import type { Deps } from "../deps.js";

export interface HostClientsOptions extends CommonOptions {
  host: string;
  filter: ClientFilter;
  summary: boolean;
}

const HOST_CLIENTS_HELP = `
One row per (account, client) for every account of <host>; the record is
\`user clients\`'s plus "account". Filters combine (all must match);
--auth given twice matches either method.
${WHEN_HELP}

Examples:
  camctl host clients example.com --last-seen-before 90d -o ndjson
  camctl host clients example.com --software 'Evil Client/2.3'
  camctl host clients example.com --type access --no-expiry
  camctl host clients example.com --auth password --connected
  camctl host clients example.com --account 'test-*' -o csv > test-accounts.csv
  camctl host clients example.com --summary

Output: a table on a terminal; -o ndjson writes one JSON record per line as
the server sends them (for pipes and jq); -o json one document, written as
it goes; -o csv with "account" first. --summary counts by software, auth
method, type and last-seen age instead (a table, or JSON with -o json).
While it runs, a progress line (accounts scanned / total, rate, time left)
is drawn on stderr when stderr is a terminal.

--timeout bounds the wait for each batch of the scan, not the whole scan:
a host of any size can be listed as long as the server keeps answering.

Over XMPP (--jid) this needs an account the server's roles allow (default
prosody:admin) and the companion module mod_client_management_admin on the
host; camctl pages through the host (XEP-0059) and --timeout bounds each
page. With several contexts (--context a,b or --all-contexts) every record
gets "context" and each context's status follows on stderr.`;

export function register(host: Command, deps: Deps): void {
  const cmd = host
    .command("clients")
    .description("list every account's clients on a virtual host, with filters")
    .argument("<host>", "the virtual host, e.g. example.com")
    .option("--summary", "print counts by software, auth method, type and last-seen age instead of the rows");
  addFilterOptions(cmd);
  addAddressOptions(addFanoutOptions(addCommonOptions(cmd))).addHelpText("after", HOST_CLIENTS_HELP).action(async (hostArg: string, raw: Record<string, unknown>) => {
    const fan = fanoutRuns(raw, deps.io.env, deps.defaultSocket);
    if (fan) {
      if (raw.summary === true) throw new CamError("usage", "--summary counts one server's clients; leave it out with several contexts, or give --context one name.");
      const { hostClientsFanout } = await import("../fanout.js");
      return hostClientsFanout(fan, parseHost(hostArg), parseFilter(raw as RawFilterOptions, deps.io.now()), fan.output, deps.io, deps);
    }
    const common = resolveCommon(raw, deps.io.env, deps.defaultSocket);
    const opts: HostClientsOptions = {
      ...common,
      host: parseHost(hostArg),
      filter: parseFilter(raw as RawFilterOptions, deps.io.now()),
      summary: raw.summary === true,
    };
    if (opts.summary && opts.output !== "table" && opts.output !== "json") {
      throw new CamError("usage", `--summary prints a table or JSON; -o ${opts.output} lists rows. Leave out --summary, or use -o json.`);
    }
    await run(opts, deps.io, deps);
  });
}

/** The virtual host as Prosody names it: a domain, lowercased, without a trailing dot. */
export function parseHost(input: string): string {
  const host = input.replace(/\.$/, "").toLowerCase();
  if (input.includes("@") || input.includes("/") || !isValidDomain(host)) {
    throw new CamError("usage", msg`"${input}" is not a virtual host name; give a domain such as example.com.`);
  }
  return host;
}

/**
 * The records of a scan that pass the filter (again: a server that ignores part of it cannot widen
 * the result), with the progress line kept out of the way of the output. While the consumer is
 * writing a record (between a yield and the next request), the wait is ours, not the server's:
 * `busy` keeps the deadline from running out then and keeps the progress line from being drawn
 * into the output.
 */
async function* matching(
  records: AsyncIterable<HostClientRecord>,
  filter: ClientFilter,
  state: { busy: boolean },
  progress: ProgressLine,
  clearBeforeOutput: boolean,
): AsyncGenerator<HostClientRecord> {
  try {
    for await (const r of records) {
      if (!matchesFilter(r, filter)) continue;
      if (clearBeforeOutput) progress.clear();
      state.busy = true;
      yield r;
      state.busy = false;
    }
  } finally {
    progress.clear();
    // What is written after the last record (the end of JSON, the summary) is output too.
    state.busy = true;
  }
}

export async function run(opts: HostClientsOptions, io: IOStreams, deps: Pick<Deps, "prepareSource">): Promise<void> {
  const prepared = await deps.prepareSource(opts, io);
  const progress = progressLine(io);
  const head = { host: opts.host, transport: opts.transport.kind };
  try {
    await withSource(prepared, opts.timeoutSeconds, async (source, signal, alive) => {
      const state = { busy: false };
      // A slow reader of our output is not a slow server: keep the deadline armed while writing.
      const keepAlive = setInterval(() => state.busy && alive(), Math.min(1000, opts.timeoutSeconds * 500));
      keepAlive.unref();
      const failed: { account: string; reason: string }[] = [];
      let failedCount = 0;
      const scan: HostScan = {
        filter: opts.filter,
        signal,
        onProgress: (p) => {
          alive();
          if (!state.busy) progress.update(p);
        },
        onAccountFailed: (account, reason) => {
          failedCount++;
          if (failed.length < 3) failed.push({ account, reason });
        },
      };
      try {
        const records = matching(source.listHost(opts.host, scan), opts.filter, state, progress, io.stdoutIsTTY);
        if (opts.summary) {
          const [{ SummaryBuilder }, { renderSummaryJson, renderSummaryText }] = await Promise.all([
            import("../../core/summary.js"),
            import("../../render/summary.js"),
          ]);
          const summary = new SummaryBuilder(io.now());
          for await (const r of records) summary.add(r);
          const text = opts.output === "json" ? renderSummaryJson(head, summary.result()) : renderSummaryText(opts.host, summary.result());
          const out = new OutputWriter(io.stdout);
          await out.write(text);
          await out.flush();
        } else {
          const { writeClients } = await import("../../render/client-records.js");
          await writeClients(records, opts.output, io, {
            head,
            account: true,
            empty: `No clients on ${opts.host} match${hasFilter(opts.filter) ? " the filters" : ""}.`,
          });
        }
        if (failedCount > 0) throw unreadAccounts(failedCount, failed);
      } finally {
        clearInterval(keepAlive);
      }
    });
  } finally {
    progress.clear();
  }
}

/** Accounts the server could not read: the listing is complete but for them (exit 9). */
function unreadAccounts(count: number, some: { account: string; reason: string }[]): CamError {
  const named = some.map((f) => msg`${f.account} (${excerpt(f.reason, 120)})`);
  const more = count > some.length ? msg`, and ${count - some.length} more` : "";
  return new CamError("partlyDone",
    msg`The clients of ${count} ${count === 1 ? "account" : "accounts"} could not be read, so the listing leaves them out: ${named}${more}. Prosody's log may say why.`);
}

function hasFilter(f: ClientFilter): boolean {
  return Object.values(f).some((v) => v !== null && v !== false && !(Array.isArray(v) && v.length === 0));
}
