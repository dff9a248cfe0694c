// The client-management protocol over XMPP, in both of its namespaces:
//   Prosody's own   https://modules.prosody.im/mod_client_management (../shared/spec/mod_client_management.README.md)
//   XEP-0494        https://xmpp.org/extensions/xep-0494.html (same <list/>, <clients/>, <client/>,
//                   <revoke id/>, plus <permission status/> on each client)
// Servers advertise neither in disco, so camctl tries one and falls back on service-unavailable /
// feature-not-implemented (source.ts remembers which one worked). This module builds the requests,
// parses the answers into ClientRecords and turns error replies into CamErrors.
import xml, { type Element } from "@xmpp/xml";
import { CamError } from "../errors.js";
import { emptyUserAgent, isoFromUnix, type ClientRecord } from "../model.js";
import { displaySafe } from "../render/sanitize.js";

export const NS_MANAGE_CLIENTS = "xmpp:prosody.im/protocol/manage-clients";
export const NS_CAM = "urn:xmpp:cam:0";
/** Tried in this order when nothing is remembered for a server. */
export const NAMESPACES = [NS_MANAGE_CLIENTS, NS_CAM] as const;

export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/** `to` is the target's bare JID for another account; omitted for the logged-in account itself. */
export function listRequest(ns: string, to: string | undefined): Element {
  return xml("iq", { type: "get", to }, xml("list", { xmlns: ns }));
}

export function revokeRequest(ns: string, to: string | undefined, selector: string): Element {
  return xml("iq", { type: "set", to }, xml("revoke", { xmlns: ns, id: selector }));
}

/** XEP-0082 date-time -> ISO 8601 UTC with Z and without fractions (the contract's form), or null. */
export function isoFromXmppTime(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  const s = text.trim();
  // Only the XEP-0082 profile: a date, T, a time, optional fraction, Z or an offset.
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s)) return null;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : isoFromUnix(ms / 1000);
}

function childText(el: Element, name: string, ns: string | undefined): string | null {
  const c = el.getChild(name, ns);
  return c ? c.getText() : null;
}

/** One <client/> element -> the contract's record. Unknown children are ignored, unknown auth methods kept. */
export function parseClient(el: Element, ns: string | undefined): ClientRecord {
  const userAgent = emptyUserAgent();
  const ua = el.getChild("user-agent", ns);
  if (ua) {
    userAgent.software = childText(ua, "software", ns);
    userAgent.version = childText(ua, "version", ns);
    userAgent.softwareId = childText(ua, "software-id", ns);
    userAgent.uri = childText(ua, "uri", ns);
    userAgent.device = childText(ua, "device", ns);
  }
  const auth = new Set<string>();
  for (const a of el.getChild("auth", ns)?.getChildElements() ?? []) auth.add(a.getName());
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
  };
}

/** The <clients/> payload of a list result. A result without one is an empty list only if it is empty. */
export function parseClients(result: Element, ns: string): ClientRecord[] {
  const clients = result.getChild("clients", ns);
  if (!clients) {
    if (result.getChildElements().length === 0) return [];
    throw new CamError("internal", "The server answered the client list request with something camctl does not understand.");
  }
  return clients.getChildren("client", ns).map((c) => parseClient(c, ns));
}

/** What an <error/> element says: RFC 6120 defined condition, text, and an application condition if any. */
export interface ErrorInfo {
  condition: string;
  text: string | null;
  application: string | null;
  type: string | null;
}

export function errorInfo(errorEl: Element | undefined): ErrorInfo {
  const info: ErrorInfo = { condition: "undefined-condition", text: null, application: null, type: errorEl?.attrs.type ?? null };
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
  op: "list" | "revoke";
  /** The account whose clients are asked for (bare JID). */
  target: string;
  /** The account camctl logged in as. */
  login: string;
  /** The target is the login account itself (decided once, as the server compares JIDs). */
  self: boolean;
  selector?: string;
}

const serverSaid = (e: ErrorInfo) => (e.text ? ` The server said: "${displaySafe(e.text).slice(0, 300)}".` : "");

export const COMPANION_MODULE = "mod_client_management_admin";

/** "No module" once every namespace was refused: what to tell the user. */
export function unsupportedError(ctx: RequestContext): CamError {
  const host = displaySafe(ctx.target.split("@")[1] ?? "");
  if (!ctx.self) {
    return new CamError(
      "unsupported",
      `${host} does not answer client-management requests for another account (${displaySafe(ctx.target)}), so the companion module ` +
        `${COMPANION_MODULE} is not enabled there. Install it from camctl's prosody/ directory into Prosody's plugin_paths and add ` +
        `"client_management_admin" to that host's modules_enabled, or run camctl on the server with --socket.`,
      "service-unavailable",
    );
  }
  return new CamError(
    "unsupported",
    `${host} does not offer client management over XMPP (neither ${NS_MANAGE_CLIENTS} nor ${NS_CAM} answered): ` +
      `mod_client_management is not enabled for this account's host. Ask the server's operator to enable it.`,
    "service-unavailable",
  );
}

/** Maps an error reply (other than the namespace fallback cases) to a CamError. */
export function replyError(e: ErrorInfo, ctx: RequestContext): CamError {
  const target = displaySafe(ctx.target);
  if (e.application === "password-reset-required") {
    return new CamError(
      "passwordResetRequired",
      `${displaySafe(ctx.selector ?? "This client")} signed in with the account's password, so its access ends only when the password is changed. ` +
        `The server has already closed its session and revoked its tokens and grants; change ${target}'s password to finish.`,
      "password-reset-required",
    );
  }
  switch (e.condition) {
    case "forbidden":
    case "not-allowed":
    case "not-authorized":
      return new CamError(
        "forbidden",
        !ctx.self
          ? `The server does not let ${displaySafe(ctx.login)} manage ${target}'s clients (${e.condition}); that needs an account the server's roles allow (by default prosody:admin).${serverSaid(e)}`
          : `The server refused to ${ctx.op === "list" ? "list" : "revoke"} ${target}'s clients (${e.condition}).${serverSaid(e)}`,
        e.condition,
      );
    case "item-not-found":
      if (ctx.op === "revoke") {
        return new CamError(
          "notFound",
          `No client matches ${displaySafe(ctx.selector ?? "")} for ${target}; nothing was revoked. List them with \`camctl user clients ${target}\`.`,
          "item-not-found",
        );
      }
      return new CamError("notFound", `There is no account ${target} on this server.`, "item-not-found");
    case "remote-server-not-found":
    case "remote-server-timeout":
      return new CamError("notFound", `${displaySafe(ctx.target.split("@")[1] ?? "")} is not served by the server camctl logged in to.${serverSaid(e)}`, e.condition);
    case "bad-request":
    case "jid-malformed":
      return new CamError("usage", `The server rejected the request as malformed (${e.condition}).${serverSaid(e)}`, e.condition);
    default:
      return new CamError(
        "internal",
        `The server answered the ${ctx.op} request with an error (${displaySafe(e.condition)}).${serverSaid(e)} See the server's log for details.`,
        e.condition,
      );
  }
}
