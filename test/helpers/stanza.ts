// Stanzas for tests of the XMPP protocol code, parsed as they arrive from a server.
import assert from "node:assert/strict";
import { Parser, type Element } from "@xmpp/xml";

/** Parses one stanza as it would arrive inside a jabber:client stream. */
export function stanza(text: string): Element {
  const p = new Parser();
  let out: Element | undefined;
  p.on("element", (el: Element) => (out = el));
  p.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>${text}`);
  assert.ok(out, "parsed");
  return out;
}
