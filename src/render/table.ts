// The human-readable client table (the revoke command's texts are in revoke.ts).
//
// Every string from the server or a client goes through displaySafe, so a cell is always one
// line and a table has exactly one header line plus one line per client. The table is
// borderless (columns separated by two spaces), which leaves the most room on narrow terminals,
// and lines carry no trailing blanks.
//
// Rows are written as they come (ClientTable.push), so a long listing never becomes one huge
// string. Column widths are planned from the first BUFFERED_ROWS rows (all of them when there
// are fewer); later rows use that plan. What one value can do to the table is bounded:
//   - a non-id cell is cut to its column's cap with "…" (JSON and CSV keep the full value);
//   - ids (and accounts) are never cut: one that is wider than the plan allows for (wider than the
//     terminal, or than ID_PAD_CAP off a terminal) is printed whole and only its own row shifts.
//
// On a terminal, when the table is wider than `width`, it degrades step by step:
//   1. long Software / Device / Auth values are cut with "…" down to a readable minimum;
//   2. then columns are dropped, least useful first: Type (the id prefix says it), First seen,
//      then times lose their date part ("3 min ago" instead of "3 min ago (14:37)"),
//      then Auth, Expires, Device, Last seen, Connected, Software, until only ID (and Account) is left;
//      a column in `keep` (the columns of the filters given: core/filters.ts FILTER_COLUMNS, or those
//      --columns chose) is never dropped.
// --columns picks the columns and their order; --wide lays the table out as off a terminal (every
// column, full ids and times, no width limit) but keeps the terminal's times and colour. With
// `shortIds` (listings on a terminal, not --wide) ids are shown as their shortest unique prefix
// (short-id.ts).
// Off a terminal the table has all columns, absolute ISO times, no colour and no width limit
// other than the caps.

import type { ClientList, ClientRecord, IsoUtc } from "../core/model.js";
import { displaySafe } from "../text/untrusted.js";
import type { ClientRow } from "./client-records.js";
import { humanTimeForms } from "./time.js";
import { painter } from "./sgr.js";
import { displayWidth, truncateToWidth } from "./width.js";
import type { ColumnName } from "../core/columns.js";
import { IdShortener, SHORT_ID_MARK } from "./short-id.js";

export interface TableOptions {
  color: boolean;
  /** Terminal columns; undefined means no limit. Only used when `tty` is true. */
  width?: number;
  tty: boolean;
  now: Date;
  /** Adds an Account column first (listings of several accounts). */
  account?: boolean;
  /** Adds a Context column before everything (listings of several servers). */
  context?: boolean;
  /** --columns: only these, in this order (names absent from this table are left out). */
  columns?: readonly ColumnName[];
  /** Never dropped to fit the width (the columns of the filters given). */
  keep?: readonly ColumnName[];
  /** --wide: no fitting to the terminal's width. */
  wide?: boolean;
  /** Ids as their shortest unique prefix when the table is fitted to a terminal. */
  shortIds?: boolean;
}

/** Rows the column widths are planned from; later rows follow that plan. */
export const BUFFERED_ROWS = 200;

/** Off a terminal, ids and accounts wider than this do not widen their column (their row shifts). */
export const ID_PAD_CAP = 64;

type ColumnKey =
  | "context" | "account" | "id" | "type" | "connected" | "software" | "device" | "firstSeen" | "lastSeen" | "expires" | "auth"
  | "ip" | "lastIp" | "lastLogin";

/** Columns shown only when a planned row has a value in them (core/network.ts: addresses, recorded logins). */
const WHEN_KNOWN: ReadonlySet<ColumnKey> = new Set(["ip", "lastIp", "lastLogin"]);

/** One table cell: display-safe text, its terminal width, and how to colour it. */
interface Cell {
  text: string;
  width: number;
  /** The shorter form used when space is short (times without their date part). */
  compact?: Cell;
  tone: "plain" | "dim" | "good";
}

interface ColumnSpec {
  key: ColumnKey;
  /** As --columns names it. */
  name: ColumnName;
  header: string;
  cell: (c: ClientRow) => Cell;
  /** Most columns a value may take; longer values are cut with "…". Absent: never cut (ids). */
  cap?: number;
  /** On a terminal, the least a value may be cut to before columns are dropped instead. */
  minWidth?: number;
}

/** A column in the plan: which one, and how wide. */
interface Planned {
  spec: ColumnSpec;
  index: number;
  width: number;
}

