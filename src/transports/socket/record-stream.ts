// Reads a record stream from the admin socket: what camctl's Lua requests answer with (see
// lua/record_stream.lua for the server side). Each reply is pieces of NDJSON (one <repl-output>
// each, base64, or for a host scan or a watch as text where XML carries it unchanged) and a
// trailer that counts them; a trailer with more=true is followed by a request for the next reply.
// Nothing is accepted unless the counts add up, and no more than maxBytes.
import { CamError } from "../../core/errors.js";
import { replError, type AdminStream } from "./adminstream.js";
import { CONTINUE_CHUNK } from "./lua.js";
import { excerpt, msg } from "../../text/untrusted.js";

/** What camctl accepts from the admin socket for one answer (the XMPP transport has the same cap). */
export const MAX_STREAM_BYTES = 64 * 1024 * 1024;

const BASE64_PREFIX = "base64:";
const TEXT_PREFIX = "text:";
// A chunk's return value comes as "Result: …"; a promise's, once it resolves, as "OK: …".
const RESULT_PREFIXES = ["Result: ", "OK: "];
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface RecordStream {
  /** Every record, parsed, in order. */
  records: unknown[];
  /** The last trailer's other fields, e.g. { jid } or { err, text }. */
  meta: Record<string, unknown>;
}

export interface ReadOptions {
  /** What is being read, for messages: "the clients of alice@example.com". */
  what: string;
  /** Default MAX_STREAM_BYTES; a consumer that streams with onRecord may allow more. */
  maxBytes?: number;
  /** The largest single record accepted (default: maxBytes), for streams with no total cap. */
  maxRecordBytes?: number;
  /**
   * Takes each record as soon as it is complete (e.g. to write NDJSON as it arrives) instead of
   * collecting them; `records` is then empty. The counts are still checked, at the end.
   */
  onRecord?: (record: unknown) => void;
}

function incomplete(what: string, detail: string): CamError {
  return new CamError("unreachable",
    `The admin socket's answer with ${what} arrived incomplete (${detail}), so camctl shows nothing of it. ` +
    `Try again; if it keeps happening, Prosody's log may say why.`);
}

/** An answer that is not what Prosody's admin shell sends (exit 3): "is that really Prosody?". */
export function unreadable(what: string, detail: string): CamError {
  return new CamError("unreachable",
    `The admin socket answered the request for ${what} with something camctl cannot read (${detail}). ` +
    `Is that really the admin socket of a Prosody 13 or later?`);
}

/**
 * A piece as Lua sent it: "base64:" + base64 (the bytes), or "text:" + the NDJSON itself
 * (record_stream.lua's xml_safe), kept as the string the XML parser made: no copy.
 */
function decodePiece(text: string, what: string, where: string): Buffer | string {
  return text.startsWith(TEXT_PREFIX) ? text.slice(TEXT_PREFIX.length) : decodeBase64(text, what, where);
}

/** A trailer or piece as Lua sent it: "base64:" + base64 text. */
function decodeBase64(text: string, what: string, where: string): Buffer {
  const body = text.startsWith(BASE64_PREFIX) ? text.slice(BASE64_PREFIX.length) : null;
  if (body === null || body.length % 4 !== 0 || !BASE64.test(body)) throw unreadable(what, `${where} is not base64`);
  return Buffer.from(body, "base64");
}

