// What a revocation came to, decided once: the outcome of one revoke (its RevokeReport), of each
// item of a bulk run, of a whole run (its tally) and of a lockout, each as the name the output
// uses and the error kind it stands for (null: done). src/core/errors.ts turns kinds into exit
// codes; the renderers word the names (render/revoke.ts, render/bulk.ts).
import type { ErrorKind } from "./errors.js";
import type { ClientRecord, RevokeReport } from "./model.js";

/** An outcome: the name the output and the error's condition use, and the kind it stands for (null: done). */
export interface Outcome<N extends string> {
  name: N;
  kind: ErrorKind | null;
}

/** The outcome of a revocation, or of a whole bulk run. */
export type RevokeOutcomeName = "revoked" | "password-reset-required" | "partly-revoked";

const REVOKED: Outcome<RevokeOutcomeName> = { name: "revoked", kind: null };
const PASSWORD_LEFT: Outcome<RevokeOutcomeName> = { name: "password-reset-required", kind: "passwordResetRequired" };
const PARTLY: Outcome<RevokeOutcomeName> = { name: "partly-revoked", kind: "partlyDone" };

/**
 * What still gives the entry access after the revoke, by name: its auth methods as listed, plus
 * "connected" for an open session, or "listed" when the server lists it without saying why.
 */
export function remainingAccess(after: ClientRecord | null): string[] {
  if (after === null) return [];
  const left = [...after.auth];
  if (after.connected) left.push("connected");
  return left.length > 0 ? left : ["listed"];
}

/**
 * One revocation: revoked when nothing is left; password-reset-required when only the password is
 * left (it ends when the password changes, which also ends FAST tokens issued before);
 * partly-revoked when anything else is left, or the path could not revoke or see something (e.g. a
 * FAST token the client never used).
 */
export function revokeOutcome(r: RevokeReport): Outcome<RevokeOutcomeName> {
  const left = remainingAccess(r.after);
  if (left.length === 0) return r.unverifiable.length === 0 ? REVOKED : PARTLY;
  return left.length === 1 && left[0] === "password" ? PASSWORD_LEFT : PARTLY;
}

export const ITEM_OUTCOMES = ["revoked", "password-reset-required", "gone", "changed", "failed"] as const;
export type ItemOutcome = (typeof ITEM_OUTCOMES)[number];

/** One item's outcome in a bulk run, as written (the contract's fields first). */
export interface ItemResult {
  account: string;
  id: string;
  outcome: ItemOutcome;
  /** Why, in words, for every outcome but "revoked". */
  reason?: string;
  /** What this run did to it; null when nothing was attempted or it failed before the server said. */
  done: RevokeReport["done"] | null;
}

/** A bulk run's items counted by outcome. */
export interface ApplyTally {
  items: number;
  revoked: number;
  passwordResetRequired: number;
  gone: number;
  changed: number;
  failed: number;
  /** Items on which this run changed something (closed a session, revoked a token or grant). */
  acted: number;
}

/**
 * A finished run: partly-revoked when an item failed, else password-reset-required when a
 * password is left, else revoked (gone and changed items are not failures).
 */
export function tallyOutcome(t: ApplyTally): Outcome<RevokeOutcomeName> {
  if (t.failed > 0) return PARTLY;
  if (t.passwordResetRequired > 0) return PASSWORD_LEFT;
  return REVOKED;
}

/**
 * A lockout: partly-revoked unless it is verified (nothing left but what the operator chose to
 * leave, no failure), else password-reset-required while clients can still sign in with the password.
 */
export function lockoutOutcome(verified: boolean, passwordClients: number): Outcome<RevokeOutcomeName> {
  if (!verified) return PARTLY;
  return passwordClients > 0 ? PASSWORD_LEFT : REVOKED;
}
