// camctl user unlock <jid>: re-enable an account `user lockout --disable` disabled, and say what
// stays as the lockout left it. Over the admin socket (account_unlock.lib.lua sent as a chunk) and
// over XMPP for admins through the companion module (<unlock/>, permission :unlock-accounts).
import type { Command } from "commander";
import { CamError } from "../../core/errors.js";
import { messageLine, OutputWriter, type IOStreams } from "../../term/iostreams.js";
import { refuseWithoutTerminal } from "../../term/confirm.js";
import { addCommonOptions, resolveCommon, type CommonOptions } from "../../config/options.js";
import { displaySafe } from "../../text/untrusted.js";
import { withSource } from "../../transports/lifecycle.js";
import { parseBareJid } from "../../core/validate.js";
import { STAYS_REVOKED, type UnlockReport } from "../../core/unlock-report.js";
import type { AccountFacts } from "../../core/account-facts.js";
import type { Deps } from "../deps.js";

export interface UnlockOptions extends CommonOptions {
  jid: string;
  yes: boolean;
  dryRun: boolean;
}

const UNLOCK_HELP = `
Re-enables an account that \`camctl user lockout --disable\` (or Prosody's
\`user disable\`) disabled. Only the disable is undone: grants, FAST tokens
and clients the lockout revoked stay revoked (each client has to sign in
again with the password), and a password the lockout set stays the password.
An account that is enabled already is left as it is (exit 0, said so).

On a terminal camctl shows the account's status (and the reason recorded
with the disable) and asks; otherwise --yes is required.

Over XMPP this needs an admin login (--jid admin@…) and the companion module
mod_client_management_admin (permission client_management_admin:unlock-accounts).

Examples:
  camctl user unlock mallory@example.com --dry-run
  camctl user unlock mallory@example.com --yes`;

export function register(user: Command, deps: Deps): void {
  const cmd = user
    .command("unlock")
    .description("re-enable an account a lockout disabled; says what stays revoked")
    .argument("<jid>", "the account, e.g. mallory@example.com")
    .option("--dry-run", "show the account's status and change nothing")
    .option("-y, --yes", "do not ask (required when stdin is not a terminal)");
  addCommonOptions(cmd).addHelpText("after", UNLOCK_HELP).action(async (jid: string, raw: Record<string, unknown>) => {
    const opts: UnlockOptions = {
      ...resolveCommon(raw, deps.defaultSocket),
      jid: parseBareJid(jid, "account JID"),
      yes: raw.yes === true,
      dryRun: raw.dryRun === true,
    };
    refuseWithoutTerminal(deps.io, !opts.yes && !opts.dryRun, "unlock an account", "Add --yes (or --dry-run to preview).");
    await run(opts, deps.io, deps);
  });
}

function disabledWords(f: AccountFacts): string {
  let s = "disabled";
  if (f.disabledAt !== null) s += ` since ${f.disabledAt}`;
  if (f.disabledReason !== null) s += `, reason: "${displaySafe(f.disabledReason)}"`;
  return s;
}

export async function run(opts: UnlockOptions, io: IOStreams, deps: Pick<Deps, "prepareSource" | "confirm">): Promise<void> {
  const who = displaySafe(opts.jid);
  const prepared = await deps.prepareSource(opts, io);
  const unsupported = () => new CamError("unsupported", `${prepared.where} cannot unlock accounts.`);
  if (opts.dryRun || !opts.yes) {
    const facts = await withSource(prepared, opts.timeoutSeconds, (source) => {
      if (!source.accountFacts) throw unsupported();
      return source.accountFacts(opts.jid);
    });
    const state = facts.accountStatus === "disabled" ? disabledWords(facts) : facts.accountStatus ?? "status unknown";
    if (opts.dryRun) {
      const out = new OutputWriter(io.stdout);
      if (opts.output === "json" || opts.output === "ndjson") {
        const { renderJson, renderJsonLine } = await import("../../render/json.js");
        const doc = { jid: opts.jid, transport: opts.transport.kind, dryRun: true, accountStatus: facts.accountStatus, disabledReason: facts.disabledReason, disabledAt: facts.disabledAt };
        await out.write(opts.output === "json" ? renderJson(doc) : renderJsonLine(doc));
      } else {
        await out.write(`${who} is ${state}. Would ${facts.accountStatus === "enabled" ? "do nothing" : "enable it"}. Nothing was changed.\n`);
      }
      await out.flush();
      return;
    }
    io.stderr.write(`${who} is ${state}.\n`);
    if (!(await deps.confirm(`Re-enable ${who}? ${STAYS_REVOKED}`, io))) throw new CamError("usage", "Nothing was changed.");
  }
  const report = await withSource(prepared, opts.timeoutSeconds, (source) => {
    if (!source.unlock) throw unsupported();
    return source.unlock(opts.jid);
  });
  await writeReport(opts, report, io);
  if (report.enabled === false) {
    throw new CamError("partlyDone", `${who} was asked to be enabled, but the server still reports it disabled. Look with \`camctl user clients ${who}\`.`);
  }
}

async function writeReport(opts: UnlockOptions, r: UnlockReport, io: IOStreams): Promise<void> {
  const who = displaySafe(opts.jid);
  const out = new OutputWriter(io.stdout);
  const doc = {
    jid: r.jid,
    transport: opts.transport.kind,
    outcome: r.enabledNow ? "enabled" : "already-enabled",
    enabled: r.enabled,
    wasDisabledReason: r.was.disabledReason,
    wasDisabledAt: r.was.disabledAt,
    staysRevoked: ["grants", "fast-tokens", "clients"],
    passwordUnchanged: true,
  };
  if (opts.output === "json") {
    const { renderJson } = await import("../../render/json.js");
    await out.write(renderJson(doc));
  } else if (opts.output === "ndjson") {
    const { renderJsonLine } = await import("../../render/json.js");
    await out.write(renderJsonLine(doc));
  } else {
    const lines = r.enabledNow
      ? [`Enabled ${who}: it can sign in again with its password${r.was.accountStatus === "disabled" ? ` (it was ${disabledWords(r.was)})` : ""}.`, STAYS_REVOKED]
      : [`${who} is enabled already; nothing was changed.`];
    if (opts.output === "csv") for (const l of lines) io.stderr.write(messageLine(l));
    else await out.write(lines.join("\n") + "\n");
  }
  await out.flush();
}
