// Applying a bulk revocation plan: each item is revoked by its exact entry (ClientSource.revoke,
// the complete verified revocation of `user revoke_client`), one after the other over one
// connection, and each outcome is handed on as soon as it is known. Where the source can
// (revokeMany, the admin socket), items go in bounded batches, each item still checked, revoked
// and verified on its own in the server, and reported on its own. Nothing is retried: an item
// that fails is reported with its reason and the next one is tried; a lost connection ends the
// run (applying the same plan again finishes it, since what was revoked is then gone).
import { CamError, ServerFault } from "../core/errors.js";
import type { RevokeReport } from "../core/model.js";
import { revokeOutcome, type ApplyTally, type ItemResult } from "../core/outcomes.js";
import type { PlanItem } from "./plan.js";
import { revokeSentence } from "../render/revoke.js";
import type { ClientSource } from "../core/client-source.js";
import { comparableJid } from "../core/validate.js";
import { keepAlive, withSource, type PreparedSource } from "../transports/lifecycle.js";
import { boundYoungGeneration } from "../core/memory.js";

export const emptyTally = (): ApplyTally => ({ items: 0, revoked: 0, passwordResetRequired: 0, gone: 0, changed: 0, failed: 0, acted: 0 });

export function count(t: ApplyTally, r: ItemResult): void {
  t.items++;
  if (r.outcome === "revoked") t.revoked++;
  else if (r.outcome === "password-reset-required") t.passwordResetRequired++;
  else if (r.outcome === "gone") t.gone++;
  else if (r.outcome === "changed") t.changed++;
  else t.failed++;
  if (r.done && (r.done.sessionClosed || r.done.fastTokensRevoked || r.done.grantRevoked)) t.acted++;
}

export const PASSWORD_REASON = "nothing but the password is left: it can sign in again with its account's password until that is changed";

/** What a revocation's report means for the item. */
export function resultOfReport(item: PlanItem, report: RevokeReport): ItemResult {
  const base = { account: item.account, id: item.id, done: report.done };
  switch (revokeOutcome(report).name) {
    case "revoked":
      return { ...base, outcome: "revoked" };
    case "password-reset-required":
      return { ...base, outcome: "password-reset-required", reason: PASSWORD_REASON };
    case "partly-revoked":
      return { ...base, outcome: "failed", reason: revokeSentence(report) };
  }
}

/**
 * What a revocation's error means for the item; undefined when the error ends the run: the
 * connection is lost, --timeout ran out, or the server answered in a way that leaves its state
 * unknown (kind "unreachable"), or camctl itself failed (not a CamError). The next item would not
 * fare better, and whether this one was revoked is unknown.
 */
export function resultOfError(item: PlanItem, err: unknown): ItemResult | undefined {
  // A lost connection or the deadline ends the run; a failure the server reported is this item's.
  if (!(err instanceof CamError) || (err.kind === "unreachable" && !(err instanceof ServerFault))) return undefined;
  const base = { account: item.account, id: item.id, done: null };
  if (err.kind === "notFound") {
    if (err.condition === "gone") return { ...base, outcome: "gone", reason: "no longer listed: it was revoked, or its access ended, since the plan was made" };
    if (err.condition === "changed") return { ...base, outcome: "changed", reason: "its id is listed for a different client now, which was not touched" };
    if (err.condition === "user-not-found" || err.condition === "item-not-found") {
      return { ...base, outcome: "gone", reason: "the account no longer exists" };
    }
  }
  return { ...base, outcome: "failed", reason: err.message };
}

export interface ApplyOptions {
  /** Re-arms --timeout: called once an item's revocation has been answered. */
  alive(): void;
  /** The deadline; nothing is handed on once it has fired. */
  signal: AbortSignal;
  /** Called before each item's revocation is sent (for the interruption hint and errors). */
  starting?(item: PlanItem): void;
  /** Takes each outcome, in order; the next item waits for it (output keeps pace). */
  result(r: ItemResult, item: PlanItem): Promise<void>;
}

/**
 * Revokes every item of `items` through `source`, one at a time. camctl's own entry (over XMPP,
 * the login doing the revoking) is kept for last, since revoking it ends the connection. Rejects
 * with the error that ended the run (see resultOfError); the tally of what was handed on is then
 * lost with it, so callers count results themselves.
 */
