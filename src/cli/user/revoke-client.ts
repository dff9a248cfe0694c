// camctl user revoke_client <jid> <selector>: revoke one client's access.
//
// List, resolve the selector to one listed entry exactly as the server would, show it (dry run or
// confirmation), then revoke exactly that entry: the source revokes by its id and refuses when the
// entry is gone or has changed meanwhile, so what was confirmed is what is revoked.
import type { Command } from "commander";
import { CamError } from "../../core/errors.js";
import type { IOStreams } from "../../term/iostreams.js";
import { setInterruptHint } from "../../term/interrupt.js";
import { refuseWithoutTerminal } from "../../term/confirm.js";
import type { ClientRecord, RevokeReport } from "../../core/model.js";
import { revokeOutcome } from "../../core/outcomes.js";
import { addAddressOptions, addCommonOptions, resolveCommon, type CommonOptions } from "../../config/options.js";
import { changedError, goneError, noMatchError } from "../../core/not-revoked.js";
import { revokeQuestion, revokeSentence, type RevokeView } from "../../render/revoke.js";
import { msg } from "../../text/untrusted.js";
import { withSource } from "../../transports/lifecycle.js";
import { parseBareJid, parseSelector, type Selector } from "../../core/validate.js";
import { entriesById, unmarkedPrefixHint } from "../../core/id-prefix.js";
import type { Deps } from "../deps.js";
import { writeRevokeOutcome } from "../output.js";
import { throwUnlessDone } from "../outcome.js";

export interface RevokeClientOptions extends CommonOptions {
  jid: string;
  selector: Selector;
  yes: boolean;
  dryRun: boolean;
}

const REVOKE_HELP = `
Selectors:
  client/<id>, grant/<id>
      an id as \`camctl user clients\` lists it. Clients choose their ids, so
      quote them for the shell: 'client/my phone', 'client/a/b'. A table on a
      terminal shortens long ids to a unique prefix ending in "…"; that form
      is accepted as printed ("..." works for "…"), and a prefix that fits
      several of the account's ids is refused (exit 2) with their names.
      Without the "…" a text is an exact id, never a prefix
  software/<name>[/<version>]
      the first client in the server's list with that software (or
      software/version); --dry-run shows which one, and any others
camctl revokes exactly the entry it showed, and nothing if that entry is
gone or has changed by then: its sessions, its FAST tokens and its grant
(over XMPP without the companion module, what mod_client_management can),
then it reads the list again and says what is left.

Exit codes: 0 revoked; 7 only the password is left (the client can sign in
again until the password is changed); 9 something else is left (said on
stderr); 6 no match, gone or changed.`;

export function register(user: Command, deps: Deps): void {
  addAddressOptions(addCommonOptions(
    user
      .command("revoke_client")
      .alias("revoke-client")
      .description("revoke one client's access to an account")
      .argument("<jid>", "the account, e.g. alice@example.com")
      .argument("<selector>", "an id as listed (client/<id>, grant/<id>; quote it if it has spaces) or software/<name>[/<version>]")
      .option("-y, --yes", "do not ask for confirmation (required when stdin is not a terminal)")
      .option("--dry-run", "show which listed client would be revoked and change nothing")
      .addHelpText("after", REVOKE_HELP),
  )).action(async (jid: string, selector: string, raw: Record<string, unknown>) => {
    const opts: RevokeClientOptions = {
      ...resolveCommon(raw, deps.defaultSocket),
      jid: parseBareJid(jid, "account JID"),
      selector: parseSelector(selector),
      yes: raw.yes === true,
      dryRun: raw.dryRun === true,
    };
    refuseWithoutTerminal(deps.io, !opts.yes && !opts.dryRun, "revoke", "Add --yes to revoke (or --dry-run to preview).");
    await run(opts, deps.io, deps);
  });
}

/** Does the server's software/<text> selector take this client? Its software, or software "/" version. */
function matchesSoftware(c: ClientRecord, text: string): boolean {
  const { software, version } = c.userAgent;
  if (software === null) return false;
  return software === text || (version !== null && `${software}/${version}` === text);
}

/**
 * The entry a selector names, as the server picks it: the exact id, or for software/ the first
 * match in the server's list order; `others` are the further software matches, in that order.
 */
export function resolveSelector(clients: readonly ClientRecord[], sel: Selector, jid: string): { entry: ClientRecord | undefined; others: ClientRecord[] } {
  // An id: exact, or a unique prefix as a terminal table shows it (core/id-prefix.ts).
  const matches = sel.kind === "software" ? clients.filter((c) => matchesSoftware(c, sel.rest)) : entriesById(clients, sel.text, sel.kind, jid);
  return { entry: matches[0], others: matches.slice(1) };
}

/**
 * Said when the revoke's session was open and camctl stopped without the server's report (Ctrl-C,
 * timeout, closed connection, a failure the server answered with): the request may have gone out.
 */
function mayHaveHappened(jid: string, entry: ClientRecord): string {
  return String(msg`The revoke of ${entry.id} may have happened, entirely or in part; check with \`camctl user clients ${jid}\`.`);
}

export async function run(opts: RevokeClientOptions, io: IOStreams, deps: Pick<Deps, "prepareSource" | "confirm">): Promise<void> {
  const { jid, selector: sel } = opts;
  const write = (v: RevokeView) => writeRevokeOutcome(v, opts.output, io);
  const prepared = await deps.prepareSource(opts, io);
  const list = await withSource(prepared, opts.timeoutSeconds, (source) => source.list(jid));
  const { entry, others } = resolveSelector(list.clients, sel, jid);
  const base = { jid, selector: sel.text, others };
  if (!entry) {
    await write({ ...base, kind: "not-revoked", why: "no-match", entry: null });
    const err = noMatchError(jid, sel.text);
    const hint = sel.kind === "software" ? undefined : unmarkedPrefixHint(list.clients, sel.text);
    throw hint ? new CamError(err.kind, `${err.message} ${hint}`, err.condition) : err;
  }
  if (opts.dryRun) {
    await write({ ...base, kind: "dry-run", entry });
    return;
  }
  if (!opts.yes) {
    // Outside withSource: the timeout bounds the server, not the person deciding.
    if (!(await deps.confirm(revokeQuestion(jid, sel.text, entry, others), io))) throw new CamError("usage", "Nothing was revoked.");
  }

  let report: RevokeReport;
  const hint = mayHaveHappened(jid, entry);
  let opened = false; // from then on the request may be on its way
  try {
    report = await withSource(prepared, opts.timeoutSeconds, (source) => {
      opened = true;
      setInterruptHint(hint);
      return source.revoke(jid, entry);
    });
  } catch (err) {
    if (err instanceof CamError && err.kind === "notFound" && (err.condition === "gone" || err.condition === "changed")) {
      await write({ ...base, kind: "not-revoked", why: err.condition, entry });
      throw err.condition === "gone" ? goneError(jid, entry) : changedError(jid, entry);
    }
    // Stopped (cut off, or the server failed) after the request may have gone out: say so.
    if (opened && err instanceof CamError && err.kind === "unreachable") throw new CamError(err.kind, `${err.message} ${hint}`, err.condition);
    throw err;
  } finally {
    setInterruptHint(undefined);
  }
  await write({ ...base, kind: "report", report });
  const outcome = revokeOutcome(report);
  throwUnlessDone(outcome.kind, () => revokeSentence(report), outcome.name);
}
