// What the server knows about an account itself, beside its clients: whether it is enabled, why
// and when it was disabled (the incident record `user lockout --reason` leaves), when its password
// last changed, and when it was last active (Prosody 13's mod_account_activity, or mod_lastlog2).
// Read server-side by prosody/mod_client_management_admin/account_status.lib.lua, over the admin
// socket and through the companion alike; docs/account-activity.md says where each comes from.
import { isoFromUnix, type IsoUtc } from "./model.js";

export type AccountStatus = "enabled" | "disabled";

export interface AccountFacts {
  accountStatus: AccountStatus | null;
  /** The reason stored with the disable (meta.reason), while the account is disabled. */
  disabledReason: string | null;
  /** When it was disabled (meta.when), while the account is disabled. */
  disabledAt: IsoUtc | null;
  /** usermanager's account info password_updated (Prosody's internal auth also moves it on disable/enable). */
  passwordChanged: IsoUtc | null;
  /** Last activity; now while a session is bound; null when not recorded. */
  accountLastActivity: IsoUtc | null;
  /** The module the activity comes from, null when neither is loaded. */
  activitySource: "account_activity" | "lastlog2" | null;
}

export const NO_FACTS: AccountFacts = {
  accountStatus: null,
  disabledReason: null,
  disabledAt: null,
  passwordChanged: null,
  accountLastActivity: null,
  activitySource: null,
};

export function accountStatusOf(v: unknown): AccountStatus | null {
  return v === "enabled" || v === "disabled" ? v : null;
}

/** The facts object the Lua sends (account_status.facts, snake_case keys), checked field by field. */
export function factsFromServer(raw: unknown): AccountFacts {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return NO_FACTS;
  const r = raw as Record<string, unknown>;
  const source = r.activity_source === "account_activity" || r.activity_source === "lastlog2" ? r.activity_source : null;
  return {
    accountStatus: accountStatusOf(r.status),
    disabledReason: typeof r.disabled_reason === "string" ? r.disabled_reason : null,
    disabledAt: isoFromUnix(r.disabled_at),
    passwordChanged: isoFromUnix(r.password_updated),
    accountLastActivity: isoFromUnix(r.last_activity),
    activitySource: source,
  };
}

// --- The lockout reason: untrusted text typed by an operator, stored in the server. -------------

export const REASON_MAX_CHARS = 200;

/** Checks a --reason: null when fine, else the sentence saying what is wrong. */
export function reasonProblem(text: string): string | null {
  if (text.trim() === "") return "--reason takes a short text; it is empty.";
  if ([...text].length > REASON_MAX_CHARS) return `--reason takes at most ${REASON_MAX_CHARS} characters; this one has ${[...text].length}.`;
  // C0/C1 controls, DEL, and the bidi/format characters that reorder or hide text on a terminal.
  if (/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/u.test(text)) {
    return "--reason cannot hold control or formatting characters (line breaks, tabs, escapes, bidi marks); give one line of plain text.";
  }
  return null;
}
