// `user unlock`: what re-enabling an account did, and what stays as the lockout left it.
import type { AccountFacts } from "./account-facts.js";

export interface UnlockReport {
  jid: string;
  /** The account was disabled and is enabled now; false: it was enabled already, nothing was done. */
  enabledNow: boolean;
  /** Whether it can log in afterwards; null when the server cannot tell. */
  enabled: boolean | null;
  /** The account's facts before the unlock (the disable's reason and time). */
  was: AccountFacts;
}

/** What an unlock never brings back (the lockout revoked them; a new password it set stays). */
export const STAYS_REVOKED =
  "Grants, FAST tokens and clients the lockout revoked stay revoked (each client signs in again with the password); a password the lockout set stays the password.";
