// A bulk revocation plan: the exact list of (account, client id, entry as listed) that `host revoke`
// matched, written to a file (`--plan-out`) or to an anonymous spool file, and read back by
// `host apply` a record at a time, so neither side ever holds the whole plan in memory.
//
// The file is one JSON document, versioned, with one item per line:
//
//   {
//     "format": "camctl-revoke-plan",
//     "version": 1,
//     "host": "example.com",
//     "transport": "socket",
//     "createdAt": "2026-11-27T12:00:00Z",
//     "filters": { "software": "Evil Client", "lastSeenBefore": null, … },
//     "keepNewest": null,
//     "items": [
//       {"account":"alice@example.com","id":"client/…","entry":{ …the user clients record… }},
//       …
//     ],
//     "count": 2
//   }
//
// "count" comes last: a file cut short (camctl interrupted while writing) has none and is refused.
// The reader does not depend on the line layout: it scans the JSON itself, so a plan reformatted by
// jq (keys in another order, other indentation) reads the same. Writing never follows a symlink and
// never replaces a file: the plan is created exclusively, readable by its owner only (0600).
//
// A plan file is read once: checked (the header and every item) and copied as it is read into an
// anonymous spool file only camctl can reach, which is what is previewed, confirmed and applied.
// What happens to the file afterwards (rewritten, truncated, replaced) changes nothing. Like a
// secret, it is read only when it is the user's own regular file that nobody else may change.
import { constants as fsc } from "node:fs";
// Loaded when a plan is read or written: every camctl start would pay for them otherwise.
const promisesApi = async () => (await import("../core/builtins-on-demand.js")).fsPromises;
const osApi = () => import("../core/builtins-on-demand.js");
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { CamError } from "../core/errors.js";
import { checkRecordedFilters, type HostClientRecord, type PlanFilters } from "../core/filters.js";
import { isoFromDateTime, utcTimeAsWritten, type ClientRecord, type ClientType, type IsoUtc, type TransportName } from "../core/model.js";
import { renderJsonLine } from "../render/json.js";
import { displaySafe } from "../text/untrusted.js";
import { comparableJid, isValidDomain } from "../core/validate.js";
import { exposure } from "../core/file-trust.js";

export const PLAN_FORMAT = "camctl-revoke-plan";
export const PLAN_VERSION = 1;

export interface PlanHeader {
  format: typeof PLAN_FORMAT;
  version: typeof PLAN_VERSION;
  host: string;
  transport: TransportName;
  createdAt: string;
  filters: PlanFilters;
  keepNewest: number | null;
}

/** One client to revoke: the account, its id, and the entry exactly as it was listed. */
export interface PlanItem {
  account: string;
  id: string;
  entry: ClientRecord;
}

export function planItem(r: HostClientRecord): PlanItem {
  // The entry exactly as listed (with its account's facts, which the reader does not need back).
  const { account, ...entry } = r;
  return { account, id: entry.id, entry };
}

export function hostRecord(item: PlanItem): HostClientRecord {
  return { account: item.account, ...item.entry };
}

// ---------------------------------------------------------------------------------------------
// --keep-newest

/**
 * Leaves out, per account, the `n` most recently seen of its records (never-seen entries count as
 * the oldest; among equals the later one in the server's order is kept). The host listing gives each
 * account's records together, so only one account's records are held at a time.
 */
export async function* keepNewest(records: AsyncIterable<HostClientRecord>, n: number): AsyncGenerator<HostClientRecord> {
  let account: string | undefined;
  let group: HostClientRecord[] = [];
  const finished = new Set<string>();
  const flush = function* (): Generator<HostClientRecord> {
    if (group.length === 0) return;
    const seen = (r: HostClientRecord) => (r.lastSeen === null ? -Infinity : Date.parse(r.lastSeen));
    const order = group.map((r, i) => ({ r, i })).sort((a, b) => seen(b.r) - seen(a.r) || b.i - a.i);
    const kept = new Set(order.slice(0, n).map((x) => x.i));
    for (let i = 0; i < group.length; i++) if (!kept.has(i)) yield group[i]!;
    group = [];
  };
  for await (const r of records) {
    if (r.account !== account) {
      yield* flush();
      if (account !== undefined) finished.add(account);
      if (finished.has(r.account)) {
        throw new CamError("internal",
          `The host listing returned the clients of ${displaySafe(r.account)} in two places, so --keep-newest cannot tell which are the newest. ` +
            "This is a bug in camctl or the server's module; nothing was changed.");
      }
      account = r.account;
    }
    group.push(r);
  }
  yield* flush();
}

