// What `camctl doctor` reports: a list of checks, each ok / warn / fail with one sentence. A failed
// check carries the exit code of what failed (the contract's table: 3 unreachable, 4 login, 5 not
// permitted, 6 no such host, 8 no client management); warnings never fail the run.
// Every check that waits runs under --timeout through transports/lifecycle.ts (underDeadline, withSource).
import { overallExitCode } from "../core/fanout.js";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  /** The virtual host the check is about; null for the server or the connection. */
  host: string | null;
  /** A stable name ("admin-socket", "client-management", "tls-certificate", ...). */
  check: string;
  status: CheckStatus;
  /** One sentence, for people (display-safe when shown: it may quote the server). */
  message: string;
  /** 0 unless the check failed; then the exit code it stands for. */
  exitCode: number;
}

export const ok = (host: string | null, check: string, message: string): Check => ({ host, check, status: "ok", message, exitCode: 0 });
export const warn = (host: string | null, check: string, message: string): Check => ({ host, check, status: "warn", message, exitCode: 0 });
export const fail = (host: string | null, check: string, message: string, exitCode: number): Check => ({ host, check, status: "fail", message, exitCode });

/** Names shown in the table. */
export const CHECK_TITLES: Record<string, string> = {
  "admin-socket": "admin socket",
  "prosody-version": "Prosody version",
  "client-management": "client management",
  "login-modules": "SASL2, FAST, tokens",
  "client-ids": "enforce_client_ids",
  companion: "companion module",
  "module-defects": "module defects",
  "account-listing": "account listing",
  connection: "connection",
  "tls-certificate": "TLS certificate",
  sasl2: "SASL2",
  fast: "FAST",
  login: "login",
  list: "list",
};

/** 0 when nothing failed, otherwise the most severe code of the failed checks. */
export function checksExitCode(checks: readonly Check[]): number {
  return overallExitCode(checks.filter((c) => c.status === "fail").map((c) => c.exitCode || 1));
}
