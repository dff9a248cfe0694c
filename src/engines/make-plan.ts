// Making a revocation plan, for `host revoke` on one server (src/cli/host/revoke.ts) and on several
// (src/cli/host/revoke-fanout.ts): the host scanned with the filters (src/engines/host-scan.ts), then
// --keep-newest, each record written as a plan item (src/engines/plan.ts) to the plan file or to an
// anonymous spool file, so that neither planning nor applying holds the whole plan in memory.
import { CamError } from "../core/errors.js";
import { recordFilters, type ClientFilter, type HostClientRecord } from "../core/filters.js";
import { scanHost, unreadAccountsError, type HostScanRequest } from "./host-scan.js";
import type { TransportName } from "../core/model.js";
import { keepNewest, PlanWriter, planItem, PLAN_FORMAT, PLAN_VERSION, type PlanHeader } from "./plan.js";
import { SummaryBuilder, type ClientSummary } from "../core/summary.js";
import type { PreparedSource } from "../transports/lifecycle.js";

/** Which clients a plan holds. */
export interface PlanScope {
  host: string;
  filter: ClientFilter;
  /** --all: every client, no filter. */
  all: boolean;
  /** --keep-newest: per account, this many of the most recently seen matching clients stay. */
  keepNewest: number | null;
}

/** A plan to make on one server. */
export interface PlanRequest extends PlanScope {
  transport: TransportName;
  timeoutSeconds: number;
}

/** The request for one server: the scope, with that server's transport and --timeout. */
export function planRequest(scope: PlanScope, server: { transport: { kind: TransportName }; timeoutSeconds: number }): PlanRequest {
  const { host, filter, all, keepNewest } = scope;
  return { host, filter, all, keepNewest, transport: server.transport.kind, timeoutSeconds: server.timeoutSeconds };
}

/** How the scan behind a plan is shown (the progress line) and bounded; see HostScanRequest. */
export type PlanScanView = Pick<HostScanRequest, "progress" | "outputOnTerminal" | "bound" | "seen">;

/** The header of a plan made now. */
export function planHeader(request: PlanRequest, now: Date): PlanHeader {
  return {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    host: request.host,
    transport: request.transport,
    createdAt: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    filters: recordFilters(request.filter, request.all),
    keepNewest: request.keepNewest,
  };
}

/**
 * The plan's records, as they are found, to `consume` (--dry-run shows them); throws the unread
 * accounts (partlyDone) after them.
 */
export async function scanPlan(
  prepared: PreparedSource,
  request: PlanRequest,
  consume: (records: AsyncIterable<HostClientRecord>) => Promise<void>,
  view: PlanScanView = {},
): Promise<void> {
  const unread = await scanHost(prepared, scanRequest(request, view), consume);
  if (unread) throw unreadAccountsError(unread, "plan");
}

function scanRequest(request: PlanRequest, view: PlanScanView): HostScanRequest {
  const n = request.keepNewest;
  return {
    host: request.host,
    filter: request.filter,
    timeoutSeconds: request.timeoutSeconds,
    narrow: n === null ? undefined : (records) => keepNewest(records, n),
    ...view,
  };
}

export interface MadePlan {
  /** Holds the finished plan; the caller closes it (close(true)) when done with it. */
  writer: PlanWriter;
  header: PlanHeader;
  items: number;
  summary: ClientSummary;
  /** Accounts that could not be read, left out of the plan (exit 9 at the end); the rest stands. */
  unread?: CamError;
}

/**
 * Makes the plan into `planFile` (created, never over an existing file) or, when null, into a
 * spool file. `onRecord` sees each planned record (a preview's first rows). On failure the file is
 * closed and, if it was ours, removed.
 */
export async function makePlan(
  prepared: PreparedSource,
  request: PlanRequest,
  o: { planFile: string | null; now: Date; view?: PlanScanView; onRecord?: (r: HostClientRecord) => void },
): Promise<MadePlan> {
  const writer = o.planFile !== null ? await PlanWriter.create(o.planFile) : await PlanWriter.spool();
  try {
    const header = planHeader(request, o.now);
    const summary = new SummaryBuilder(o.now);
    await writer.begin(header);
    const unread = await scanHost(prepared, scanRequest(request, o.view ?? {}), async (records) => {
      for await (const r of records) {
        await writer.add(planItem(r));
        summary.add(r);
        o.onRecord?.(r);
      }
    });
    const items = await writer.finish();
    return { writer, header, items, summary: summary.result(), unread: unread && unreadAccountsError(unread, "plan") };
  } catch (err) {
    await writer.close(false);
    throw err;
  }
}
