// `host revoke` on several contexts (--context a,b or --all-contexts):
//   --dry-run          every context's plan, merged like `host clients` (each record tagged);
//   --plan-out <file>  one plan file per context, its name carrying the context
//                      (prune.json -> prune.prod.json), to apply with `--context prod host apply`;
//   otherwise          only as `--all-contexts --yes`: every context is planned first; on a
//                      terminal camctl then shows each context's plan and asks once; then every
//                      context applies its own plan, the outcomes merged as they come.
// One context failing (unreachable, no module) never stops the others; the exit code is the most
// severe of the contexts' (mostSevere, src/core/errors.ts).
import { applyPlan, emptyTally } from "../../engines/apply.js";
import { CamError } from "../../core/errors.js";
import type { ContextOutcome } from "../../engines/fanout.js";
import { filteredColumns, type HostClientRecord } from "../../core/filters.js";
import { makePlan, planRequest, scanPlan, type MadePlan, type PlanScope } from "../../engines/make-plan.js";
import { tallyOutcome, type ApplyTally, type ItemResult } from "../../core/outcomes.js";
import { messageLine, OutputWriter, type IOStreams } from "../../term/iostreams.js";
import { setInterruptHint } from "../../term/interrupt.js";
import { confirmBulk } from "../../term/confirm.js";
import type { CommonOptions, OutputFormat } from "../../config/options.js";
import { msg } from "../../text/untrusted.js";
import type { PreparedSource } from "../../transports/lifecycle.js";
import type { Deps } from "../deps.js";
import { fanoutJsonTail, fanoutRecords, fanoutTransport, finishFanout, prepareWith, type Fanout } from "../fanout.js";
import { throwUnlessDone } from "../outcome.js";
import { stoppedLine, tallyOutcomeSentence } from "../../render/bulk.js";
import type { PlanItem } from "../../engines/plan.js";

/** What `host revoke` was asked (checked by src/cli/host/revoke.ts). */
type RevokeSettings = PlanScope & { dryRun: boolean; planOut: string | null; yes: boolean };

/** prune.json -> prune.prod.json; prune -> prune.prod. */
export function planFileFor(file: string, context: string): string {
  const slash = file.lastIndexOf("/");
  const dot = file.lastIndexOf(".");
  return dot > slash + 1 ? `${file.slice(0, dot)}.${context}${file.slice(dot)}` : `${file}.${context}`;
}

/**
 * `host revoke` on the contexts of `fan`; `settings` were checked as for one server (revoke.ts
 * checkOptions), `allContexts` is whether --all-contexts was given.
 */
export async function hostRevokeFanout(fan: Fanout & { output: OutputFormat }, settings: RevokeSettings, allContexts: boolean, deps: Deps): Promise<void> {
  const { io } = deps;
  if (settings.dryRun) return dryRun(fan, settings, io, deps);
  if (settings.planOut !== null) return planOut(fan, settings, io, deps);
  if (!allContexts || !settings.yes) {
    throw new CamError("usage",
      "Revoking on several servers at once needs --all-contexts --yes, typed out; or make one plan per context with --plan-out <file> (or look first with --dry-run).");
  }
  return applyEverywhere(fan, settings, io, deps);
}

async function dryRun(fan: Fanout & { output: OutputFormat }, s: RevokeSettings, io: IOStreams, deps: Deps): Promise<void> {
  const outcomes: ContextOutcome[] = [];
  const records = fanoutRecords<HostClientRecord>(
    fan,
    (prepared, common, emit) => scanPlan(prepared, planRequest(s, common), async (rs) => {
      for await (const r of rs) await emit(r);
    }),
    prepareWith(deps, io),
    outcomes,
  );
  const { writeClients } = await import("../../render/client-records.js");
  await writeClients(records, fan.output, io, {
    head: { host: s.host, transport: fanoutTransport(fan) },
    account: true,
    context: true,
    empty: `No client on ${s.host} matches on any of the contexts that answered; nothing would be revoked.`,
    tail: () => fanoutJsonTail(outcomes),
    table: { keep: filteredColumns(s.filter) },
  });
  finishFanout(outcomes, fan.output, io);
}