export async function applyItems(source: ClientSource, items: AsyncIterable<PlanItem>, o: ApplyOptions): Promise<void> {
  const own = source.ownEntry ? await source.ownEntry() : null;
  const isOwn = (item: PlanItem) => own !== null && item.id === own.id && comparableJid(item.account) === comparableJid(own.account);
  let last: PlanItem | undefined;
  const one = async (item: PlanItem) => {
    o.starting?.(item);
    let result: ItemResult | undefined;
    try {
      result = resultOfReport(item, await source.revoke(item.account, item.entry));
    } catch (err) {
      result = resultOfError(item, err);
      if (result === undefined) throw err;
    }
    if (o.signal.aborted) throw o.signal.reason;
    o.alive();
    await o.result(result, item);
    o.alive();
  };
  if (source.revokeMany) {
    await applyInBatches(source, items, o, (item) => {
      if (isOwn(item)) last = item;
      return !isOwn(item);
    });
  } else {
    for await (const item of items) {
      if (isOwn(item)) last = item;
      else await one(item);
    }
  }
  if (last) await one(last);
}

/**
 * Items per revokeMany request. The server works through them in ~20 ms slices, serving others in
 * between, and sends each slice's outcomes as it goes; a bound keeps the request (~90 KB of Lua)
 * and what an interruption leaves unknown small.
 */
export const BATCH_ITEMS = 250;

/**
 * applyItems over a source that revokes several items per request: up to BATCH_ITEMS are sent at
 * a time (each `starting` once, when first sent), the outcomes are handed on in order, and items
 * the source did not reach go into the next request with the following ones.
 * `take(item)` says whether the item goes in a batch (false: the caller keeps it for later).
 */
async function applyInBatches(source: ClientSource, items: AsyncIterable<PlanItem>, o: ApplyOptions, take: (item: PlanItem) => boolean): Promise<void> {
  const iterator = items[Symbol.asyncIterator]();
  let queue: PlanItem[] = [];
  let started = 0;
  let exhausted = false;
  for (;;) {
    while (!exhausted && queue.length < BATCH_ITEMS) {
      const next = await iterator.next();
      if (next.done) exhausted = true;
      else if (take(next.value)) queue.push(next.value);
    }
    if (queue.length === 0) return;
    for (; started < queue.length; started++) o.starting?.(queue[started]!);
    const outcomes = await source.revokeMany!(queue.map((item) => ({ jid: item.account, expected: item.entry })), o.alive);
    if (o.signal.aborted) throw o.signal.reason;
    o.alive();
    for (let i = 0; i < outcomes.length; i++) {
      const item = queue[i]!;
      const outcome = outcomes[i]!;
      let result: ItemResult | undefined;
      if (outcome instanceof CamError) {
        result = resultOfError(item, outcome);
        if (result === undefined) throw outcome;
      } else result = resultOfReport(item, outcome);
      await o.result(result, item);
      o.alive();
    }
    queue = queue.slice(outcomes.length);
    started -= outcomes.length;
  }
}

/** One application of a plan: where, the deadline of each item, and who takes the outcomes. */
export interface ApplyRun {
  prepared: PreparedSource;
  timeoutSeconds: number;
  /** Called before each item's revocation is sent (an interruption hint, the item in flight). */
  starting?(item: PlanItem): void;
  /** Takes each outcome once it is counted; the next item waits for it. */
  result(r: ItemResult, item: PlanItem): Promise<void>;
}

/**
 * Applies `items` (a plan's, checked before) over one connection, --timeout bounding each item
 * (withSource, applyItems), and counts every outcome into `tally`. While `run.result` writes an
 * outcome the deadline stays armed: a slow reader of the output is not a slow server. Rejects with
 * what ended the run; `tally` then says what was done before.
 */
export async function applyPlan(items: AsyncIterable<PlanItem>, run: ApplyRun, tally: ApplyTally): Promise<void> {
  boundYoungGeneration();
  await withSource(run.prepared, run.timeoutSeconds, async (source, signal, alive) => {
    const writing = keepAlive(alive, run.timeoutSeconds);
    try {
      await applyItems(source, items, {
        alive,
        signal,
        starting: run.starting,
        result: async (r, item) => {
          count(tally, r);
          writing.busy = true;
          try {
            await run.result(r, item);
          } finally {
            writing.busy = false;
          }
        },
      });
    } finally {
      writing.stop();
    }
  });
}