// ---------------------------------------------------------------------------------------------
// Writing

/** One line of JSON with no raw control, bidi or format character (the file may be shown with cat). */
const jsonLine = (value: unknown) => renderJsonLine(value).slice(0, -1);

const WRITE_CHUNK = 64 * 1024;

/** Writes a plan, item by item. */
export class PlanWriter {
  private pending = "";
  private count = 0;
  private constructor(
    private readonly handle: FileHandle,
    /** The file's path; null for an anonymous spool file (already unlinked). */
    readonly file: string | null,
  ) {}

  /**
   * Creates `file` for a plan: exclusively (an existing file, or a symlink, is never followed or
   * replaced), mode 0600 whatever the umask.
   */
  static async create(file: string): Promise<PlanWriter> {
    let handle: FileHandle;
    try {
      handle = await (await promisesApi()).open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0), 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === "EEXIST" ? "it already exists (camctl never overwrites a file; choose another name or remove it)"
        : code === "ENOENT" ? "its directory does not exist"
        : code === "EACCES" || code === "EPERM" ? "permission denied"
        : code === "EISDIR" ? "it is a directory"
        : (code ?? "unwritable");
      throw new CamError("usage", `Cannot write the plan to ${displaySafe(file)}: ${why}.`);
    }
    await handle.chmod(0o600);
    return new PlanWriter(handle, file);
  }

  /**
   * A plan file nobody else can reach: created in a private directory and unlinked at once, so it
   * disappears with camctl however camctl ends. Read it back with reader().
   */
  static async spool(): Promise<PlanWriter> {
    const dir = await (await promisesApi()).mkdtemp(path.join((await osApi()).tmpdir(), "camctl-plan-"));
    const file = path.join(dir, "plan.json");
    try {
      const handle = await (await promisesApi()).open(file, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0), 0o600);
      return new PlanWriter(handle, null);
    } finally {
      await (await promisesApi()).rm(dir, { recursive: true, force: true });
    }
  }

  /** Opens the document with `header` (none: a held copy, which carries only the items). */
  async begin(header?: PlanHeader): Promise<void> {
    const fields = Object.entries(header ?? {}).map(([k, v]) => `  ${JSON.stringify(k)}: ${jsonLine(v)},\n`).join("");
    await this.write(`{\n${fields}  "items": [`);
  }

  async add(item: PlanItem): Promise<void> {
    await this.write(`${this.count++ === 0 ? "" : ","}\n    ${jsonLine({ account: item.account, id: item.id, entry: item.entry })}`);
  }

  /** Ends the document with its count and syncs it to disk. */
  async finish(): Promise<number> {
    await this.write(`${this.count === 0 ? "" : "\n  "}],\n  "count": ${this.count}\n}\n`);
    await this.flush();
    await this.handle.sync();
    return this.count;
  }

  /** A reader of what was written (spool files: the same descriptor, from the start). */
  reader(): PlanReader {
    return new PlanReader(this.file ?? "the plan", this.handle, { owned: false, held: false });
  }

  /** Closes the file; a plan file that was not finished is removed (it was ours: created exclusively). */
  async close(finished: boolean): Promise<void> {
    await this.handle.close().catch(() => undefined);
    if (!finished && this.file !== null) await (await promisesApi()).unlink(this.file).catch(() => undefined);
  }

  private async write(text: string): Promise<void> {
    this.pending += text;
    if (this.pending.length >= WRITE_CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending === "") return;
    const text = this.pending;
    this.pending = "";
    await this.handle.write(text);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

const READ_CHUNK = 64 * 1024;

/** The largest single value (an item, or a header field) camctl reads from a plan. */
const MAX_VALUE_CHARS = 1024 * 1024;

function notAPlan(file: string, detail: string): CamError {
  return new CamError("usage", `${displaySafe(file)} is not a plan camctl can apply (${detail}). Make one with \`camctl host revoke <host> … --plan-out <file>\`.`);
}

type Scanned = { key: string; value: unknown } | { item: unknown };

/**
 * Scans a plan document read as text chunks: yields each top-level field but "items", parsed, and
 * each element of "items", parsed, holding at most one value (and one chunk) at a time.
 */
export async function* scanPlanText(chunks: AsyncIterable<string>, file: string): AsyncGenerator<Scanned> {
  const it = chunks[Symbol.asyncIterator]();
  let text = "";
  let pos = 0;
  let ended = false;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const next = await it.next();
    if (next.done) {
      ended = true;
      return false;
    }
    text = text.slice(pos) + next.value;
    pos = 0;
    return true;
  };
  const cutShort = "it ends in the middle (was camctl interrupted while writing it?)";
  const bad = (detail: string) => notAPlan(file, detail);
  /** The next character that is not white space (not consumed); "" at the end. */
  const peek = async (): Promise<string> => {
    for (;;) {
      while (pos < text.length && /\s/.test(text[pos]!)) pos++;
      if (pos < text.length) return text[pos]!;
      if (!(await more())) return "";
    }
  };
  const expect = async (ch: string, what: string) => {
    const next = await peek();
    if (next !== ch) throw bad(next === "" ? cutShort : `expected ${what}`);
    pos++;
  };
  /** The raw text of the JSON value starting at the next non-space character. */
  const valueText = async (): Promise<string> => {
    await peek();
    let start = pos;
    let out = "";
    let depth = 0;
    let inString = false;
    let escaped = false;
    let primitive = false;
    for (;;) {
      if (pos >= text.length) {
        out += text.slice(start, pos);
        if (out.length > MAX_VALUE_CHARS) throw bad("a value in it is larger than camctl reads");
        if (!(await more())) {
          if (primitive && depth === 0) return out;
          throw bad(cutShort);
        }
        start = 0;
      }
      const ch = text[pos]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (ch === "\\") escaped = true;
        else if (ch === '"') {
          inString = false;
          if (depth === 0) {
            pos++;
            return out + text.slice(start, pos);
          }
        }
      } else if (ch === '"') {
        inString = true;
      } else if (ch === "{" || ch === "[") {
        depth++;
      } else if (ch === "}" || ch === "]") {
        if (depth === 0) {
          if (primitive) return out + text.slice(start, pos);
          throw bad(`unexpected ${ch}`);
        }
        depth--;
        if (depth === 0) {
          pos++;
          return out + text.slice(start, pos);
        }
      } else if (depth === 0 && (ch === "," || /\s/.test(ch))) {
        return out + text.slice(start, pos);
      } else if (depth === 0) {
        primitive = true;
      }
      pos++;
    }
  };
  const parse = (raw: string): unknown => {
    try {
      return JSON.parse(raw);
    } catch {
      throw bad("it is not valid JSON");
    }
  };

  await expect("{", "a JSON object");
  if ((await peek()) === "}") {
    pos++;
  } else {
    for (;;) {
      const key = parse(await valueText());
      if (typeof key !== "string") throw bad("it is not a JSON object with named fields");
      await expect(":", "a colon");
      if (key === "items") {
        await expect("[", 'a list of items under "items"');
        if ((await peek()) === "]") pos++;
        else {
          for (;;) {
            yield { item: parse(await valueText()) };
            const sep = await peek();
            pos++;
            if (sep === "]") break;
            if (sep !== ",") throw bad(sep === "" ? cutShort : "the list of items is malformed");
          }
        }
      } else {
        yield { key, value: parse(await valueText()) };
      }
      const sep = await peek();
      pos++;
      if (sep === "}") break;
      if (sep !== ",") throw bad(sep === "" ? cutShort : "it is malformed");
    }
  }
  if ((await peek()) !== "") throw bad("there is more after the plan");
}

