// What the bulk commands (`host revoke`, `host apply`, `user lockout`) write: the outcome of each
// item as it is known (table, NDJSON, JSON written progressively, CSV), the final summary, and the
// preview shown before the question on a terminal.
import { styleText } from "node:util";
import type { HostClientRecord } from "../core/filters.js";
import { describeWriteError, messageLine, OutputWriter, readerGone, type IOStreams } from "../term/iostreams.js";
import type { ClientRecord } from "../core/model.js";
import type { ApplyTally, ItemResult, RevokeOutcomeName } from "../core/outcomes.js";
import type { ClientSummary } from "../core/summary.js";
import { displaySafe } from "../text/untrusted.js";
import { csvRow } from "./csv.js";
import { clientLabel } from "../core/not-revoked.js";
import { renderSummaryText } from "./summary.js";
import { displayWidth } from "./width.js";
import { renderJson, renderJsonLine } from "./json.js";

export type BulkFormat = "table" | "json" | "csv" | "ndjson";

export const RESULT_CSV_COLUMNS = ["account", "id", "outcome", "reason", "sessionClosed", "fastTokensRevoked", "grantRevoked"] as const;

/** JSON with no raw control, bidi or format character: one line, or indented (render/json.ts). */
const safeJson = (value: unknown, indent?: 2) => (indent ? renderJson(value) : renderJsonLine(value)).slice(0, -1);

/** The record as written: the contract's fields (account, id, outcome, reason?) then done. */
export function resultRecord(r: ItemResult): Record<string, unknown> {
  return { account: r.account, id: r.id, outcome: r.outcome, ...(r.reason !== undefined ? { reason: r.reason } : {}), done: r.done };
}

/** "closed its session, revoked its FAST tokens": what this run did to an item, or "". */
function doneWords(done: ItemResult["done"], isGrant: boolean): string {
  if (!done) return "";
  const words: string[] = [];
  if (done.sessionClosed) words.push("closed its session");
  if (done.fastTokensRevoked) words.push("revoked its FAST tokens");
  if (done.grantRevoked) words.push(isGrant ? "revoked the grant" : "revoked its grant");
  return words.join(", ");
}

const flag = (b: boolean | null | undefined) => (b === null || b === undefined ? "" : String(b));

/** "password-reset-required" is the longest outcome name. */
const OUTCOME_WIDTH = 23;
/** Accounts longer than this shift the rest of their line rather than widen every line. */
export const ACCOUNT_CAP = 40;

/**
 * Writes item outcomes as they come. `head` opens the JSON document ({ host, transport } or
 * { jid, transport }); the table shows each item's client, taken from `entry`.
 */
export class ResultsWriter {
  private readonly out: OutputWriter;
  /** Colours an outcome when colour is on (node:util's styleText: chalk would weigh on start-up). */
  private readonly paint: (format: Parameters<typeof styleText>[0], s: string) => string;
  private count = 0;
  private stopped = false;

  constructor(
    private readonly format: BulkFormat,
    private readonly io: IOStreams,
    private readonly head: Readonly<Record<string, unknown>>,
    /** Table: the account column's width (the widest account of the plan, at most ACCOUNT_CAP). */
    private readonly accountWidth = 0,
  ) {
    // A failed write never stops the run: the output stops, the work goes on (end() says so).
    this.out = new OutputWriter(io.stdout, undefined, true);
    this.paint = io.color ? (format, s) => styleText(format, s) : (_format, s) => s;
  }

  async push(r: ItemResult, entry?: ClientRecord): Promise<void> {
    const first = this.count++ === 0;
    switch (this.format) {
      case "ndjson":
        await this.out.write(safeJson(resultRecord(r)) + "\n", 1);
        await this.out.flush();
        return;
      case "json":
        await this.out.write((first ? this.open() + "[\n    " : ",\n    ") + safeJson(resultRecord(r), 2).replace(/\n/g, "\n    "), 1);
        return;
      case "csv":
        await this.out.write(
          (first ? csvRow(RESULT_CSV_COLUMNS) : "") +
            csvRow([r.account, r.id, r.outcome, r.reason ?? "", flag(r.done?.sessionClosed), flag(r.done?.fastTokensRevoked), flag(r.done?.grantRevoked)]),
          1,
        );
        return;
      case "table": {
        const color = ({ revoked: "green", "password-reset-required": "yellow", gone: "dim", changed: "dim", failed: "red" } as const)[r.outcome];
        const tone = (s: string) => this.paint(color, s);
        const who = entry ? clientLabel(entry) : displaySafe(r.id);
        const did = doneWords(r.done, entry?.type === "access");
        const account = displaySafe(r.account);
        const pad = " ".repeat(Math.max(0, Math.min(this.accountWidth, ACCOUNT_CAP) - displayWidth(account)));
        let line = `${tone(r.outcome.padEnd(OUTCOME_WIDTH))}  ${account}${pad}  ${who}${did ? `: ${did}` : ""}\n`;
        // Password and gone are explained once, in the summary; changed and failed item by item.
        if (r.reason !== undefined && (r.outcome === "changed" || r.outcome === "failed")) line += `${" ".repeat(OUTCOME_WIDTH + 2)}${displaySafe(r.reason)}\n`;
        await this.out.write(line, 1);
        // A person watches a table: each line as it comes.
        await this.out.flush();
      }
    }
  }

