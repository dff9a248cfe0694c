// The history in each format, an event at a time (src/core/history.ts has the record): NDJSON one
// event per line as it arrives, JSON one document written as it goes, CSV with a header row, and a
// table for people whose column widths are planned from the first rows. Every string from the
// server is made display-safe (table, CSV) or escaped (JSON).
import { OutputWriter, type IOStreams } from "../term/iostreams.js";
import type { HistoryEvent } from "../core/history.js";
import type { ClientsFormat } from "./client-records.js";
import { displaySafe } from "../text/untrusted.js";
import { renderJsonLine } from "./json.js";
import { csvRow } from "./csv.js";
import { displayWidth } from "./width.js";

export const HISTORY_CSV_COLUMNS = ["time", "host", "account", "event", "source", "recordedBy", "ip", "location", "clientId", "detail"] as const;

/** detail as one text: key=value pairs, sorted, separated by "; " (CSV and table). */
export function detailText(detail: Record<string, string> | null): string {
  if (!detail) return "";
  return Object.keys(detail).sort().map((k) => `${k}=${detail[k]}`).join("; ");
}

interface Renderer {
  push(e: HistoryEvent): string;
  end(): string;
}

class Ndjson implements Renderer {
  push(e: HistoryEvent): string {
    return renderJsonLine(e);
  }
  end(): string {
    return "";
  }
}

class Json implements Renderer {
  private count = 0;
  constructor(private readonly head: Readonly<Record<string, string>>) {}
  private open(): string {
    let out = "{\n";
    for (const [k, v] of Object.entries(this.head)) out += `  ${JSON.stringify(k)}: ${JSON.stringify(v)},\n`;
    return out + '  "events": ';
  }
  push(e: HistoryEvent): string {
    // renderJsonLine escapes what must not reach a terminal raw; one line per event.
    const line = renderJsonLine(e).slice(0, -1);
    return (this.count++ === 0 ? this.open() + "[\n    " : ",\n    ") + line;
  }
  end(): string {
    return (this.count === 0 ? this.open() + "[]" : "\n  ]") + "\n}\n";
  }
}

class Csv implements Renderer {
  private started = false;
  push(e: HistoryEvent): string {
    const head = this.started ? "" : csvRow([...HISTORY_CSV_COLUMNS]);
    this.started = true;
    return head + csvRow([e.time ?? "", e.host, e.account ?? "", e.event, e.source, e.recordedBy ?? "", e.ip ?? "", e.location ?? "", e.clientId ?? "", detailText(e.detail)]);
  }
  end(): string {
    return this.started ? "" : csvRow([...HISTORY_CSV_COLUMNS]);
  }
}

const PLAN_ROWS = 200;
const CAP = 60;

/** A borderless table: Time, [Account], Event, IP, Location, Client, Source, Detail. */
class Table implements Renderer {
  private buffered: string[][] = [];
  private widths: number[] | null = null;
  private readonly headers: string[];
  constructor(private readonly account: boolean, private readonly empty: string) {
    this.headers = ["Time", ...(account ? ["Account"] : []), "Event", "IP", "Location", "Client", "Source", "Detail"];
  }
  private cells(e: HistoryEvent): string[] {
    const cut = (s: string) => (s.length > CAP ? s.slice(0, CAP - 1) + "…" : s);
    const t = e.time ? e.time.replace("T", " ").replace("Z", "") : "-";
    return [t, ...(this.account ? [displaySafe(e.account ?? "(host)")] : []), displaySafe(e.event), displaySafe(e.ip ?? "-"),
      displaySafe(e.location ?? "-"), displaySafe(e.clientId ?? "-"), e.source, cut(displaySafe(detailText(e.detail)))];
  }
  private line(cells: string[]): string {
    const w = this.widths!;
    return cells.map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(Math.max(0, w[i]! - displayWidth(c))))).join("  ").trimEnd() + "\n";
  }
  private plan(): string {
    const rows = [this.headers, ...this.buffered];
    this.widths = this.headers.map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i]!))));
    const out = [this.headers, ...this.buffered].map((r) => this.line(r)).join("");
    this.buffered = [];
    return out;
  }
  push(e: HistoryEvent): string {
    const cells = this.cells(e);
    if (this.widths) return this.line(cells);
    this.buffered.push(cells);
    return this.buffered.length >= PLAN_ROWS ? this.plan() : "";
  }
  end(): string {
    if (this.widths) return "";
    if (this.buffered.length === 0) return this.empty + "\n";
    return this.plan();
  }
}

export interface WriteHistoryOptions {
  /** JSON: the fields before "events", e.g. { host, transport } or { jid, transport }. */
  head: Readonly<Record<string, string>>;
  /** Table: an Account column (a host's history). */
  account: boolean;
  /** Table: the sentence when nothing matched. */
  empty: string;
}

/** Writes the events in `format` as they arrive; what was rendered before a failure is still written. */
export async function writeHistory(events: AsyncIterable<HistoryEvent>, format: ClientsFormat, io: IOStreams, o: WriteHistoryOptions): Promise<void> {
  const r: Renderer =
    format === "ndjson" ? new Ndjson() : format === "json" ? new Json(o.head) : format === "csv" ? new Csv() : new Table(o.account, o.empty);
  const out = new OutputWriter(io.stdout);
  try {
    for await (const e of events) {
      const text = r.push(e);
      if (text === "") continue;
      await out.write(text);
      if (format === "ndjson") await out.flush();
    }
  } catch (err) {
    await out.flush().catch(() => undefined);
    throw err;
  }
  await out.write(r.end());
  await out.flush();
}
