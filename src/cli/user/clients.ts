// camctl user clients <jid>: list what has access to an account.
import type { Command } from "commander";
import type { IOStreams } from "../../term/iostreams.js";
import { addAddressOptions, addCommonOptions, addFanoutOptions, addTableOptions, parseTableChoice, resolveCommon, type CommonOptions, type TableChoice } from "../../config/options.js";
import { COLUMN_NAMES, type ColumnName } from "../../core/columns.js";
import { fanoutRuns } from "../../config/selection.js";
import { withSource } from "../../transports/lifecycle.js";
import { parseBareJid } from "../../core/validate.js";
import type { Deps } from "../deps.js";
import { writeClientList } from "../output.js";

export interface ClientsOptions extends CommonOptions {
  jid: string;
  table?: TableChoice;
}

/** The columns of `user clients`: no Account; Context with several contexts. */
const columnsOf = (several: boolean): ColumnName[] => COLUMN_NAMES.filter((n) => n !== "account" && (several || n !== "context"));

const USER_CLIENTS_HELP = `
Over the admin socket (default; --ssh for a remote server) any account; over
XMPP (--jid) the login account itself, or any account for an admin when the
server runs the companion module mod_client_management_admin.

On a terminal too narrow for the whole table, long ids are shown as their
shortest unique prefix ending in "…"; revoke-client accepts that form.
--wide shows every column and whole ids.

Examples:
  camctl user clients alice@example.com
  camctl user clients alice@example.com -o ndjson | jq -r .id
  camctl user clients alice@example.com --columns id,software,last-seen
  camctl user clients alice@example.com --jid alice@example.com --password-file ~/.alice.pw
  camctl user clients bob@example.com --jid admin@example.com --password-file ~/.admin.pw
  camctl --context prod,staging user clients alice@example.com`;

export function register(user: Command, deps: Deps): void {
  addTableOptions(addAddressOptions(addFanoutOptions(addCommonOptions(
    user
      .command("clients")
      .description("list the clients (apps, devices, grants, tokens) that have access to an account")
      .argument("<jid>", "the account, e.g. alice@example.com"),
  )))).addHelpText("after", USER_CLIENTS_HELP).action(async (jid: string, raw: Record<string, unknown>) => {
    const fan = fanoutRuns(raw, deps.defaultSocket);
    if (fan) {
      const { userClientsFanout } = await import("../fanout.js");
      return userClientsFanout(fan, parseBareJid(jid, "account JID"), fan.output, deps.io, deps, parseTableChoice(raw, fan.output, columnsOf(true)));
    }
    const common = resolveCommon(raw, deps.defaultSocket);
    const opts: ClientsOptions = {
      ...common,
      jid: parseBareJid(jid, "account JID"),
      table: parseTableChoice(raw, common.output, columnsOf(false)),
    };
    await run(opts, deps.io, deps);
  });
}

export async function run(opts: ClientsOptions, io: IOStreams, deps: Pick<Deps, "prepareSource">): Promise<void> {
  const prepared = await deps.prepareSource(opts, io);
  const { list, facts } = await withSource(prepared, opts.timeoutSeconds, async (source) => {
    const listed = await source.list(opts.jid);
    // The account's own facts (status, disable reason, password change, activity): a server
    // without them (an older companion, the bare module over XMPP) leaves them null.
    const known = source.accountFacts ? await source.accountFacts(opts.jid).catch(() => null) : null;
    return { list: listed, facts: known };
  });
  await writeClientList(list, opts.output, io, facts, opts.table);
}
