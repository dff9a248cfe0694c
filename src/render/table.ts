// The human-readable client table (the revoke command's texts are in revoke.ts).
//
// Every string from the server or a client goes through displaySafe, so a cell is always one
// line and a table has exactly one header line plus one line per client. The table is
// borderless (columns separated by two spaces), which leaves the most room on narrow terminals,
// and lines carry no trailing blanks.
//
// On a terminal, when the table is wider than `width`, it degrades step by step (the ID column
// is never shortened, it is what revoke takes):
//   1. long Software / Device / Auth values are cut with "…" down to a readable minimum;
//   2. then columns are dropped, least useful first: Type (the id prefix says it), First seen,
//      then times lose their date part ("3 min ago" instead of "3 min ago (14:37)"),
//      then Auth, Expires, Device, Last seen, Connected, Software, until only ID is left.
// If even the ID alone is wider than the terminal, it is printed whole and the terminal wraps it.
// Off a terminal the table has all columns, absolute ISO times, no colour and no width limit.

import { Chalk, type ChalkInstance } from "chalk";
import type { ClientList, ClientRecord } from "../model.js";
import { displaySafe } from "./sanitize.js";
import { humanTimeForms, isoTime } from "./time.js";
import { displayWidth, truncateToWidth } from "./width.js";

export interface TableOptions {
  color: boolean;
  /** Terminal columns; undefined means no limit. Only used when `tty` is true. */
  width?: number;
  tty: boolean;
  now: Date;
}

type ColumnKey = "id" | "type" | "connected" | "software" | "device" | "firstSeen" | "lastSeen" | "expires" | "auth";

/** One table cell: display-safe text, its terminal width, and how to colour it. */
interface Cell {
  text: string;
  width: number;
  /** The shorter form used when space is short (times without their date part). */
  compact?: Cell;
  tone: "plain" | "dim" | "good";
}

interface Column {
  key: ColumnKey;
  header: string;
  cells: Cell[];
  /** Columns whose values may be cut with "…"; others are shown whole or dropped. */
  minWidth?: number;
}

const GAP = 2; // spaces between columns

/** Order in which columns go when the table is too wide; "compact" is when times lose their date. */
const DEGRADE_STEPS: ReadonlyArray<ColumnKey | "compact"> = [
  "type",
  "firstSeen",
  "compact",
  "auth",
  "expires",
  "device",
  "lastSeen",
  "connected",
  "software",
];

/** A cell of display-safe text. */
function cell(text: string, tone: Cell["tone"] = "plain"): Cell {
  return { text, width: displayWidth(text), tone };
}

const NULL_CELL = cell("-", "dim");

/** An untrusted value, or a dim "-" when absent. */
function valueCell(value: string | null): Cell {
  return value === null || value === "" ? NULL_CELL : cell(displaySafe(value));
}

/** "Gajim 1.8" (raw, not yet display-safe), or null when neither is known. */
function softwareText(c: ClientRecord): string | null {
  const parts = [c.userAgent.software, c.userAgent.version].filter((p): p is string => p !== null && p !== "");
  return parts.length > 0 ? parts.join(" ") : null;
}

function timeCell(iso: string | null, o: TableOptions): Cell {
  if (iso === null) return NULL_CELL;
  if (!o.tty) return cell(isoTime(iso) ?? "-");
  const { full, compact } = humanTimeForms(iso, o.now);
  return { ...cell(full), compact: cell(compact) };
}

function buildColumns(clients: readonly ClientRecord[], o: TableOptions): Column[] {
  const col = (key: ColumnKey, header: string, toCell: (c: ClientRecord) => Cell, minWidth?: number): Column => ({
    key,
    header,
    cells: clients.map(toCell),
    ...(minWidth !== undefined ? { minWidth } : {}),
  });
  const connected = cell(o.tty ? "● yes" : "yes", "good");
  const disconnected = cell("no", "dim");
  return [
    col("id", "ID", (c) => cell(displaySafe(c.id))),
    col("type", "Type", (c) => valueCell(c.type)),
    col("connected", "Connected", (c) => (c.connected ? connected : disconnected)),
    col("software", "Software", (c) => valueCell(softwareText(c)), 12),
    col("device", "Device", (c) => valueCell(c.userAgent.device), 10),
    col("firstSeen", "First seen", (c) => timeCell(c.firstSeen, o)),
    col("lastSeen", "Last seen", (c) => timeCell(c.lastSeen, o)),
    col("expires", "Expires", (c) => timeCell(c.expires, o)),
    col("auth", "Auth", (c) => (c.auth.length > 0 ? cell(c.auth.map(displaySafe).join(", ")) : NULL_CELL), 8),
  ];
}

