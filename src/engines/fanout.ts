// Running one task per context (server) at once, for --context a,b,c and --all-contexts.
//
// At most `parallel` tasks run at a time, in the order given. Records are handed on as they
// arrive, each tagged with its context, through one bounded queue: a slow consumer (a pipe)
// makes the tasks wait instead of filling memory. Each context ends with an outcome (error kind
// and sentence); one failing context never stops the others. The overall outcome is success only
// if every context succeeded, otherwise the most severe of their kinds (mostSevere, errors.ts).
//
// Pure: no I/O, no clock but the durations it reports; the tasks do the work.
import { CamError, exitCodeOf, kindOf, mostSevere, type ErrorKind } from "../core/errors.js";

export interface ContextOutcome {
  context: string;
  /** null when the task succeeded; else its error's kind. */
  kind: ErrorKind | null;
  /** The error's sentence; null on success. */
  message: string | null;
  /** The server's own error name, when there was one (CamError.condition). */
  condition: string | null;
  /** Records this context produced (also when it failed halfway). */
  records: number;
  /** Whether the task ran at all (false: cancelled before its turn). */
  started: boolean;
  ms: number;
}

export type FanoutEvent<R> =
  | { kind: "record"; context: string; record: R }
  | { kind: "outcome"; outcome: ContextOutcome };

/**
 * One context's work. `emit` hands a record on; await it (it waits while the queue is full).
 * Resolve on success; reject with a CamError for a failure (also a bulk run's partly done or
 * password-reset-required). `signal` aborts when the whole fan-out is cancelled.
 */
export type FanoutTask<R> = (context: string, emit: (record: R) => Promise<void>, signal: AbortSignal) => Promise<void>;

export interface FanoutOptions {
  /** Tasks running at once (>= 1). */
  parallel: number;
  /** Cancels everything: running tasks see their signal abort; tasks not yet started do not start. */
  signal?: AbortSignal;
  /** Records held at most before tasks wait (default 256). Outcomes are never held back. */
  buffer?: number;
  /** For tests. */
  now?: () => number;
}

function outcomeOfError(err: unknown): Pick<ContextOutcome, "kind" | "message" | "condition"> {
  if (err instanceof CamError) return { kind: err.kind, message: err.message, condition: err.condition ?? null };
  // The command's own top level says "unexpected error … this is a bug"; the same here, per context.
  const detail = err instanceof Error ? err.message : String(err);
  return { kind: "internal", message: `unexpected error: ${detail}. This is a bug in camctl; please report it.`, condition: null };
}

/**
 * Runs `task` for every context and yields records and outcomes as they happen. Every context
 * gets exactly one outcome event; the generator's return value is the outcomes in the order the
 * contexts were given. Leaving the loop early (break, an exception) cancels the tasks (which must
 * obey their signal) and waits for them to end.
 */
export async function* runFanout<R>(contexts: readonly string[], task: FanoutTask<R>, o: FanoutOptions): AsyncGenerator<FanoutEvent<R>, ContextOutcome[], undefined> {
  if (!(Number.isInteger(o.parallel) && o.parallel >= 1)) throw new CamError("usage", "--parallel takes a whole number of at least 1.");
  const capacity = Math.max(1, o.buffer ?? 256);
  const now = o.now ?? (() => performance.now());
  const cancel = new AbortController();
  const onOuterAbort = () => cancel.abort(o.signal!.reason);
  if (o.signal?.aborted) cancel.abort(o.signal.reason);
  else o.signal?.addEventListener("abort", onOuterAbort, { once: true });

  const queue: FanoutEvent<R>[] = [];
  let queuedRecords = 0;
  let wakeConsumer: (() => void) | undefined;
  const waitingProducers: (() => void)[] = [];
  const outcomes: ContextOutcome[] = [];
  const wake = () => {
    const w = wakeConsumer;
    wakeConsumer = undefined;
    w?.();
  };
  const push = (e: FanoutEvent<R>) => {
    queue.push(e);
    if (e.kind === "record") queuedRecords++;
    wake();
  };

  let next = 0;
  const worker = async () => {
    while (next < contexts.length) {
      const context = contexts[next++]!;
      if (cancel.signal.aborted) {
        const reason = cancel.signal.reason as unknown;
        const why = { kind: kindOf(reason), condition: reason instanceof CamError ? (reason.condition ?? null) : null };
        const outcome: ContextOutcome = { context, ...why, message: "Not run: the operation was cancelled before this context's turn.", records: 0, started: false, ms: 0 };
        outcomes.push(outcome);
        push({ kind: "outcome", outcome });
        continue;
      }
      let records = 0;
      const started = now();
      const emit = async (record: R): Promise<void> => {
        if (cancel.signal.aborted) return;
        while (queuedRecords >= capacity && !cancel.signal.aborted) await new Promise<void>((r) => waitingProducers.push(r));
        if (cancel.signal.aborted) return;
        records++;
        push({ kind: "record", context, record });
      };
      let result: Pick<ContextOutcome, "kind" | "message" | "condition">;
      try {
        await task(context, emit, cancel.signal);
        result = { kind: null, message: null, condition: null };
      } catch (err) {
        result = outcomeOfError(err);
      }
      const outcome: ContextOutcome = { context, ...result, records, started: true, ms: Math.max(0, now() - started) };
      outcomes.push(outcome);
      push({ kind: "outcome", outcome });
    }
  };
  let finished = false;
  const all = Promise.all(Array.from({ length: Math.min(o.parallel, contexts.length) }, worker)).finally(() => {
    finished = true;
    wake();
  });

  try {
    for (;;) {
      const e = queue.shift();
      if (e) {
        if (e.kind === "record") {
          queuedRecords--;
          waitingProducers.shift()?.();
        }
        yield e;
        continue;
      }
      if (finished) break;
      await new Promise<void>((r) => (wakeConsumer = r));
    }
    await all;
    return outcomes.sort((a, b) => contexts.indexOf(a.context) - contexts.indexOf(b.context));
  } finally {
    o.signal?.removeEventListener("abort", onOuterAbort);
    if (!finished) {
      // The consumer left early: stop the tasks and let any waiting on a full queue go.
      cancel.abort(new CamError("internal", "The output stopped before every context finished."));
      for (const w of waitingProducers.splice(0)) w();
      await all;
    }
  }
}

/** The per-context status lines shown after a fan-out on a terminal (or stderr). */
export function outcomeLines(outcomes: readonly ContextOutcome[]): string[] {
  const width = Math.max(0, ...outcomes.map((o) => o.context.length));
  return outcomes.map((o) => {
    const name = o.context.padEnd(width);
    const count = `${o.records} record${o.records === 1 ? "" : "s"}`;
    if (o.kind === null) return `${name}  ok        ${count}, ${(o.ms / 1000).toFixed(1)} s`;
    return `${name}  exit ${String(exitCodeOf(o.kind)).padEnd(3)}  ${o.message ?? ""}`;
  });
}

/** The JSON form of the outcomes: `{"exitCode": n, "contexts": [{context, exitCode, status, message, condition, records, ms}]}`. */
export function outcomesJson(outcomes: readonly ContextOutcome[]): { exitCode: number; contexts: Record<string, unknown>[] } {
  return {
    exitCode: exitCodeOf(mostSevere(outcomes.map((o) => o.kind))),
    contexts: outcomes.map((o) => ({
      context: o.context,
      exitCode: exitCodeOf(o.kind),
      status: o.kind === null ? "ok" : o.started ? "failed" : "not-run",
      message: o.message,
      condition: o.condition,
      records: o.records,
      ms: Math.round(o.ms),
    })),
  };
}
