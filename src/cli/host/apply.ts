// camctl host apply <plan-file>: apply a plan written by `host revoke --plan-out`. The file is read
// once (never whole into memory), checked and held in a private copy (src/engines/plan.ts): what is shown,
// confirmed and applied is that copy, item by item, each revoked by its exact entry; applying it
// again revokes nothing twice and finishes what an interrupted run left.
import type { Command } from "commander";
import { filterFlags } from "../../core/filters.js";
import type { IOStreams } from "../../term/iostreams.js";
import { confirmBulk, refuseWithoutTerminal, TYPE_NAME_ABOVE } from "../../term/confirm.js";
import { addAddressOptions, addCommonOptions, resolveCommon, type CommonOptions } from "../../config/options.js";
import { PlanReader, hostRecord, type PlanHeader } from "../../engines/plan.js";
import { PreviewRows, renderPreview, revokeQuestion } from "../../render/bulk.js";
import { SummaryBuilder } from "../../core/summary.js";
import { displaySafe, msg } from "../../text/untrusted.js";
import type { Deps } from "../deps.js";
import { applyAndReport } from "../bulk.js";

export interface HostApplyOptions extends CommonOptions {
  planFile: string;
  yes: boolean;
  dryRun: boolean;
}

const HOST_APPLY_HELP = `
Applies a plan made by \`camctl host revoke <host> <filters> --plan-out <file>\`:
each of its items is revoked by its exact entry. An entry that is gone or is
now a different client is reported and not touched, so a plan can be applied
again safely: what was revoked the first time is reported as gone.
--dry-run prints the plan's items. On a terminal camctl shows a summary and
asks (above ${TYPE_NAME_ABOVE} items you type the host name); otherwise --yes is required.
Give --socket, --jid, --ssh or --context as for any command: the plan does
not choose the server. The file is read once and what was read is applied;
it must be your own regular file (not a symbolic link) that only you may
change.

Exit codes as for host revoke: 0 every item revoked or gone; 7 some clients
can still sign in with their account's password; 9 some items failed; 3 the
connection was lost (apply the same plan again to finish). --timeout bounds
each item. If the output fails (| head), every item is still revoked.

Examples:
  camctl host apply prune.json --dry-run
  camctl host apply prune.json
  camctl host apply evil.json --yes -o ndjson > outcomes.ndjson
  camctl --context prod host apply prune.prod.json`;

export function register(host: Command, deps: Deps): void {
  const cmd = host
    .command("apply")
    .description("apply a plan written by `host revoke --plan-out`")
    .argument("<plan-file>", "the plan, e.g. prune.json")
    .option("--dry-run", "print the plan's items and change nothing")
    .option("-y, --yes", "do not ask (required when stdin is not a terminal)");
  addAddressOptions(addCommonOptions(cmd)).addHelpText("after", HOST_APPLY_HELP).action(async (planFile: string, raw: Record<string, unknown>) => {
    const opts: HostApplyOptions = {
      ...resolveCommon(raw, deps.defaultSocket),
      planFile,
      yes: raw.yes === true,
      dryRun: raw.dryRun === true,
    };
    refuseWithoutTerminal(deps.io, !opts.yes && !opts.dryRun, "revoke", "Add --yes to apply the plan (or --dry-run to print it).");
    await run(opts, deps.io, deps);
  });
}

/** "made 3 h ago (2026-11-27T09:00:00Z) over the admin socket, with --software 'Evil Client'" */
function describePlan(h: PlanHeader, now: Date): string {
  const parts = filterFlags(h.filters);
  if (h.keepNewest !== null) parts.push(`--keep-newest ${h.keepNewest}`);
  const minutes = Math.round((now.getTime() - Date.parse(h.createdAt)) / 60000);
  const age = minutes < 1 ? "just now" : minutes < 120 ? `${minutes} min ago` : minutes < 2880 ? `${Math.round(minutes / 60)} h ago` : `${Math.round(minutes / 1440)} days ago`;
  return displaySafe(`made ${age} (${h.createdAt}) over ${h.transport === "socket" ? "the admin socket" : "XMPP"}, with ${parts.join(" ") || "no filter"}`);
}

export async function run(opts: HostApplyOptions, io: IOStreams, deps: Pick<Deps, "prepareSource" | "confirm" | "ask">): Promise<void> {
  const reader = await PlanReader.open(opts.planFile);
  try {
    const summary = new SummaryBuilder(io.now());
    const preview = new PreviewRows();
    const header = await reader.check((item) => {
      const r = hostRecord(item);
      summary.add(r);
      preview.add(r);
    }, io.now());
    if (opts.dryRun) {
      const { writeClients } = await import("../../render/client-records.js");
      await writeClients(
        (async function* () {
          for await (const item of reader.items()) yield hostRecord(item);
        })(),
        opts.output,
        io,
        { head: { host: header.host, transport: header.transport }, account: true, empty: "The plan is empty; nothing would be revoked." },
      );
      return;
    }
    if (header.count === 0) {
      io.stderr.write(`${msg`The plan ${opts.planFile} is empty; nothing was revoked.`}\n`);
      return;
    }
    // Prepared once the plan was read: a plan that cannot be applied asks for no password.
    const prepared = await deps.prepareSource(opts, io);
    if (!opts.yes) {
      const s = summary.result();
      io.stderr.write(`Plan ${displaySafe(opts.planFile)}: ${describePlan(header, io.now())}.\n`);
      io.stderr.write(await renderPreview(header.host, s, preview.first, io));
      await confirmBulk(
        {
          question: revokeQuestion(s, header.host),
          items: header.count,
          name: header.host,
          kind: "host name",
        },
        io,
        deps,
      );
    }
    await applyAndReport(
      reader,
      {
        prepared,
        timeoutSeconds: opts.timeoutSeconds,
        output: opts.output,
        head: { host: header.host, transport: opts.transport.kind, plan: opts.planFile },
        resume: msg`apply the same plan again (camctl host apply ${opts.planFile})`.toString(),
        accountWidth: preview.accountWidth,
        items: header.count,
      },
      io,
    );
  } finally {
    await reader.close();
  }
}
