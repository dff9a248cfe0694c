// What `host revoke` and `host apply` share once the plan is confirmed: applying it (the engine
// in src/engines/apply.ts) with each outcome written as it is known, then the summary and the run's outcome.
import { applyPlan, count, emptyTally } from "../engines/apply.js";
import { CamError } from "../core/errors.js";
import { tallyOutcome, type ApplyTally, type ItemResult } from "../core/outcomes.js";
import { messageLine, type IOStreams } from "../term/iostreams.js";
import { setInterruptHint } from "../term/interrupt.js";
import type { PlanItem, PlanReader } from "../engines/plan.js";
import type { OutputFormat } from "../config/options.js";
import { ResultsWriter, stoppedLine, summarySentences, tallyOutcomeSentence } from "../render/bulk.js";
import { msg } from "../text/untrusted.js";
import type { PreparedSource } from "../transports/lifecycle.js";
import { throwUnlessDone } from "./outcome.js";

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
export async function applyAndReport(reader: PlanReader, ctx: ApplyContext, io: IOStreams): Promise<ApplyTally> {
  const writer = new ResultsWriter(ctx.output, io, ctx.head, ctx.accountWidth);
  const tally = emptyTally();
  // Items sent and not yet answered, in order: one, or a batch (src/engines/apply.ts).
  let inFlight: PlanItem[] = [];
  // Ctrl-C: the counts so far (asked at that moment), the items under way if any, how to finish.
  setInterruptHint(() => {
    const counts = stoppedLine(tally, ctx.items, { interrupted: true, inFlight: inFlight.length });
    const [first, last] = [inFlight[0], inFlight[inFlight.length - 1]];
    const maybe = !first || !last ? ""
      : inFlight.length === 1 ? msg` The revocation of ${first.id} of ${first.account} may already have happened.`
      : msg` The revocations of the ${String(inFlight.length)} items from ${first.id} of ${first.account} to ${last.id} of ${last.account} may already have happened.`;
    return msg`${counts}${maybe} To finish, ${ctx.resume}: what was revoked is gone by then.`.toString();
  });
  try {
    await applyPlan(reader.items(), {
      prepared: ctx.prepared,
      timeoutSeconds: ctx.timeoutSeconds,
      starting: (item) => {
        inFlight.push(item);
      },
      result: async (r, item) => {
        inFlight = inFlight.filter((x) => x !== item);
        await writer.push(r, item.entry);
      },
    }, tally);
  } catch (err) {
    // The run ended (connection lost, --timeout, the server stopped answering, a failure in
    // camctl): the items in flight are reported as failed, whatever was done to them is unknown;
    // the rest was not attempted. The tally says what was done before the error's own sentence.
    const reason = err instanceof CamError ? err.message : "camctl failed while revoking it.";
    for (const item of inFlight) {
      const unknown: ItemResult = { account: item.account, id: item.id, outcome: "failed", reason: `${reason} It may or may not have been revoked.`, done: null };
      count(tally, unknown);
      await writer.push(unknown, item.entry);
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
