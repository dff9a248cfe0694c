// camctl user lockout <jid>: end everything that lets an account back in without its password
// (every client's complete revocation, every grant and FAST token, every session), then, since
// password clients can only be stopped by the password, disable the account (--disable) or set a
// new password (--new-password-file). Without either, the password clients remain (exit 7).
// Afterwards the list is read again and checked: only what the operator chose to leave may remain.
import type { Command } from "commander";
import { count, emptyTally } from "../../engines/apply.js";
import { CamError } from "../../core/errors.js";
import { messageLine, OutputWriter, type IOStreams } from "../../term/iostreams.js";
import { setInterruptHint } from "../../term/interrupt.js";
import { confirmBulk, refuseWithoutTerminal, TYPE_NAME_ABOVE } from "../../term/confirm.js";
import { entryOutcome, leftovers, passwordClients, type LockoutReport, type PasswordAction } from "../../core/lockout-report.js";
import type { ClientRecord } from "../../core/model.js";
import { lockoutOutcome, type ItemResult } from "../../core/outcomes.js";
import { addAddressOptions, addCommonOptions, resolveCommon, type CommonOptions } from "../../config/options.js";
import { ResultsWriter } from "../../render/bulk.js";
import { clientLabel } from "../../core/not-revoked.js";
import { displaySafe } from "../../text/untrusted.js";
import { withSource } from "../../transports/lifecycle.js";
import { parseBareJid } from "../../core/validate.js";
import type { Deps } from "../deps.js";
import { throwUnlessDone } from "../outcome.js";
import { reasonProblem } from "../../core/account-facts.js";

export interface LockoutOptions extends CommonOptions {
  jid: string;
  action: PasswordAction;
  /** Read from --new-password-file; never printed. */
  newPassword: string | undefined;
  yes: boolean;
  dryRun: boolean;
  /** --reason: the incident record stored with the disable. */
  reason?: string;
}

const LOCKOUT_HELP = `
Revokes everything that can come back without the password: each listed
client completely (sessions closed with a stream error saying why, FAST
tokens used or not, grants), then every grant and FAST token the list does
not show. Password clients can only be stopped by the password, so then:
  --disable                   disables the account (Prosody 13)
  --new-password-file <file>  sets the password in <file> (a regular file
                              of yours that only you can read, chmod 600,
                              holding only the password, on one line; it
                              is never printed)
Without either, the password clients remain and camctl exits 7.
--reason <text> is stored with the disable (shown by \`user clients\`; one
line, at most 200 characters); it is in Prosody's log line either way.
An account disabled already stays disabled with its first reason. Then every
session of the account is closed, bound or not, and every login still in
progress that names it, all in one step on the server.
Afterwards the list is read again and checked: only what you chose to leave
may remain (exit 9 otherwise, naming it or the step that failed). --dry-run shows what would be revoked. On a
terminal camctl shows the clients and asks (above ${TYPE_NAME_ABOVE} clients you type the
account's JID); otherwise --yes is required.

Over XMPP this needs an admin login (--jid admin@…) and the companion module
mod_client_management_admin; an account cannot lock itself out over XMPP.

Exit codes: 0 locked out; 7 password clients remain (no option given);
9 something could not be done or is still there (said on stderr).

Examples:
  camctl user lockout mallory@example.com --disable --dry-run
  camctl user lockout mallory@example.com --disable
  (umask 077; openssl rand -base64 18 > new.pw)
  camctl user lockout bob@example.com --new-password-file new.pw --yes`;

/** The new password: the file's only line. Never echoed; messages name the file, not its text. */
export async function readNewPassword(file: string): Promise<string> {
  const { readPasswordFile } = await import("../../transports/xmpp/password.js"); // off the start-up path
  return readPasswordFile(file, "--new-password-file");
}