const GAP = 2; // spaces between columns

/** Order in which columns go when the table is too wide; "compact" is when times lose their date. */
const DEGRADE_STEPS: ReadonlyArray<ColumnKey | "compact"> = [
  "type",
  "firstSeen",
  "lastLogin",
  "lastIp",
  "compact",
  "auth",
  "ip",
  "expires",
  "device",
  "lastSeen",
  "connected",
  "software",
];

/** A cell of display-safe text, cut to `cap` columns with "…" when it is longer. */
function cell(text: string, tone: Cell["tone"] = "plain", cap = Infinity): Cell {
  const cut = cap === Infinity ? text : truncateToWidth(text, cap);
  return { text: cut, width: displayWidth(cut), tone };
}

const NULL_CELL = cell("-", "dim");

/** "Gajim 1.8" (raw, not yet display-safe), or null when neither is known. */
function softwareText(c: ClientRecord): string | null {
  const parts = [c.userAgent.software, c.userAgent.version].filter((p): p is string => p !== null && p !== "");
  return parts.length > 0 ? parts.join(" ") : null;
}

function columnSpecs(o: TableOptions): ColumnSpec[] {
  /** An untrusted value, or a dim "-" when absent. */
  const value = (v: string | null, cap: number): Cell => (v === null || v === "" ? NULL_CELL : cell(displaySafe(v), "plain", cap));
  const time = (iso: IsoUtc | null): Cell => {
    if (iso === null) return NULL_CELL;
    if (!o.tty) return cell(iso);
    const { full, compact } = humanTimeForms(iso, o.now);
    return { ...cell(full, "plain", 40), compact: cell(compact, "plain", 40) };
  };
  const connected = cell(o.tty ? "● yes" : "yes", "good");
  const disconnected = cell("no", "dim");
  const specs: ColumnSpec[] = [
    { key: "id", name: "id", header: "ID", cell: (c) => cell(displaySafe(c.id)) },
    { key: "type", name: "type", header: "Type", cell: (c) => value(c.type, 16), cap: 16 },
    { key: "connected", name: "connected", header: "Connected", cell: (c) => (c.connected ? connected : disconnected), cap: 9 },
    { key: "software", name: "software", header: "Software", cell: (c) => value(softwareText(c), 48), cap: 48, minWidth: 12 },
    { key: "device", name: "device", header: "Device", cell: (c) => value(c.userAgent.device, 48), cap: 48, minWidth: 10 },
    { key: "firstSeen", name: "first-seen", header: "First seen", cell: (c) => time(c.firstSeen), cap: 40 },
    { key: "lastSeen", name: "last-seen", header: "Last seen", cell: (c) => time(c.lastSeen), cap: 40 },
    { key: "expires", name: "expires", header: "Expires", cell: (c) => time(c.expires), cap: 40 },
    {
      key: "auth",
      name: "auth",
      header: "Auth",
      cell: (c) => (c.auth.length > 0 ? cell(c.auth.map(displaySafe).join(", "), "plain", 40) : NULL_CELL),
      cap: 40,
      minWidth: 8,
    },
    // Where it connects from (core/network.ts): the live address, and the companion's record.
    { key: "ip", name: "address", header: "Address", cell: (c) => value(c.ip ?? null, 48), cap: 48 },
    { key: "lastIp", name: "last-ip", header: "Last IP", cell: (c) => value(c.lastIp ?? null, 48), cap: 48 },
    { key: "lastLogin", name: "last-login", header: "Last login", cell: (c) => time(c.lastLogin ?? null), cap: 40 },
  ];
  if (o.account) specs.unshift({ key: "account", name: "account", header: "Account", cell: (c) => (c.account === undefined ? NULL_CELL : cell(displaySafe(c.account))) });
  if (o.context) specs.unshift({ key: "context", name: "context", header: "Context", cell: (c) => (c.context === undefined ? NULL_CELL : cell(displaySafe(c.context))) });
  if (o.columns === undefined) return specs;
  // --columns: the chosen ones, in the order given.
  return o.columns.flatMap((name) => specs.filter((s) => s.name === name));
}

/**
 * The width a column would like and the least it can do with, over the planned rows. Cells of a
 * never-cut column (ids) wider than `whole.limit` are left out, so only their own row shifts;
 * when no cell is within the limit the column takes `whole.otherwise` ("widest": the widest cell,
 * "limit": the limit itself).
 */
