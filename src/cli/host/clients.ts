// camctl host clients <host>: every account's clients on a virtual host, one row per (account,
// client), streamed from the server to the output as they arrive (the scan: src/engines/host-scan.ts),
// with the filters of src/core/filters.ts.
import type { Command } from "commander";
import { CamError } from "../../core/errors.js";
import { addFilterOptions, parseFilter, WHEN_HELP, type ClientFilter, type RawFilterOptions } from "../../core/filters.js";
import { scanHost, unreadAccountsError } from "../../engines/host-scan.js";
import { OutputFailed, OutputWriter, type IOStreams } from "../../term/iostreams.js";
import { addAddressOptions, addCommonOptions, addFanoutOptions, HOST_CLIENTS_FORMATS, resolveCommon, type CommonOptions } from "../../config/options.js";
import { fanoutRuns } from "../../config/selection.js";
import { progressLine } from "../../term/progress.js";
import { parseHost } from "../../core/validate.js";
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
  camctl host clients example.com --summary -o openmetrics \\
    --output-file /var/lib/prometheus/node-exporter/camctl.prom

Output: a table on a terminal; -o ndjson writes one JSON record per line as
the server sends them (for pipes and jq); -o json one document, written as
it goes; -o csv with "account" first. --summary counts by software, auth
method, type, last-seen age and expiry instead (a table, JSON with -o json,
or -o openmetrics for Prometheus: docs/metrics.md). --output-file writes the
output to a file that is replaced whole, by rename, once it is complete.
While it runs, a progress line (accounts scanned / total, rate, time left)
is drawn on stderr when stderr is a terminal; while the output is not being
read (a pipe whose reader waits), it says so.

--timeout bounds the wait for each batch of the scan, not the whole scan:
a host of any size can be listed as long as the server keeps answering.

Over XMPP (--jid) this needs an account the server's roles allow (default
prosody:admin) and the companion module mod_client_management_admin on the
host; camctl pages through the host (XEP-0059) and --timeout bounds each
page. With several contexts (--context a,b or --all-contexts) every record
gets "context" and each context's status follows on stderr; --summary then
takes -o openmetrics only, with a "context" label on every sample.`;

export function register(host: Command, deps: Deps): void {
  const cmd = host
    .command("clients")
    .description("list every account's clients on a virtual host, with filters")
    .argument("<host>", "the virtual host, e.g. example.com")
    .option("--summary", "print counts by software, auth method, type, last-seen age and expiry instead of the rows")
    .option("--output-file <path>", "write the output to this file, replaced whole (by rename) once complete, instead of stdout");
  addFilterOptions(cmd);
  addAddressOptions(addFanoutOptions(addCommonOptions(cmd, HOST_CLIENTS_FORMATS))).addHelpText("after", HOST_CLIENTS_HELP).action(async (hostArg: string, given: Record<string, unknown>) => {
    // -o openmetrics is this command's alone: taken out here, so the shared options keep their four formats.
    const metrics = given.output === "openmetrics" && given.json !== true;
    const raw = metrics ? { ...given, output: "table" } : given;
    const summary = raw.summary === true;
    if (metrics && !summary) throw new CamError("usage", "-o openmetrics writes the counts of --summary; add --summary.");
    const host = parseHost(hostArg);
    const filter = parseFilter(raw as RawFilterOptions, deps.io.now());
    const fan = fanoutRuns(raw, deps.defaultSocket);
    if (fan && summary && !metrics) {
      throw new CamError("usage", "--summary with several contexts writes -o openmetrics only (a context label on each sample); use that, leave out --summary, or give --context one name.");
    }
    const opts: HostClientsOptions | undefined = fan ? undefined : { ...resolveCommon(raw, deps.defaultSocket), host, filter, summary };
    if (opts?.summary && !metrics && opts.output !== "table" && opts.output !== "json") {
      throw new CamError("usage", `--summary prints a table, JSON or OpenMetrics; -o ${opts.output} lists rows. Leave out --summary, or use -o json.`);
    }
    const { io } = deps;
    const file = typeof raw.outputFile === "string" ? await (await import("../output-file.js")).openOutputFile(raw.outputFile, io) : undefined;
    const written = async () => file?.commit();
    try {
      const out = file?.io ?? io;
      if (metrics) {
        const m = await import("./clients-metrics.js");
        if (fan) await m.hostClientsMetricsFanout(fan, host, filter, out, deps, written);
        else await m.hostClientsMetrics(opts!, out, deps, written);
      } else if (fan) {
        const { hostClientsFanout } = await import("../fanout.js");
        await hostClientsFanout(fan, host, filter, fan.output, out, deps, written);
      } else {
        await run(opts!, out, deps, written);
      }
    } catch (err) {
      if (file && err instanceof OutputFailed) throw file.failed(err.cause);
      throw err;
    } finally {
      await file?.discard();
    }
  });
}

/** `written` runs once everything is written (--output-file commits there), before the run's own error. */
export async function run(opts: HostClientsOptions, io: IOStreams, deps: Pick<Deps, "prepareSource">, written: () => Promise<void> = async () => undefined): Promise<void> {
  const prepared = await deps.prepareSource(opts, io);
  const head = { host: opts.host, transport: opts.transport.kind };
  const request = { host: opts.host, filter: opts.filter, timeoutSeconds: opts.timeoutSeconds, progress: progressLine(io), outputOnTerminal: io.stdoutIsTTY };
  const unread = await scanHost(prepared, request, async (records) => {
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
  });
  await written();
  // Accounts the server could not read: the listing is complete but for them (exit 9).
  if (unread) throw unreadAccountsError(unread, "listing");
}

function hasFilter(f: ClientFilter): boolean {
  return Object.values(f).some((v) => v !== null && v !== false && !(Array.isArray(v) && v.length === 0));
}
