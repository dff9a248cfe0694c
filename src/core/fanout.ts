// Running one task per context (server) at once, for --context a,b,c and --all-contexts.
//
// At most `parallel` tasks run at a time, in the order given. Records are handed on as they
// arrive, each tagged with its context, through one bounded queue: a slow consumer (a pipe)
// makes the tasks wait instead of filling memory. Each context ends with an outcome (exit code
// and sentence); one failing context never stops the others. The overall exit code is 0 only if
// every context succeeded, otherwise the most severe of their codes (SEVERITY below).
//
// Pure: no I/O, no clock but the durations it reports; the tasks do the work.
import { CamError, exitCodeFor } from "./errors.js";

/**
 * Exit codes from most to least severe, for the overall code of a fan-out:
 *   1 internal error  - camctl itself failed: nothing it printed can be trusted to be complete
 *   2 usage           - the command or a context is wrong: it will fail the same way everywhere
 *   4 authentication  - a credential or host key is wrong: needs the operator before a retry
 *   5 not permitted   - the account lacks the right: needs an administrator
 *   3 unreachable     - a server is down or cut off: may pass on a retry
 *   8 unsupported     - a server lacks the module: a setup difference, not a failure of the run
 *   9 partly done     - some items of a bulk operation failed: retry those
 *   6 not found       - this server does not have the account/host/client (normal in a mixed fleet)
 *   7 password reset  - done, except what only a password change ends
 * Codes outside the table count as internal errors.
 */
export const SEVERITY: readonly number[] = [1, 2, 4, 5, 3, 8, 9, 6, 7];

export function severityRank(code: number): number {
  const i = SEVERITY.indexOf(code);
  return i === -1 ? 0 : i;
}

/** 0 when every code is 0 (or there are none), otherwise the most severe non-zero code. */
export function overallExitCode(codes: Iterable<number>): number {
  let worst = 0;
  for (const c of codes) {
    if (c === 0) continue;
    if (worst === 0 || severityRank(c) < severityRank(worst)) worst = c;
  }
  return worst;
}

export interface ContextOutcome {
  context: string;
  /** 0 when the task succeeded; else the code its error maps to (or the code the task returned). */
  exitCode: number;
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
 * Resolve with nothing (success) or an exit code (e.g. 7 or 9 for a bulk result); reject with a
 * CamError for a failure. `signal` aborts when the whole fan-out is cancelled.
 */
export type FanoutTask<R> = (context: string, emit: (record: R) => Promise<void>, signal: AbortSignal) => Promise<number | void>;

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

function outcomeOfError(err: unknown): Pick<ContextOutcome, "exitCode" | "message" | "condition"> {
  if (err instanceof CamError) return { exitCode: exitCodeFor(err), message: err.message, condition: err.condition ?? null };
  // The command's own top level says "unexpected error … this is a bug"; the same here, per context.
  const detail = err instanceof Error ? err.message : String(err);
  return { exitCode: 1, message: `unexpected error: ${detail}. This is a bug in camctl; please report it.`, condition: null };
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
        const why = reason instanceof CamError ? { exitCode: exitCodeFor(reason), condition: reason.condition ?? null } : { exitCode: 1, condition: null };
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
      let result: Pick<ContextOutcome, "exitCode" | "message" | "condition">;
      try {
        const code = await task(context, emit, cancel.signal);
        result = { exitCode: typeof code === "number" ? code : 0, message: null, condition: null };
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
    if (o.exitCode === 0) return `${name}  ok        ${count}, ${(o.ms / 1000).toFixed(1)} s`;
    return `${name}  exit ${String(o.exitCode).padEnd(3)}  ${o.message ?? ""}`;
  });
}

/** The JSON form of the outcomes: `{"exitCode": n, "contexts": [{context, exitCode, status, message, condition, records, ms}]}`. */
export function outcomesJson(outcomes: readonly ContextOutcome[]): { exitCode: number; contexts: Record<string, unknown>[] } {
  return {
    exitCode: overallExitCode(outcomes.map((o) => o.exitCode)),
    contexts: outcomes.map((o) => ({
      context: o.context,
      exitCode: o.exitCode,
      status: o.exitCode === 0 ? "ok" : o.started ? "failed" : "not-run",
      message: o.message,
      condition: o.condition,
      records: o.records,
      ms: Math.round(o.ms),
    })),
  };
}
