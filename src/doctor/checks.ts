// What `camctl doctor` reports: a list of checks, each ok / warn / fail with one sentence. A failed
// check carries the error kind of what failed (unreachable, auth, forbidden, notFound for no such
// host, unsupported for no client management), written as its exit code; warnings never fail the run.
// Every check that waits runs under --timeout through transports/lifecycle.ts (underDeadline, withSource).
import { exitCodeOf, mostSevere, type ErrorKind } from "../core/errors.js";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  /** The virtual host the check is about; null for the server or the connection. */
  host: string | null;
  /** A stable name ("admin-socket", "client-management", "tls-certificate", ...). */
  check: string;
  status: CheckStatus;
  /** One sentence, for people (display-safe when shown: it may quote the server). */
  message: string;
  /** null unless the check failed; then the kind of error it stands for. */
  kind: ErrorKind | null;
}

export const ok = (host: string | null, check: string, message: string): Check => ({ host, check, status: "ok", message, kind: null });
export const warn = (host: string | null, check: string, message: string): Check => ({ host, check, status: "warn", message, kind: null });
export const fail = (host: string | null, check: string, message: string, kind: ErrorKind): Check => ({ host, check, status: "fail", message, kind });

/** A check as written (JSON, NDJSON): its fields (and context, first, when there is one), then its exit code. */
export function checkRecord<C extends Check & { context?: string }>(c: C): Omit<C, "kind"> & { exitCode: number } {
  const { kind, ...fields } = c;
  return { ...fields, exitCode: exitCodeOf(kind) };
}

/** Names shown in the table. */
export const CHECK_TITLES: Record<string, string> = {
  "admin-socket": "admin socket",
  "prosody-version": "Prosody version",
  "client-management": "client management",
  "login-modules": "SASL2, FAST, tokens",
  "client-ids": "enforce_client_ids",
  snikket: "Snikket",
  audit: "audit modules",
  storage: "storage",
  companion: "companion module",
  "module-defects": "defects handled",
  "account-listing": "account listing",
  connection: "connection",
  "tls-certificate": "TLS certificate",
  sasl2: "SASL2",
  fast: "FAST",
  login: "login",
  list: "list",
};

/** null when nothing failed, otherwise the most severe kind of the failed checks. */
export function checksOutcome(checks: readonly Check[]): ErrorKind | null {
  return mostSevere(checks.filter((c) => c.status === "fail").map((c) => c.kind ?? "internal"));
}
