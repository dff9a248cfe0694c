// The companion module's <account/> (an account's facts) and <unlock/> (re-enable a locked-out
// account) in urn:camctl:admin:0; prosody/mod_client_management_admin/account_admin.lib.lua.
import xml, { type Element } from "@xmpp/xml";
import { CamError } from "../../core/errors.js";
import { accountStatusOf, NO_FACTS, type AccountFacts } from "../../core/account-facts.js";
import { isoFromDateTime } from "../../core/model.js";
import type { UnlockReport } from "../../core/unlock-report.js";
import { displaySafe } from "../../text/untrusted.js";
import { COMPANION_MODULE, NS_ADMIN, isFallbackError, replyError, type ErrorInfo, type RequestContext } from "./manage-clients.js";

export function accountRequest(to: string): Element {
  return xml("iq", { type: "get", to }, xml("account", { xmlns: NS_ADMIN }));
}

export function unlockRequest(to: string): Element {
  return xml("iq", { type: "set", to }, xml("unlock", { xmlns: NS_ADMIN }));
}

const time = (v: unknown) => (typeof v === "string" ? isoFromDateTime(v) : null);

/** An <account/> element as AccountFacts; absent attributes are null. */
export function parseAccount(el: Element | undefined): AccountFacts {
  if (!el) return NO_FACTS;
  const source = el.attrs["activity-source"];
  return {
    accountStatus: accountStatusOf(el.attrs.status),
    disabledReason: el.getChildText("disabled-reason", NS_ADMIN),
    disabledAt: time(el.attrs["disabled-at"]),
    passwordChanged: time(el.attrs["password-updated"]),
    accountLastActivity: time(el.attrs["last-activity"]),
    activitySource: source === "account_activity" || source === "lastlog2" ? source : null,
  };
}

export function parseAccountReply(result: Element): AccountFacts {
  return parseAccount(result.getChild("account", NS_ADMIN));
}

export function parseUnlocked(result: Element, jid: string): UnlockReport {
  const u = result.getChild("unlocked", NS_ADMIN);
  if (!u) throw new CamError("unreachable", `The server answered the unlock of ${displaySafe(jid)} without saying what it did; check with \`camctl user clients ${displaySafe(jid)}\`.`, "bad-reply");
  return {
    jid,
    enabledNow: u.attrs["enabled-now"] === "true",
    enabled: u.attrs.enabled === undefined ? null : u.attrs.enabled === "true",
    was: parseAccount(u.getChild("account", NS_ADMIN)),
  };
}

/** An error answer to <account/> or <unlock/> as a CamError. */
export function accountError(e: ErrorInfo, ctx: RequestContext, what: string): CamError {
  const host = displaySafe(ctx.target.split("@")[1] ?? "");
  if (e.applicationNs === NS_ADMIN && e.application === "enable-unsupported") {
    return new CamError("unsupported", `${host} cannot enable accounts: its authentication provider does not offer it. Nothing was changed.`, e.application);
  }
  if (isFallbackError(e)) {
    return new CamError("unsupported",
      `${host} does not offer ${what} over XMPP: the companion module ${COMPANION_MODULE} is not enabled there, or is older than this camctl. ` +
        "Install the one from camctl's prosody/ directory, or run camctl on the server with --socket.",
      e.condition);
  }
  return replyError(e, ctx);
}