interface PlanMade {
  host: string;
  transport: string;
  planFile: string;
  createdAt: string;
  items: number;
  accounts: number;
}

async function planOut(fan: Fanout & { output: OutputFormat }, s: RevokeSettings, io: IOStreams, deps: Deps): Promise<void> {
  const outcomes: ContextOutcome[] = [];
  const records = fanoutRecords<PlanMade>(
    fan,
    async (prepared, common, emit, _signal, context) => {
      const file = planFileFor(s.planOut!, context);
      const plan = await makePlan(prepared, planRequest(s, common), { planFile: file, now: io.now() });
      try {
        await emit({ host: s.host, transport: plan.header.transport, planFile: file, createdAt: plan.header.createdAt, items: plan.items, accounts: plan.summary.accounts });
        if (plan.unread) throw plan.unread;
      } finally {
        await plan.writer.close(true);
      }
    },
    prepareWith(deps, io),
    outcomes,
  );
  const out = new OutputWriter(io.stdout);
  const made: (PlanMade & { context: string })[] = [];
  const [{ renderJson, renderJsonLine }, { csvRow }] = await Promise.all([import("../../render/json.js"), import("../../render/csv.js")]);
  if (fan.output === "csv") await out.write(csvRow(["context", "host", "transport", "planFile", "createdAt", "items", "accounts"]));
  for await (const p of records) {
    made.push(p);
    if (fan.output === "ndjson") await out.write(renderJsonLine(p));
    else if (fan.output === "csv") await out.write(csvRow([p.context, p.host, p.transport, p.planFile, p.createdAt, String(p.items), String(p.accounts)]));
    else if (fan.output === "table") {
      await out.write(msg`${p.context}: wrote a plan to revoke ${p.items} ${p.items === 1 ? "client" : "clients"} on ${p.accounts} ${p.accounts === 1 ? "account" : "accounts"} of ${p.host} to ${p.planFile}; apply it with: camctl --context ${p.context} host apply ${p.planFile}\n`.toString());
    }
    await out.flush();
  }
  if (fan.output === "json") await out.write(renderJson({ host: s.host, plans: made, ...fanoutJsonTail(outcomes) }));
  await out.flush();
  if (fan.output === "table" && made.length > 0) await out.write("Nothing was revoked.\n");
  await out.flush();
  finishFanout(outcomes, fan.output, io);
}

/**
 * The limit on one context's whole plan in `--all-contexts --yes`: its --timeout, counted from the
 * start of its planning (per batch, a server that streams records without end would never let
 * the run reach its revocations, anywhere). Past it, that context fails alone and the others apply.
 */
function planBound(where: string, seconds: number, cancel: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const limit = new AbortController();
  const timer = setTimeout(() => limit.abort(new CamError("unreachable",
    msg`The plan for ${where} was not complete within ${seconds} s, so nothing is revoked there: with --all-contexts --yes, --timeout bounds each context's whole plan. Raise --timeout (or that context's timeout), or plan it alone with --plan-out.`,
    "timeout")), seconds * 1000);
  return { signal: AbortSignal.any([cancel, limit.signal]), clear: () => clearTimeout(timer) };
}

interface Planned {
  context: string;
  prepared: PreparedSource;
  opts: CommonOptions;
  plan: MadePlan;
}