export function register(user: Command, deps: Deps): void {
  const cmd = user
    .command("lockout")
    .description("revoke everything that can return without the password; optionally disable the account or set a new password")
    .argument("<jid>", "the account, e.g. mallory@example.com")
    .option("--disable", "then disable the account")
    .option("--new-password-file <file>", "then set the password held in <file> (never on the command line)")
    .option("--reason <text>", "why (the incident record): stored with the disable, shown by `user clients`")
    .option("--dry-run", "show what would be revoked and change nothing")
    .option("-y, --yes", "do not ask (required when stdin is not a terminal)");
  addAddressOptions(addCommonOptions(cmd)).addHelpText("after", LOCKOUT_HELP).action(async (jid: string, raw: Record<string, unknown>) => {
    const common = resolveCommon(raw, deps.defaultSocket);
    const disable = raw.disable === true;
    const passwordFile = typeof raw.newPasswordFile === "string" ? raw.newPasswordFile : undefined;
    if (disable && passwordFile !== undefined) throw new CamError("usage", "Give --disable or --new-password-file, not both.");
    const opts: LockoutOptions = {
      ...common,
      jid: parseBareJid(jid, "account JID"),
      action: disable ? "disable" : passwordFile !== undefined ? "new-password" : "none",
      newPassword: undefined,
      yes: raw.yes === true,
      dryRun: raw.dryRun === true,
    };
    if (typeof raw.reason === "string") {
      const problem = reasonProblem(raw.reason);
      if (problem !== null) throw new CamError("usage", problem);
      opts.reason = raw.reason.trim();
    }
    refuseWithoutTerminal(deps.io, !opts.yes && !opts.dryRun, "lock an account out", "Add --yes (or --dry-run to preview).");
    // Read before anything else: a bad file stops camctl before it touches the server.
    if (passwordFile !== undefined) opts.newPassword = await readNewPassword(passwordFile);
    await run(opts, deps.io, deps);
  });
}

const ACTION_WORDS: Record<PasswordAction, string> = {
  disable: "then disable the account",
  "new-password": "then set the new password",
  none: "and leave the password (clients that sign in with it keep working)",
};

export async function run(opts: LockoutOptions, io: IOStreams, deps: Pick<Deps, "prepareSource" | "confirm" | "ask">): Promise<void> {
  const { jid } = opts;
  const who = displaySafe(jid);
  const prepared = await deps.prepareSource(opts, io);
  const before = (await withSource(prepared, opts.timeoutSeconds, (source) => source.list(jid))).clients;
  const plan = `revoke ${before.length === 1 ? "its 1 listed client" : `its ${before.length.toLocaleString("en-US")} listed clients`} and every grant, FAST token and session, ${ACTION_WORDS[opts.action]}`;

  if (opts.dryRun) return dryRun(opts, before, plan, io);
  if (!opts.yes) {
    io.stderr.write(await preview(jid, before, io));
    await confirmBulk({ question: `Lock ${who} out: ${plan}?`, items: before.length, name: jid, kind: "account" }, io, deps);
  }

  let report: LockoutReport;
  try {
    report = await withSource(prepared, opts.timeoutSeconds, (source) => {
      if (!source.lockout) throw new CamError("unsupported", `${prepared.where} cannot lock accounts out.`);
      setInterruptHint(`The lockout of ${who} may already have happened; check with \`camctl user clients ${who}\`.`);
      return source.lockout(jid, { action: opts.action, newPassword: opts.newPassword, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) });
    });
  } finally {
    setInterruptHint(undefined);
    opts.newPassword = undefined;
  }
  await writeReport(opts, before, report, io);
}

async function preview(jid: string, before: ClientRecord[], io: IOStreams): Promise<string> {
  if (before.length === 0) return `${displaySafe(jid)} has no listed clients.\n`;
  const { ClientTable } = await import("../../render/table.js");
  const table = new ClientTable({ color: io.color, width: io.width, tty: io.stdoutIsTTY, now: io.now(), account: false }, "");
  let out = `${displaySafe(jid)} has ${before.length} listed ${before.length === 1 ? "client" : "clients"}:\n`;
  for (const c of before) out += table.push(c);
  return out + table.end();
}

async function dryRun(opts: LockoutOptions, before: ClientRecord[], plan: string, io: IOStreams): Promise<void> {
  const head = { jid: opts.jid, transport: opts.transport.kind };
  if (opts.output === "json") {
    const { renderJson } = await import("../../render/json.js");
    io.stdout.write(renderJson({ ...head, dryRun: true, action: opts.action, before }));
    return;
  }
  if (opts.output !== "table") {
    const { writeClients } = await import("../../render/client-records.js");
    await writeClients(before, opts.output, io, { head });
    return;
  }
  const out = new OutputWriter(io.stdout);
  await out.write(await preview(opts.jid, before, io));
  await out.write(`Would lock ${displaySafe(opts.jid)} out: ${plan}. Nothing was changed.\n`);
  await out.flush();
}

