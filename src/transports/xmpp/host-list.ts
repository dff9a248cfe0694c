// The host-wide listing over XMPP: the companion module's <clients host-wide='true'/> in
// urn:camctl:admin:0, addressed to the host and paged with XEP-0059 Result Set Management
// (prosody/mod_client_management_admin/README.md has the protocol).
//
// The server pages by account (accounts in byte order, the cursor is the last account a page
// finished) and does one page of work per request, so the server stays free to serve others
// between pages. A companion that names its snapshot of the account list (snapshot='id' on the
// first page) also serves ranges of that list by account index, so camctl asks for up to
// PAGE_WINDOW ranges ahead while it hands over the current page (pipelinedRanges); with an older
// companion it asks for the next page only once the last one is handed over. The filter travels with every request and is applied on the server;
// camctl applies it again to whatever arrives (a server may know fewer filters, never widen them).
import xml, { type Element } from "@xmpp/xml";
import { CamError } from "../../core/errors.js";
import { matchesFilter, type ClientFilter, type HostClientRecord } from "../../core/filters.js";
import { isoFromDateTime, isoFromUnix } from "../../core/model.js";
import { accountStatusOf } from "../../core/account-facts.js";
import { activityNotRecorded } from "../../core/account-activity-error.js";
import type { HostScan } from "../../core/client-source.js";
import { msg } from "../../text/untrusted.js";
import { comparableJid } from "../../core/validate.js";
import { COMPANION_MODULE, NS_ADMIN, parseClient, replyError, serverFault, serverSaid, type ErrorInfo, type RequestContext } from "./manage-clients.js";

export const NS_RSM = "http://jabber.org/protocol/rsm";

/** The filter as the companion reads it; filters with no wire form (a time outside 0000–9999) are left to camctl. */
export function filterElement(f: ClientFilter): Element {
  const el = xml("filter", {});
  const time = (name: string, seconds: number | null) => {
    const iso = seconds === null ? null : isoFromUnix(seconds);
    if (iso !== null) el.append(xml(name, {}, iso));
  };
  time("last-seen-before", f.lastSeenBefore);
  time("last-seen-after", f.lastSeenAfter);
  time("expires-before", f.expiresBefore);
  time("account-inactive-since", f.accountInactiveSince);
  if (f.noExpiry) el.append(xml("no-expiry", {}));
  // Only --software-exact: the companion compares exactly; --software is matched by camctl (host-scan.ts).
  if (f.software?.exact) el.append(xml("software", { version: f.software.version ?? undefined }, f.software.name));
  if (f.auth.length > 0) el.append(xml("auth", {}, ...f.auth.map((a) => xml(a, {}))));
  if (f.type !== null) el.append(xml("type", {}, f.type));
  if (f.connected !== null) el.append(xml("connected", {}, String(f.connected)));
  if (f.account !== null) el.append(xml("account", {}, f.account));
  return el;
}

/**
 * One page's request: to the host, the filter, and where to continue: `after` (the last page's
 * <last/>) or `index` (an account index of `snapshot`), and `end` (the account index the page
 * stops before).
 */
export function hostClientsRequest(
  host: string,
  filter: ClientFilter,
  page: { max?: number; after?: string | null; index?: number; snapshot?: string; end?: number },
): Element {
  const set = xml("set", { xmlns: NS_RSM });
  if (page.max !== undefined) set.append(xml("max", {}, String(page.max)));
  if (page.after) set.append(xml("after", {}, page.after));
  else if (page.index !== undefined) set.append(xml("index", {}, String(page.index)));
  const attrs = { xmlns: NS_ADMIN, "host-wide": "true", snapshot: page.snapshot, end: page.end === undefined ? undefined : String(page.end) };
  return xml("iq", { type: "get", to: host }, xml("clients", attrs, filterElement(filter), set));
}

/** What one page says. */
export interface HostPage {
  records: HostClientRecord[];
  /** The cursor to continue after; null when the page covered no account. */
  last: string | null;
  /** Accounts the scan covers (RSM <count/>), when the server said. */
  count: number | null;
  /** Accounts finished so far, when the server said. */
  scanned: number | null;
  /** No accounts left after this page. */
  complete: boolean;
  /** Accounts whose clients the server could not read (the scan goes on without them), and why (untrusted text). */
  failed: Array<{ account: string; reason: string }>;
  /** The server's name for its account list of this scan; null from a companion that pages only by <after/>. */
  snapshot: string | null;
}

const nonNegative = (text: string | undefined | null): number | null => {
  if (text === undefined || text === null || !/^\s*\d{1,15}\s*$/.test(text)) return null;
  return Number(text);
};

