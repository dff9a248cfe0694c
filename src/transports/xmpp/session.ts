// The XMPP stream for a one-shot tool, and the logged-in session on it.
//   RFC 6120 §4  streams (stream errors §4.9)   https://www.rfc-editor.org/rfc/rfc6120#section-4
//   RFC 6120 §8  stanzas (IQ semantics §8.2.3)  https://www.rfc-editor.org/rfc/rfc6120#section-8
// Built on xmpp.js's Client (the @xmpp/connection state machine and XML parser) minus what a
// one-shot audit tool must not do: no reconnect, no following <see-other-host/> (xmpp.js would
// connect to whatever host the server names, and without a `service` option it crashes trying),
// and no timers of its own: every wait here obeys the caller's AbortSignal (lifecycle.ts owns the
// one deadline).
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import xml, { Parser, type Element } from "@xmpp/xml";
import { Client } from "@xmpp/client-core";
import ConnectionTCP from "@xmpp/connection-tcp";
import type { MiddlewareApi } from "@xmpp/middleware";
import StanzaError from "@xmpp/middleware/lib/StanzaError.js";
import { abortable } from "../../core/abort.js";
import type { CamError } from "../../core/errors.js";
import type { SafeText } from "../../text/untrusted.js";
import type { XmppSocket } from "./connect.js";
import { ReceivedStreamError, closed, malformedXml, streamError, tooMuchData } from "./login-errors.js";

const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const NS_PING = "urn:xmpp:ping";

/** How long closing politely may take at most (never past the deadline either). */
const CLOSE_GRACE_MS = 1500;

/** XMPP-over-TCP framing with the client namespace (what @xmpp/tcp's transport is, minus connecting). */
class ClientStreamFraming extends ConnectionTCP {}
ClientStreamFraming.prototype.NS = "jabber:client";

/** xmpp.js's client on a socket camctl opened itself (connect.ts), without redirects or timers. */
export class OneShotClient extends Client {
  constructor(domain: string) {
    super({ domain, lang: "en" });
    this.Transport = ClientStreamFraming;
    this.Parser = Parser;
    // No timers inside xmpp.js (0 disables them); the caller's signal bounds every wait instead.
    this.timeout = 0;
  }

  /** Every stream error, <see-other-host/> included, is reported as the error it is. */
  override _onStreamError(element: Element): void {
    this.emit("error", ReceivedStreamError.fromElement(element));
  }
}

/**
 * An error reply must carry <error/> with a condition (RFC 6120 §8.3); one that does not gets the
 * undefined-condition it lacks, so that it is reported as the answer it is. Returns the <error/>.
 */
function errorWithCondition(stanza: Element): Element {
  let error = stanza.getChild("error");
  if (!error) {
    error = xml("error", { type: "cancel" });
    stanza.append(error);
  }
  if (!error.getChildElements().some((c) => c.getNS() === NS_STANZAS && c.getName() !== "text")) {
    error.append(xml("undefined-condition", { xmlns: NS_STANZAS }));
  }
  return error;
}

/**
 * IQ requests and their replies, matched by id; each wait obeys a signal. Also answers the
 * server's own requests (every get/set needs an answer): a pong to pings (XEP-0199),
 * service-unavailable to anything else, as camctl serves nothing.
 */
export class IqRequests {
  private readonly waiting = new Map<string, { resolve: (reply: Element) => void; reject: (err: Error) => void }>();

  constructor(
    middleware: MiddlewareApi,
    private readonly entity: Client,
  ) {
    middleware.use((ctx, next) => {
      const { stanza } = ctx;
      if (stanza.name !== "iq") return next();
      const { type, id, from } = stanza.attrs;
      if (type === "get" || type === "set") {
        const attrs = { type: "result", to: from, id };
        if (type === "get" && stanza.getChild("ping", NS_PING)) return xml("iq", attrs);
        return xml("iq", { ...attrs, type: "error" }, xml("error", { type: "cancel" }, xml("service-unavailable", { xmlns: NS_STANZAS })));
      }
      const waiter = this.waiting.get(id ?? "");
      if ((type !== "result" && type !== "error") || !waiter) return next();
      this.waiting.delete(id!);
      if (type === "result") waiter.resolve(stanza);
      else waiter.reject(StanzaError.fromElement(errorWithCondition(stanza)));
      return undefined;
    });
  }

  /** Sends `stanza` (an id is added if it has none) and waits for its reply; an error reply rejects with xmpp.js's StanzaError. */
  async request(stanza: Element, signal: AbortSignal): Promise<Element> {
    signal.throwIfAborted();
    const id = (stanza.attrs.id ??= randomBytes(8).toString("hex"));
    const reply = new Promise<Element>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    reply.catch(() => undefined);
    try {
      await abortable(this.entity.send(stanza), signal);
      return await abortable(reply, signal);
    } finally {
      this.waiting.delete(id);
    }
  }
}