function measure(spec: ColumnSpec, cells: readonly Cell[], whole: { limit: number; otherwise: "widest" | "limit" }): { natural: number; min: number } {
  const header = displayWidth(spec.header);
  if (spec.cap === undefined) {
    let within = -1;
    let widest = header;
    for (const x of cells) {
      if (x.width <= whole.limit && x.width > within) within = x.width;
      if (x.width > widest) widest = x.width;
    }
    const natural = within >= 0 ? Math.max(header, within) : cells.length === 0 ? header : whole.otherwise === "widest" ? widest : Math.max(header, whole.limit);
    return { natural, min: natural };
  }
  let natural = header;
  for (const x of cells) if (x.width > natural) natural = x.width;
  return { natural, min: Math.min(natural, Math.max(spec.minWidth ?? Infinity, header)) };
}

/**
 * Picks the richest layout of `rows` that fits `width`: which columns, whether times are
 * compact, and each column's width. Every column gets its minimum; the space left goes one
 * column at a time to the narrowest column that still wants more, so no single long value
 * takes it all.
 */
function fitColumns(specs: ColumnSpec[], rows: readonly Cell[][], width: number, keep: ReadonlySet<ColumnName>): { planned: Planned[]; compact: boolean } {
  let kept = specs.map((spec, index) => ({ spec, index }));
  let compact = false;
  const steps = DEGRADE_STEPS.filter((step) => step === "compact" || !specs.some((s) => s.key === step && keep.has(s.name)));
  const whole = (k: ColumnKey) => k === "id" || k === "account" || k === "context";
  for (;;) {
    // An id wider than the terminal wraps anyway: it does not decide the layout of the others.
    const sizes = kept.map(({ spec, index }) => measure(spec, rows.map((r) => pick(r[index]!, compact)), { limit: width, otherwise: "widest" }));
    const widths = sizes.map((s) => s.min);
    const used = widths.reduce((a, b) => a + b, 0) + GAP * (kept.length - 1);
    if (used <= width || kept.every((k) => whole(k.spec.key))) {
      for (let spare = width - used; spare > 0; spare--) {
        let best = -1;
        widths.forEach((w, i) => {
          if (w < (sizes[i]?.natural ?? 0) && (best < 0 || w < (widths[best] ?? 0))) best = i;
        });
        if (best < 0) break;
        widths[best] = (widths[best] ?? 0) + 1;
      }
      return { planned: kept.map((k, i) => ({ ...k, width: widths[i] ?? 0 })), compact };
    }
    const step = steps.shift();
    if (step === undefined) return { planned: kept.map((k, i) => ({ ...k, width: widths[i] ?? 0 })), compact };
    if (step === "compact") compact = true;
    else kept = kept.filter((k) => k.spec.key !== step);
  }
}

const pick = (x: Cell, compact: boolean): Cell => (compact ? (x.compact ?? x) : x);

/** An id cell as short-id.ts shows it: the (display-safe) prefix and the mark, or the whole id. */
const idCell = (id: string, shown: string): Cell =>
  cell(shown === id ? displaySafe(id) : displaySafe(shown.slice(0, -SHORT_ID_MARK.length)) + SHORT_ID_MARK);

/**
 * The client table, a row at a time: push() each record and write what it returns (nothing while
 * the first rows are still being planned), then write what end() returns.
 *
 * The layout is done here rather than by cli-table3: all the widths are planned here anyway,
 * and cli-table3 costs about 0.5 ms per row (quadratic in rows), half a second for 1,000 clients.
 */
export class ClientTable {
  private readonly specs: ColumnSpec[];
  private readonly style: Record<Cell["tone"] | "head", (s: string) => string>;
  private buffered: Cell[][] | undefined = [];
  /** Fitted to the terminal's width (not --wide, not off a terminal). */
  private readonly fitting: boolean;
  /** Short ids: the shortener, and where the id cell is among the specs. */
  private ids: { shortener: IdShortener; index: number; buffered: string[] } | undefined;
  private plan: { planned: Planned[]; compact: boolean } | undefined;
  private rows = 0;

