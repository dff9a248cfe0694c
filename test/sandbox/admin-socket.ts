// Minimal client for Prosody's admin socket (what `prosodyctl shell` speaks),
// used by the sandbox for setup and inspection. One connection per request.
import net from "node:net";
import { SaxesParser } from "saxes";

export interface ReplReply {
  /** Lines printed by the command (repl-output), joined with newlines. */
  output: string;
  /** Text of the repl-result element, e.g. "OK: ...", "Result: ...". */
  result: string;
  /** true when the repl-result had type='error'. */
  error: boolean;
}

function escapeXmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Sends one repl-input to the admin socket and resolves with the reply. */
export function replRequest(socketPath: string, text: string, timeoutMs = 15000): Promise<ReplReply> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    const parser = new SaxesParser();
    let depth = 0;
    let current: { name: string; attrs: Record<string, string>; text: string } | null = null;
    let output = "";
    let settled = false;

    const finish = (err: Error | null, reply?: ReplReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        sock.end("</stream:stream>");
      } catch {
        /* already closed */
      }
      sock.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(
      () => finish(new Error(`admin socket: no reply within ${timeoutMs} ms`)),
      timeoutMs,
    );

    parser.on("opentag", (tag) => {
      depth++;
      if (depth === 2) {
        const attrs: Record<string, string> = {};
        for (const [k, v] of Object.entries(tag.attributes)) attrs[k] = String(v);
        current = { name: tag.name, attrs, text: "" };
      }
    });
    parser.on("text", (t) => {
      if (current) current.text += t;
    });
    parser.on("closetag", () => {
      if (depth === 2 && current) {
        const el = current;
        current = null;
        if (el.name === "repl-output") {
          output += el.text + (el.attrs.eol === "0" ? "" : "\n");
        } else if (el.name === "repl-result") {
          finish(null, { output, result: el.text, error: el.attrs.type === "error" });
        } else if (el.name === "repl-request-input") {
          // Non-interactive: refuse any prompt.
          sock.write(
            `<repl-requested-input type='${el.attrs.type ?? "password"}' id='${el.attrs.id ?? ""}' status='cancel'/>`,
          );
        }
      }
      depth--;
    });
    parser.on("error", (e) => finish(e));

    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      try {
        parser.write(d);
      } catch (e) {
        finish(e as Error);
      }
    });
    sock.on("error", (e) => finish(e));
    sock.on("close", () => finish(new Error("admin socket closed before a result arrived")));
    sock.on("connect", () => {
      sock.write(
        "<?xml version='1.0'?><stream:stream xmlns='xmpp:prosody.im/admin' " +
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" +
          `<repl-input width='132' repl='0'>${escapeXmlText(text)}</repl-input>`,
      );
    });
  });
}

/** A Lua string literal for any JS string (bytes of its UTF-8 encoding). */
export function luaString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, "utf8")) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += "\\\\";
    else if (byte < 0x20 || byte === 0x7f) out += "\\" + String(byte).padStart(3, "0");
    else out += String.fromCharCode(byte);
  }
  // Non-ASCII bytes were appended as Latin-1 code units; re-encode them as the original bytes.
  return Buffer.from(out + '"', "latin1").toString("utf8");
}