/** A logged-in, bound session. */
export class XmppSession {
  private closing: Promise<void> | null = null;
  private ended: CamError | null = null;
  private readonly endWaiters = new Set<(e: CamError) => void>();
  /** The server ended the stream with this stream error (set once). */
  streamEnd: { condition: string | null; text: string | null } | null = null;
  /** Why the session ended, once it has: the stream error, or what camctl found wrong. */
  private endReason: CamError | null = null;

  constructor(
    readonly entity: OneShotClient,
    private readonly iq: IqRequests,
    private readonly sockets: Set<XmppSocket>,
    /** The server address for messages. */
    readonly where: SafeText,
    private readonly domain: string,
    /** The deadline of the withSource this session was opened in. */
    private readonly signal: AbortSignal,
  ) {
    // Each request waiting for its reply listens on the deadline; the host-wide listing keeps
    // several in flight (host-list.ts), past Node's default of 10 that prints a leak warning.
    setMaxListeners(64, signal);
    entity.on("error", (err: Error) => {
      if (err instanceof ReceivedStreamError) {
        this.streamEnd ??= { condition: err.condition, text: err.text };
        this.endReason ??= streamError(this.where, err, this.domain);
      } else if (err?.name === "XMLError") {
        this.endReason ??= malformedXml(this.where);
      } else if (err?.name === "InboundLimitError") {
        this.endReason ??= tooMuchData(this.where, (err as Error & { limitBytes: number }).limitBytes / 1024 / 1024);
      }
    });
    const onEnd = () => {
      if (this.ended) return;
      this.ended = this.endReason ?? closed(this.where);
      for (const w of this.endWaiters) w(this.ended);
      this.endWaiters.clear();
    };
    entity.on("disconnect", onEnd);
    entity.on("close", onEnd);
    if (entity.status === "disconnect" || entity.status === "close" || entity.status === "offline") onEnd();
  }

  /** Full JID the server bound. */
  get boundJid(): string {
    return this.entity.jid?.toString() ?? "";
  }

  /** The server ended the session (stream closed) before or while this was asked. */
  get closedByServer(): boolean {
    return this.ended !== null && this.closing === null;
  }

  /**
   * Sends an IQ and waits for its reply; rejects at once if the stream ends, and with the
   * deadline's reason when `signal` (by default the session's deadline) aborts. `_what` names the
   * request ("list"); every wait now ends with the same deadline sentence, so it is not needed.
   */
  async request(stanza: Element, _what?: string, signal: AbortSignal = this.signal): Promise<Element> {
    if (this.ended) throw this.ended;
    let onEnd!: (e: CamError) => void;
    const ended = new Promise<never>((_, reject) => {
      onEnd = reject;
      this.endWaiters.add(onEnd);
    });
    ended.catch(() => undefined);
    try {
      return await Promise.race([this.iq.request(stanza, signal), ended]);
    } finally {
      this.endWaiters.delete(onEnd);
    }
  }

  /**
   * Every stanza that arrives goes to `onStanza` (camctl watch's pushed messages), and `onEnd`
   * hears why the session ended, once. Returns a function that stops listening.
   */
  listen(onStanza: (stanza: Element) => void, onEnd: (reason: CamError) => void): () => void {
    this.entity.on("stanza", onStanza);
    const end = (e: CamError) => onEnd(e);
    if (this.ended) queueMicrotask(() => end(this.ended!));
    else this.endWaiters.add(end);
    return () => {
      this.entity.removeListener("stanza", onStanza);
      this.endWaiters.delete(end);
    };
  }

  /**
   * Closes the stream politely (RFC 6120 §4.4), then the sockets. Safe to call more than once.
   * The polite part takes at most CLOSE_GRACE_MS and never outlasts the deadline: after that the
   * sockets are simply destroyed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const grace = AbortSignal.any([this.signal, AbortSignal.timeout(CLOSE_GRACE_MS)]);
      if (!this.ended && !grace.aborted) await abortable(this.entity.stop(), grace).catch(() => undefined);
      for (const s of this.sockets) s.destroy();
    })();
    return this.closing;
  }
}

/** What the source needs of a logged-in session (xmpp/login.ts's XmppSession). */
export interface XmppRequester {
  /** Sends an IQ and resolves with its result; rejects with xmpp.js's StanzaError on an error reply. */
  request(stanza: Element, what: string): Promise<Element>;
  /** Hears every stanza that arrives, and the end of the session (camctl watch); see XmppSession.listen. */
  listen?(onStanza: (stanza: Element) => void, onEnd: (reason: CamError) => void): () => void;
  close(): Promise<void>;
}
