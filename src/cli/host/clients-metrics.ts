// `host clients --summary -o openmetrics`: the summary of one server, or of several contexts (one
// `context` label each), as OpenMetrics (src/render/openmetrics.ts). A scan that fails still
// yields its camctl_scan_success 0, so Prometheus sees the failure instead of the last good
// numbers; the exit code stays the one the failure has (docs/metrics.md).
import { CamError } from "../../core/errors.js";
import type { ClientFilter, HostClientRecord } from "../../core/filters.js";
import { SummaryBuilder, type ClientSummary } from "../../core/summary.js";
import { scanHost, unreadAccountsError, type UnreadAccounts } from "../../engines/host-scan.js";
import type { ContextOutcome } from "../../engines/fanout.js";
import { renderOpenMetrics, type ScanMetrics } from "../../render/openmetrics.js";
import { OutputWriter, type IOStreams } from "../../term/iostreams.js";
import { progressLine, type ProgressLine } from "../../term/progress.js";
import type { CommonOptions } from "../../config/options.js";
import type { PreparedSource } from "../../transports/lifecycle.js";
import type { Deps } from "../deps.js";
import { excerpt, msg } from "../../text/untrusted.js";
import { fanoutRecords, finishFanout, prepareWith, type ContextTask, type Fanout } from "../fanout.js";

interface Scanned {
  summary: ClientSummary;
  unread: UnreadAccounts | undefined;
  scanned: number | null;
  endedAt: Date;
  durationSeconds: number;
}

/** Scans `host`, handing each record to `each`; the summary is the caller's. */
async function scanOnce(
  prepared: PreparedSource,
  host: string,
  filter: ClientFilter,
  timeoutSeconds: number,
  io: IOStreams,
  each: (r: HostClientRecord) => Promise<void> | void,
  progress?: ProgressLine,
): Promise<Omit<Scanned, "summary">> {
  const started = io.now();
  let scanned: number | null = null;
  const unread = await scanHost(prepared, { host, filter, timeoutSeconds, progress, onProgress: (p) => (scanned = p.scanned) }, async (records) => {
    for await (const r of records) await each(r);
  });
  const endedAt = io.now();
  return { unread, scanned, endedAt, durationSeconds: (endedAt.getTime() - started.getTime()) / 1000 };
}

function metricsOf(labels: Record<string, string>, s: Scanned): ScanMetrics {
  return {
    labels,
    success: s.unread === undefined,
    endedAt: s.endedAt,
    durationSeconds: s.durationSeconds,
    accountsScanned: s.scanned,
    unreadAccounts: s.unread?.count ?? 0,
    summary: s.summary,
  };
}

const failedMetrics = (labels: Record<string, string>, endedAt: Date, durationSeconds: number): ScanMetrics => ({
  labels,
  success: false,
  endedAt,
  durationSeconds,
  accountsScanned: null,
  unreadAccounts: null,
  summary: null,
});

async function write(io: IOStreams, scans: readonly ScanMetrics[]): Promise<void> {
  const out = new OutputWriter(io.stdout);
  await out.write(renderOpenMetrics(scans));
  await out.flush();
}

/**
 * One server. `written` runs once the metrics are out (--output-file commits there), before the
 * run's own error, if any, is raised.
 */
export async function hostClientsMetrics(
  opts: CommonOptions & { host: string; filter: ClientFilter },
  io: IOStreams,
  deps: Pick<Deps, "prepareSource">,
  written: () => Promise<void>,
): Promise<void> {
  const labels = { host: opts.host };
  const started = io.now();
  let result: Scanned;
  try {
    const prepared = await deps.prepareSource(opts, io);
    const summary = new SummaryBuilder(started);
    const r = await scanOnce(prepared, opts.host, opts.filter, opts.timeoutSeconds, io, (record) => summary.add(record), progressLine(io));
    result = { ...r, summary: summary.result() };
  } catch (err) {
    const ended = io.now();
    await write(io, [failedMetrics(labels, ended, (ended.getTime() - started.getTime()) / 1000)]);
    await written();
    throw err;
  }
  await write(io, [metricsOf(labels, result)]);
  await written();
  if (result.unread) throw unreadAccountsError(result.unread, "listing");
}

/** Several contexts: every context's metrics (a failed one's success 0), then the fan-out's status and exit code. */
export async function hostClientsMetricsFanout(
  fan: Fanout,
  host: string,
  filter: ClientFilter,
  io: IOStreams,
  deps: Pick<Deps, "prepareSource">,
  written: () => Promise<void>,
): Promise<void> {
  const results = new Map<string, Omit<Scanned, "summary">>();
  const outcomes: ContextOutcome[] = [];
  const task: ContextTask<HostClientRecord> = async (prepared, opts, emit, _signal, context) => {
    const r = await scanOnce(prepared, host, filter, opts.timeoutSeconds, io, emit);
    results.set(context, r);
    if (r.unread) {
      const first = r.unread.first[0]!;
      throw new CamError("partlyDone",
        msg`The clients of ${r.unread.count} ${r.unread.count === 1 ? "account" : "accounts"} could not be read (${first.account}: ${excerpt(first.reason, 120)}${r.unread.count > 1 ? ", …" : ""}); the counts leave them out.`);
    }
  };
  // The records come through the fan-out (so each context's status counts them) and are folded here.
  const started = io.now();
  const summaries = new Map<string, SummaryBuilder>();
  for await (const r of fanoutRecords(fan, task, prepareWith(deps, io), outcomes)) {
    let b = summaries.get(r.context);
    if (!b) summaries.set(r.context, (b = new SummaryBuilder(started)));
    b.add(r);
  }
  const now = io.now();
  const scans = outcomes.map((o) => {
    const labels = { context: o.context, host };
    const r = results.get(o.context);
    return r ? metricsOf(labels, { ...r, summary: (summaries.get(o.context) ?? new SummaryBuilder(started)).result() }) : failedMetrics(labels, now, o.ms / 1000);
  });
  await write(io, scans);
  await written();
  finishFanout(outcomes, "table", io);
}
