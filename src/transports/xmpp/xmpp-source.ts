// ClientSource over XMPP: logs in as --jid and asks with the client-management protocol
// (manage-clients.ts), in whichever namespace the server speaks. Requests for another account go
// to that account's bare JID and need the companion module mod_client_management_admin.
//
// Revoking one listed entry:
//   1. the companion's complete revoke (NS_ADMIN), for the account itself or another account;
//   2. without the companion, for the account itself only, the bare module's own revoke, which
//      closes a connected client's session and does nothing else, and hangs on an id it does not
//      list: so camctl sends it only for an id it has just seen listed, waits for a closed session
//      to leave the list and sends it again, then lists again and reports what still has access.
import type { AccountFacts } from "../../core/account-facts.js";
import type { UnlockReport } from "../../core/unlock-report.js";
import xml, { type Element } from "@xmpp/xml";
import { isSameClient, type ClientList, type ClientRecord, type RevokeReport } from "../../core/model.js";
import { changedError, goneError } from "../../core/not-revoked.js";
import { msg } from "../../text/untrusted.js";
import type { ClientSource, HostScan, HostWatch } from "../../core/client-source.js";
import type { WatchItem } from "../../core/watch.js";
import type { HostClientRecord } from "../../core/filters.js";
import type { HistoryEvent, HistoryQuery } from "../../core/history.js";
import { comparableJid } from "../../core/validate.js";
import { hostContext, hostReplyError, pageThroughHost } from "./host-list.js";
import {
  NAMESPACES,
  NS_ADMIN,
  companionRevokeMissing,
  companionRevokeRequest,
  domainOf,
  errorInfo,
  isFallbackError,
  listRequest,
  parseClients,
  parseRevoked,
  replyError,
  revokeRequest,
  serverFault,
  unansweredError,
  unsupportedError,
  type ErrorInfo,
  type RequestContext,
} from "./manage-clients.js";
import type { CamState } from "./state.js";
import { CamError } from "../../core/errors.js";
import type { LockoutReport, LockoutRequest } from "../../core/lockout-report.js";
import { lockoutError, lockoutRequest, parseLockedOut } from "./lockout-request.js";
import type { XmppRequester } from "./session.js";
export type { XmppRequester };

/** Same account, as the server decides it (see comparableJid). */
export function sameAccount(a: string, b: string): boolean {
  return comparableJid(a) === comparableJid(b);
}


export interface XmppSourceOptions {
  /** The operation's deadline; waiting between looks stops when it fires. */
  signal?: AbortSignal;
  /** Pause between looks while a closed session is still listed. */
  pollMs?: number;
  /** How long a request may go unanswered before camctl checks whether the server still answers at all. */
  stallMs?: number;
  /**
   * How long a closed session may stay listed as connected before camctl reports it as still
   * open: Prosody keeps it until the client answers the close, at most c2s_close_timeout (5 s by default).
   */
  closeWaitMs?: number;
  /** Records per page of a host-wide listing (<max/>); the server's page size when undefined. */
  hostPageSize?: number;
}

const POLL_MS = 250;
const CLOSE_WAIT_MS = 8000;
/** Unanswered this long, a request is followed by a ping (see askOnce). */
const STALL_MS = 1000;
const NS_PING = "urn:xmpp:ping";
/** Sends of the bare module's revoke for one entry: a client that reconnects at once is closed again, up to this. */
const MAX_MODULE_REVOKES = 3;

