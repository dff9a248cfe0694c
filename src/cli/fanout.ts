// Running a listing command on several servers at once (--context a,b,c or --all-contexts): one
// task per context through src/engines/fanout.ts, every record tagged with its context and written as it
// arrives, then the per-context status (stderr; in JSON a "contexts" array) and the overall exit
// code. A context that fails (unreachable, refused, missing module) is reported and never stops
// the others.
import { abortable } from "../core/abort.js";
import { CamError, mostSevere } from "../core/errors.js";
import { outcomeLines, outcomesJson, runFanout, type ContextOutcome } from "../engines/fanout.js";
import { filteredColumns, type ClientFilter, type HostClientRecord } from "../core/filters.js";
import { scanHost } from "../engines/host-scan.js";
import { messageLine, type IOStreams } from "../term/iostreams.js";
import type { ClientRecord } from "../core/model.js";
import type { CommonOptions, OutputFormat, TableChoice } from "../config/options.js";
import type { FanoutRun } from "../config/selection.js";
import { excerpt, msg } from "../text/untrusted.js";
import { withSource, type PreparedSource } from "../transports/lifecycle.js";
import type { Deps } from "./deps.js";
import { throwUnlessDone } from "./outcome.js";

export interface Fanout {
  runs: FanoutRun[];
  parallel: number;
}

/**
 * The top-level "transport" of a listing's JSON on several contexts (a one-server document has
 * the server's): the kind every context that could be resolved shares, "mixed" when they differ,
 * null when none could be resolved.
 */
export function fanoutTransport(fan: Fanout): "socket" | "xmpp" | "mixed" | null {
  const kinds = new Set(fan.runs.flatMap((r) => (r.opts ? [r.opts.transport.kind] : [])));
  if (kinds.size === 0) return null;
  return kinds.size === 1 ? [...kinds][0]! : "mixed";
}

/** One context's work: records go to `emit` (await it: it waits while the output is behind). */
export type ContextTask<R> = (
  prepared: PreparedSource,
  opts: CommonOptions,
  emit: (record: R) => Promise<void>,
  signal: AbortSignal,
  context: string,
) => Promise<void>;

/** The usual preparation of a run: its options through deps.prepareSource. */
export const prepareWith = (deps: Pick<Deps, "prepareSource">, io: IOStreams) => (run: FanoutRun) => deps.prepareSource(run.opts!, io);

/**
 * Prepares every context first, one after the other (a password prompt must not interleave with
 * another; a context whose preparation fails fails alone), then runs `task` on them with
 * bounded parallelism. Yields tagged records as they arrive; `outcomes` is filled at the end.
 */
export async function* fanoutRecords<R extends object>(
  fan: Fanout,
  task: ContextTask<R>,
  prepare: (run: FanoutRun) => Promise<PreparedSource>,
  outcomes: ContextOutcome[],
): AsyncGenerator<R & { context: string }> {
  const ready = new Map<string, { prepared: PreparedSource; opts: CommonOptions } | { error: unknown }>();
  for (const run of fan.runs) {
    if (run.error || !run.opts) {
      ready.set(run.context, { error: run.error });
      continue;
    }
    try {
      ready.set(run.context, { prepared: await prepare(run), opts: run.opts });
    } catch (error) {
      ready.set(run.context, { error });
    }
  }
  const events = runFanout<R>(
    fan.runs.map((r) => r.context),
    async (context, emit, signal) => {
      const r = ready.get(context)!;
      if ("error" in r) throw r.error;
      return abortable(task(r.prepared, r.opts, emit, signal, context), signal);
    },
    { parallel: fan.parallel },
  );
  let done = false;
  try {
    let next = await events.next();
    for (; !next.done; next = await events.next()) {
      if (next.value.kind === "record") yield { context: next.value.context, ...next.value.record };
    }
    done = true;
    outcomes.push(...next.value);
  } finally {
    // The output went away (or failed): stop the contexts still running.
    if (!done) await events.return([]);
  }
}

