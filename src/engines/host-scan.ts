// The host-wide scan, driven in one place for `host clients`, `host revoke` (its plan:
// src/engines/make-plan.ts) and their fan-outs (src/cli/fanout.ts, src/cli/host/revoke-fanout.ts):
// the source opened under one deadline, ClientSource.listHost iterated with the filter (applied
// again here, so a server that ignores part of it cannot widen the result), the deadline kept
// armed while the consumer is busy with a record, the accounts the server could not read
// collected, progress handed to the caller's line (src/term/progress.ts).

import { CamError } from "../core/errors.js";
import type { ScanProgress } from "../core/client-source.js";
import { boundYoungGeneration } from "../core/memory.js";
import { matchesFilter, type ClientFilter, type HostClientRecord } from "../core/filters.js";
import type { SoftwareSeen } from "../core/software-match.js";
import type { ProgressLine } from "../term/progress.js";
import { excerpt, msg } from "../text/untrusted.js";
import { keepAlive, withSource, type PreparedSource } from "../transports/lifecycle.js";

/** How long the output may hold the scan before the progress line says it waits for it. */
const STALL_MS = 1000;

export interface HostScanRequest {
  host: string;
  filter: ClientFilter;
  /** --timeout: bounds the wait for each batch, not the whole scan. */
  timeoutSeconds: number;
  /** Narrows the matching records further, in order (a plan's --keep-newest). */
  narrow?: (records: AsyncIterable<HostClientRecord>) => AsyncIterable<HostClientRecord>;
  /** Drawn as the scan advances, never while the consumer holds a record; erased at the end. */
  progress?: ProgressLine;
  /** The records go to the terminal the progress line is on: erase the line before each one. */
  outputOnTerminal?: boolean;
  /** A limit on the whole scan, whatever the batches do (see withSource). */
  bound?: AbortSignal;
  /**
   * Filled as the scan goes: how many records matched, and the software names of those that
   * failed only --software (for the nearest names when nothing matched: core/software-match.ts).
   */
  seen?: SoftwareSeen;
  /** Told every progress report, busy or not (the metrics' count of accounts scanned). */
  onProgress?: (p: ScanProgress) => void;
}

/** The accounts whose clients the server could not read: how many, and the first three. */
export interface UnreadAccounts {
  count: number;
  first: { account: string; reason: string }[];
}

/**
 * Scans `request.host` and hands the matching records to `consume` as they arrive. While
 * `consume` handles one (between a record and its asking for the next), and after the last one
 * (what it writes then is output too), the wait is ours, not the server's: the deadline stays
 * armed and the progress line is not drawn. Resolves with the unread accounts, if any, once
 * `consume` is done and the source closed.
 */
export async function scanHost(
  prepared: PreparedSource,
  request: HostScanRequest,
  consume: (records: AsyncIterable<HostClientRecord>) => Promise<void>,
): Promise<UnreadAccounts | undefined> {
  const { progress } = request;
  boundYoungGeneration();
  const unread: UnreadAccounts = { count: 0, first: [] };
  let stallTimer: NodeJS.Timeout | undefined;
  try {
    await withSource(prepared, request.timeoutSeconds, async (source, signal, alive) => {
      const consumer = keepAlive(alive, request.timeoutSeconds);
      let last: ScanProgress | undefined;
      let busySince = 0;
      // Output that is not being read (a pipe whose reader has not started) holds the scan: the
      // line says so rather than keep showing the count of before. Not when the records go to the
      // terminal the line is on (the line is erased before each of them).
      if (progress && !request.outputOnTerminal) {
        stallTimer = setInterval(() => {
          if (consumer.busy && last && Date.now() - busySince >= STALL_MS) progress.update(last, true);
        }, STALL_MS);
        stallTimer.unref();
      }
      const listing = source.listHost(request.host, {
        filter: request.filter,
        signal,
        onProgress: (p) => {
          alive();
          request.onProgress?.(p);
          last = p;
          if (!consumer.busy) progress?.update(p);
        },
        onAccountFailed: (account, reason) => {
          unread.count++;
          if (unread.first.length < 3) unread.first.push({ account, reason });
        },
      });
      const { filter, seen } = request;
      const others = seen && filter.software !== null ? { ...filter, software: null } : undefined;
      async function* matching(): AsyncGenerator<HostClientRecord> {
        for await (const r of listing) {
          if (matchesFilter(r, filter)) {
            if (seen) seen.matched++;
            yield r;
          } else if (others && matchesFilter(r, others)) seen!.note(r.userAgent.software);
        }
      }
      async function* handedOver(): AsyncGenerator<HostClientRecord> {
        try {
          for await (const r of request.narrow ? request.narrow(matching()) : matching()) {
            if (request.outputOnTerminal) progress?.clear();
            consumer.busy = true;
            busySince = Date.now();
            yield r;
            consumer.busy = false;
            alive();
          }
        } finally {
          progress?.clear();
          consumer.busy = true;
          // What the consumer writes from now on is its end: the line stays away.
          last = undefined;
        }
      }
      try {
        await consume(handedOver());
      } finally {
        consumer.stop();
      }
    }, request.bound);
  } finally {
    clearInterval(stallTimer);
    progress?.clear();
  }
  return unread.count > 0 ? unread : undefined;
}

/**
 * The unread accounts as the end of a run says them (exit 9): what they are missing from
 * ("listing", "plan"), the first three named.
 */
export function unreadAccountsError(u: UnreadAccounts, from: "listing" | "plan"): CamError {
  const named = u.first.map((f) => msg`${f.account} (${excerpt(f.reason, 120)})`);
  const more = u.count > u.first.length ? msg`, and ${u.count - u.first.length} more` : "";
  return new CamError("partlyDone",
    msg`The clients of ${u.count} ${u.count === 1 ? "account" : "accounts"} could not be read, so the ${from} leaves them out: ${named}${more}. Prosody's log may say why.`);
}