const domainOf = (jid: string) => jid.slice(jid.lastIndexOf("@") + 1);

/** A page of the companion's answer; anything that is not one, or a record of another host, is a server fault (3). */
export function parseHostPage(reply: Element, host: string): HostPage {
  const clients = reply.getChild("clients", NS_ADMIN);
  if (!clients) {
    throw serverFault(msg`The server answered the host-wide client listing of ${host} with something camctl does not understand.`.toString(), "bad-reply");
  }
  const wantedDomain = comparableJid(host);
  const accountOf = (el: Element): string => {
    const account = el.attrs.account ?? "";
    const at = account.lastIndexOf("@");
    if (at <= 0 || account.includes("/") || comparableJid(domainOf(account)) !== wantedDomain) {
      throw serverFault(msg`The host-wide client listing of ${host} named an account camctl did not ask for (${account}); camctl does not trust it.`.toString(), "bad-reply");
    }
    return account;
  };
  const records = clients.getChildren("client", NS_ADMIN).map((el): HostClientRecord => ({
    account: accountOf(el),
    ...parseClient(el, NS_ADMIN),
    accountLastActivity: isoFromDateTime(String(el.attrs["account-last-activity"] ?? "")),
    accountStatus: accountStatusOf(el.attrs["account-status"]),
  }));
  const failed = clients.getChildren("failed", NS_ADMIN).map((el) => ({ account: accountOf(el), reason: el.getText() }));
  const set = clients.getChild("set", NS_RSM);
  const last = set?.getChildText("last") ?? null;
  return {
    records,
    last: last === "" ? null : last,
    count: nonNegative(set?.getChildText("count")),
    scanned: nonNegative(clients.attrs.scanned),
    complete: clients.attrs.complete === "true",
    failed,
    snapshot: typeof clients.attrs.snapshot === "string" && clients.attrs.snapshot !== "" ? clients.attrs.snapshot : null,
  };
}

/** The request context of a host-wide listing (target: the host). */
export function hostContext(host: string, login: string): RequestContext {
  return { op: "host clients", target: host, login, self: false };
}

/** What camctl says for an error reply to a page request. */
export function hostReplyError(e: ErrorInfo, ctx: RequestContext): CamError {
  const host = ctx.target;
  const said = serverSaid(e);
  switch (e.condition) {
    case "forbidden":
    case "not-allowed":
    case "not-authorized":
      return new CamError(
        "forbidden",
        msg`The server does not let ${ctx.login} list the clients of every account on ${host} (${e.condition}); that needs an account the server's roles allow (by default prosody:admin).${said}`,
        e.condition,
      );
    case "service-unavailable":
    case "feature-not-implemented":
      if (e.application === "activity-not-recorded") return activityNotRecorded(host);
      if (e.application !== null || e.text) {
        // The companion answered, but cannot do it here (no mod_client_management, an auth provider that cannot list accounts).
        return new CamError("unsupported", msg`${host} cannot list the clients of every account (${e.condition}).${said} Run camctl on the server with --socket, or ask its operator.`, e.condition);
      }
      return new CamError(
        "unsupported",
        msg`${host} does not answer host-wide client listings, so the companion module ${COMPANION_MODULE} is not enabled there, or is older than this camctl. ` +
          `Install it from camctl's prosody/ directory into Prosody's plugin_paths and add "client_management_admin" to that host's modules_enabled, ` +
          `or run camctl on the server with --socket.`,
        e.condition,
      );
    case "item-not-found":
      if (e.application === "snapshot-expired") {
        return new CamError(
          "unreachable",
          msg`${host} no longer holds the account list this listing was paging through (unused for too long, another listing by the same login, or a restart); run the command again.`,
          e.condition,
        );
      }
    // falls through
    case "remote-server-not-found":
    case "remote-server-timeout":
      return new CamError("notFound", msg`${host} is not served by the server camctl logged in to (${e.condition}).${said}`, e.condition);
    default:
      return replyError(e, ctx);
  }
}

export interface HostPager {
  /** Sends one page request; resolves with its result from the host, rejects with a CamError (see hostReplyError). */
  ask(request: Element): Promise<Element>;
  /** Records per page to ask for (<max/>); the server's own page size when undefined. */
  pageSize?: number;
}

/** Ranges camctl asks for ahead of the page it is handing over (see pipelinedRanges); measured in BENCHMARKS.md (host clients over XMPP). */
export const PAGE_WINDOW = 3;

/** A range of the snapshot's accounts: [start, end) by index; the first request may continue after a cursor instead. */
export interface AccountRange {
  start: number;
  end: number;
  after: string | null;
}

