// The human-readable outputs: the client table and the revoke messages.
//
// Every string from the server or a client goes through displaySafe, so a cell is always one
// line and a table has exactly one header line plus one line per client. The table is
// borderless (columns separated by two spaces), which leaves the most room on narrow terminals.
//
// On a terminal, when the table is wider than `width`, it degrades step by step (the ID column
// is never shortened, it is what revoke takes):
//   1. long Software / Device / Auth values are cut with "…" down to a readable minimum;
//   2. then columns are dropped, least useful first: Type (the id prefix says it), First seen,
//      then times lose their date part ("3 min ago" instead of "3 min ago (14:37)"),
//      then Auth, Expires, Device, Last seen, Connected, Software, until only ID is left.
// If even the ID alone is wider than the terminal, it is printed whole and the terminal wraps it.
// Off a terminal the table has all columns, absolute ISO times, no colour and no width limit.

import Table from "cli-table3";
import { Chalk, type ChalkInstance } from "chalk";
import type { ClientList, ClientRecord, RevokeResult } from "../model.js";
import { displaySafe } from "./sanitize.js";
import { humanTime, isoTime, relativeTime } from "./time.js";
import { displayWidth, truncateToWidth } from "./width.js";

export interface TableOptions {
  color: boolean;
  /** Terminal columns; undefined means no limit. Only used when `tty` is true. */
  width?: number;
  tty: boolean;
  now: Date;
}

type ColumnKey = "id" | "type" | "connected" | "software" | "device" | "firstSeen" | "lastSeen" | "expires" | "auth";

