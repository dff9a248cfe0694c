// JSON output: exact and valid, and still safe to `cat` to a terminal.
//
// JSON.stringify already escapes C0 controls and lone surrogates, but writes DEL, C1 controls,
// bidi overrides and other format characters raw. Those can only occur inside string literals
// (the JSON syntax itself is ASCII), so writing each of them as a \uXXXX escape keeps the text
// valid JSON and JSON.parse gives back exactly the original strings.

import { replaceUnsafe } from "../text/untrusted.js";
import type { ClientRow } from "./client-records.js";

function unicodeEscape(ch: string): string {
  let out = "";
  // Astral characters (e.g. U+E0001 LANGUAGE TAG) become a surrogate pair, as JSON requires.
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

/** `value` as 2-space indented JSON with a trailing newline, with no raw control or bidi character. */
export function renderJson(value: unknown): string {
  const json = JSON.stringify(value, null, 2) ?? "null"; // undefined (and functions) have no JSON form
  // Raw line feeds in JSON.stringify's output are only its own indentation (inside strings it
  // escapes every C0 character itself), so they stay.
  return replaceUnsafe(json, unicodeEscape, true) + "\n";
}

/**
 * The client list as JSON, a record at a time, exactly as renderJson would write the whole object
 * `{ ...head, clients: [ ... ] }`: push() each record, then end().
 */
export class JsonClients {
  private count = 0;
  constructor(
    private readonly head: Readonly<Record<string, string | null>>,
    /** Fields after "clients" (e.g. the contexts of a fan-out), known only at the end. */
    private readonly tail?: () => Readonly<Record<string, unknown>>,
  ) {}

  push(c: ClientRow): string {
    // A record's own line feeds are its indentation (inside strings JSON.stringify escapes them),
    // so indenting it one level deeper is a replace of those.
    const record = JSON.stringify(c, null, 2).replace(/\n/g, "\n    ");
    const before = this.count++ === 0 ? this.open() + "[\n    " : ",\n    ";
    return replaceUnsafe(before + record, unicodeEscape, true);
  }

  end(): string {
    return (this.count === 0 ? replaceUnsafe(this.open(), unicodeEscape, true) + "[]" : "\n  ]") + this.close();
  }

  private close(): string {
    let out = "";
    for (const [key, value] of Object.entries(this.tail?.() ?? {})) {
      out += `,\n  ${JSON.stringify(key)}: ${JSON.stringify(value, null, 2).replace(/\n/g, "\n  ")}`;
    }
    return replaceUnsafe(out, unicodeEscape, true) + "\n}\n";
  }

  private open(): string {
    let out = "{\n";
    for (const [key, value] of Object.entries(this.head)) out += `  ${JSON.stringify(key)}: ${JSON.stringify(value)},\n`;
    return out + '  "clients": ';
  }
}

/** `value` as one line of JSON (NDJSON), with no raw control or bidi character. */
export function renderJsonLine(value: unknown): string {
  // Without indentation JSON.stringify writes no line feed at all: the value is one line.
  return replaceUnsafe(JSON.stringify(value) ?? "null", unicodeEscape) + "\n";
}

/** NDJSON: one record per line, nothing else; each line is complete when it is written. */
export class NdjsonClients {
  push(c: ClientRow): string {
    return renderJsonLine(c);
  }
  end(): string {
    return "";
  }
}