const isStr = (v: unknown): v is string => typeof v === "string";
const isStrOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";
/** A plan entry's time: null, or an ISO 8601 date-time read into an IsoUtc; undefined when it is neither. */
const planTime = (v: unknown): IsoUtc | null | undefined => (v === null ? null : typeof v === "string" ? (isoFromDateTime(v) ?? undefined) : undefined);

/** The item as a PlanItem, or a sentence saying what is wrong with it. */
function checkItem(v: unknown): PlanItem | string {
  if (!v || typeof v !== "object" || Array.isArray(v)) return "an item is not an object";
  const o = v as Record<string, unknown>;
  if (!isStr(o.account) || !/^[^@/\s]+@[^@/\s]+$/.test(o.account)) return "an item has no account JID";
  if (!isStr(o.id) || o.id === "") return "an item has no client id";
  const e = o.entry as Record<string, unknown> | null;
  if (!e || typeof e !== "object" || Array.isArray(e)) return `item ${o.id} has no entry`;
  const ua = e.userAgent as Record<string, unknown> | null;
  const [firstSeen, lastSeen, expires] = [planTime(e.firstSeen), planTime(e.lastSeen), planTime(e.expires)];
  const ok =
    e.id === o.id &&
    (e.type === "session" || e.type === "access") &&
    typeof e.connected === "boolean" &&
    firstSeen !== undefined && lastSeen !== undefined && expires !== undefined &&
    Array.isArray(e.auth) && e.auth.every(isStr) &&
    !!ua && typeof ua === "object" &&
    ["software", "version", "softwareId", "uri", "device"].every((k) => isStrOrNull(ua[k])) &&
    isStrOrNull(e.permission ?? null);
  if (!ok) return `the entry of item ${o.id} is not a client as camctl lists it`;
  const entry: ClientRecord = {
    id: e.id as string,
    type: e.type as ClientType,
    connected: e.connected as boolean,
    firstSeen,
    lastSeen,
    expires,
    auth: e.auth as string[],
    userAgent: {
      software: ua!.software as string | null,
      version: ua!.version as string | null,
      softwareId: ua!.softwareId as string | null,
      uri: ua!.uri as string | null,
      device: ua!.device as string | null,
    },
    permission: (e.permission ?? null) as string | null,
  };
  return { account: o.account, id: o.id, entry };
}

