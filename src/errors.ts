// Typed errors and the one place that decides exit codes (cli-contract.md, "Exit codes").

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  forbidden: 5,
  notFound: 6,
  passwordResetRequired: 7,
  unsupported: 8,
  partlyDone: 9,
} as const;

export type ErrorKind = Exclude<keyof typeof ExitCode, "ok">;

/**
 * An expected failure: `kind` picks the exit code, `message` is the one or two plain
 * sentences shown to the user, `condition` keeps the server's own error name when there was one.
 */
export class CamError extends Error {
  readonly kind: ErrorKind;
  readonly condition: string | undefined;
  constructor(kind: ErrorKind, message: string, condition?: string) {
    super(message);
    this.name = "CamError";
    this.kind = kind;
    this.condition = condition;
  }
}

export const usageError = (msg: string) => new CamError("usage", msg);

export function exitCodeFor(err: unknown): number {
  if (err instanceof CamError) return ExitCode[err.kind];
  return ExitCode.internal;
}
