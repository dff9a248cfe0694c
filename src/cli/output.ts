// Writes command results in the chosen format. Renderers are loaded only for the format asked for.
import type { IOStreams } from "../term/iostreams.js";
import type { ClientList } from "../core/model.js";
import { NO_FACTS, type AccountFacts } from "../core/account-facts.js";
import type { OutputFormat, TableChoice } from "../config/options.js";
import type { RevokeView } from "../render/revoke.js";

export async function writeClientList(list: ClientList, format: OutputFormat, io: IOStreams, facts?: AccountFacts | null, table?: TableChoice): Promise<void> {
  const { writeClients } = await import("../render/client-records.js");
  const f = facts ?? NO_FACTS;
  const tail = facts === undefined ? undefined : () => ({
    accountStatus: f.accountStatus,
    disabledReason: f.disabledReason,
    disabledAt: f.disabledAt,
    passwordChanged: f.passwordChanged,
    accountLastActivity: f.accountLastActivity,
  });
  await writeClients(list.clients, format, io, { head: { jid: list.jid, transport: list.transport }, ...(tail ? { tail } : {}), table });
  // The status line only when the server told (a source without account facts adds nothing).
  if (format === "table" && facts !== undefined && facts !== null) {
    const { accountStatusLine } = await import("../render/account-status.js");
    io.stdout.write(accountStatusLine(f, io.stdoutIsTTY, io.now()));
  }
}

/** The revoke command's result: JSON/CSV always carry the record; the table format prints the
 * dry run or a complete revocation, and leaves every other outcome to the error sentence. */
export async function writeRevokeOutcome(view: RevokeView, format: OutputFormat, io: IOStreams): Promise<void> {
  if (format === "ndjson") {
    // One line, like every other ndjson record.
    const [{ renderJsonLine }, { revokeJson }] = await Promise.all([import("../render/json.js"), import("../render/revoke.js")]);
    io.stdout.write(renderJsonLine(revokeJson(view)));
  } else if (format === "json") {
    const [{ renderJson }, { revokeJson }] = await Promise.all([import("../render/json.js"), import("../render/revoke.js")]);
    io.stdout.write(renderJson(revokeJson(view)));
  } else if (format === "csv") {
    const { revokeCsv } = await import("../render/revoke.js");
    io.stdout.write(revokeCsv(view));
  } else {
    const { renderRevokeHuman } = await import("../render/revoke.js");
    io.stdout.write(renderRevokeHuman(view, { color: io.color }));
  }
}