  /** The run stops before its end (end() then does not say that the work went on to the end). */
  runStopped(): void {
    this.stopped = true;
  }

  /**
   * Ends the output: the JSON document's summary (and `extra` fields), the table's summary lines
   * (`tableLines` instead of the bulk summary when given); nothing more for NDJSON and CSV. When
   * the output was cut short, one sentence on stderr says where, and what was done all the same.
   */
  async end(tally: ApplyTally, extra: Readonly<Record<string, unknown>> = {}, tableLines?: readonly string[]): Promise<void> {
    if (this.format === "json") {
      const results = this.count === 0 ? this.open() + "[]" : "\n  ]";
      const rest = { summary: tally, ...extra };
      const tail = Object.entries(rest).map(([k, v]) => `,\n  ${JSON.stringify(k)}: ${safeJson(v, 2).replace(/\n/g, "\n  ")}`).join("");
      await this.out.write(`${results}${tail}\n}\n`);
    } else if (this.format === "table") {
      const lines = tableLines ?? summarySentences(tally);
      if (lines.length > 0) await this.out.write((this.count > 0 ? "\n" : "") + lines.join("\n") + "\n");
    } else if (this.format === "csv" && this.count === 0) {
      await this.out.write(csvRow(RESULT_CSV_COLUMNS));
    }
    await this.out.settle();
    reportCutOutput(this.out, tally, !this.stopped, this.io);
  }

  private open(): string {
    let out = "{\n";
    for (const [k, v] of Object.entries(this.head)) out += `  ${JSON.stringify(k)}: ${safeJson(v)},\n`;
    return out + '  "results": ';
  }
}

const n = (x: number) => x.toLocaleString("en-US");

/** What ends a password client's access, for each account the outcomes name. */
const PASSWORD_CHANGE = "For each account: `camctl user lockout <jid> --new-password-file <file>` (a new password; it revokes everything else the account has) or `--disable`.";
const plural = (x: number, one: string, many = `${one}s`) => `${n(x)} ${x === 1 ? one : many}`;

/** The outcomes counted, in words: "8 revoked, 2 can still sign in with the password (…), 1 gone". */
function tallyParts(t: ApplyTally): string {
  const parts = [`${n(t.revoked)} revoked`];
  if (t.passwordResetRequired > 0) parts.push(`${n(t.passwordResetRequired)} can still sign in with the password (password-reset-required)`);
  if (t.gone > 0) parts.push(`${n(t.gone)} gone`);
  if (t.changed > 0) parts.push(`${n(t.changed)} changed (not touched)`);
  if (t.failed > 0) parts.push(`${n(t.failed)} failed`);
  return parts.join(", ");
}

/** The counts in words: "12 items: 8 revoked, 2 need a password reset, 1 gone, 1 changed." */
export function tallyLine(t: ApplyTally): string {
  return `${plural(t.items, "item")}: ${tallyParts(t)}.`;
}

/**
 * What a finished run came to (src/core/outcomes.ts, tallyOutcome), in a sentence. `resume`, for
 * a run on one server, says how to retry failed items; without it, the run is one context of a
 * fan-out, whose status line names it.
 */
export function tallyOutcomeSentence(t: ApplyTally, outcome: RevokeOutcomeName, resume?: string): string {
  const of = resume === undefined ? "of" : "of the";
  switch (outcome) {
    case "revoked":
      return tallyLine(t);
    case "password-reset-required":
      return `${n(t.passwordResetRequired)} ${of} ${n(t.items)} clients can still sign in with their account's password until it is changed${resume === undefined ? "" : "; everything else they had is revoked"}.${resume === undefined ? "" : ` ${PASSWORD_CHANGE}`}`;
    case "partly-revoked":
      return `${n(t.failed)} ${of} ${n(t.items)} items could not be revoked (each one's reason is in the output)${resume === undefined ? "" : `; nothing was retried. To retry them, ${resume}`}.`;
  }
}

