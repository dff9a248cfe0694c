// The client-management protocol over XMPP, in both of its namespaces:
//   Prosody's own   https://modules.prosody.im/mod_client_management (its README describes the protocol)
//   XEP-0494        https://xmpp.org/extensions/xep-0494.html (same <list/>, <clients/>, <client/>,
//                   <revoke id/>, plus <permission status/> on each client)
// Servers advertise neither in disco, so camctl tries one and falls back on service-unavailable /
// feature-not-implemented (source.ts remembers which one worked). This module builds the requests,
// parses the answers into ClientRecords and turns error replies into CamErrors.
import { networkFromAttrs } from "../../core/network.js";
import xml, { type Element } from "@xmpp/xml";
import { CamError, ServerFault } from "../../core/errors.js";
import { emptyUserAgent, isoFromDateTime, type ClientRecord, type IsoUtc, type RevokeReport } from "../../core/model.js";
import { excerpt, msg, type SafeText } from "../../text/untrusted.js";

export const NS_MANAGE_CLIENTS = "xmpp:prosody.im/protocol/manage-clients";
export const NS_CAM = "urn:xmpp:cam:0";
/** Tried in this order when nothing is remembered for a server. */
export const NAMESPACES = [NS_MANAGE_CLIENTS, NS_CAM] as const;

export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/**
 * The companion module's own namespace (prosody/mod_client_management_admin): the complete revoke
 * of one listed entry, for the account itself or, for admins, another account. The bare module
 * never answers it.
 */
export const NS_ADMIN = "urn:camctl:admin:0";

/** `to` is the target's bare JID for another account; omitted for the logged-in account itself. */
export function listRequest(ns: string, to: string | undefined): Element {
  return xml("iq", { type: "get", to }, xml("list", { xmlns: ns }));
}

export function revokeRequest(ns: string, to: string | undefined, selector: string): Element {
  return xml("iq", { type: "set", to }, xml("revoke", { xmlns: ns, id: selector }));
}

/**
 * The companion's complete revoke: the exact listed id, and what the entry looked like when it was
 * shown, so that the server revokes nothing if it is gone (<gone/>) or another client by now (<changed/>).
 */
export function companionRevokeRequest(to: string | undefined, expected: ClientRecord): Element {
  const expect = xml("expect", { type: expected.type, "first-seen": expected.firstSeen ?? undefined });
  if (expected.userAgent.software !== null) expect.append(xml("software", {}, expected.userAgent.software));
  if (expected.userAgent.device !== null) expect.append(xml("device", {}, expected.userAgent.device));
  return xml("iq", { type: "set", to }, xml("revoke", { xmlns: NS_ADMIN, id: expected.id }, expect));
}

const yes = (v: string | undefined): boolean | null => (v === undefined ? null : v === "true" || v === "1");

/** The companion's <revoked/> answer: what it did, and the entry as listed afterwards (null: no access left). */
export function parseRevoked(result: Element): { done: RevokeReport["done"]; after: ClientRecord | null } {
  const revoked = result.getChild("revoked", NS_ADMIN);
  if (!revoked) throw serverFault("The server confirmed the revocation without saying what it did (no <revoked/>).", "bad-reply");
  const after = revoked.getChild("client", NS_ADMIN);
  return {
    done: {
      sessionClosed: yes(revoked.attrs["session-closed"]),
      fastTokensRevoked: yes(revoked.attrs["fast-tokens-revoked"]),
      grantRevoked: yes(revoked.attrs["grant-revoked"]),
    },
    after: after ? parseClient(after, NS_ADMIN) : null,
  };
}

/** A XEP-0082 date-time as the server sent it (surrounding blanks allowed) -> IsoUtc, or null. */
export function isoFromXmppTime(text: string | null | undefined): IsoUtc | null {
  return text === null || text === undefined ? null : isoFromDateTime(text.trim());
}

function childText(el: Element, name: string, ns: string | undefined): string | null {
  const c = el.getChild(name, ns);
  return c ? c.getText() : null;
}

/**
 * Auth method names in the README/XEP-0494 vocabulary, which the socket path uses too: Prosody's
 * module says <bearer-token/> for what everyone else calls a grant. Unknown names are kept as sent.
 */
export function normaliseAuthName(name: string): string {
  return name === "bearer-token" ? "grant" : name;
}

