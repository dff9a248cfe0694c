// Client side of Prosody's admin stream (what `prosodyctl shell` speaks over the unix socket):
// an XML stream in the namespace xmpp:prosody.im/admin carrying <repl-input> requests and
// <repl-output>/<repl-result> replies. Parsed with a streaming XML parser, never with regexes.
// Reference: prosody util/adminstream.lua and util/prosodyctl/shell.lua.
import { statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { SaxesParser } from "saxes";
import { CamError, ServerFault } from "../../core/errors.js";
import { excerpt, msg } from "../../text/untrusted.js";

export const NS_ADMIN = "xmpp:prosody.im/admin";
const STREAM_HEADER =
  `<?xml version='1.0'?><stream:stream xmlns='${NS_ADMIN}' ` +
  `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;

export interface ReplReply {
  /** Lines of <repl-output>, in order. */
  output: string[];
  /** Text of <repl-result>, e.g. "Result: …", "OK: …" or "Error: …". */
  result: string;
  /** <repl-result type='error'>. */
  isError: boolean;
}

interface Pending {
  resolve: (r: ReplReply) => void;
  reject: (e: Error) => void;
  output: string[];
  onOutput: ((text: string) => void) | undefined;
}

/**
 * The largest single element camctl accepts from the admin socket, in characters. camctl's own
 * requests answer in pieces far below it (see lua/record_stream.lua); anything bigger is not a
 * reply camctl asked for, and is refused before it can fill memory.
 */
export const MAX_ELEMENT_CHARS = 4 * 1024 * 1024;

interface Element {
  name: string;
  attrs: Record<string, string>;
  text: string;
}

const XML_TEXT_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/** `s` as XML character data: one pass (a request carries ~70 KB of Lua with a few hundred of these). */
export function escapeXmlText(s: string): string {
  return s.replace(/[&<>]/g, (c) => XML_TEXT_ENTITIES[c]!);
}

/** Whether `path` exists and is something other than a socket (Linux refuses those with ECONNREFUSED). */
function isNotSocket(path: string): boolean {
  try {
    return !statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** Maps a socket connect error to the sentence an operator needs. */
function connectError(path: string, err: NodeJS.ErrnoException): CamError {
  const notSocket = () => new CamError("unreachable", msg`${path} is not a socket. Check --socket or $CAMCTL_SOCKET.`);
  if ((err.code === "ECONNREFUSED" || err.code === "ENOTSOCK") && isNotSocket(path)) return notSocket();
  switch (err.code) {
    case "ENOENT":
      return new CamError("unreachable",
        msg`There is no admin socket at ${path}. Is Prosody running with mod_admin_socket loaded? ` +
        `Point camctl at the right path with --socket or $CAMCTL_SOCKET.`);
    case "ECONNREFUSED":
      return new CamError("unreachable",
        msg`Connection to the admin socket ${path} was refused: the file exists but no Prosody is listening on it (stale socket?). Is Prosody running?`);
    case "EACCES":
    case "EPERM":
      return new CamError("forbidden",
        msg`Permission denied opening the admin socket ${path}. Only root or the prosody user may use it; run camctl as one of them (e.g. with sudo -u prosody).`);
    case "ENOTSOCK":
      return notSocket();
    default:
      return new CamError("unreachable", msg`Cannot connect to the admin socket ${path}: ${err.message}.`);
  }
}

/**
 * A <repl-result type='error'>: the shell could not run camctl's request (the Lua raised, a
 * storage error under it, the shell refused the input). A failure inside the server, exit 3 like
 * over XMPP; only a socket without the shell is "unsupported". `what`: "the clients of a@b".
 */
export function replError(result: string, what: string): CamError {
  const firstLine = result.split("\n")[0]!.trim();
  if (/No module handled this query/.test(firstLine)) {
    return new CamError("unsupported",
      msg`Prosody's admin socket has no shell to run camctl's request (${excerpt(firstLine)}). Add "admin_shell" to modules_enabled and reload Prosody.`);
  }
  return new ServerFault(
    msg`Prosody failed while running camctl's request for ${what}: ${excerpt(firstLine || "no reason given")}. Prosody's log may say more.`,
    "shell-error");
}

export class AdminStream {
  private socket: Socket | undefined;
  private readonly parser = new SaxesParser({ xmlns: false });
  private depth = 0;
  private current: Element | undefined;
  private queue: Pending[] = [];
  private failure: Error | undefined;
  private charsSinceStanza = 0;
  private ready: Promise<void> | undefined;
  /** Rejects open() while the stream header has not arrived yet. */
  private rejectOpen: ((e: Error) => void) | undefined;

  /** `signal`: the caller's deadline; when it aborts, what is pending rejects with its reason and the connection is dropped. */
  constructor(private readonly path: string, signal?: AbortSignal) {
    signal?.addEventListener("abort", () => this.abort(signal.reason), { once: true });
    this.parser.on("opentag", (tag) => {
      this.depth++;
      if (this.depth === 2) {
        const attrs: Record<string, string> = {};
        for (const [k, v] of Object.entries(tag.attributes)) attrs[k] = String(v);
        this.current = { name: tag.name, attrs, text: "" };
      }
    });
    this.parser.on("text", (t) => this.addText(t));
    this.parser.on("cdata", (t) => this.addText(t));
    this.parser.on("closetag", () => {
      if (this.depth === 2 && this.current) this.onStanza(this.current);
      if (this.depth === 2) {
        this.current = undefined;
        this.charsSinceStanza = 0;
      }
      this.depth--;
      if (this.depth === 0) this.fail(new CamError("unreachable", "Prosody closed the admin session before answering."));
    });
    this.parser.on("error", () => {
      const e = new CamError("unreachable", "The admin socket sent data that is not well-formed XML; is that really Prosody's admin socket?");
      this.fail(e);
      this.rejectOpen?.(e); // garbage instead of a stream header
    });
  }

  /** Opens the socket and the stream. Resolves once the server's stream header arrived. */
  open(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      this.rejectOpen = reject;
      const socket = connect({ path: this.path });
      this.socket = socket;
      let opened = false;
      socket.setEncoding("utf8");
      socket.once("connect", () => socket.write(STREAM_HEADER));
      socket.on("data", (chunk: string) => {
        if (this.failure || !this.countIncoming(chunk.length)) return;
        try {
          this.parser.write(chunk);
        } catch {
          // saxes reports through the "error" handler; nothing more to do here.
        }
        if (!opened && this.depth >= 1) {
          opened = true;
          resolve();
        }
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        const e = opened ? new CamError("unreachable", msg`The admin socket connection failed: ${err.message}.`) : connectError(this.path, err);
        this.fail(e);
        reject(e);
      });
      socket.once("close", () => {
        const e = new CamError("unreachable", "Prosody closed the admin socket connection before answering.");
        this.fail(e);
        if (!opened) reject(e);
      });
    });
    return this.ready;
  }

  /**
   * Sends one non-interactive request and waits for its <repl-result>. With `onOutput`, each
   * <repl-output> goes to it as it arrives instead of into the reply; if it throws, the request
   * fails with that error and the connection is closed (the rest of the reply is not wanted).
   */
  async request(text: string, onOutput?: (text: string) => void): Promise<ReplReply> {
    await this.open();
    if (this.failure) throw this.failure;
    return new Promise<ReplReply>((resolve, reject) => {
      this.queue.push({ resolve, reject, output: [], onOutput });
      this.socket!.write(`<repl-input width='132' repl='0'>${escapeXmlText(text)}</repl-input>`);
    });
  }

  /** Stops reading from the socket (the consumer is behind); the server then waits. */
  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  close(): void {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    this.failure ??= new CamError("unreachable", "The admin connection was closed.");
    socket.end("</stream:stream>");
    socket.destroySoon();
    // Do not let a slow peer keep the process alive; and once the socket is gone, no timer is
    // left for it.
    const giveUp = setTimeout(() => socket.destroy(), 200).unref();
    socket.once("close", () => clearTimeout(giveUp));
  }

  private onStanza(el: Element): void {
    const head = this.queue[0];
    switch (el.name) {
      case "repl-output":
        if (!head?.onOutput) {
          head?.output.push(el.text);
          return;
        }
        try {
          head.onOutput(el.text);
        } catch (e) {
          this.fail(e instanceof Error ? e : new Error(String(e)));
          this.close();
        }
        return;
      case "repl-result":
        if (!head) return;
        this.queue.shift();
        head.resolve({ output: head.output, result: el.text, isError: el.attrs.type === "error" });
        return;
      case "repl-request-input":
        // camctl never feeds passwords through the shell: decline, the command then fails cleanly.
        this.socket?.write(
          `<repl-requested-input type='${escapeAttr(el.attrs.type ?? "")}' id='${escapeAttr(el.attrs.id ?? "")}' status='cancel'/>`,
        );
        return;
      case "stream:error":
      case "error":
        this.fail(new CamError("unreachable", "Prosody ended the admin session with a stream error."));
        return;
      default:
        return;
    }
  }

  private abort(reason: Error): void {
    this.fail(reason);
    this.rejectOpen?.(reason);
    this.socket?.destroy();
  }

  private addText(t: string): void {
    if (this.depth >= 2 && this.current && !this.failure) this.current.text += t;
  }

  /**
   * Counts what arrives until the element under way is complete; the XML parser holds text until
   * the element ends, so the bound is kept here, on the raw data.
   */
  private countIncoming(chars: number): boolean {
    this.charsSinceStanza += chars;
    if (this.charsSinceStanza <= MAX_ELEMENT_CHARS) return true;
    this.fail(new CamError("unreachable",
      `The admin socket sent a single element larger than ${MAX_ELEMENT_CHARS / 1024 / 1024} MiB, which camctl does not accept; ` +
      `camctl's requests are answered in smaller pieces. Is that really Prosody's admin socket?`));
    this.close();
    return false;
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.queue.splice(0)) p.reject(err);
  }
}

function escapeAttr(s: string): string {
  return escapeXmlText(s).replace(/'/g, "&apos;").replace(/"/g, "&quot;");
}