async function applyEverywhere(fan: Fanout & { output: OutputFormat }, s: RevokeSettings, io: IOStreams, deps: Deps): Promise<void> {
  // 1. Every context's plan, into spool files.
  const planned = new Map<string, Planned>();
  const planning: ContextOutcome[] = [];
  const noRecords = fanoutRecords<never>(
    fan,
    async (prepared, common, _emit, signal, context) => {
      const bound = planBound(prepared.where, common.timeoutSeconds, signal);
      try {
        const plan = await makePlan(prepared, planRequest(s, common), { planFile: null, now: io.now(), view: { bound: bound.signal } });
        planned.set(context, { context, prepared, opts: common, plan });
        if (plan.unread) throw plan.unread;
      } finally {
        bound.clear();
      }
    },
    prepareWith(deps, io),
    planning,
  );
  for await (const _ of noRecords) void _;
  try {
    const total = [...planned.values()].reduce((n, p) => n + p.plan.items, 0);
    // 2. On a terminal: each context's plan, and one question.
    if (io.stdinIsTTY) {
      for (const o of planning) {
        const p = planned.get(o.context);
        const line = p
          ? `${o.context}: ${p.plan.items === 0 ? "nothing matches" : `${p.plan.items} ${p.plan.items === 1 ? "client" : "clients"} on ${p.plan.summary.accounts} ${p.plan.summary.accounts === 1 ? "account" : "accounts"}`}${o.kind !== null ? ` (but ${o.message})` : ""}`
          : `${o.context}: cannot plan, so nothing is revoked there (${o.message})`;
        io.stderr.write(messageLine(msg`${line}`));
      }
      if (total > 0) {
        await confirmBulk(
          { question: `Revoke ${total.toLocaleString("en-US")} ${total === 1 ? "client" : "clients"} of ${s.host} on ${contextCount(planned)}?`, items: total, name: s.host, kind: "host name" },
          io,
          deps,
        );
      }
    }
    // 3. Every context applies its own plan; outcomes merged as they come.
    await applyPlans(fan, planned, planning, s, io);
  } finally {
    for (const p of planned.values()) await p.plan.writer.close(true);
  }
}

/** "2 contexts": those with something to revoke. */
function contextCount(planned: Map<string, Planned>): string {
  const n = [...planned.values()].filter((p) => p.plan.items > 0).length;
  return `${n} ${n === 1 ? "context" : "contexts"}`;
}

async function applyPlans(fan: Fanout & { output: OutputFormat }, planned: Map<string, Planned>, planning: ContextOutcome[], s: RevokeSettings, io: IOStreams): Promise<void> {
  const tallies = new Map<string, ApplyTally>();
  const outcomes: ContextOutcome[] = [];
  // A context that could not be planned fails again here with its own code and sentence.
  const notPlanned = new Map(planning.filter((o) => !planned.has(o.context)).map((o) => [o.context, o]));
  const runs: Fanout = {
    parallel: fan.parallel,
    runs: fan.runs.map((r) => {
      const o = notPlanned.get(r.context);
      return o ? { ...r, opts: undefined, error: new CamError(o.kind ?? "internal", o.message ?? "It could not be planned.", o.condition ?? undefined) } : r;
    }),
  };
  const flight = new Map<string, InFlight>();
  setInterruptHint(() => interruptedLines(fan.runs.map((r) => r.context), planned, tallies, flight));
  const records = fanoutRecords<ItemResult>(
    runs,
    async (_prepared, _common, emit, _signal, context) => {
      const p = planned.get(context)!;
      const tally = emptyTally();
      tallies.set(context, tally);
      if (p.plan.items === 0) return;
      const sent: InFlight = { started: 0 };
      flight.set(context, sent);
      const starting = (item: PlanItem) => {
        sent.started++;
        sent.last = item;
      };
      await applyPlan(p.plan.writer.reader().items(), { prepared: p.prepared, timeoutSeconds: p.opts.timeoutSeconds, starting, result: emit }, tally);
      const outcome = tallyOutcome(tally);
      throwUnlessDone(outcome.kind, () => tallyOutcomeSentence(tally, outcome.name), outcome.name);
    },
    // Prepared once, when planning.
    async (run) => planned.get(run.context)!.prepared,
    outcomes,
  );
  try {
    await writeResults(records, fan.output, io, s.host, outcomes, tallies);
  } finally {
    setInterruptHint(undefined);
  }
  finishFanout(outcomes, fan.output, io);
}

/** One context's revocations sent so far (those not yet counted in its tally are under way) and the last one. */
interface InFlight {
  started: number;
  last?: PlanItem;
}

