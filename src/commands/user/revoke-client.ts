// camctl user revoke_client <jid> <selector>: revoke one client's access.
import type { Command } from "commander";
import { CamError } from "../../errors.js";
import type { IOStreams } from "../../iostreams.js";
import type { ClientRecord } from "../../model.js";
import { addCommonOptions, resolveCommon, type CommonOptions } from "../../options.js";
import { displaySafe } from "../../render/sanitize.js";
import { withSource } from "../../transport.js";
import { parseBareJid, parseSelector, type Selector } from "../../validate.js";
import type { Deps } from "../deps.js";
import { writeRevokeOutcome } from "../output.js";

export interface RevokeClientOptions extends CommonOptions {
  jid: string;
  selector: Selector;
  yes: boolean;
  dryRun: boolean;
}

export function register(user: Command, deps: Deps): void {
  addCommonOptions(
    user
      .command("revoke_client")
      .alias("revoke-client")
      .description("revoke one client's access to an account")
      .argument("<jid>", "the account, e.g. alice@example.com")
      .argument("<selector>", "client/<id>, grant/<id> or software/<name>[/<version>]")
      .option("-y, --yes", "do not ask for confirmation (required when stdin is not a terminal)")
      .option("--dry-run", "show what would be revoked and change nothing"),
  ).action(async (jid: string, selector: string, raw: Record<string, unknown>) => {
    const opts: RevokeClientOptions = {
      ...resolveCommon(raw, deps.io.env, deps.defaultSocket),
      jid: parseBareJid(jid, "account JID"),
      selector: parseSelector(selector),
      yes: raw.yes === true,
      dryRun: raw.dryRun === true,
    };
    if (!opts.yes && !opts.dryRun && !deps.io.stdinIsTTY) {
      throw new CamError("usage",
        "Refusing to revoke without confirmation because stdin is not a terminal. Add --yes to revoke (or --dry-run to preview).");
    }
    await run(opts, deps.io, deps);
  });
}

/** The client a selector names, as the server would pick it: exact id, or the first software match. */
export function findSelected(clients: ClientRecord[], sel: Selector): ClientRecord | undefined {
  if (sel.kind !== "software") return clients.find((c) => c.id === sel.text);
  return clients.find((c) => c.userAgent.software === sel.name && (sel.version === null || c.userAgent.version === sel.version));
}

function describe(c: ClientRecord): string {
  const ua = c.userAgent;
  const what = [ua.software, ua.version].filter(Boolean).join(" ") || "unnamed client";
  return displaySafe(ua.device ? `${what} on ${ua.device}` : what);
}

export async function run(opts: RevokeClientOptions, io: IOStreams, deps: Pick<Deps, "prepareSource" | "confirm">): Promise<void> {
  const sel = opts.selector;
  const result = { jid: opts.jid, selector: sel.text };
  {
    // Look first: a dry run reports the match, a confirmation names what will go, and the revoke
    // takes exactly the listed entry (TEMPORARY shape until issue 8 lands).
    const prepared = await deps.prepareSource(opts, io);
    const list = await withSource(prepared, opts.timeoutSeconds, (source) => source.list(opts.jid));
    const client = findSelected(list.clients, sel);
    if (!client) {
      throw new CamError("notFound",
        `No client matches ${displaySafe(sel.text)} for ${displaySafe(opts.jid)}; nothing was revoked. ` +
        `List them with \`camctl user clients ${displaySafe(opts.jid)}\`.`,
        "item-not-found");
    }
    if (opts.dryRun) {
      await writeRevokeOutcome({ ...result, revoked: false, dryRun: true, client }, opts.output, io);
      return;
    }
    if (!opts.yes) {
      // Outside withSource: the timeout bounds the server, not the person deciding.
      const question = `Revoke ${displaySafe(client.id)} (${describe(client)}) from ${displaySafe(opts.jid)}?`;
      if (!(await deps.confirm(question, io))) throw new CamError("usage", "Nothing was revoked.");
    }
    await withSource(prepared, opts.timeoutSeconds, (source) => source.revoke(opts.jid, client));
  }
  await writeRevokeOutcome({ ...result, revoked: true }, opts.output, io);
}