async function writeReport(opts: LockoutOptions, before: ClientRecord[], report: LockoutReport, io: IOStreams): Promise<void> {
  const writer = new ResultsWriter(opts.output, io, { jid: opts.jid, transport: opts.transport.kind, action: opts.action });
  const tally = emptyTally();
  const entryOf = (id: string) => before.find((c) => c.id === id);
  for (const e of report.entries) {
    const { outcome, reason } = entryOutcome(e, report, opts.action);
    const r: ItemResult = { account: opts.jid, id: e.id, outcome, ...(reason !== undefined ? { reason } : {}), done: e.done };
    count(tally, r);
    await writer.push(r, entryOf(e.id));
  }
  const left = leftovers(report, opts.action);
  const stayed = passwordClients(report, opts.action);
  const verified = left.length === 0 && report.failures.length === 0;
  const lines = reportLines(opts, report, left.length, stayed.length);
  await writer.end(tally, {
    accountDisabled: report.disabled,
    alreadyDisabled: report.alreadyDisabled === true,
    reason: report.reason ?? null,
    passwordChanged: report.passwordChanged,
    enabled: report.enabled,
    swept: report.swept,
    failures: report.failures,
    after: report.after,
    verified,
  }, opts.output === "table" ? [...lines, ...(await afterTable(report.after, io))] : undefined);
  if (opts.output !== "table" && opts.output !== "json") for (const l of lines) io.stderr.write(messageLine(l));

  const who = displaySafe(opts.jid);
  const outcome = lockoutOutcome(verified, stayed.length);
  throwUnlessDone(outcome.kind, () => {
    if (outcome.name === "password-reset-required") {
      return `${stayed.length} ${stayed.length === 1 ? "client" : "clients"} of ${who} can still sign in with the password; add --new-password-file <file> or --disable to end that.`;
    }
    const what = [
      ...report.failures.map((f) => displaySafe(f)),
      ...left.map((l) => `${clientLabel(l.client)}: ${l.reasons.join("; ")}`),
    ];
    return `${who} is not completely locked out: ${what.join("; ")}. Look with \`camctl user clients ${who}\`.`;
  }, outcome.name);
}

/** The table's closing lines: what the sweep and the password action did, and what is left. */
function reportLines(opts: LockoutOptions, report: LockoutReport, leftovers: number, passwordLeft: number): string[] {
  const who = displaySafe(opts.jid);
  const lines: string[] = [];
  const s = report.swept;
  const swept: string[] = [];
  if (s.grants > 0) swept.push(`${s.grants} ${s.grants === 1 ? "grant" : "grants"}`);
  if (s.fastTokens > 0) swept.push(`${s.fastTokens} FAST ${s.fastTokens === 1 ? "token" : "tokens"}`);
  if (swept.length > 0) lines.push(`Also revoked what the list did not show: ${swept.join(" and ")}.`);
  if (s.sessions > 0) lines.push(`Closed ${s.sessions} more ${s.sessions === 1 ? "session" : "sessions"}.`);
  if (report.disabled) {
    const why = report.reason ? ` Reason recorded: "${displaySafe(report.reason)}".` : "";
    lines.push(`Disabled ${who}: it cannot sign in any more (to re-enable it: camctl user unlock ${who}).${why}`);
  }
  if (report.alreadyDisabled === true) lines.push(`${who} was already disabled; it stays disabled, with the reason and time of its first disable.`);
  if (report.passwordChanged) lines.push(`Set the new password of ${who}; the old one no longer works.`);
  for (const f of report.failures) lines.push(`Failed: ${displaySafe(f)}.`);
  if (leftovers === 0 && report.failures.length === 0) {
    lines.push(
      passwordLeft > 0
        ? `Verified: nothing can sign in to ${who} without the password; ${passwordLeft} ${passwordLeft === 1 ? "client" : "clients"} can still sign in with it.`
        : `Verified: nothing that was listed can sign in to ${who} any more.`,
    );
  }
  return lines;
}

async function afterTable(after: ClientRecord[], io: IOStreams): Promise<string[]> {
  if (after.length === 0) return ["Listed afterwards: nothing."];
  const { ClientTable } = await import("../../render/table.js");
  const table = new ClientTable({ color: io.color, width: io.width, tty: io.stdoutIsTTY, now: io.now(), account: false }, "");
  let text = "";
  for (const c of after) text += table.push(c);
  text += table.end();
  return ["Listed afterwards:", text.replace(/\n$/, "")];
}