/**
 * What Ctrl-C says during the revocations (src/cli/program.ts, interrupted): the counts in all,
 * then each context's (in the order given), in the words of a run on one server (stoppedLine),
 * then how to finish. A context whose turn had not come counts all its items as not started.
 */
function interruptedLines(contexts: readonly string[], planned: Map<string, Planned>, tallies: Map<string, ApplyTally>, flight: Map<string, InFlight>): string[] {
  const lines: string[] = [];
  let items = 0;
  let underWay = 0;
  let busy = 0;
  for (const context of contexts) {
    const p = planned.get(context);
    if (!p) {
      lines.push(msg`Nothing was revoked on ${context}: it could not be planned.`.toString());
      continue;
    }
    if (p.plan.items === 0) continue;
    busy++;
    const t = tallies.get(context) ?? emptyTally();
    const f = flight.get(context);
    const flying = f ? Math.max(0, f.started - t.items) : 0;
    items += p.plan.items;
    underWay += flying;
    const counts = stoppedLine(t, p.plan.items, { interrupted: true, inFlight: flying, where: context });
    const maybe = flying === 1 && f?.last ? msg` The revocation of ${f.last.id} of ${f.last.account} may already have happened.`
      : flying > 1 ? " Those under way may already have happened." : "";
    lines.push(msg`${counts}${maybe}`.toString());
  }
  const where = `${busy} ${busy === 1 ? "context" : "contexts"}`;
  return [
    stoppedLine(total(tallies), items, { interrupted: true, inFlight: underWay, where }),
    ...lines,
    "To finish, run the same command again: what was revoked is gone by then, and nothing is revoked twice.",
  ];
}

function total(tallies: Map<string, ApplyTally>): ApplyTally {
  const t = emptyTally();
  for (const x of tallies.values()) for (const k of Object.keys(t) as (keyof ApplyTally)[]) t[k] += x[k];
  return t;
}

/** Item outcomes tagged with their context, as they come: the bulk commands' record plus "context". */
async function writeResults(
  records: AsyncIterable<ItemResult & { context: string }>,
  format: OutputFormat,
  io: IOStreams,
  host: string,
  outcomes: ContextOutcome[],
  tallies: Map<string, ApplyTally>,
): Promise<void> {
  const [{ resultRecord, RESULT_CSV_COLUMNS, summarySentences, reportCutOutput }, { renderJson, renderJsonLine }, { csvRow }] = await Promise.all([
    import("../../render/bulk.js"), import("../../render/json.js"), import("../../render/csv.js"),
  ]);
  // A failed write never stops the revocations: the output stops, every context goes on.
  const out = new OutputWriter(io.stdout, undefined, true);
  const all: Record<string, unknown>[] = [];
  if (format === "csv") await out.write(csvRow(["context", ...RESULT_CSV_COLUMNS]));
  for await (const r of records) {
    const record = { context: r.context, ...resultRecord(r) };
    if (format === "json") all.push(record);
    else if (format === "ndjson") await out.write(renderJsonLine(record), 1);
    else if (format === "csv") {
      const d = r.done;
      const flag = (b: boolean | null | undefined) => (b === null || b === undefined ? "" : String(b));
      await out.write(csvRow([r.context, r.account, r.id, r.outcome, r.reason ?? "", flag(d?.sessionClosed), flag(d?.fastTokensRevoked), flag(d?.grantRevoked)]), 1);
    } else {
      await out.write(msg`${r.context}  ${r.outcome}  ${r.account}  ${r.id}${r.reason !== undefined && r.outcome !== "password-reset-required" ? `: ${r.reason}` : ""}\n`.toString(), 1);
    }
    await out.flush();
  }
  const t = total(tallies);
  if (format === "json") await out.write(renderJson({ host, results: all, summary: t, ...fanoutJsonTail(outcomes) }), all.length);
  else if (format === "table") await out.write(summarySentences(t).join("\n") + "\n");
  else for (const line of summarySentences(t)) io.stderr.write(messageLine(line));
  await out.settle();
  reportCutOutput(out, t, true, io);
}
