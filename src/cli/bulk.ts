// What `host revoke`, `host apply` and `user lockout` share: the question before a bulk change,
// and applying a plan with its outcomes streamed, its summary and its exit code.
import { applyItems, count, emptyTally } from "../core/apply.js";
import { CamError } from "../core/errors.js";
import { tallyOutcome, type ApplyTally, type ItemResult } from "../core/outcomes.js";
import { messageLine, type IOStreams } from "../term/iostreams.js";
import { setInterruptHint } from "../term/interrupt.js";
import type { PlanItem, PlanReader } from "../core/plan.js";
import type { OutputFormat } from "../config/options.js";
import { ResultsWriter, stoppedLine, summarySentences, tallyOutcomeSentence } from "../render/bulk.js";
import { displaySafe, msg } from "../text/untrusted.js";
import { displayWidth } from "../render/width.js";
import { withSource, type PreparedSource } from "../transports/lifecycle.js";
import type { Deps } from "./deps.js";
import { throwUnlessDone } from "./outcome.js";

/**
 * Above this many items the question is answered by typing the host name (or the account's JID),
 * not y: a bulk change of that size should not go ahead on a reflex.
 */
export const TYPE_NAME_ABOVE = 20;

/**
 * Asks before a bulk change (only called when stdin is a terminal). Up to TYPE_NAME_ABOVE items
 * a yes/no question; above, the operator types `name`. Anything else means no: exit 2, nothing done.
 */
export async function confirmBulk(
  o: { question: string; items: number; name: string; kind: "host name" | "account" },
  io: IOStreams,
  deps: Pick<Deps, "confirm" | "ask">,
): Promise<void> {
  if (o.items <= TYPE_NAME_ABOVE) {
    if (!(await deps.confirm(o.question, io))) throw new CamError("usage", "Nothing was revoked.");
    return;
  }
  const typed = await deps.ask(`${o.question} This is more than ${TYPE_NAME_ABOVE} items: type the ${o.kind} (${o.name}) to go ahead:`, io);
  if (typed === undefined || typed.trim() === "") throw new CamError("usage", "Nothing was revoked.");
  if (typed.trim() !== o.name) throw new CamError("usage", msg`"${typed.trim()}" is not ${o.name}; nothing was revoked.`);
}

/** "Revoke these 37 clients on 12 accounts of example.com?" */
export function revokeQuestion(s: { clients: number; accounts: number }, host: string): string {
  const what = s.clients === 1 ? "this client" : `these ${s.clients} clients`;
  return `Revoke ${what} on ${s.accounts} ${s.accounts === 1 ? "account" : "accounts"} of ${displaySafe(host)}?`;
}

export interface ApplyContext {
  prepared: PreparedSource;
  timeoutSeconds: number;
  output: OutputFormat;
  /** Opens the JSON document: { host, transport, plan? }. */
  head: Readonly<Record<string, unknown>>;
  /** How to finish an interrupted run, for messages: "apply the same plan again (camctl host apply x.json)". */
  resume: string;
  /** The widest account of the plan, as shown (lines up the table). */
  accountWidth: number;
  /** How many items the plan holds (a run that stops says how many were not started). */
  items: number;
}

/**
 * Applies the plan `reader` holds (checked before): one connection, each item's outcome written
 * as it is known, then the summary; throws the run's outcome (tallyOutcome) unless it is done,
 * or what ended the run.
 */
export async function applyPlan(reader: PlanReader, ctx: ApplyContext, io: IOStreams): Promise<ApplyTally> {
  const writer = new ResultsWriter(ctx.output, io, ctx.head, ctx.accountWidth);
  const tally = emptyTally();
  let current: PlanItem | undefined;
  let answered = true;
  const write = async (r: ItemResult, entry?: PlanItem["entry"]) => {
    count(tally, r);
    await writer.push(r, entry);
  };
  try {
    await withSource(ctx.prepared, ctx.timeoutSeconds, async (source, signal, alive) => {
      // A slow reader of our output is not a slow server: the deadline stays armed while writing.
      let writing = false;
      const keepAlive = setInterval(() => writing && alive(), Math.max(100, Math.min(1000, ctx.timeoutSeconds * 500)));
      keepAlive.unref();
      try {
        await applyItems(source, reader.items(), {
          alive,
          signal,
          starting: (item) => {
            current = item;
            answered = false;
            setInterruptHint(
              msg`The revocation of ${item.id} of ${item.account} may already have happened. To finish, ${ctx.resume}: what was revoked is gone by then.`.toString(),
            );
          },
          result: async (r) => {
            answered = true;
            writing = true;
            try {
              await write(r, current?.entry);
            } finally {
              writing = false;
            }
          },
        });
      } finally {
        clearInterval(keepAlive);
      }
    });
  } catch (err) {
    // The run ended (connection lost, --timeout, the server stopped answering, a failure in
    // camctl): the item in flight is reported as failed, whatever was done to it is unknown; the
    // rest was not attempted. The tally says what was done before the error's own sentence.
    const reason = err instanceof CamError ? err.message : "camctl failed while revoking it.";
    if (current && !answered) {
      await write({ account: current.account, id: current.id, outcome: "failed", reason: `${reason} It may or may not have been revoked.`, done: null }, current.entry);
    }
    writer.runStopped();
    await finish(writer, tally, ctx, io);
    const stopped = msg`${stoppedLine(tally, ctx.items)} To finish, ${ctx.resume}.`;
    if (err instanceof CamError) throw new CamError(err.kind, msg`${err.message} ${stopped}`, err.condition);
    io.stderr.write(messageLine(stopped));
    throw err;
  } finally {
    setInterruptHint(undefined);
  }
  await finish(writer, tally, ctx, io);
  const outcome = tallyOutcome(tally);
  throwUnlessDone(outcome.kind, () => tallyOutcomeSentence(tally, outcome.name, ctx.resume), outcome.name);
  return tally;
}

async function finish(writer: ResultsWriter, tally: ApplyTally, ctx: ApplyContext, io: IOStreams): Promise<void> {
  await writer.end(tally);
  // NDJSON and CSV carry only records: the summary goes to stderr.
  if (ctx.output === "ndjson" || ctx.output === "csv") for (const line of summarySentences(tally, false)) io.stderr.write(messageLine(line));
}

/** Keeps the widest account shown, for ApplyContext.accountWidth. */
export function widest(width: number, account: string): number {
  return Math.max(width, displayWidth(displaySafe(account)));
}
