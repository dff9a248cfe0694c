// Writes command results in the chosen format. Renderers are loaded only for the format asked for.
import type { IOStreams } from "../iostreams.js";
import type { ClientList, ClientRecord, RevokeResult } from "../model.js";
import type { OutputFormat } from "../options.js";

export async function writeClientList(list: ClientList, format: OutputFormat, io: IOStreams): Promise<void> {
  const { writeClients } = await import("../render/clients.js");
  await writeClients(list.clients, format, io, { head: { jid: list.jid, transport: list.transport } });
}

export interface RevokeOutcome extends RevokeResult {
  dryRun?: boolean;
  /** The client the selector matched, when camctl looked it up (dry run, confirmation). */
  client?: ClientRecord | null;
}

export async function writeRevokeOutcome(outcome: RevokeOutcome, format: OutputFormat, io: IOStreams): Promise<void> {
  if (format === "json") {
    const { renderJson } = await import("../render/json.js");
    io.stdout.write(renderJson(outcome));
  } else if (format === "csv") {
    const { csvRow } = await import("../render/csv.js");
    io.stdout.write(csvRow(["jid", "selector", "revoked", "dryRun"]) + csvRow([outcome.jid, outcome.selector, String(outcome.revoked), String(Boolean(outcome.dryRun))]));
  } else {
    const { renderRevokeHuman, renderDryRunHuman } = await import("../render/table.js");
    const o = { color: io.color, width: io.width, tty: io.stdoutIsTTY, now: io.now() };
    io.stdout.write(outcome.dryRun ? renderDryRunHuman(outcome, outcome.client ?? undefined, o) : renderRevokeHuman(outcome, o));
  }
}
