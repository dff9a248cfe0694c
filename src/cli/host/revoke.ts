// camctl host revoke <host> <filters…>: revoke every client of a virtual host that the filters of
// `host clients` match. First the plan (the exact list of account, client id and entry as
// listed, made by src/engines/make-plan.ts), then: --dry-run prints it, --plan-out writes it for
// `host apply`, otherwise camctl asks (on a terminal) or needs --yes, and applies it item by item
// (src/cli/bulk.ts). Several contexts: src/cli/host/revoke-fanout.ts.
import { InvalidArgumentError, Option, type Command } from "commander";
import { CamError } from "../../core/errors.js";
import { addFilterOptions, filteredColumns, isEmptyFilter, parseFilter, type RawFilterOptions } from "../../core/filters.js";
import { makePlan, planRequest, scanPlan, type PlanScanView, type PlanScope } from "../../engines/make-plan.js";
import type { PlanHeader } from "../../engines/plan.js";
import type { ClientSummary } from "../../core/summary.js";
import { parseHost } from "../../core/validate.js";
import { messageLine, OutputWriter, type IOStreams } from "../../term/iostreams.js";
import { setInterruptHint } from "../../term/interrupt.js";
import { confirmBulk, refuseWithoutTerminal, TYPE_NAME_ABOVE } from "../../term/confirm.js";
import { progressLine } from "../../term/progress.js";
import { addAddressOptions, addCommonOptions, addFanoutOptions, resolveCommon, type CommonOptions } from "../../config/options.js";
import { fanoutRuns } from "../../config/selection.js";
import { PreviewRows, renderPreview, revokeQuestion } from "../../render/bulk.js";
import { displaySafe, msg } from "../../text/untrusted.js";
import { nearestSoftwareSentence, SoftwareSeen } from "../../core/software-match.js";
import type { PreparedSource } from "../../transports/lifecycle.js";
import type { Deps } from "../deps.js";
import { applyAndReport } from "../bulk.js";

/** What `host revoke` was asked, on one server or several. */
export interface HostRevokeChoice extends PlanScope {
  dryRun: boolean;
  planOut: string | null;
  yes: boolean;
}

export interface HostRevokeOptions extends CommonOptions, HostRevokeChoice {}

const HOST_REVOKE_HELP = `
The filters are those of \`camctl host clients\` (see its --help); at least
one is required, or --all for every client of every account. First camctl
makes the plan: the exact list of (account, client id, entry as listed)
that match.
  --dry-run          prints the plan (like host clients, any -o format)
  --plan-out <file>  writes it (JSON, mode 0600, never over an existing
                     file) for \`camctl host apply <file>\`
Otherwise camctl shows a summary and the first rows and asks; above ${TYPE_NAME_ABOVE}
clients you type the host name. Without a terminal, --yes is required.

Each item is revoked by its exact entry, completely (sessions, FAST tokens,
grant), as \`user revoke_client\` does; an entry that is gone or is now a
different client is reported and not touched. Outcomes stream as they come
(-o ndjson: one record per line), then a summary.

Exit codes: 0 every item revoked or gone; 7 some clients can still sign in
with their account's password; 9 some items failed (see their reason); 3 the
connection was lost (the run stops). --timeout bounds each item.
Running it again (or \`host apply\` with the same plan) finishes an
interrupted run and revokes nothing twice.

With several contexts (--context a,b or --all-contexts), --dry-run and
--plan-out work on each (one plan file per context: prune.prod.json, ...);
revoking on all of them at once needs --all-contexts --yes.

Examples:
  camctl host revoke example.com --software 'Evil Client' --dry-run
  camctl host revoke example.com --software 'Evil Client' --yes -o ndjson
  camctl host revoke example.com --last-seen-before 365d --keep-newest 1 --plan-out prune.json
  camctl host apply prune.json`;

function parseKeepNewest(value: string): number {
  const n = Number(value);
  if (!/^\d{1,6}$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("give a whole number of clients to keep per account, at least 1, e.g. --keep-newest 1.");
  }
  return n;
}

export function register(host: Command, deps: Deps): void {
  const cmd = host
    .command("revoke")
    .description("revoke every client on a virtual host that the filters match (plan, confirm, apply)")
    .argument("<host>", "the virtual host, e.g. example.com");
  addFilterOptions(cmd);
  cmd
    .option("--all", "every client of every account (instead of filters)")
    .addOption(new Option("--keep-newest <n>", "per account, keep the n most recently seen matching clients out of the plan").argParser(parseKeepNewest))
    .option("--dry-run", "print the plan and change nothing")
    .option("--plan-out <file>", "write the plan to <file> (for camctl host apply) and change nothing")
    .option("-y, --yes", "do not ask (required when stdin is not a terminal)");
  addAddressOptions(addFanoutOptions(addCommonOptions(cmd))).addHelpText("after", HOST_REVOKE_HELP).action(async (hostArg: string, raw: Record<string, unknown>) => {
    const fan = fanoutRuns(raw, deps.defaultSocket);
    const common = fan ? undefined : resolveCommon(raw, deps.defaultSocket);
    const choice: HostRevokeChoice = {
      host: parseHost(hostArg),
      filter: parseFilter(raw as RawFilterOptions, deps.io.now()),
      all: raw.all === true,
      keepNewest: typeof raw.keepNewest === "number" ? raw.keepNewest : null,
      dryRun: raw.dryRun === true,
      planOut: typeof raw.planOut === "string" ? raw.planOut : null,
      yes: raw.yes === true,
    };
    checkOptions(choice, deps.io);
    if (fan) {
      const { hostRevokeFanout } = await import("./revoke-fanout.js");
      return hostRevokeFanout(fan, choice, raw.allContexts === true, deps);
    }
    await run({ ...common!, ...choice }, deps.io, deps);
  });
}