/**
 * After the records: the per-context status on stderr (not for JSON, which carries it), and the
 * overall result: nothing when every context succeeded, otherwise a CamError of the most severe
 * kind (mostSevere, src/core/errors.ts) saying how many failed.
 */
export function finishFanout(outcomes: readonly ContextOutcome[], format: OutputFormat, io: IOStreams): void {
  if (format !== "json") for (const line of outcomeLines(outcomes)) io.stderr.write(messageLine(line));
  const failed = outcomes.filter((o) => o.kind !== null);
  const only = failed.length === 1 ? failed[0]! : undefined;
  throwUnlessDone(mostSevere(outcomes.map((o) => o.kind)), () => {
    // On stderr the status lines above say why; JSON readers find it in "contexts", but a person
    // reading stderr next to JSON should still see the reason when there is one.
    const why = format === "json" && only?.message ? msg`: ${excerpt(only.message.replace(/\.$/, ""), 400)}` : "";
    return msg`${failed.length} of ${outcomes.length} contexts failed (${failed.map((o) => o.context).join(", ")}${why}); the others' results are complete.`;
  }, only?.condition ?? undefined);
}

/** The JSON tail of a fan-out: each context's status, then the overall code. */
export function fanoutJsonTail(outcomes: readonly ContextOutcome[]): Record<string, unknown> {
  const { contexts, exitCode } = outcomesJson(outcomes);
  return { contexts, exitCode };
}

/** `user clients <jid>` on several contexts. */
export async function userClientsFanout(fan: Fanout, jid: string, format: OutputFormat, io: IOStreams, deps: Pick<Deps, "prepareSource">, table?: TableChoice): Promise<void> {
  const outcomes: ContextOutcome[] = [];
  const task: ContextTask<ClientRecord> = async (prepared, opts, emit) => {
    const list = await withSource(prepared, opts.timeoutSeconds, (source) => source.list(jid));
    for (const c of list.clients) await emit(c);
  };
  const { writeClients } = await import("../render/client-records.js");
  await writeClients(fanoutRecords(fan, task, prepareWith(deps, io), outcomes), format, io, {
    head: { jid, transport: fanoutTransport(fan) },
    context: true,
    empty: `No clients have access to ${jid} on any of the contexts that answered.`,
    tail: () => fanoutJsonTail(outcomes),
    table,
  });
  finishFanout(outcomes, format, io);
}

/** `host clients <host>` on several contexts (rows; --summary -o openmetrics is in host/clients-metrics.ts). */
export async function hostClientsFanout(
  fan: Fanout,
  host: string,
  filter: ClientFilter,
  format: OutputFormat,
  io: IOStreams,
  deps: Pick<Deps, "prepareSource">,
  /** Runs once the output is complete (--output-file commits there), before the exit code is decided. */
  written: () => Promise<void> = async () => undefined,
  table?: TableChoice,
): Promise<void> {
  const outcomes: ContextOutcome[] = [];
  const task: ContextTask<HostClientRecord> = async (prepared, opts, emit) => {
    const unread = await scanHost(prepared, { host, filter, timeoutSeconds: opts.timeoutSeconds }, async (records) => {
      for await (const r of records) await emit(r);
    });
    if (unread) {
      const first = unread.first[0]!;
      throw new CamError("partlyDone",
        msg`The clients of ${unread.count} ${unread.count === 1 ? "account" : "accounts"} could not be read (${first.account}: ${excerpt(first.reason, 120)}${unread.count > 1 ? ", …" : ""}); the listing leaves them out.`);
    }
  };
  const { writeClients } = await import("../render/client-records.js");
  await writeClients(fanoutRecords(fan, task, prepareWith(deps, io), outcomes), format, io, {
    head: { host, transport: fanoutTransport(fan) },
    account: true,
    context: true,
    empty: `No clients on ${host} match on any of the contexts that answered.`,
    tail: () => fanoutJsonTail(outcomes),
    table: { ...table, keep: filteredColumns(filter) },
  });
  await written();
  finishFanout(outcomes, format, io);
}