/** The width a column would like (its widest value) and the least it can do with. */
function measure(c: Column): { natural: number; min: number } {
  const header = displayWidth(c.header);
  let natural = header;
  for (const x of c.cells) if (x.width > natural) natural = x.width;
  return { natural, min: Math.min(natural, Math.max(c.minWidth ?? Infinity, header)) };
}

/**
 * Picks the richest layout that fits `width` and returns the columns with their widths.
 * Every column gets its minimum; the space left goes one column at a time to the narrowest
 * column that still wants more, so no single long value takes it all.
 */
function fitColumns(all: Column[], width: number): { columns: Column[]; widths: number[] } {
  let columns = all;
  const steps = [...DEGRADE_STEPS];
  for (;;) {
    const sizes = columns.map(measure);
    const widths = sizes.map((s) => s.min);
    const used = widths.reduce((a, b) => a + b, 0) + GAP * (columns.length - 1);
    if (used <= width || columns.length === 1) {
      for (let spare = width - used; spare > 0; spare--) {
        let pick = -1;
        widths.forEach((w, i) => {
          if (w < (sizes[i]?.natural ?? 0) && (pick < 0 || w < (widths[pick] ?? 0))) pick = i;
        });
        if (pick < 0) break;
        widths[pick] = (widths[pick] ?? 0) + 1;
      }
      return { columns, widths };
    }
    const step = steps.shift();
    if (step === "compact") {
      columns = columns.map((c) => ({ ...c, cells: c.cells.map((x) => x.compact ?? x) }));
    } else {
      columns = columns.filter((c) => c.key !== step);
    }
  }
}

function painter(color: boolean): ChalkInstance {
  return new Chalk({ level: color ? 1 : 0 });
}

/**
 * The client list as a table for people (tty) or as a stable plain table (not a tty).
 *
 * The layout is done here rather than by cli-table3: all the widths are planned above anyway,
 * and cli-table3 costs about 0.5 ms per row (quadratic in rows), half a second for 1,000 clients.
 */
export function renderClientsTable(list: ClientList, o: TableOptions): string {
  if (list.clients.length === 0) return `No clients have access to ${displaySafe(list.jid)}.\n`;
  const all = buildColumns(list.clients, o);
  const { columns, widths } =
    o.tty && o.width !== undefined ? fitColumns(all, o.width) : { columns: all, widths: all.map((c) => measure(c).natural) };
  // Whether to colour was decided once (iostreams.decideColor: terminal, NO_COLOR, FORCE_COLOR).
  const chalk = painter(o.color);
  const style = { plain: (s: string) => s, dim: chalk.dim, good: chalk.green, head: chalk.bold } as const;
  const last = columns.length - 1;
  const gap = " ".repeat(GAP);

  /** One cell cut to its column, coloured, and padded (the last one is not: no trailing blanks). */
  const layout = (x: Cell, tone: keyof typeof style, i: number): string => {
    const width = widths[i] ?? 0;
    const fits = x.width <= width;
    const text = fits ? x.text : truncateToWidth(x.text, width);
    const pad = i === last ? 0 : width - (fits ? x.width : displayWidth(text));
    return style[tone](text) + " ".repeat(Math.max(0, pad));
  };

  const lines = [columns.map((c, i) => layout(cell(c.header), "head", i)).join(gap)];
  for (let row = 0; row < list.clients.length; row++) {
    lines.push(columns.map((c, i) => { const x = c.cells[row] as Cell; return layout(x, x.tone, i); }).join(gap));
  }
  return lines.join("\n") + "\n";
}