/** One <client/> element -> a ClientRecord. Unknown children are ignored, unknown auth methods kept. */
export function parseClient(el: Element, ns: string | undefined): ClientRecord {
  const userAgent = emptyUserAgent();
  const ua = el.getChild("user-agent", ns);
  if (ua) {
    // Prosody's module sends version and id as attributes of <software>; the README and XEP-0494
    // show child elements. Either is read, the attribute first.
    const software = ua.getChild("software", ns);
    userAgent.software = software ? software.getText() : null;
    userAgent.version = software?.attrs.version ?? childText(ua, "version", ns);
    userAgent.softwareId = software?.attrs.id ?? childText(ua, "software-id", ns);
    userAgent.uri = childText(ua, "uri", ns);
    userAgent.device = childText(ua, "device", ns);
  }
  const auth = new Set<string>();
  for (const a of el.getChild("auth", ns)?.getChildElements() ?? []) auth.add(normaliseAuthName(a.getName()));
  const connected = (el.attrs.connected ?? "").trim().toLowerCase();
  const permission = el.getChild("permission", ns)?.attrs.status;
  return {
    id: el.attrs.id ?? "",
    type: el.attrs.type === "access" ? "access" : "session",
    connected: connected === "true" || connected === "1",
    firstSeen: isoFromXmppTime(childText(el, "first-seen", ns)),
    lastSeen: isoFromXmppTime(childText(el, "last-seen", ns)),
    expires: isoFromXmppTime(childText(el, "expires", ns)),
    auth: [...auth].sort(),
    userAgent,
    permission: permission ?? null,
    // The companion's <network/> (admin listings only); the bare module sends none: all null.
    ...networkFromAttrs(el.getChild("network", NS_ADMIN)?.attrs),
  };
}

/** The <clients/> payload of a list result. A result without one is an empty list only if it is empty. */
export function parseClients(result: Element, ns: string): ClientRecord[] {
  const clients = result.getChild("clients", ns);
  if (!clients) {
    if (result.getChildElements().length === 0) return [];
    throw serverFault("The server answered the client list request with something camctl does not understand.", "bad-reply");
  }
  return clients.getChildren("client", ns).map((c) => parseClient(c, ns));
}

/** What an <error/> element says: RFC 6120 defined condition, text, and an application condition if any. */
export interface ErrorInfo {
  condition: string;
  text: string | null;
  application: string | null;
  /** The application condition's namespace (e.g. NS_ADMIN for the companion's <gone/>). */
  applicationNs: string | null;
  type: string | null;
}

export function errorInfo(errorEl: Element | undefined): ErrorInfo {
  const info: ErrorInfo = { condition: "undefined-condition", text: null, application: null, applicationNs: null, type: errorEl?.attrs.type ?? null };
  if (!errorEl) return info;
  let sawCondition = false;
  for (const c of errorEl.getChildElements()) {
    if (c.getNS() === NS_STANZAS) {
      if (c.getName() === "text") info.text = c.getText();
      else if (!sawCondition) {
        info.condition = c.getName();
        sawCondition = true;
      }
    } else if (info.application === null) {
      info.application = c.getName();
      info.applicationNs = c.getNS() ?? null;
    }
  }
  return info;
}

/** The error means "this namespace is not served here": try the other one. */
export function isFallbackError(e: ErrorInfo): boolean {
  // password-reset-required arrives as service-unavailable too, with its own application condition.
  if (e.application !== null) return false;
  return e.condition === "service-unavailable" || e.condition === "feature-not-implemented";
}

export interface RequestContext {
  /** "host clients": the companion's host-wide listing (host-list.ts), whose target is the host; "history" too (history-request.ts). */
  op: "list" | "revoke" | "lockout" | "host clients" | "account" | "unlock" | "history";
  /** The account whose clients are asked for (bare JID); the host for "host clients". */
  target: string;
  /** The account camctl logged in as. */
  login: string;
  /** The target is the login account itself (decided once, as the server compares JIDs). */
  self: boolean;
  selector?: string;
}

/** ' The server said: "…".' when the error carried a text, else nothing. */
export const serverSaid = (e: ErrorInfo) => (e.text ? msg` The server said: "${excerpt(e.text)}".` : "");

export const COMPANION_MODULE = "mod_client_management_admin";

/** The domain of a bare JID. */
export const domainOf = (jid: string) => jid.slice(jid.lastIndexOf("@") + 1);