/** One table cell: display-safe text and how to colour it. */
interface Cell {
  text: string;
  /** The shorter form used when space is short (times without their date part). */
  compact?: string;
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
const NULL_TEXT = "-";
const END = "\0";

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

function orNull(value: string | null): Cell {
  return value === null || value === "" ? { text: NULL_TEXT, tone: "dim" } : { text: displaySafe(value), tone: "plain" };
}

/** "Gajim 1.8" (raw, not yet display-safe), or null when neither is known. */
function softwareText(c: ClientRecord): string | null {
  const parts = [c.userAgent.software, c.userAgent.version].filter((p): p is string => p !== null && p !== "");
  return parts.length > 0 ? parts.join(" ") : null;
}

function timeCell(iso: string | null, o: TableOptions): Cell {
  if (iso === null) return { text: NULL_TEXT, tone: "dim" };
  if (!o.tty) return { text: isoTime(iso) ?? NULL_TEXT, tone: "plain" };
  return { text: humanTime(iso, o.now), compact: relativeTime(iso, o.now), tone: "plain" };
}

function buildColumns(clients: readonly ClientRecord[], o: TableOptions): Column[] {
  const col = (key: ColumnKey, header: string, cell: (c: ClientRecord) => Cell, minWidth?: number): Column => ({
    key,
    header,
    cells: clients.map(cell),
    ...(minWidth !== undefined ? { minWidth } : {}),
  });
  return [
    col("id", "ID", (c) => ({ text: displaySafe(c.id), tone: "plain" })),
    col("type", "Type", (c) => orNull(c.type)),
    col("connected", "Connected", (c) =>
      c.connected ? { text: o.tty ? "● yes" : "yes", tone: "good" } : { text: "no", tone: "dim" },
    ),
    col("software", "Software", (c) => orNull(softwareText(c)), 12),
    col("device", "Device", (c) => orNull(c.userAgent.device), 10),
    col("firstSeen", "First seen", (c) => timeCell(c.firstSeen, o)),
    col("lastSeen", "Last seen", (c) => timeCell(c.lastSeen, o)),
    col("expires", "Expires", (c) => timeCell(c.expires, o)),
    col("auth", "Auth", (c) => (c.auth.length > 0 ? { text: c.auth.map(displaySafe).join(", "), tone: "plain" } : orNull(null)), 8),
  ];
}

const naturalWidth = (c: Column) => Math.max(displayWidth(c.header), ...c.cells.map((x) => displayWidth(x.text)));
const minimumWidth = (c: Column) => Math.min(naturalWidth(c), Math.max(c.minWidth ?? Infinity, displayWidth(c.header)));

/**
 * Picks the richest layout that fits `width` and returns the columns with their widths.
 * Every column gets its minimum; the space left goes one column at a time to the narrowest
 * column that still wants more, so no single long value takes it all.
 */
function fitColumns(all: Column[], width: number): { columns: Column[]; widths: number[] } {
  let columns = all;
  const steps = [...DEGRADE_STEPS];
  for (;;) {
    const mins = columns.map(minimumWidth);
    const used = mins.reduce((a, b) => a + b, 0) + GAP * (columns.length - 1);
    if (used <= width || columns.length === 1) {
      const naturals = columns.map(naturalWidth);
      const widths = [...mins];
      for (let spare = width - used; spare > 0; spare--) {
        let pick = -1;
        widths.forEach((w, i) => {
          if (w < (naturals[i] ?? 0) && (pick < 0 || w < (widths[pick] ?? 0))) pick = i;
        });
        if (pick < 0) break;
        widths[pick] = (widths[pick] ?? 0) + 1;
      }
      return { columns, widths };
    }
    const step = steps.shift();
    if (step === "compact") {
      columns = columns.map((c) => ({ ...c, cells: c.cells.map((x) => (x.compact ? { ...x, text: x.compact } : x)) }));
    } else {
      columns = columns.filter((c) => c.key !== step);
    }
  }
}

function painter(color: boolean): ChalkInstance {
  return new Chalk({ level: color ? 1 : 0 });
}

/** The client list as a table for people (tty) or as a stable plain table (not a tty). */
export function renderClientsTable(list: ClientList, o: TableOptions): string {
  if (list.clients.length === 0) return `No clients have access to ${displaySafe(list.jid)}.\n`;
  const all = buildColumns(list.clients, o);
  const limited = o.tty && o.width !== undefined;
  const { columns, widths } = limited
    ? fitColumns(all, o.width ?? 0)
    : { columns: all, widths: all.map(naturalWidth) };
  const chalk = painter(o.color && o.tty);
  const paint = (cell: Cell, width: number): string => {
    const text = truncateToWidth(cell.text, width);
    if (cell.tone === "dim") return chalk.dim(text);
    if (cell.tone === "good") return chalk.green(text);
    return text;
  };

  // cli-table3 pads the last column with blanks, which are noise when copying. A NUL marks the
  // end of each last cell so exactly that padding can be cut: content never holds a raw NUL
  // (displaySafe), and cli-table3 gives it no width. Trailing spaces inside a value (an id!) stay.
  const last = columns.length - 1;
  const endMark = (text: string, i: number) => (i === last ? text + END : text);

  const table = new Table({
    head: columns.map((c, i) => endMark(chalk.bold(c.header), i)),
    chars: {
      top: "", "top-mid": "", "top-left": "", "top-right": "",
      bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
      left: "", "left-mid": "", mid: "", "mid-mid": "", right: "", "right-mid": "",
      middle: " ".repeat(GAP),
    },
    // No colours of cli-table3's own: everything is coloured above, only when wanted.
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (let row = 0; row < list.clients.length; row++) {
    table.push(columns.map((c, i) => endMark(paint(c.cells[row] as Cell, widths[i] ?? 0), i)));
  }
  return table.toString().replace(/\0 *$/gm, "") + "\n";
}

/** "Gajim 1.8 on laptop"; undefined when the client reported neither software nor device. */
function describeClient(c: ClientRecord): string | undefined {
  const raw = softwareText(c);
  const software = raw === null ? null : displaySafe(raw);
  const device = c.userAgent.device ? displaySafe(c.userAgent.device) : null;
  if (software && device) return `${software} on ${device}`;
  if (software) return software;
  if (device) return `unknown software on ${device}`;
  return undefined;
}

function withDescription(id: string, c: ClientRecord | undefined): string {
  const description = c ? describeClient(c) : undefined;
  return description ? `${id} (${description})` : id;
}

/**
 * "Revoked client/abc (Gajim 1.8 on laptop) for alice@example.com." The description is shown
 * when the caller looked the client up (`r.client`).
 */
export function renderRevokeHuman(r: RevokeResult & { client?: ClientRecord | null }, o: { color: boolean }): string {
  const chalk = painter(o.color);
  const what = withDescription(chalk.bold(displaySafe(r.selector)), r.client ?? undefined);
  const jid = displaySafe(r.jid);
  return r.revoked ? `Revoked ${what} for ${jid}.\n` : `Nothing was revoked for ${jid} (${what}).\n`;
}

/**
 * The --dry-run message. `matched` is what the selector matches in the current list: one
 * client (client/ and grant/ selectors), several (software/ selectors) or none.
 */
export function renderDryRunHuman(
  target: { jid: string; selector: string },
  matched: ClientRecord | readonly ClientRecord[] | null | undefined,
  o: { color: boolean },
): string {
  const chalk = painter(o.color);
  const selector = chalk.bold(displaySafe(target.selector));
  const jid = displaySafe(target.jid);
  const clients = matched == null ? [] : "id" in matched ? [matched] : matched;
  const only = clients.length === 1 ? clients[0] : undefined;
  if (clients.length === 0) {
    return `Would revoke ${selector} for ${jid}, but no client in the current list matches it. Nothing was changed.\n`;
  }
  if (only && only.id === target.selector) {
    return `Would revoke ${withDescription(selector, only)} for ${jid}. Nothing was changed.\n`;
  }
  const lines = clients.map((c) => `  ${withDescription(displaySafe(c.id), c)}\n`);
  const count = clients.length === 1 ? "1 client" : `${clients.length} clients`;
  return `Would revoke ${selector} for ${jid}, which matches ${count}:\n${lines.join("")}Nothing was changed.\n`;
}