/** How far in the future a plan's creation time may be (the clocks of two machines differ a little). */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;


function checkHeader(fields: Map<string, unknown>, file: string, now: Date): PlanHeader & { count: number } {
  const bad = (detail: string) => notAPlan(file, detail);
  if (fields.get("format") !== PLAN_FORMAT) throw bad(`it has no "format": "${PLAN_FORMAT}"`);
  const version = fields.get("version");
  if (version !== PLAN_VERSION) {
    throw typeof version === "number" && version > PLAN_VERSION
      ? new CamError("usage", `${displaySafe(file)} is a plan of version ${version}, made by a newer camctl; this camctl reads version ${PLAN_VERSION}. Apply it with the camctl that made it.`)
      : bad("its version is missing or unknown");
  }
  const host = fields.get("host");
  if (!isStr(host) || !isValidDomain(host)) throw bad('its "host" is not a host name');
  const transport = fields.get("transport");
  if (transport !== "socket" && transport !== "xmpp") throw bad("it names no transport");
  const createdAt = utcTimeAsWritten(fields.get("createdAt"));
  if (createdAt === undefined) throw bad('its "createdAt" is not an ISO 8601 UTC time as camctl writes it, such as 2026-11-27T12:00:00Z');
  if (Date.parse(createdAt) > now.getTime() + CLOCK_SKEW_MS) throw bad(`its "createdAt" (${createdAt}) is in the future`);
  const count = fields.get("count");
  if (!Number.isSafeInteger(count) || (count as number) < 0) throw bad('it has no "count" at its end (was camctl interrupted while writing it?)');
  const keepNewest = fields.get("keepNewest") ?? null;
  if (keepNewest !== null && !(Number.isSafeInteger(keepNewest) && (keepNewest as number) >= 1)) throw bad('its "keepNewest" is not null or a whole number of at least 1');
  const filters = checkRecordedFilters(fields.get("filters"));
  if (typeof filters === "string") throw bad(filters);
  return { format: PLAN_FORMAT, version: PLAN_VERSION, host, transport, createdAt, filters, keepNewest: keepNewest as number | null, count: count as number };
}

/** Why a plan file is refused before it is read, or undefined: it must be the user's own regular file, unchangeable by others. */
function untrustedPlanFile(st: { isFile(): boolean; uid: number; mode: number }): string | undefined {
  if (!st.isFile()) return "it is not a regular file";
  // root too reads only its own plans: another user could change a plan of theirs after it was
  // reviewed; copy it (cp) to make it yours once it has been read.
  const exposed = exposure(st, { rootMayOwn: false, othersMayRead: true });
  if (exposed?.kind === "owner") return `it belongs to another user (uid ${st.uid}); camctl applies only plans of your own: review it and copy it`;
  if (exposed) return `other users may change it (mode ${(st.mode & 0o777).toString(8)}); make it yours alone with chmod 600`;
  return undefined;
}

/**
 * Reads a plan: check() it once (header, every item), then items() as often as needed. A plan
 * file opened with open() is read once only, by check(), which holds what it read in a spool file
 * of its own: items() reads that copy, so what is applied is exactly what was checked and shown.
 */
