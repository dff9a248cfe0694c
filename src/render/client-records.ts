// Writing a list of clients in the format asked for, a record at a time: the entry point for every
// listing command. Records come as an (async) iterable and each format writes as they arrive
// (the table after planning its columns from its first rows), so output starts early, memory
// stays bounded and a failed write stops the listing (OutputWriter). Each format's code is loaded
// only when that format is asked for.
import { OutputWriter, type IOStreams } from "../term/iostreams.js";
import type { ClientRecord, IsoUtc } from "../core/model.js";
import { displaySafe } from "../text/untrusted.js";
import { addressesHidden, hasRecorded, RECORDS_HINT, withNetwork } from "../core/network.js";
import type { ColumnName } from "../core/columns.js";

export const CLIENT_FORMATS = ["table", "json", "csv", "ndjson"] as const;
export type ClientsFormat = (typeof CLIENT_FORMATS)[number];

/** A listed client; listings of several accounts add the account it belongs to, of several servers the context. */
export type ClientRow = ClientRecord & { account?: string; context?: string; accountLastActivity?: IsoUtc | null; accountStatus?: string | null };

export interface WriteClientsOptions {
  /**
   * JSON only: the fields written before "clients", in this order, e.g. { jid, transport } for one
   * account or { host, transport } for a host-wide listing.
   */
  head: Readonly<Record<string, string | null>>;
  /** Adds an account column (table: "Account", CSV: "account") taken from each record's `account`. */
  account?: boolean;
  /** Table only: the sentence for an empty listing (default: "No clients have access to <head.jid>."). */
  empty?: string;
  /** Adds a context column first (table: "Context", CSV: "context"): listings of several servers. */
  context?: boolean;
  /** JSON only: fields written after "clients", asked for once the records have ended. */
  tail?: () => Readonly<Record<string, unknown>>;
  /** --no-ip: every address field null (JSON, NDJSON), empty (CSV), its column left out (table). */
  noIp?: boolean;
  /** Table only: --columns and --wide, and the columns never dropped (those of the filters given). */
  table?: { columns?: readonly ColumnName[]; wide?: boolean; keep?: readonly ColumnName[] };
}

/** Turns records into text, one call per record, then once at the end. */
export interface ClientsRenderer {
  push(record: ClientRow): string;
  end(): string;
}

export async function clientsRenderer(format: ClientsFormat, io: IOStreams, opts: WriteClientsOptions): Promise<ClientsRenderer> {
  switch (format) {
    case "json": {
      const { JsonClients } = await import("./json.js");
      return new JsonClients(opts.head, opts.tail);
    }
    case "ndjson": {
      const { NdjsonClients } = await import("./json.js");
      return new NdjsonClients();
    }
    case "csv": {
      const { CsvClients } = await import("./csv.js");
      return new CsvClients(opts.account ?? false, opts.context ?? false);
    }
    case "table": {
      const { ClientTable } = await import("./table.js");
      const empty = opts.empty ?? `No clients have access to ${displaySafe(opts.head.jid ?? "this account")}.`;
      const t = opts.table ?? {};
      return new ClientTable(
        { color: io.color, width: io.width, tty: io.stdoutIsTTY, now: io.now(), account: opts.account ?? false, context: opts.context ?? false, ...t, shortIds: true },
        empty,
      );
    }
  }
}

/**
 * Writes `records` to io.stdout in `format` as they arrive. Rejects with OutputFailed when the
 * output cannot be written (cli.ts turns that into the exit code), and with whatever the
 * iterable throws, after writing what was rendered before (NDJSON and CSV keep every record that
 * came before the failure; the table, whose first rows wait for the column plan, may not).
 */
export async function writeClients(
  records: AsyncIterable<ClientRow> | Iterable<ClientRow>,
  format: ClientsFormat,
  io: IOStreams,
  opts: WriteClientsOptions,
): Promise<void> {
  const renderer = await clientsRenderer(format, io, opts);
  const out = new OutputWriter(io.stdout);
  // NDJSON is read line by line as it comes (`| jq`): what is rendered goes out as soon as no
  // further record is ready (the next turn of the event loop), or in 64 KiB chunks while records
  // keep coming; not one write per record, which a host scan of 100,000s of rows pays for in
  // system calls (BENCHMARKS.md). The other formats are read whole, so they go out in large chunks.
  const eachRecord = format === "ndjson";
  let idleFlush: NodeJS.Immediate | undefined;
  const flushWhenIdle = () => {
    idleFlush ??= setImmediate(() => {
      idleFlush = undefined;
      // A failed stream fails the next write or the final flush too: that one reports it.
      out.flush().catch(() => undefined);
    });
  };
  // Every format writes every network field (core/network.ts), null where the source has none.
  const noIp = opts.noIp ?? addressesHidden();
  let recorded = false;
  let rows = 0;
  try {
    for await (const raw of records) {
      const record = withNetwork(raw, noIp);
      rows++;
      if (!recorded && hasRecorded(record)) recorded = true;
      const text = renderer.push(record);
      if (text === "") continue;
      await out.write(text);
      if (eachRecord) flushWhenIdle();
    }
  } catch (err) {
    if (idleFlush) clearImmediate(idleFlush);
    // What was rendered is still written (the records before the failure); then the failure.
    await out.flush().catch(() => undefined);
    throw err;
  }
  if (idleFlush) clearImmediate(idleFlush);
  await out.write(renderer.end());
  // NDJSON's lines may have gone out in several writes the stream still holds: done means written.
  await (eachRecord ? out.settle() : out.flush());
  // Said once, to people (a table on a terminal), and on stderr so the table stays a header and
  // one line per client.
  if (format === "table" && io.stdoutIsTTY && rows > 0 && !recorded && !noIp) {
    const { wrapToWidth } = await import("./width.js");
    for (const line of wrapToWidth(RECORDS_HINT, io.width ?? 80)) io.stderr.write(line + "\n");
  }
}
