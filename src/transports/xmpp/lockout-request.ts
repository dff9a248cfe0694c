// The companion module's lockout (urn:camctl:admin:0 <lockout/>, see
// prosody/mod_client_management_admin/README.md): the request camctl sends as an admin about
// another account, and what it makes of the answer.
import xml, { type Element } from "@xmpp/xml";
import type { LockoutEntry, LockoutReport, LockoutRequest } from "../../core/lockout-report.js";
import { CamError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";
import { COMPANION_MODULE, NS_ADMIN, isFallbackError, parseClient, replyError, serverFault, type ErrorInfo, type RequestContext } from "./manage-clients.js";

/**
 * <iq type='set' to='bob@example.com'><lockout xmlns='urn:camctl:admin:0'>[<disable/> |
 * <new-password>…</new-password>]</lockout></iq>. The new password travels inside the XMPP stream
 * camctl logged in over (TLS, or loopback with --tls none), as a password change by any client does.
 */
export function lockoutRequest(to: string, request: LockoutRequest): Element {
  const lockout = xml("lockout", { xmlns: NS_ADMIN });
  if (request.action === "disable") lockout.append(xml("disable"));
  if (request.action === "new-password") lockout.append(xml("new-password", {}, request.newPassword ?? ""));
  if (request.reason !== undefined) lockout.append(xml("reason", {}, request.reason));
  return xml("iq", { type: "set", to }, lockout);
}

const flag = (v: string | undefined): boolean | null => (v === undefined ? null : v === "true");

function count(v: string | undefined): number {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** The <locked-out/> answer as a LockoutReport. */
export function parseLockedOut(result: Element, jid: string): LockoutReport {
  const lo = result.getChild("locked-out", NS_ADMIN);
  if (!lo) throw serverFault(`The server answered the lockout of ${jid} without saying what it did (no <locked-out/>); check with \`camctl user clients ${jid}\`.`, "bad-reply");
  const entries: LockoutEntry[] = lo.getChildren("entry", NS_ADMIN).map((e) => {
    const error = e.attrs.error as string | undefined;
    return {
      id: String(e.attrs.id ?? ""),
      done: error
        ? null
        : {
            sessionClosed: flag(e.attrs["session-closed"]),
            fastTokensRevoked: flag(e.attrs["fast-tokens-revoked"]),
            grantRevoked: flag(e.attrs["grant-revoked"]),
          },
      error: error ?? null,
      errorText: error ? e.getText() || null : null,
    };
  });
  const clients = lo.getChild("clients", NS_ADMIN);
  return {
    jid,
    entries,
    swept: { grants: count(lo.attrs["grants-revoked"]), fastTokens: count(lo.attrs["fast-tokens-revoked"]), sessions: count(lo.attrs["sessions-closed"]) },
    disabled: lo.attrs.disabled === "true",
    alreadyDisabled: lo.attrs["already-disabled"] === "true",
    reason: lo.getChildText("reason", NS_ADMIN),
    passwordChanged: lo.attrs["password-changed"] === "true",
    enabled: flag(lo.attrs.enabled),
    failures: lo.getChildren("failure", NS_ADMIN).map((f) => f.getText()),
    after: clients ? clients.getChildren("client", NS_ADMIN).map((c) => parseClient(c, NS_ADMIN)) : [],
  };
}

/** An error answer to <lockout/> as a CamError. */
export function lockoutError(e: ErrorInfo, ctx: RequestContext): CamError {
  const host = displaySafe(ctx.target.split("@")[1] ?? "");
  if (e.applicationNs === NS_ADMIN && (e.application === "disable-unsupported" || e.application === "password-unsupported")) {
    const what = e.application === "disable-unsupported" ? "disable accounts" : "set passwords";
    return new CamError("unsupported", `${host} cannot ${what}: its authentication provider does not offer it. Nothing was changed.`, e.application);
  }
  if (isFallbackError(e)) {
    return new CamError(
      "unsupported",
      `${host} does not offer account lockout over XMPP: the companion module ${COMPANION_MODULE} is not enabled there, or is older ` +
        `than this camctl. Install the one from camctl's prosody/ directory, or run camctl on the server with --socket. Nothing was changed.`,
      e.condition,
    );
  }
  return replyError(e, ctx);
}