/**
 * The ranges that follow a first page which finished `scanned` of `count` accounts (and stopped at
 * cursor `last`): `size` accounts each, the first continuing after `last` so that an account the
 * first page split is finished, not restarted.
 */
export function rangesAfter(scanned: number, last: string | null, count: number, size: number): AccountRange[] {
  const out: AccountRange[] = [];
  for (let start = scanned; start < count; start += size) out.push({ start, end: Math.min(start + size, count), after: out.length === 0 ? last : null });
  return out;
}

/**
 * Hands over the pages of `ranges` strictly in order, asking for each range's first page up to
 * `window` ranges ahead of the one being handed over; a range the server could not finish in one
 * page (its `scanned` short of the range's end) is finished with follow-up requests before the next
 * range's pages are handed over. At most `window` + 1 requests are outstanding and `window` pages
 * wait in memory. When it ends early (an error, the consumer stopping), what is still outstanding
 * is left to settle unobserved: nothing of it is handed over.
 */
export async function* pipelinedRanges<P extends Pick<HostPage, "complete" | "scanned" | "last">>(
  ranges: AccountRange[],
  window: number,
  ask: (range: AccountRange, after: string | null) => Promise<P>,
  stalled: (range: AccountRange, after: string | null) => Error,
): AsyncGenerator<P> {
  const ahead: Array<{ range: AccountRange; page: Promise<P> }> = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < window && next < ranges.length) {
      const range = ranges[next++]!;
      const page = ask(range, range.after);
      page.catch(() => undefined);
      ahead.push({ range, page });
    }
  };
  fill();
  while (ahead.length > 0) {
    const { range, page: pending } = ahead.shift()!;
    let page = await pending;
    fill();
    let after = range.after;
    for (;;) {
      yield page;
      if (page.complete || (page.scanned !== null && page.scanned >= range.end)) break;
      if (page.last === null || page.last === after) throw stalled(range, after);
      after = page.last;
      page = await ask(range, after);
    }
  }
}

/**
 * Every record of `host` that passes `scan.filter`, page by page. `scan.onProgress` is called when
 * a page arrives and again once its records are handed over, right before the next request: the
 * caller re-arms --timeout there, so --timeout bounds the wait for each page, not the whole scan.
 * With a companion that names a snapshot, later pages are asked ahead (pipelinedRanges), each
 * range sized at three quarters of the accounts the first page covered, so that most ranges fit in
 * one page.
 */
export async function* pageThroughHost(pager: HostPager, host: string, scan: HostScan): AsyncGenerator<HostClientRecord> {
  const handOver = function* (page: HostPage) {
    const progress = { scanned: page.scanned ?? (page.complete && page.count !== null ? page.count : 0), total: page.count };
    scan.onProgress?.(progress);
    for (const f of page.failed) scan.onAccountFailed?.(f.account, f.reason);
    for (const record of page.records) {
      if (matchesFilter(record, scan.filter)) yield record;
    }
    return progress;
  };
  const notMoving = (after: string | null) =>
    serverFault(msg`The server's host-wide client listing of ${host} did not move on to the next page (after ${after ?? "the start"}); camctl stopped.`.toString(), "bad-reply");

  scan.signal.throwIfAborted();
  const first = parseHostPage(await pager.ask(hostClientsRequest(host, scan.filter, { max: pager.pageSize })), host);
  const progress = yield* handOver(first);
  if (first.complete) return;
  if (first.last === null) throw notMoving(null);
  scan.onProgress?.(progress);

  const { snapshot, count, scanned } = first;
  if (snapshot !== null && count !== null && scanned !== null) {
    const size = Math.max(1, Math.floor((scanned * 3) / 4));
    const ask = async (range: AccountRange, after: string | null) => {
      scan.signal.throwIfAborted();
      const at = after === null ? { index: range.start } : { after };
      return parseHostPage(await pager.ask(hostClientsRequest(host, scan.filter, { max: pager.pageSize, snapshot, end: range.end, ...at })), host);
    };
    for await (const page of pipelinedRanges(rangesAfter(scanned, first.last, count, size), PAGE_WINDOW, ask, (_, after) => notMoving(after))) {
      scan.onProgress?.(yield* handOver(page));
      scan.signal.throwIfAborted();
    }
    return;
  }

  // An older companion: each page after the last one's <last/>.
  let after: string = first.last;
  for (;;) {
    scan.signal.throwIfAborted();
    const page = parseHostPage(await pager.ask(hostClientsRequest(host, scan.filter, { max: pager.pageSize, after })), host);
    const shown = yield* handOver(page);
    if (page.complete) return;
    if (page.last === null || page.last === after) throw notMoving(after);
    after = page.last;
    scan.onProgress?.(shown);
  }
}