  /** `empty` is the sentence shown when there is no row at all (display-safe). */
  constructor(
    private readonly o: TableOptions,
    private readonly empty: string,
  ) {
    this.specs = columnSpecs(o);
    this.fitting = o.tty && o.width !== undefined && o.wide !== true;
    const idIndex = this.specs.findIndex((s) => s.key === "id");
    this.ids = this.fitting && o.shortIds === true && idIndex >= 0 ? { shortener: new IdShortener(), index: idIndex, buffered: [] } : undefined;
    // Whether to colour was decided once (iostreams.decideColor: terminal, NO_COLOR, FORCE_COLOR).
    const chalk = painter(o.color);
    this.style = { plain: (s) => s, dim: chalk.dim, good: chalk.green, head: chalk.bold };
  }

  push(c: ClientRow): string {
    this.rows++;
    const cells = this.specs.map((s) => s.cell(c));
    if (this.buffered) {
      this.ids?.buffered.push(c.id);
      this.buffered.push(cells);
      return this.buffered.length >= BUFFERED_ROWS ? this.release() : "";
    }
    if (this.ids) cells[this.ids.index] = idCell(c.id, this.ids.shortener.next(c.id));
    return this.line(this.kept ? this.kept.map((k) => cells[k]!) : cells);
  }

  end(): string {
    if (this.rows === 0) return this.empty + "\n";
    return this.buffered ? this.release() : "";
  }

  /** Plans the columns from the buffered rows, and returns the header and those rows. */
  private release(): string {
    const rows = this.buffered ?? [];
    this.buffered = undefined;
    const { o } = this;
    // Address and login columns only when some planned row knows them (e.g. not with --no-ip).
    const specs = this.specs.filter((spec, index) => !WHEN_KNOWN.has(spec.key) || rows.some((r) => r[index] !== NULL_CELL));
    const keep = specs.map((spec) => this.specs.indexOf(spec));
    for (let i = 0; i < rows.length; i++) rows[i] = keep.map((k) => rows[i]![k]!);
    this.kept = keep;
    if (this.fitting) {
      const fit = () => fitColumns(specs, rows, o.width!, new Set([...(o.keep ?? []), ...(o.columns ?? [])]));
      this.plan = fit();
      // Ids are shortened only when the table with them whole does not fit: then each planned
      // row's id becomes its shortest prefix among the planned rows, and the plan is made again.
      if (this.ids) {
        const { buffered } = this.ids;
        const at = specs.findIndex((spec) => spec.key === "id");
        if (this.plan.compact || this.plan.planned.length < specs.length) {
          const shown = this.ids.shortener.planned(buffered);
          buffered.forEach((id, i) => (rows[i]![at] = idCell(id, shown[i]!)));
          this.ids.buffered = [];
          this.plan = fit();
        } else {
          this.ids = undefined;
        }
      }
    } else {
      this.plan = {
        planned: specs.map((spec, index) => ({ spec, index, width: measure(spec, rows.map((r) => r[index]!), { limit: ID_PAD_CAP, otherwise: "limit" }).natural })),
        compact: false,
      };
    }
    let out = this.layout(this.plan.planned.map((p) => cell(p.spec.header)), "head");
    for (const r of rows) out += this.line(r);
    return out;
  }

  /** The specs' indexes of the planned columns' cells (columns left out are not in it). */
  private kept: number[] | undefined;

  private line(cells: readonly Cell[]): string {
    return this.layout(this.plan!.planned.map((p) => pick(cells[p.index]!, this.plan!.compact)));
  }

  /**
   * One line: each cell coloured and padded to its column (the last one is not: no trailing
   * blanks). On a terminal a cell wider than its column is cut to it (ids never); off a terminal
   * cells are already within their caps, and one wider than its column shifts the rest of its row.
   */
  private layout(cells: readonly Cell[], tone?: "head"): string {
    const planned = this.plan!.planned;
    const fitting = this.fitting;
    const last = planned.length - 1;
    let line = "";
    planned.forEach((p, i) => {
      const x = cells[i]!;
      const cut = fitting && x.width > p.width && p.spec.cap !== undefined;
      const text = cut ? truncateToWidth(x.text, p.width) : x.text;
      const pad = i === last ? 0 : p.width - (cut ? displayWidth(text) : x.width);
      if (i > 0) line += " ".repeat(GAP);
      line += this.style[tone ?? x.tone](text) + " ".repeat(Math.max(0, pad));
    });
    return line + "\n";
  }
}

/** The whole client list as a table, as one string (the list is small, or this is a test). */
export function renderClientsTable(list: ClientList, o: TableOptions): string {
  const table = new ClientTable(o, `No clients have access to ${displaySafe(list.jid)}.`);
  let out = "";
  for (const c of list.clients) out += table.push(c);
  return out + table.end();
}
