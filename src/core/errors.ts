// Typed errors and the exit codes. The table below is the only definition of the codes: the help
// text is generated from it, and a test checks that README.md and man/camctl.1 list exactly these
// codes with these meanings.
import type { SafeText } from "../text/untrusted.js";

/** Every exit code camctl uses: its number, the name the code refers to it by, what it means. */
export const EXIT_CODES = [
  { code: 0, name: "ok", meaning: "done" },
  { code: 1, name: "internal", meaning: "unexpected internal error (a bug in camctl: please report it)" },
  { code: 2, name: "usage", meaning: "usage error or invalid input (bad JID, selector or option, missing --yes, confirmation declined)" },
  { code: 3, name: "unreachable", meaning: "cannot reach the server, or it gave no usable answer (socket missing or refused, DNS, TCP, TLS, timeout, a failure inside the server)" },
  { code: 4, name: "auth", meaning: "authentication failed (wrong password, login refused)" },
  { code: 5, name: "forbidden", meaning: "not permitted (forbidden / not-allowed, or the admin socket is not accessible to this user)" },
  { code: 6, name: "notFound", meaning: "not found (no such client, account or host, or the client changed before it could be revoked)" },
  { code: 7, name: "passwordResetRequired", meaning: "access remains until the account's password is changed (password-reset-required)" },
  { code: 8, name: "unsupported", meaning: "the server does not offer client management for this account or host" },
  { code: 9, name: "partlyDone", meaning: "partly done: some of what was asked could not be done (each item's outcome is in the output)" },
  { code: 10, name: "outputLost", meaning: "the output could not be written (disk full, unwritable standard output); what was done stays done" },
  { code: 130, name: "interrupted", meaning: "interrupted with Ctrl-C (at a confirmation prompt Ctrl-C means no: exit 2)" },
] as const;

type ExitCodeRow = (typeof EXIT_CODES)[number];

/** Exit codes by name: ExitCode.usage === 2. */
export const ExitCode = Object.fromEntries(EXIT_CODES.map((r) => [r.name, r.code])) as {
  readonly [R in ExitCodeRow as R["name"]]: R["code"];
};

/** What an error can be; each picks its exit code. "ok" is not an error. */
export type ErrorKind = Exclude<ExitCodeRow["name"], "ok">;

/**
 * An expected failure: `kind` picks the exit code, `message` is the one or two plain
 * sentences shown to the user, `condition` keeps the server's own error name when there was one.
 * Build messages that hold untrusted values with msg`` (src/text/untrusted.ts); cli.ts escapes
 * whatever unsafe character is left when it writes the message.
 */
export class CamError extends Error {
  readonly kind: ErrorKind;
  readonly condition: string | undefined;
  constructor(kind: ErrorKind, message: string | SafeText, condition?: string) {
    super(String(message));
    this.name = "CamError";
    this.kind = kind;
    this.condition = condition;
  }
}

/**
 * The server answered, but with a failure of its own (an error it raised, a reply camctl cannot
 * use). Exit 3 like an unreachable server — camctl got no usable answer — but the connection is
 * still good: a bulk apply reports the item as failed and goes on with the next one.
 */
export class ServerFault extends CamError {
  constructor(message: string | SafeText, condition: string) {
    super("unreachable", message, condition);
    this.name = "ServerFault";
  }
}

export const usageError = (msg: string | SafeText) => new CamError("usage", msg);

export function exitCodeFor(err: unknown): number {
  if (err instanceof CamError) return ExitCode[err.kind];
  return ExitCode.internal;
}

/** The exit code of an outcome: 0 for null (success), else its kind's code. */
export const exitCodeOf = (kind: ErrorKind | null): number => (kind === null ? ExitCode.ok : ExitCode[kind]);

/** The kind of an error: a CamError's own, anything else is a failure of camctl itself. */
export const kindOf = (err: unknown): ErrorKind => (err instanceof CamError ? err.kind : "internal");

/**
 * Error kinds from most to least severe, for the overall result of several (a fan-out's contexts,
 * doctor's checks):
 *   internal (1)              - camctl itself failed: nothing it printed can be trusted to be complete
 *   usage (2)                 - the command or a context is wrong: it will fail the same way everywhere
 *   auth (4)                  - a credential or host key is wrong: needs the operator before a retry
 *   forbidden (5)             - the account lacks the right: needs an administrator
 *   unreachable (3)           - a server is down or cut off: may pass on a retry
 *   unsupported (8)           - a server lacks the module: a setup difference, not a failure of the run
 *   partlyDone (9)            - some items of a bulk operation failed: retry those
 *   notFound (6)              - this server does not have the account/host/client (normal in a mixed fleet)
 *   passwordResetRequired (7) - done, except what only a password change ends
 * Kinds not listed (outputLost, interrupted) count as internal errors.
 */
export const SEVERITY: readonly ErrorKind[] = ["internal", "usage", "auth", "forbidden", "unreachable", "unsupported", "partlyDone", "notFound", "passwordResetRequired"];

const severityRank = (kind: ErrorKind): number => Math.max(0, SEVERITY.indexOf(kind));

/** null when every outcome is null (success) or there are none, otherwise the most severe kind (the first of equals). */
export function mostSevere(kinds: Iterable<ErrorKind | null>): ErrorKind | null {
  let worst: ErrorKind | null = null;
  for (const k of kinds) {
    if (k === null) continue;
    if (worst === null || severityRank(k) < severityRank(worst)) worst = k;
  }
  return worst;
}

/** The exit-code list for --help, one code per line. */
export function exitCodeHelp(indent = "  "): string {
  const width = Math.max(...EXIT_CODES.map((r) => String(r.code).length));
  return EXIT_CODES.map((r) => `${indent}${String(r.code).padStart(width)}  ${r.meaning}`).join("\n");
}