function parseTrailer(result: string, isError: boolean, what: string): Record<string, unknown> {
  const prefix = RESULT_PREFIXES.find((p) => result.startsWith(p));
  if (isError) throw replError(result, what);
  if (prefix === undefined) throw unreadable(what, msg`the result "${excerpt(result, 80)}" is not camctl's`.toString());
  let value: unknown;
  try {
    value = JSON.parse(decodeBase64(result.slice(prefix.length), what, "the result").toString("utf8"));
  } catch (e) {
    if (e instanceof CamError) throw e;
    throw unreadable(what, "the result is not JSON");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw unreadable(what, "the result is not an object");
  const t = value as Record<string, unknown>;
  for (const field of ["pieces", "bytes", "records"]) {
    if (!Number.isSafeInteger(t[field])) throw unreadable(what, `the result has no count of ${field}`);
  }
  if (typeof t.more !== "boolean") throw unreadable(what, "the result does not say whether more follows");
  return t;
}

/** Sends `chunk` and reads the record stream it answers with, following continuations. */
export async function readRecordStream(stream: AdminStream, chunk: string, o: ReadOptions): Promise<RecordStream> {
  const maxBytes = o.maxBytes ?? MAX_STREAM_BYTES;
  const records: unknown[] = [];
  let received = 0;
  const take = o.onRecord ?? ((record: unknown) => records.push(record));
  let unfinishedLine: Buffer[] = [];
  let unfinishedBytes = 0;
  let total = 0;
  const maxRecordBytes = o.maxRecordBytes ?? maxBytes;
  // Like the total cap, this one stops reading at once: the rest is not wanted.
  let recordTooLarge: CamError | undefined;

  /**
   * Takes the complete lines of a piece; the rest waits for the next piece (as bytes: a line cut
   * inside a character continues in a base64 piece).
   */
  const takeLines = (data: Buffer | string) => {
    const bytesOf = (from: number, to?: number) =>
      typeof data === "string" ? Buffer.from(data.slice(from, to), "utf8") : data.subarray(from, to);
    const newline = (from: number) => typeof data === "string" ? data.indexOf("\n", from) : data.indexOf(0x0a, from);
    let start = 0;
    for (let nl = newline(0); nl !== -1; nl = newline(start)) {
      let line: string;
      if (unfinishedLine.length === 0) {
        line = typeof data === "string" ? data.slice(start, nl) : data.toString("utf8", start, nl);
      } else {
        unfinishedLine.push(bytesOf(start, nl));
        line = Buffer.concat(unfinishedLine).toString("utf8");
      }
      unfinishedLine = [];
      unfinishedBytes = 0;
      start = nl + 1;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        throw unreadable(o.what, `record ${received + 1} is not JSON`);
      }
      received++;
      take(record);
    }
    if (start < data.length) {
      const rest = bytesOf(start);
      unfinishedLine.push(rest);
      unfinishedBytes += rest.length;
      if (unfinishedBytes > maxRecordBytes) {
        throw (recordTooLarge = new CamError("unreachable",
          `A single record of ${o.what} is larger than ${Math.floor(maxRecordBytes / 1024 / 1024)} MiB, more than camctl accepts; camctl stopped reading. ` +
          `So much client data usually means someone filled a list on purpose: changing that account's password removes every client and grant from it.`));
      }
    }
  };

  let request = chunk;
  for (;;) {
    let pieces = 0;
    let bytes = 0;
    // What camctl cannot read is reported once the reply is complete: if the rest is not even
    // well-formed XML, that is the more useful thing to say. Only the cap stops reading at once.
    let unreadablePiece: CamError | undefined;
    const reply = await stream.request(request, (text) => {
      pieces++;
      if (unreadablePiece) return;
      let data: Buffer | string;
      try {
        data = decodePiece(text, o.what, `piece ${pieces}`);
      } catch (e) {
        unreadablePiece = e as CamError;
        return;
      }
      const size = typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.length;
      bytes += size;
      total += size;
      if (total > maxBytes) {
        throw new CamError("unreachable",
          `The answer with ${o.what} is larger than ${Math.floor(maxBytes / 1024 / 1024)} MiB, more than camctl accepts; camctl stopped reading and shows nothing of it. ` +
          `So much client data usually means someone filled the list on purpose: changing the account's password removes every client and grant from it.`);
      }
      try {
        takeLines(data);
      } catch (e) {
        if (e === recordTooLarge) throw e;
        unreadablePiece = e as CamError;
      }
    });
    if (unreadablePiece) throw unreadablePiece;
    const trailer = parseTrailer(reply.result, reply.isError, o.what);
    if (trailer.pieces !== pieces || trailer.bytes !== bytes) {
      throw incomplete(o.what, `${trailer.pieces} pieces of ${trailer.bytes} bytes were sent, ${pieces} of ${bytes} arrived`);
    }
    if (trailer.more === true) {
      request = CONTINUE_CHUNK;
      continue;
    }
    if (unfinishedLine.length > 0) throw incomplete(o.what, "the last record is cut off");
    if (trailer.records !== received) {
      throw incomplete(o.what, `${trailer.records} records were sent, ${received} arrived`);
    }
    const { more: _more, pieces: _pieces, bytes: _bytes, records: _records, ...meta } = trailer;
    return { records, meta };
  }
}