/**
 * A run that stopped before its end (connection lost, --timeout, a failure in camctl, or Ctrl-C
 * with `interrupted`): how far it got, out of `total` items. `inFlight`: how many items' revocations
 * were sent and not answered (true: one; a batch over the admin socket: several; the caller names
 * them). `where`: the context, or "2 contexts", of a run on several (src/cli/host/revoke-fanout.ts).
 * "The run stopped after 180 of 300 items: 178 revoked, 2 failed; 120 not started."
 * "It got through 60 of 200 items on prod: 60 revoked; 1 under way; 139 not started."
 */
export function stoppedLine(t: ApplyTally, total: number, o: { interrupted?: boolean; inFlight?: boolean | number; where?: string } = {}): string {
  const flying = typeof o.inFlight === "number" ? o.inFlight : o.inFlight ? 1 : 0;
  const of = `${n(t.items)} of ${plural(total, "item")}${o.where === undefined ? "" : ` on ${o.where}`}`;
  const lead = o.interrupted ? `It got through ${of}` : `The run stopped after ${of}`;
  return `${lead}: ${tallyParts(t)}; ${flying ? `${n(flying)} under way; ` : ""}${n(Math.max(0, total - t.items - flying))} not started.`;
}

/**
 * When `out` was cut short (its reader went away, a full disk): one sentence on stderr naming
 * where it stopped and what was done all the same (`finished`: the run went on to its end). The
 * bulk commands finish confirmed work whatever happens to their output (docs/exit-codes.md).
 */
export function reportCutOutput(out: OutputWriter, t: ApplyTally, finished: boolean, io: IOStreams): void {
  const lost = out.lost;
  if (!lost) return;
  const why = readerGone(lost) ? "its reader went away" : `it could not be written: ${describeWriteError(lost)}`;
  const where = `The output stopped after ${n(out.records)} of the ${plural(t.items, "item")} (${why})`;
  io.stderr.write(messageLine(finished ? `${where}, but the run went on to its end: ${tallyParts(t)}.` : `${where}.`));
  out.reported();
}

/**
 * The summary at the end of a run, in sentences. `withPassword`: the sentence on password clients
 * (left out where the exit message, which says the same, follows on the same stream).
 */
export function summarySentences(t: ApplyTally, withPassword = true): string[] {
  const lines = [tallyLine(t)];
  if (t.gone > 0 && t.acted < t.items) lines.push("Gone items: no longer listed, since they were revoked, or their access ended, after the plan was made.");
  if (t.items > 0 && t.acted === 0 && t.failed === 0) {
    lines.push("Nothing was revoked this time: every item was already revoked, gone, or can only come back with its account's password.");
  }
  if (t.passwordResetRequired > 0 && withPassword) {
    lines.push(
      "Password clients: nothing but their account's password is left (no session, token or grant), and they can sign in again with it " +
        `until it is changed. ${PASSWORD_CHANGE}`,
    );
  }
  if (t.changed > 0) lines.push("Changed items: the id is listed for a different client now; make a new plan if that one should go too.");
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Before the question

/** How many rows of the plan the preview shows. */
export const PREVIEW_ROWS = 10;

/** The preview on stderr before the question: the summary, then the first rows as a table. */
export async function renderPreview(host: string, summary: ClientSummary, first: readonly HostClientRecord[], io: IOStreams): Promise<string> {
  let out = renderSummaryText(host, summary);
  if (first.length > 0) {
    const { ClientTable } = await import("./table.js");
    const table = new ClientTable({ color: io.color, width: io.width, tty: io.stdoutIsTTY, now: io.now(), account: true }, "");
    out += `\n${summary.clients > first.length ? `The first ${first.length} of ${n(summary.clients)}:` : "All of them:"}\n`;
    for (const r of first) out += table.push(r);
    out += table.end();
  }
  return out;
}

/** What the preview and the table of outcomes keep of a plan as it is read: its first rows and its widest account. */
export class PreviewRows {
  readonly first: HostClientRecord[] = [];
  /** The widest account, as shown (lines up the table of outcomes). */
  accountWidth = 0;

  add(r: HostClientRecord): void {
    this.accountWidth = Math.max(this.accountWidth, displayWidth(displaySafe(r.account)));
    if (this.first.length < PREVIEW_ROWS) this.first.push(r);
  }
}

/** "Revoke these 37 clients on 12 accounts of example.com?" */
export function revokeQuestion(s: { clients: number; accounts: number }, host: string): string {
  const what = s.clients === 1 ? "this client" : `these ${n(s.clients)} clients`;
  return `Revoke ${what} on ${plural(s.accounts, "account")} of ${displaySafe(host)}?`;
}
