// The history over XMPP: the companion module's <history/> in urn:camctl:admin:0, addressed to the
// host and paged with XEP-0059 (prosody/mod_client_management_admin/README.md has the protocol;
// the server side is history_admin.lib.lua on the same reader the admin socket runs).
//
// One page in flight: camctl asks for the next page only once the entries of the last one are
// handed over, so memory stays flat however long the history and the server does one page of
// work per request. The window and the events travel with every request and are applied on the
// server; camctl applies them again to whatever arrives.
import xml, { type Element } from "@xmpp/xml";
import { CamError } from "../../core/errors.js";
import { matchesHistory, noHistorySource, type HistoryEvent, type HistoryQuery } from "../../core/history.js";
import { isoFromDateTime, isoFromUnix } from "../../core/model.js";
import { comparableJid } from "../../core/validate.js";
import { msg } from "../../text/untrusted.js";
import { COMPANION_MODULE, NS_ADMIN, isFallbackError, replyError, serverFault, serverSaid, type ErrorInfo, type RequestContext } from "./manage-clients.js";
import { NS_RSM } from "./host-list.js";


/** One page's request: to the host, the account (for `user history`), the window, the events, where to go on. */
export function historyRequest(q: HistoryQuery, page: { max?: number; after?: string | null }): Element {
  const history = xml("history", { xmlns: NS_ADMIN, ...(q.jid !== null ? { account: q.jid } : {}) });
  const since = q.since === null ? null : isoFromUnix(q.since);
  const until = q.until === null ? null : isoFromUnix(q.until);
  // A time with no wire form (outside 0000–9999) is left to camctl's own check.
  if (since !== null) history.append(xml("since", {}, since));
  if (until !== null) history.append(xml("until", {}, until));
  for (const name of q.events) history.append(xml("event", {}, name));
  const set = xml("set", { xmlns: NS_RSM });
  if (page.max !== undefined) set.append(xml("max", {}, String(page.max)));
  if (page.after) set.append(xml("after", {}, page.after));
  history.append(set);
  return xml("iq", { type: "get", to: q.host }, history);
}

export interface HistoryPage {
  events: HistoryEvent[];
  /** The cursor to go on after; null when the server gave none. */
  last: string | null;
  /** Nothing left after this page. */
  complete: boolean;
}

const text = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** One <entry/> as the event record, the same fields as over the admin socket. */
export function parseEntry(el: Element, host: string): HistoryEvent {
  const a = el.attrs as Record<string, unknown>;
  const detail: Record<string, string> = {};
  for (const d of el.getChildren("detail", NS_ADMIN)) {
    const name = text(d.attrs.name);
    if (name !== null && name !== "") detail[name] = d.getText();
  }
  return {
    time: isoFromDateTime(String(a.time ?? "")),
    host,
    account: text(a.account),
    event: text(a.event) ?? "",
    source: a.source === "camctl" ? "camctl" : "mod_audit",
    recordedBy: text(a["recorded-by"]),
    ip: text(a.ip),
    location: text(a.location),
    clientId: text(a.client),
    detail: Object.keys(detail).length > 0 ? detail : null,
  };
}

/** A page of the companion's answer; anything that is not one, or an entry of another host or account, is a server fault (3). */
export function parseHistoryPage(reply: Element, q: HistoryQuery): HistoryPage {
  const what = q.jid ?? q.host;
  const history = reply.getChild("history", NS_ADMIN);
  if (!history) throw serverFault(msg`The server answered the history request for ${what} with something camctl does not understand.`.toString(), "bad-reply");
  const wantedDomain = comparableJid(q.host);
  const events = history.getChildren("entry", NS_ADMIN).map((el) => {
    const e = parseEntry(el, q.host);
    if (e.account !== null) {
      const at = e.account.lastIndexOf("@");
      if (at <= 0 || e.account.includes("/") || comparableJid(e.account.slice(at + 1)) !== wantedDomain || (q.jid !== null && comparableJid(e.account) !== comparableJid(q.jid))) {
        throw serverFault(msg`The history of ${what} named an account camctl did not ask for (${e.account}); camctl does not trust it.`.toString(), "bad-reply");
      }
    }
    return e;
  });
  const last = history.getChild("set", NS_RSM)?.getChildText("last") ?? null;
  return { events, last: last === "" ? null : last, complete: history.attrs.complete === "true" };
}

/** What camctl says for an error reply to a history page request. */
export function historyReplyError(e: ErrorInfo, ctx: RequestContext): CamError {
  const host = ctx.target;
  switch (e.condition) {
    case "forbidden":
    case "not-allowed":
    case "not-authorized":
      return new CamError(
        "forbidden",
        msg`The server does not let ${ctx.login} read the history of ${host} (${e.condition}); that needs an account the server's roles allow (by default prosody:admin, permission client_management_admin:read-history).${serverSaid(e)}`,
        e.condition,
      );
    case "item-not-found":
      if (e.application === "no-history-source") return noHistorySource(host);
      break;
    case "remote-server-not-found":
    case "remote-server-timeout":
      return new CamError("notFound", msg`${host} is not served by the server camctl logged in to (${e.condition}).${serverSaid(e)}`, e.condition);
  }
  if (isFallbackError(e)) {
    return new CamError(
      "unsupported",
      msg`${host} does not answer history requests over XMPP, so the companion module ${COMPANION_MODULE} is not enabled there, or is older than this camctl. ` +
        `Install it from camctl's prosody/ directory into Prosody's plugin_paths and add "client_management_admin" to that host's modules_enabled, ` +
        `or run camctl on the server with --socket (or --ssh).`,
      "history-needs-companion",
    );
  }
  return replyError(e, ctx);
}

export interface HistoryPager {
  /** Sends one page request; resolves with its result, rejects with a CamError (see historyReplyError). */
  ask(request: Element): Promise<Element>;
  /** Entries per page to ask for (<max/>); the server's own page size when undefined. */
  pageSize?: number;
}

/**
 * Every entry of the history that passes the query, page by page, each handed on as soon as its
 * page has arrived; `alive` is called when a page arrives and for every entry, so --timeout bounds
 * each wait, not the whole run.
 */
export async function* pageThroughHistory(pager: HistoryPager, q: HistoryQuery, alive?: () => void): AsyncGenerator<HistoryEvent> {
  let after: string | null = null;
  for (;;) {
    const reply = await pager.ask(historyRequest(q, { max: pager.pageSize, after }));
    alive?.();
    const page = parseHistoryPage(reply, q);
    for (const e of page.events) {
      alive?.();
      if (matchesHistory(e, q)) yield e;
    }
    if (page.complete) return;
    if (page.last === null || page.last === after) {
      // A server that does not move on would be asked for the same page for ever.
      throw serverFault(msg`The server's history of ${q.jid ?? q.host} did not move on to the next page (after ${after ?? "the start"}); camctl stopped.`.toString(), "bad-reply");
    }
    after = page.last;
  }
}