/** "No module" once every namespace was refused: what to tell the user. */
export function unsupportedError(ctx: RequestContext): CamError {
  const host = domainOf(ctx.target);
  if (!ctx.self) {
    return new CamError(
      "unsupported",
      msg`${host} does not answer client-management requests for another account (${ctx.target}), so the companion module ` +
        `${COMPANION_MODULE} is not enabled there. Install it from camctl's prosody/ directory into Prosody's plugin_paths and add ` +
        `"client_management_admin" to that host's modules_enabled, or run camctl on the server with --socket.`,
      "service-unavailable",
    );
  }
  return new CamError(
    "unsupported",
    msg`${host} does not offer client management over XMPP (neither ${NS_MANAGE_CLIENTS} nor ${NS_CAM} answered): ` +
      `mod_client_management is not enabled for this account's host. Ask the server's operator to enable it.`,
    "service-unavailable",
  );
}

/**
 * The server failed at something it should do (an error of its own, an answer camctl cannot read,
 * an answer from the wrong sender): exit 3 like a server that cannot be reached, because camctl got
 * no usable answer; 1 is kept for camctl's own bugs. For a revoke, the command adds that it may
 * have happened and how to check.
 */
export function serverFault(sentence: string | SafeText, condition: string): CamError {
  return new ServerFault(sentence, condition);
}

/**
 * A request the server will never answer: it answered a ping sent after it, and it handles one
 * session's stanzas in order, so the request failed inside the server (a handler raised, or took
 * it and sent nothing). A server that answers nothing at all runs into --timeout instead.
 */
export function unansweredError(ctx: RequestContext): CamError {
  return serverFault(
    ctx.op === "list"
      ? msg`The server answers camctl, but never answered its client list request for ${ctx.target}: the request failed inside the server. ` +
          `See the server's log (mod_client_management fails like this on a grant whose client name holds a control character); ` +
          `camctl --socket on the server lists such an account.`
      : ctx.op === "host clients"
      ? msg`The server answers camctl, but never answered its host-wide client listing of ${ctx.target}: the request failed inside the server. See the server's log; camctl --socket on the server can list the host.`
      : msg`The server answers camctl, but never answered its ${ctx.op} request for ${ctx.target}: the request failed inside the server. See the server's log.`,
    "no-answer",
  );
}

/** Another account's entry, and the companion's complete revoke is not served (missing, or older than this camctl). */
export function companionRevokeMissing(ctx: RequestContext): CamError {
  return new CamError(
    "unsupported",
    msg`${domainOf(ctx.target)} does not offer the complete revoke for another account (${ctx.target}): the companion module ${COMPANION_MODULE} ` +
      `is not enabled there, or is older than this camctl. Install the one from camctl's prosody/ directory into Prosody's plugin_paths ` +
      `(with "client_management_admin" in that host's modules_enabled), or run camctl on the server with --socket.`,
    "service-unavailable",
  );
}

/** Maps an error reply (other than the namespace fallback cases and the revoke outcomes) to a CamError. */
export function replyError(e: ErrorInfo, ctx: RequestContext): CamError {
  const target = ctx.target;
  switch (e.condition) {
    case "forbidden":
    case "not-allowed":
    case "not-authorized":
      return new CamError(
        "forbidden",
        !ctx.self
          ? msg`The server does not let ${ctx.login} manage ${target}'s clients (${e.condition}); that needs an account the server's roles allow (by default prosody:admin).${serverSaid(e)}`
          : msg`The server refused to ${ctx.op === "list" ? "list" : "revoke"} ${target}'s clients (${e.condition}).${serverSaid(e)}`,
        e.condition,
      );
    case "item-not-found":
      return new CamError("notFound", msg`There is no account ${target} on this server.`, "item-not-found");
    case "remote-server-not-found":
    case "remote-server-timeout":
      return new CamError("notFound", msg`${domainOf(target)} is not served by the server camctl logged in to.${serverSaid(e)}`, e.condition);
    case "bad-request":
    case "jid-malformed":
      return new CamError("usage", msg`The server rejected the request as malformed (${e.condition}).${serverSaid(e)}`, e.condition);
    default:
      return serverFault(msg`The server failed to answer the ${ctx.op} request (${e.condition}).${serverSaid(e)} See the server's log for details.`, e.condition);
  }
}