export class PlanReader {
  /** The checked copy of a plan file (open()); items() reads it. */
  private copy: PlanWriter | undefined;
  private readonly owned: boolean;
  /** Read only once, into `copy` (a user's plan file); false for camctl's own spool files. */
  private readonly held: boolean;

  constructor(
    /** For messages. */
    readonly file: string,
    private readonly handle: FileHandle,
    o: { owned?: boolean; held?: boolean } = {},
  ) {
    this.owned = o.owned ?? true;
    this.held = o.held ?? true;
  }

  /**
   * Opens a plan file: never through a symbolic link (O_NOFOLLOW), never blocking on a FIFO or
   * device, and only the user's own regular file that nobody else may change (checked on the
   * opened descriptor, so the file checked is the file read).
   */
  static async open(file: string): Promise<PlanReader> {
    let handle: FileHandle;
    try {
      handle = await (await promisesApi()).open(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0) | (fsc.O_NOCTTY ?? 0) | (fsc.O_NOFOLLOW ?? 0));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT" ? "it does not exist"
        : code === "ELOOP" ? "it is a symbolic link; give the plan file itself"
        : code === "EACCES" || code === "EPERM" ? "permission denied"
        : (code ?? "unreadable");
      throw new CamError("usage", `Cannot read the plan ${displaySafe(file)}: ${why}.`);
    }
    const refused = untrustedPlanFile(await handle.stat());
    if (refused !== undefined) {
      await handle.close();
      throw new CamError("usage", `Cannot read the plan ${displaySafe(file)}: ${refused}.`);
    }
    return new PlanReader(file, handle);
  }

  /** The file's text from its start, in chunks (positioned reads: several passes share the descriptor). */
  private async *chunks(): AsyncGenerator<string> {
    const buffer = Buffer.alloc(READ_CHUNK);
    const decoder = new TextDecoder("utf-8");
    for (let position = 0; ; ) {
      const { bytesRead } = await this.handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      yield decoder.decode(buffer.subarray(0, bytesRead), { stream: true });
    }
    const rest = decoder.decode();
    if (rest !== "") yield rest;
  }

  private scan(): AsyncGenerator<Scanned> {
    return scanPlanText(this.chunks(), this.file);
  }

  /**
   * Reads the whole plan once: checks the header and every item (and that every account is on the
   * plan's host), hands each item to `onItem`, and returns the header with the item count.
   */
  async check(onItem?: (item: PlanItem) => void, now: Date = new Date()): Promise<PlanHeader & { count: number }> {
    if (this.copy) throw new Error("PlanReader.check(): a plan file is read once");
    const fields = new Map<string, unknown>();
    const domains = new Set<string>();
    let items = 0;
    const copy = this.held ? await PlanWriter.spool() : undefined;
    try {
      await copy?.begin();
      for await (const s of this.scan()) {
        if ("key" in s) {
          fields.set(s.key, s.value);
          continue;
        }
        const item = checkItem(s.item);
        if (typeof item === "string") throw notAPlan(this.file, item);
        items++;
        domains.add(comparableJid(item.account.slice(item.account.lastIndexOf("@") + 1)));
        await copy?.add(item);
        onItem?.(item);
      }
      const header = checkHeader(fields, this.file, now);
      if (header.count !== items) throw notAPlan(this.file, `it says it has ${header.count} items but holds ${items}`);
      const host = comparableJid(header.host);
      for (const d of domains) {
        if (d !== host) throw notAPlan(this.file, `it has accounts on ${displaySafe(d)}, not only on its host ${displaySafe(header.host)}`);
      }
      await copy?.finish();
      this.copy = copy;
      return header;
    } finally {
      if (copy && this.copy !== copy) await copy.close(false);
    }
  }

  /** The items, in order, as check() read them (camctl's own spool files: read as needed). */
  async *items(): AsyncGenerator<PlanItem> {
    if (this.held) {
      if (!this.copy) throw new Error("PlanReader.items() before check(): a plan file is applied only as it was checked");
      yield* this.copy.reader().items();
      return;
    }
    for await (const s of this.scan()) {
      if ("key" in s) continue;
      const item = checkItem(s.item);
      if (typeof item === "string") throw notAPlan(this.file, item);
      yield item;
    }
  }

  async close(): Promise<void> {
    await this.copy?.close(true);
    if (this.owned) await this.handle.close().catch(() => undefined);
  }
}