/** What one bare-module revoke answered. */
type ModuleAnswer = "revoked" | "password-reset-required" | "connected" | "not-found";

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export class XmppClientSource implements ClientSource {
  private readonly pollMs: number;
  private readonly closeWaitMs: number;
  private readonly stallMs: number;

  constructor(
    private readonly session: XmppRequester,
    private readonly state: CamState,
    readonly loginJid: string,
    private readonly options: XmppSourceOptions = {},
  ) {
    this.pollMs = options.pollMs ?? POLL_MS;
    this.closeWaitMs = options.closeWaitMs ?? CLOSE_WAIT_MS;
    this.stallMs = options.stallMs ?? STALL_MS;
  }

  /**
   * Sends one request. A server handles one session's stanzas in order, so when a ping sent after
   * a request is answered and the request is not, the request's handler failed and no answer will
   * ever come (mod_client_management raises, e.g. on a grant whose client name holds a control
   * character): camctl says so at once instead of waiting for --timeout.
   */
  private askOnce(stanza: Element, ctx: RequestContext): Promise<Element> {
    const answer = this.session.request(stanza, ctx.op);
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const ping = xml("iq", { type: "get", to: domainOf(this.loginJid) }, xml("ping", { xmlns: NS_PING }));
        const answered = () => reject(unansweredError(ctx));
        // Any answer to the ping, even an error, shows that the server got past the request.
        this.session.request(ping, "ping").then(answered, (err: unknown) => (err as Error)?.name === "StanzaError" && answered());
      }, this.stallMs);
    });
    abandoned.catch(() => undefined);
    answer.catch(() => undefined);
    return Promise.race([answer, abandoned]).finally(() => clearTimeout(timer));
  }

  private context(op: RequestContext["op"], target: string, selector?: string): RequestContext {
    return { op, target, login: this.loginJid, self: sameAccount(target, this.loginJid), ...(selector !== undefined ? { selector } : {}) };
  }

  /** Namespaces in the order to try for this server: the one that answered last time first. */
  private order(host: string): string[] {
    const remembered = this.state.rememberedNamespace(host);
    const all: string[] = [...NAMESPACES];
    return remembered && all.includes(remembered) ? [remembered, ...all.filter((n) => n !== remembered)] : all;
  }

  /**
   * Sends `build(ns)` in each namespace until one is understood and returns the answer: a result,
   * or the error it carried. Throws unsupported when no namespace is served, and whatever ended
   * the stream as it is (a stream error is not an answer).
   */
  private async exchange(ctx: RequestContext, build: (ns: string, to: string | undefined) => Element): Promise<{ ns: string; reply?: Element; error?: ErrorInfo }> {
    const to = ctx.self ? undefined : ctx.target;
    const host = domainOf(ctx.target);
    for (const ns of this.order(host)) {
      let answer: { ns: string; reply?: Element; error?: ErrorInfo };
      try {
        const reply = await this.askOnce(build(ns, to), ctx);
        this.checkSender(reply, ctx);
        answer = { ns, reply };
      } catch (err) {
        const error = this.stanzaError(err, ctx);
        if (isFallbackError(error)) continue;
        answer = { ns, error };
      }
      this.state.rememberNamespace(host, ns);
      return answer;
    }
    throw unsupportedError(ctx);
  }

  /** The error an error reply carried (from a sender camctl believes); anything else is rethrown. */
  private stanzaError(err: unknown, ctx: RequestContext): ErrorInfo {
    if ((err as Error)?.name !== "StanzaError") throw err;
    const errorEl = (err as { element?: Element }).element;
    if (errorEl?.parent) this.checkSender(errorEl.parent, ctx);
    return errorInfo(errorEl);
  }

  /**
   * xmpp.js matches replies by id alone; camctl also insists that the reply comes from where the
   * request went: the target's bare JID, or for the account itself no 'from', its bare JID or its
   * server. The server answers from the JID as it prepped it, so JIDs are compared the way it
   * compares them (comparableJid): "ß" in a request is "ss" in the reply.
   */
  private checkSender(stanza: Element, ctx: RequestContext): void {
    const from = stanza.attrs.from ?? "";
    // A host-wide listing is answered by that host: no 'from' only from the login's own server.
    const hostWide = ctx.op === "host clients" || ctx.op === "history";
    if (from === "" && (!hostWide || sameAccount(ctx.target, domainOf(this.loginJid)))) return;
    const allowed = new Set((hostWide ? [ctx.target] : [ctx.target, this.loginJid, domainOf(this.loginJid), domainOf(ctx.target)]).map(comparableJid));
    if (from.includes("/") || !allowed.has(comparableJid(from))) {
      throw serverFault(msg`An answer to the ${ctx.op} request came from ${from}, not from ${ctx.target}; camctl does not trust it.`, "unexpected-sender");
    }
  }

  async list(jid: string): Promise<ClientList> {
    const ctx = this.context("list", jid);
    const { ns, reply, error } = await this.exchange(ctx, (n, to) => listRequest(n, to));
    if (!reply) throw replyError(error!, ctx);
    return { jid, transport: "xmpp", clients: parseClients(reply, ns) };
  }

  /** The companion's lockout, for another account (an account cannot lock itself out over XMPP). */
  async lockout(jid: string, request: LockoutRequest): Promise<LockoutReport> {
    const ctx = this.context("lockout", jid);
    if (ctx.self) {
      throw new CamError("usage",
        msg`camctl is logged in as ${jid}, and an account cannot lock itself out over XMPP (its own session would end first). ` +
          "Log in as an admin with --jid, or run camctl on the server with --socket.");
    }
    let reply: Element;
    try {
      reply = await this.askOnce(lockoutRequest(jid, request), ctx);
    } catch (err) {
      throw lockoutError(this.stanzaError(err, ctx), ctx);
    }
    this.checkSender(reply, ctx);
    return parseLockedOut(reply, jid);
  }

  /** The account's facts through the companion (<account/>); an account may ask about itself. */
  async accountFacts(jid: string): Promise<AccountFacts> {
    const ctx = this.context("account", jid);
    const { accountRequest, parseAccountReply, accountError } = await import("./account-request.js");
    let reply: Element;
    try {
      reply = await this.askOnce(accountRequest(jid), ctx);
    } catch (err) {
      throw accountError(this.stanzaError(err, ctx), ctx, "account status");
    }
    this.checkSender(reply, ctx);
    return parseAccountReply(reply);
  }

  /** The companion's unlock, for another account (a disabled account cannot log in to ask). */
  async unlock(jid: string): Promise<UnlockReport> {
    const ctx = this.context("unlock", jid);
    if (ctx.self) throw new CamError("usage", msg`camctl is logged in as ${jid}, which is enabled already; log in as an admin with --jid to unlock another account.`);
    const { unlockRequest, parseUnlocked, accountError } = await import("./account-request.js");
    let reply: Element;
    try {
      reply = await this.askOnce(unlockRequest(jid), ctx);
    } catch (err) {
      throw accountError(this.stanzaError(err, ctx), ctx, "account unlock");
    }
    this.checkSender(reply, ctx);
    return parseUnlocked(reply, jid);
  }

  /** camctl's own login: revoking it ends the connection, so bulk revocation does it last. */
  async ownEntry(): Promise<{ account: string; id: string } | null> {
    return { account: this.loginJid, id: `client/${await this.state.userAgentId()}` };
  }

  async revoke(jid: string, expected: ClientRecord): Promise<RevokeReport> {
    const ctx = this.context("revoke", jid, expected.id);
    if (ctx.self && expected.id === `client/${await this.state.userAgentId()}`) return this.revokeOwnLogin(ctx, expected);
    const complete = await this.companionRevoke(ctx, expected);
    if (complete) return complete;
    // Without the companion nothing answers for another account (the bare module serves only the account itself).
    if (!ctx.self) throw companionRevokeMissing(ctx);
    return this.moduleRevoke(ctx, expected);
  }

  /** The entry as listed now, if it is still the client `expected` was; else gone/changed. */
  private async findListed(ctx: RequestContext, expected: ClientRecord): Promise<ClientRecord> {
    const now = (await this.list(ctx.target)).clients.find((c) => c.id === expected.id);
    if (!now) throw goneError(ctx.target, expected);
    if (!isSameClient(now, expected)) throw changedError(ctx.target, expected);
    return now;
  }

  /** The companion's complete revoke; undefined when the server does not serve it. */
  private async companionRevoke(ctx: RequestContext, expected: ClientRecord): Promise<RevokeReport | undefined> {
    let reply: Element;
    try {
      reply = await this.askOnce(companionRevokeRequest(ctx.self ? undefined : ctx.target, expected), ctx);
    } catch (err) {
      const error = this.stanzaError(err, ctx);
      if (isFallbackError(error)) return undefined;
      if (error.applicationNs === NS_ADMIN && error.application === "gone") throw goneError(ctx.target, expected);
      if (error.applicationNs === NS_ADMIN && error.application === "changed") throw changedError(ctx.target, expected);
      throw replyError(error, ctx);
    }
    this.checkSender(reply, ctx);
    const { done, after } = parseRevoked(reply);
    return { jid: ctx.target, id: expected.id, before: expected, done, after, unverifiable: [] };
  }

  /**
   * camctl's own login: the bare module would close the session camctl is using and never answer.
   * All a revoke can do is end that session, which camctl does itself; the entry stays listed with
   * the password it signed in with (camctl never asks for FAST tokens).
   */
  private async revokeOwnLogin(ctx: RequestContext, expected: ClientRecord): Promise<RevokeReport> {
    const now = await this.findListed(ctx, expected);
    await this.session.close();
    return {
      jid: ctx.target,
      id: expected.id,
      before: expected,
      done: { sessionClosed: true, fastTokensRevoked: false, grantRevoked: false },
      after: { ...now, connected: false },
      unverifiable: [],
      ownLogin: true,
    };
  }

  /** One send of the bare module's <revoke/>, and what it answered. */
  private async moduleRevokeOnce(ctx: RequestContext, id: string): Promise<ModuleAnswer> {
    const { error } = await this.exchange(ctx, (n, to) => revokeRequest(n, to, id));
    if (!error) return "revoked";
    if (error.application === "password-reset-required") return "password-reset-required";
    // The module closed a connected client's session, and takes its own close for a failure.
    if (error.condition === "undefined-condition" && error.application === null) return "connected";
    if (error.condition === "item-not-found") return "not-found";
    throw replyError(error, ctx);
  }

  /** Looks until the entry is no longer connected (or gone, or another client), within closeWaitMs. */
  private async waitForClose(ctx: RequestContext, expected: ClientRecord): Promise<ClientRecord | null> {
    const until = Date.now() + this.closeWaitMs;
    for (;;) {
      await pause(this.pollMs, this.options.signal);
      const now = (await this.list(ctx.target)).clients.find((c) => c.id === expected.id) ?? null;
      if (now === null || !now.connected || !isSameClient(now, expected) || Date.now() >= until) return now;
    }
  }

  /** The bare module's procedure, for the account itself (see the top of this file). */
  private async moduleRevoke(ctx: RequestContext, expected: ClientRecord): Promise<RevokeReport> {
    // Never send a revoke for an id that is not listed: the module raises on it and never answers.
    let current: ClientRecord | null = await this.findListed(ctx, expected);
    const done: RevokeReport["done"] = { sessionClosed: false, fastTokensRevoked: false, grantRevoked: false };
    /** The list as last seen, when nothing was sent since (no need to look again). */
    let lastLook: ClientRecord | null | undefined;
    for (let sent = 1; current !== null; sent++) {
      const answer = await this.moduleRevokeOnce(ctx, expected.id);
      if (answer === "connected") {
        done.sessionClosed = true;
        current = await this.waitForClose(ctx, expected);
        if (current === null || current.connected || !isSameClient(current, expected) || sent >= MAX_MODULE_REVOKES) {
          lastLook = current;
          break;
        }
        continue;
      }
      if (answer === "not-found") {
        if (sent === 1) throw goneError(ctx.target, expected);
        break;
      }
      // The module revokes FAST tokens only of a client that logged in with one (listed "fast"),
      // and a grant only for grant/ entries (it never ties a session to its grant).
      if (current.auth.includes("fast")) done.fastTokensRevoked = true;
      if (expected.type === "access" && answer === "revoked") done.grantRevoked = true;
      break;
    }
    const after = lastLook !== undefined ? lastLook : ((await this.list(ctx.target)).clients.find((c) => c.id === expected.id) ?? null);
    return {
      jid: ctx.target,
      id: expected.id,
      before: expected,
      done,
      after,
      // The bare module cannot revoke a FAST token its client obtained but never used, and the list does not show one.
      unverifiable: expected.type === "session" ? ["unused-fast-token"] : [],
    };
  }

  /**
   * The companion's host-wide listing, page by page (host-list.ts). Each page is one request,
   * with the same checks as a list: who answered, and a request the server will never answer.
   */
  listHost(host: string, scan: HostScan): AsyncIterable<HostClientRecord> {
    const ctx = hostContext(host, this.loginJid);
    return pageThroughHost(this.pager(ctx, hostReplyError), host, scan);
  }

  /** How a paged request (host listing, history) asks for one page: who answered is checked, and a failure worded for that request. */
  private pager(ctx: RequestContext, replyError: (err: ErrorInfo, ctx: RequestContext) => CamError): { pageSize: number | undefined; ask: (request: Element) => Promise<Element> } {
    return {
      pageSize: this.options.hostPageSize,
      ask: async (request) => {
        try {
          const reply = await this.askOnce(request, ctx);
          this.checkSender(reply, ctx);
          return reply;
        } catch (err) {
          throw replyError(this.stanzaError(err, ctx), ctx);
        }
      },
    };
  }

  /** camctl watch through the companion (./watch.ts): its <watch/> request, then pushed messages. */
  async *watch(host: string, w: HostWatch): AsyncIterable<WatchItem> {
    const { watchOverXmpp } = await import("./watch.js");
    yield* watchOverXmpp(this.session, host, this.loginJid, w, (err, ctx) => this.stanzaError(err, ctx));
  }

  /**
   * The history through the companion (<history/> to the host, history-request.ts), page by page,
   * with the same checks as the host-wide listing.
   */
  async *history(query: HistoryQuery, alive?: () => void): AsyncIterable<HistoryEvent> {
    const { historyReplyError, pageThroughHistory } = await import("./history-request.js");
    const ctx: RequestContext = { op: "history", target: query.host, login: this.loginJid, self: false };
    yield* pageThroughHistory(this.pager(ctx, historyReplyError), query, alive);
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
