// ClientSource over XMPP: logs in as --jid and asks with the client-management protocol
// (manage-clients.ts), in whichever namespace the server speaks. Requests for another account go
// to that account's bare JID and need the companion module mod_client_management_admin.
// https://xmpp.org/extensions/xep-0494.html and ../shared/spec/mod_client_management.README.md
import type { Element } from "@xmpp/xml";
import { CamError } from "../errors.js";
import type { ClientList, ClientRecord, RevokeReport } from "../model.js";
import { displaySafe } from "../render/sanitize.js";
import type { ClientSource } from "../source.js";
import type { XmppSession } from "./login.js";
import {
  NAMESPACES,
  errorInfo,
  isFallbackError,
  listRequest,
  parseClients,
  replyError,
  revokeRequest,
  unsupportedError,
  type RequestContext,
} from "./manage-clients.js";
import type { CamState } from "./state.js";

/** Same account? Domains are compared case-insensitively (parseBareJid lowercases them already), localparts as the server would (nodeprep folds case). */
export function sameAccount(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

const domainOf = (jid: string) => jid.slice(jid.lastIndexOf("@") + 1);

export class XmppClientSource implements ClientSource {
  constructor(
    private readonly session: XmppSession,
    private readonly state: CamState,
    readonly loginJid: string,
  ) {}

  /** Namespaces in the order to try for this server: the one that answered last time first. */
  private order(host: string): string[] {
    const remembered = this.state.rememberedNamespace(host);
    const all: string[] = [...NAMESPACES];
    return remembered && all.includes(remembered) ? [remembered, ...all.filter((n) => n !== remembered)] : all;
  }

  /** Sends `build(ns)` in each namespace until one is understood; maps error replies. */
  private async ask(ctx: RequestContext, build: (ns: string, to: string | undefined) => Element) {
    const to = ctx.self ? undefined : ctx.target;
    const host = domainOf(ctx.target);
    for (const ns of this.order(host)) {
      let reply;
      try {
        reply = await this.session.request(build(ns, to), ctx.op);
        this.checkSender(reply, ctx);
      } catch (err) {
        if ((err as Error)?.name !== "StanzaError") throw this.ended(err, ctx);
        const errorEl = (err as { element?: Element }).element;
        if (errorEl?.parent) this.checkSender(errorEl.parent, ctx);
        const info = errorInfo(errorEl);
        if (isFallbackError(info)) continue;
        throw replyError(info, ctx);
      }
      this.state.rememberNamespace(host, ns);
      return { ns, reply };
    }
    throw unsupportedError(ctx);
  }

  /**
   * xmpp.js matches replies by id alone; camctl also insists that the reply comes from where the
   * request went (the target's bare JID, or for the account itself: no 'from', its bare JID or its server).
   */
  private checkSender(stanza: Element, ctx: RequestContext): void {
    const from = (stanza.attrs.from ?? "").toLowerCase();
    if (from === "") return;
    const bare = from.replace(/\/.*$/, "");
    const allowed = new Set([ctx.target.toLowerCase(), this.loginJid.toLowerCase(), domainOf(this.loginJid).toLowerCase(), domainOf(ctx.target).toLowerCase()]);
    if (bare !== from || !allowed.has(bare)) {
      throw new CamError("internal", `An answer to the ${ctx.op} request came from ${displaySafe(from)}, not from ${displaySafe(ctx.target)}; camctl ignored it.`, "unexpected-sender");
    }
  }

  /** The stream ended while a request was pending. A revoke of camctl's own login ends like that. */
  private ended(err: unknown, ctx: RequestContext): unknown {
    if (ctx.op === "revoke" && err instanceof CamError && this.session.closedByServer && this.session.streamEnd) {
      return new CamError(
        "passwordResetRequired",
        `The server closed camctl's own session while revoking ${displaySafe(ctx.selector ?? "")}: that selector matches camctl's login, ` +
          `which signed in with the password. The server has already closed that session and revoked its tokens; ` +
          `its access ends only when ${displaySafe(ctx.target)}'s password is changed.`,
        "password-reset-required",
      );
    }
    return err;
  }

  async list(jid: string): Promise<ClientList> {
    const ctx: RequestContext = { op: "list", target: jid, login: this.loginJid, self: sameAccount(jid, this.loginJid) };
    const { ns, reply } = await this.ask(ctx, (n, to) => listRequest(n, to));
    return { jid, transport: "xmpp", clients: parseClients(reply, ns) };
  }

  // TEMPORARY (issue 8 replaces it): revokes by exact id and reports nothing verified yet.
  async revoke(jid: string, expected: ClientRecord): Promise<RevokeReport> {
    const selector = expected.id;
    const ctx: RequestContext = { op: "revoke", target: jid, login: this.loginJid, self: sameAccount(jid, this.loginJid), selector };
    const { reply } = await this.ask(ctx, (n, to) => revokeRequest(n, to, selector));
    if (reply.attrs.type !== "result") throw new CamError("internal", "The server did not confirm the revocation.");
    return { jid, id: selector, before: expected, done: { sessionClosed: null, fastTokensRevoked: null, grantRevoked: null }, after: null, unverifiable: [] };
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
