// `user lockout`: what a transport's lockout request did (LockoutReport, built by the sources from
// the server's answer) and what camctl concludes from it: the outcome of each client that was
// listed before, and whether what is left afterwards is only what the operator chose to leave.
import type { ClientRecord, RevokeReport } from "./model.js";

/** What happens to the password after the revocations. */
export type PasswordAction = "disable" | "new-password" | "none";

export interface LockoutRequest {
  action: PasswordAction;
  /** The new password (action "new-password" only). Never printed, logged or kept. */
  newPassword?: string;
  /** --reason: stored with the disable (checked by account-facts.ts reasonProblem). */
  reason?: string;
}

/** One client listed before the lockout, as the server's complete revocation of it went. */
export interface LockoutEntry {
  id: string;
  /** What its revocation did; null when it failed (see error). */
  done: RevokeReport["done"] | null;
  /** The server's condition when its revocation failed ("gone" is not a failure: see entryOutcome). */
  error: string | null;
  errorText: string | null;
}

export interface LockoutReport {
  jid: string;
  entries: LockoutEntry[];
  /** What the sweep after the listed clients found and ended (things the list did not show). */
  swept: { grants: number; fastTokens: number; sessions: number };
  /** The account was disabled by this lockout. */
  disabled: boolean;
  /** --disable found the account disabled already and left it so (with its first reason). */
  alreadyDisabled?: boolean;
  /** The reason as the server stored it with the disable; null when none. */
  reason?: string | null;
  /** A new password was set by this lockout. */
  passwordChanged: boolean;
  /** Whether the account can log in afterwards; null when the server cannot tell. */
  enabled: boolean | null;
  /** What the server could not do, in its words. */
  failures: string[];
  /** The clients listed afterwards. */
  after: ClientRecord[];
}

/** A client left afterwards that the operator did not choose to leave, and why it matters. */
export interface Leftover {
  client: ClientRecord;
  /** Display words: "its session is open", "a FAST token", ... */
  reasons: string[];
}

/**
 * Is what is listed afterwards only what the operator chose to leave? Nothing may be connected or
 * come back without the password (a FAST token, a grant, anything else the server names). Entries
 * that sign in with the password may stay listed: with a new password or a disabled account only
 * if that was done (their password no longer works), otherwise they are what the operator chose
 * to leave (see passwordClients).
 */
export function leftovers(report: LockoutReport, action: PasswordAction): Leftover[] {
  const out: Leftover[] = [];
  for (const c of report.after) {
    const reasons: string[] = [];
    if (c.connected) reasons.push("its session is open");
    for (const a of c.auth) {
      if (a === "password") {
        // The module lists a password login made in the same second as the change as current,
        // so a listed password client is judged by whether the change itself happened.
        if (action === "new-password" && !report.passwordChanged) reasons.push("the password was not changed");
        else if (action === "disable" && (!(report.disabled || report.alreadyDisabled === true) || report.enabled !== false)) reasons.push("the account is not disabled");
      } else if (a === "fast") reasons.push("a FAST token of it still logs in");
      else if (a === "grant") reasons.push("its grant is still valid");
      else reasons.push(`the server reports "${a}" access for it`);
    }
    if (c.auth.length === 0 && !c.connected) reasons.push("the server still lists it");
    if (reasons.length > 0) out.push({ client: c, reasons: [...new Set(reasons)] });
  }
  return out;
}

/** Clients left that can sign in with the password (the operator chose to leave the password). */
export function passwordClients(report: LockoutReport, action: PasswordAction): ClientRecord[] {
  if (action !== "none") return [];
  return report.after.filter((c) => c.auth.includes("password"));
}

export type LockoutEntryOutcome = "revoked" | "password-reset-required" | "gone" | "failed";

/** What became of a client listed before, judged from its revocation and the list afterwards. */
export function entryOutcome(e: LockoutEntry, report: LockoutReport, action: PasswordAction): { outcome: LockoutEntryOutcome; reason?: string } {
  if (e.error !== null && e.error !== "gone") {
    return { outcome: "failed", reason: e.errorText ?? e.error };
  }
  const after = report.after.find((c) => c.id === e.id);
  if (!after) {
    return e.error === "gone" ? { outcome: "gone", reason: "no longer listed when its turn came: it went with a client revoked before it" } : { outcome: "revoked" };
  }
  const left = leftovers({ ...report, after: [after] }, action);
  if (left.length > 0) return { outcome: "failed", reason: left[0]!.reasons.join("; ") };
  if (action === "none" && after.auth.includes("password")) return { outcome: "password-reset-required" };
  return { outcome: "revoked" };
}