export function checkOptions(opts: HostRevokeChoice, io: IOStreams): void {
  const filtered = !isEmptyFilter(opts.filter);
  if (!filtered && !opts.all) {
    throw new CamError("usage",
      msg`Give at least one filter (e.g. --software 'Evil Client' or --last-seen-before 365d; see \`camctl host revoke --help\`), or --all to revoke every client of every account of ${opts.host}.`);
  }
  if (filtered && opts.all) throw new CamError("usage", "--all means every client; leave it out when you give filters.");
  if (opts.dryRun && opts.planOut !== null) throw new CamError("usage", "Give --dry-run (print the plan) or --plan-out (write it), not both.");
  if (opts.planOut === "") throw new CamError("usage", "--plan-out needs a file name.");
  refuseWithoutTerminal(io, !opts.yes && !opts.dryRun && opts.planOut === null, "revoke",
    "Add --yes to revoke (or --dry-run to preview, --plan-out <file> to write the plan).");
}

export async function run(opts: HostRevokeOptions, io: IOStreams, deps: Pick<Deps, "prepareSource" | "confirm" | "ask">): Promise<void> {
  const prepared = await deps.prepareSource(opts, io);
  const seen = opts.filter.software !== null ? new SoftwareSeen() : undefined;
  const view: PlanScanView = { progress: progressLine(io), outputOnTerminal: io.stdoutIsTTY, seen };
  // A typo in --software plans nothing: say which names were seen (on stderr; the exit code stays).
  const sayNearest = () => {
    const near = seen && nearestSoftwareSentence(opts.filter.software, seen, opts.host);
    if (near) io.stderr.write(near + "\n");
  };
  if (opts.dryRun) return dryRun(prepared, opts, io, view).then(sayNearest);

  const preview = new PreviewRows();
  // Ctrl-C while the plan is being written leaves the file cut short (host apply refuses it).
  if (opts.planOut !== null) setInterruptHint(msg`The plan ${opts.planOut} is incomplete; remove it and make it again.`.toString());
  const plan = await makePlan(prepared, planRequest(opts, opts), { planFile: opts.planOut, now: io.now(), view, onRecord: (r) => preview.add(r) })
    .finally(() => setInterruptHint(undefined));
  const { header, items, summary: s, unread } = plan;
  try {
    if (opts.planOut !== null) {
      await planWritten(opts, header, s, io);
      sayNearest();
    } else if (items === 0) {
      await say(io, opts, msg`No client on ${opts.host} matches; nothing was revoked.`.toString());
      sayNearest();
    } else {
      if (!opts.yes) {
        io.stderr.write(await renderPreview(opts.host, s, preview.first, io));
        await confirmBulk(
          {
            question: revokeQuestion(s, opts.host),
            items,
            name: opts.host,
            kind: "host name",
          },
          io,
          deps,
        );
      }
      try {
        await applyAndReport(
          plan.writer.reader(),
          {
            prepared,
            timeoutSeconds: opts.timeoutSeconds,
            output: opts.output,
            head: { host: opts.host, transport: opts.transport.kind },
            resume: "run the same `camctl host revoke` again",
            accountWidth: preview.accountWidth,
            items,
          },
          io,
        );
      } catch (err) {
        // Unread accounts make the run partly done (9) even when every planned item went well (7).
        if (unread && err instanceof CamError && err.kind === "passwordResetRequired") throw new CamError("partlyDone", `${unread.message} ${err.message}`);
        throw err;
      }
    }
  } finally {
    await plan.writer.close(true);
  }
  if (unread) throw unread;
}

/** --dry-run: the plan as `host clients` would print it. */
async function dryRun(prepared: PreparedSource, opts: HostRevokeOptions, io: IOStreams, view: PlanScanView): Promise<void> {
  const { writeClients } = await import("../../render/client-records.js");
  await scanPlan(prepared, planRequest(opts, opts), (records) =>
    writeClients(records, opts.output, io, {
      head: { host: opts.host, transport: opts.transport.kind },
      account: true,
      empty: `No client on ${displaySafe(opts.host)} matches; nothing would be revoked.`,
      table: { keep: filteredColumns(opts.filter) },
    }),
  view);
}

/** Says where the plan went and how to apply it. */
async function planWritten(opts: HostRevokeOptions, header: PlanHeader, s: ClientSummary, io: IOStreams): Promise<void> {
  const file = opts.planOut!;
  if (opts.output === "json" || opts.output === "ndjson") {
    const { renderJson, renderJsonLine } = await import("../../render/json.js");
    const value = { host: header.host, transport: header.transport, planFile: file, createdAt: header.createdAt, items: s.clients, accounts: s.accounts };
    io.stdout.write(opts.output === "json" ? renderJson(value) : renderJsonLine(value));
    return;
  }
  await say(io, opts,
    msg`Wrote a plan to revoke ${s.clients} ${s.clients === 1 ? "client" : "clients"} on ${s.accounts} ${s.accounts === 1 ? "account" : "accounts"} of ${opts.host} to ${file}; nothing was revoked. Apply it with: camctl host apply ${file}`.toString());
}

/** A sentence for people: stdout in table format, stderr otherwise (stdout holds only records). */
async function say(io: IOStreams, opts: HostRevokeOptions, sentence: string): Promise<void> {
  if (opts.output === "table") {
    const out = new OutputWriter(io.stdout);
    await out.write(sentence + "\n");
    await out.flush();
  } else {
    io.stderr.write(messageLine(sentence));
  }
}
