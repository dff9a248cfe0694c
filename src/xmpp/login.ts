// Logging in: the XML stream, STARTTLS, SASL2 with a stable user agent, legacy SASL, binding.
//   RFC 6120        https://www.rfc-editor.org/rfc/rfc6120 (streams, STARTTLS §5, SASL §6, bind §7)
//   XEP-0388 SASL2  https://xmpp.org/extensions/xep-0388.html (<authenticate>, <user-agent id>)
//   XEP-0386 Bind2  https://xmpp.org/extensions/xep-0386.html
//   XEP-0484 FAST   https://xmpp.org/extensions/xep-0484.html (deliberately not used, see below)
//
// Built from xmpp.js 0.14's own parts (the packages @xmpp/client is made of) rather than its
// client() factory, because a one-shot audit tool needs what client() cannot give:
//   - the socket is opened here, so TLS always carries servername = the JID's domain and
//     --ca-file, for STARTTLS and direct TLS alike (client() passes neither);
//   - a gate runs before every authentication handler: on a stream that is not encrypted it stops
//     before any credentials are sent, unless --tls none was given for a loopback address
//     (client() carries on in plaintext when the server does not offer STARTTLS);
//   - the SASL2 <user-agent> always carries the installation's stable id (client() invents one per
//     run, so each run would become a new client in the very list being audited);
//   - no reconnect, no stream management, no FAST and no DNS-over-HTTP lookups.
// FAST: camctl never asks for a token. The server offers FAST inline in SASL2, but no handler for
// it is registered, so <request-token/> is never sent and no token is ever issued to camctl: there
// is nothing to store, nothing to leak, and no orphan token per run.
import os from "node:os";
import xml, { Parser, type Element } from "@xmpp/xml";
import { Client } from "@xmpp/client-core";
import ConnectionTCP from "@xmpp/connection-tcp";
import _middleware from "@xmpp/middleware";
import _streamFeatures from "@xmpp/stream-features";
import _iqCaller, { type IQCaller } from "@xmpp/iq/caller.js";
import _sasl2, { type OnAuthenticate } from "@xmpp/sasl2";
import _sasl from "@xmpp/sasl";
import _bind2 from "@xmpp/client-core/src/bind2/bind2.js";
import _resourceBinding from "@xmpp/resource-binding";
import SASLFactory from "saslmechanisms";
import { CamError } from "../errors.js";
import type { TlsMode } from "../options.js";
import { displaySafe } from "../render/sanitize.js";
import { ScramTracker, useMechanisms } from "./sasl-mechanisms.js";
import { hostPort, loopbackOnly, openSocket, isLoopbackAddress, resolveTargets, type SrvLookup, type Target, type TlsSettings, type XmppSocket } from "./connect.js";

export const NS_SASL2 = "urn:xmpp:sasl:2";
export const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
export const NS_STARTTLS = "urn:ietf:params:xml:ns:xmpp-tls";
export const NS_STREAMS = "http://etherx.jabber.org/streams";
export const NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams";
export const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";
export const NS_FAST = "urn:xmpp:fast:0";
export const NS_PING = "urn:xmpp:ping";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/** Bind2 <tag/>: names the software, the server adds a unique suffix. */
export const BIND2_TAG = "camctl";

export interface UserAgentInfo {
  id: string;
  software: string;
  version: string;
  device: string;
}

export interface LoginOptions {
  /** Bare JID to log in as. */
  jid: string;
  password: string;
  tls: TlsMode;
  server: { host: string; port: number | undefined } | undefined;
  caPem: string | undefined;
  userAgent: UserAgentInfo;
  /** Epoch ms by which everything must be done. */
  deadline: number;
  /** For tests: SRV lookups. */
  lookupSrv?: SrvLookup;
}

/** The SASL2 <user-agent/> (XEP-0388): stable id, software, device; <version/> is read by mod_client_management. */
export function userAgentElement(ua: UserAgentInfo): Element {
  return xml(
    "user-agent",
    { id: ua.id },
    xml("software", {}, ua.software),
    xml("version", {}, ua.version),
    xml("device", {}, ua.device),
  );
}

/** Pre-SASL2 servers track clients by resource: a stable one per installation keeps that to one entry too. */
export function legacyResource(userAgentId: string): string {
  return `camctl-${userAgentId.slice(0, 8)}`;
}

export const defaultDevice = () => os.hostname();

/** XMPP-over-TCP framing with the client namespace (what @xmpp/tcp's transport is, minus connecting). */
class ClientStreamFraming extends ConnectionTCP {}
ClientStreamFraming.prototype.NS = "jabber:client";

const remaining = (deadline: number) => Math.max(1, deadline - Date.now());

function timeoutError(what: string, seconds: number): CamError {
  return new CamError("unreachable", `No answer from the XMPP server ${what} within ${seconds} s; is it overloaded or stuck? Raise --timeout to wait longer.`, "timeout");
}

/** SASL <failure/> conditions (RFC 6120 §6.5), in words. */
export function saslError(condition: string, text: string | undefined, jid: string): CamError {
  const said = text ? ` The server said: "${displaySafe(text).slice(0, 300)}".` : "";
  const who = displaySafe(jid);
  switch (condition) {
    case "not-authorized":
    case "invalid-authzid":
      return new CamError("auth", `Login as ${who} failed: wrong password or account (${condition}).${said}`, condition);
    case "credentials-expired":
      return new CamError("auth", `Login as ${who} failed: the password has expired; change it first.${said}`, condition);
    case "account-disabled":
      return new CamError("auth", `Login as ${who} failed: the account is disabled.${said}`, condition);
    case "encryption-required":
      return new CamError("unreachable", `The server requires encryption for this login.${said}`, condition);
    case "temporary-auth-failure":
      return new CamError("auth", `Login as ${who} failed: the server had a temporary problem; try again later.${said}`, condition);
    case "mechanism-too-weak":
    case "invalid-mechanism":
      return new CamError("auth", `Login as ${who} failed: the server refused the login method (${condition}).${said}`, condition);
    default:
      return new CamError("auth", `Login as ${who} was refused (${displaySafe(condition)}).${said}`, condition);
  }
}

/** Turns whatever went wrong during login into a CamError (exit 3 or 4). */
function loginError(err: unknown, jid: string, where: string): CamError {
  if (err instanceof CamError) return err;
  const e = err as Error & { condition?: string; text?: string; name?: string };
  if (e?.name === "SASLError") {
    // xmpp.js raises "SASL: No compatible mechanism available." as the condition itself.
    if (!e.condition || /No compatible mechanism/.test(e.condition)) {
      return new CamError("auth", `The server offers no login method camctl supports (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN) for ${displaySafe(jid)}.`, "no-mechanism");
    }
    return saslError(e.condition, e.text, jid);
  }
  if (e?.name === "ScramServerError") {
    return new CamError("auth", `Login as ${displaySafe(jid)} was aborted: ${displaySafe(e.message)}. This may not be the real server.`, "scram");
  }
  if (e?.name === "StreamError") {
    const said = e.text ? `: "${displaySafe(e.text).slice(0, 300)}"` : "";
    if (e.condition === "host-unknown") {
      return new CamError("unreachable", `The server at ${where} does not serve ${displaySafe(jid.split("@")[1] ?? "")} (host-unknown); check the JID's domain or --server.`, e.condition);
    }
    return new CamError("unreachable", `The server at ${where} ended the stream with an error (${displaySafe(e.condition ?? "unknown")})${said}.`, e.condition);
  }
  if (e?.name === "TimeoutError") return new CamError("unreachable", `The server at ${where} stopped answering during login.`, "timeout");
  if (e?.name === "XMLError") return new CamError("unreachable", `The server at ${where} sent malformed XML.`, "bad-format");
  return new CamError("unreachable", `Login to ${where} failed: ${displaySafe(e?.message ?? String(err))}.`);
}

/** A logged-in, bound session. */
export class XmppSession {
  private closing: Promise<void> | null = null;
  private ended: CamError | null = null;
  private endWaiters = new Set<(e: CamError) => void>();
  /** The server ended the stream (stream error text, if any); set once. */
  streamEnd: { condition: string | null; text: string | null } | null = null;
  private problem: string | null = null;

  constructor(
    readonly entity: Client,
    private readonly iqCaller: IQCaller,
    private readonly sockets: Set<XmppSocket>,
    readonly where: string,
    private readonly deadline: number,
    private readonly timeoutSeconds: number,
  ) {
    entity.on("error", (err: Error & { condition?: string; text?: string; name?: string }) => {
      if (err?.name === "StreamError") this.streamEnd = { condition: err.condition ?? null, text: err.text ?? null };
      else if (err?.name === "XMLError") this.problem = "it sent malformed XML";
    });
    const onEnd = () => {
      if (this.ended) return;
      const said = this.streamEnd
        ? ` (${displaySafe(this.streamEnd.condition ?? "")}${this.streamEnd.text ? `: "${displaySafe(this.streamEnd.text).slice(0, 300)}"` : ""})`
        : this.problem
          ? ` (${this.problem})`
          : "";
      this.ended = new CamError("unreachable", `The server at ${this.where} closed the connection${said}.`, this.streamEnd?.condition ?? "closed");
      for (const w of this.endWaiters) w(this.ended);
      this.endWaiters.clear();
    };
    entity.on("disconnect", onEnd);
    entity.on("close", onEnd);
  }

  /** Full JID the server bound. */
  get boundJid(): string {
    return this.entity.jid?.toString() ?? "";
  }

  /** The server ended the session (stream closed) before or while this was asked. */
  get closedByServer(): boolean {
    return this.ended !== null && this.closing === null;
  }

  /** Sends an IQ and waits for its reply, within the deadline; rejects at once if the stream ends. */
  async request(stanza: Element, what: string): Promise<Element> {
    if (this.ended) throw this.ended;
    let onEnd!: (e: CamError) => void;
    const ended = new Promise<never>((_, reject) => {
      onEnd = reject;
      this.endWaiters.add(onEnd);
    });
    ended.catch(() => undefined);
    try {
      return await Promise.race([this.iqCaller.request(stanza, remaining(this.deadline)), ended]);
    } catch (err) {
      if ((err as Error)?.name === "TimeoutError") throw timeoutError(`to the ${what} request`, this.timeoutSeconds);
      throw err;
    } finally {
      this.endWaiters.delete(onEnd);
    }
  }

  /**
   * Closes the stream politely, then the sockets. Safe to call more than once. The polite part
   * never outlasts --timeout: once the deadline has passed the sockets are simply destroyed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const grace = Math.min(1500, Math.max(0, this.deadline - Date.now()));
      this.entity.timeout = Math.max(1, Math.min(1000, grace));
      const stop = grace > 0 ? this.entity.stop().catch(() => undefined) : Promise.resolve();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stop, new Promise<void>((r) => (timer = setTimeout(r, grace)))]);
      clearTimeout(timer);
      for (const s of this.sockets) s.destroy();
    })();
    return this.closing;
  }
}

/**
 * Connects, secures, authenticates and binds. Never sends credentials on a stream that is not
 * encrypted (except --tls none to loopback). Rejects with a CamError; leaves nothing open then.
 */
export async function login(o: LoginOptions): Promise<XmppSession> {
  const at = o.jid.lastIndexOf("@");
  const local = o.jid.slice(0, at);
  const domain = o.jid.slice(at + 1);
  const timeoutSeconds = Math.max(1, Math.round((o.deadline - Date.now()) / 1000));
  const settings: TlsSettings = { domain, caPem: o.caPem };
  const sockets = new Set<XmppSocket>();
  const aborts = new Set<() => void>();
  let where = displaySafe(o.server ? hostPort({ host: o.server.host, port: o.server.port ?? 0 }) : domain);
  let plaintextAllowed = false;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let failure: ((e: CamError) => void) | undefined;
  let current: XmppSocket | undefined;
  let currentTarget: Target | undefined;

  const entity = new Client({ domain, lang: "en", timeout: remaining(o.deadline) });
  // camctl opens the socket itself (connect.ts); the framing is plain XMPP-over-TCP.
  entity.Transport = ClientStreamFraming;
  entity.Parser = Parser;
  entity.on("error", (err: unknown) => failure?.(loginError(err, o.jid, where)));

  const middleware = _middleware({ entity });
  // An error reply carries <error/> with a condition (RFC 6120 §8.3). xmpp.js's iq-caller throws on
  // one without, and the request would then wait for --timeout although the server did answer:
  // give such a reply the undefined-condition it lacks. Registered before the iq-caller.
  middleware.use((ctx, next) => {
    const { stanza } = ctx;
    if (stanza.name === "iq" && stanza.attrs.type === "error") {
      let error = stanza.getChild("error");
      if (!error) {
        error = xml("error", { type: "cancel" });
        stanza.append(error);
      }
      if (!error.getChildElements().some((c) => c.getNS() === NS_STANZAS && c.getName() !== "text")) {
        error.append(xml("undefined-condition", { xmlns: NS_STANZAS }));
      }
    }
    return next();
  });
  const streamFeatures = _streamFeatures({ middleware });
  const iqCaller = _iqCaller({ middleware, entity });

  // 1. The gate: runs before every stream-feature handler below.
  middleware.use((ctx, next) => {
    if (!ctx.stanza.is("features", NS_STREAMS)) return next();
    if (ctx.entity.isSecure() || plaintextAllowed) return next();
    if (o.tls === "starttls" && ctx.stanza.getChild("starttls", NS_STARTTLS)) return next();
    throw new CamError(
      "unreachable",
      `The server at ${where} did not offer STARTTLS, so the connection would not be encrypted; camctl stopped before sending any credentials. ` +
        `Check that this is the right server and port (for a direct TLS port use --tls direct).`,
      "no-starttls",
    );
  });

  // Requests from the server (RFC 6120 §8.2.3: every get/set needs an answer): pong to pings
  // (XEP-0199), service-unavailable to anything else. camctl serves nothing.
  middleware.use((ctx, next) => {
    const { stanza } = ctx;
    if (stanza.name !== "iq" || (stanza.attrs.type !== "get" && stanza.attrs.type !== "set")) return next();
    const attrs = { type: "result", to: stanza.attrs.from, id: stanza.attrs.id };
    if (stanza.attrs.type === "get" && stanza.getChild("ping", NS_PING)) return xml("iq", attrs);
    return xml("iq", { ...attrs, type: "error" }, xml("error", { type: "cancel" }, xml("service-unavailable", { xmlns: NS_STANZAS })));
  });

  // 2. STARTTLS, verified against the JID's domain.
  streamFeatures.use("starttls", NS_STARTTLS, async ({ entity: e }, next) => {
    if (e.isSecure() || o.tls === "none") return next();
    const answer = await e.sendReceive(xml("starttls", { xmlns: NS_STARTTLS }), remaining(o.deadline));
    if (!answer.is("proceed", NS_STARTTLS)) {
      throw new CamError("unreachable", `The server at ${where} refused to start TLS; camctl stopped before sending any credentials.`, "starttls-failure");
    }
    const secured = await current!.startTls(settings, currentTarget!);
    sockets.add(secured);
    e._detachSocket();
    e._attachSocket(secured);
    current = secured;
    await e.restart();
  });

  // 3. Authentication: SASL2 first (inline Bind2), legacy SASL only when the server has no SASL2.
  const saslFactory = new SASLFactory();
  const scram = new ScramTracker();
  useMechanisms(saslFactory, scram);
  // Legacy SASL carries the SCRAM server-final-message in <success/>, which xmpp.js ignores.
  entity.on("nonza", (el: Element) => {
    if (el.is("success", NS_SASL) && scram.pending && el.getText().trim() !== "") {
      try {
        scram.verify(atob(el.getText().trim()));
      } catch (err) {
        failure?.(loginError(err, o.jid, where));
      }
    }
  });
  const userAgent = userAgentElement(o.userAgent);
  const onAuthenticate: OnAuthenticate = async (authenticate, mechanisms, _fast, e) => {
    // Second line of defence: whatever path got here, no credentials on a plaintext stream.
    if (!e.isSecure() && !plaintextAllowed) {
      throw new CamError("unreachable", `The connection to ${where} is not encrypted; camctl stopped before sending any credentials.`, "insecure");
    }
    // SCRAM-SHA-256, SCRAM-SHA-1, then PLAIN (the factory's order); any of them only inside TLS or to loopback.
    const mechanism = mechanisms[0];
    if (mechanism === undefined) throw new CamError("auth", `The server offers no login method camctl supports (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN).`);
    await authenticate({ username: local, password: o.password }, mechanism, userAgent);
  };
  const sasl2 = _sasl2({ streamFeatures, saslFactory }, onAuthenticate);
  // No FAST: sasl2 asks this helper first; it declines, and no token is ever requested.
  sasl2.setup({ fast: { auth: async () => false } });
  _bind2({ sasl2, entity }, BIND2_TAG);
  _sasl({ streamFeatures, saslFactory }, onAuthenticate);
  _resourceBinding({ streamFeatures, iqCaller }, legacyResource(o.userAgent.id));

  // 4. Features nobody above took, before we are online: nothing camctl can log in with.
  middleware.use((ctx, next) => {
    if (ctx.stanza.is("features", NS_STREAMS) && ctx.entity.status !== "online") {
      const offered = ctx.stanza.getChildElements().map((c) => c.getName()).join(", ") || "nothing";
      if (o.tls === "none" && ctx.stanza.getChild("starttls", NS_STARTTLS)) {
        throw new CamError("unreachable", `The server at ${where} requires TLS before login; drop --tls none.`, "tls-required");
      }
      throw new CamError("unreachable", `The server at ${where} offers no way to log in that camctl supports (it offered: ${displaySafe(offered)}).`, "no-login");
    }
    return next();
  });

  const failed = new Promise<never>((_, reject) => {
    failure = reject;
    deadlineTimer = setTimeout(() => reject(timeoutError(`at ${where}`, timeoutSeconds)), remaining(o.deadline));
  });
  failed.catch(() => undefined);

  const destroyAll = () => {
    for (const a of aborts) a();
    for (const s of sockets) s.destroy();
  };

  try {
    const targets = await Promise.race([resolveTargets(domain, o.server, o.tls, o.lookupSrv), failed]);
    let lastError: CamError | undefined;
    for (const t of targets) {
      const target = o.tls === "none" ? await Promise.race([loopbackOnly(t), failed]) : t;
      where = displaySafe(hostPort(t));
      const { socket, abort } = openSocket(target, o.tls, settings);
      aborts.add(abort);
      try {
        current = await Promise.race([socket, failed]);
        currentTarget = t;
        break;
      } catch (err) {
        abort();
        if (!(err instanceof CamError) || err.condition === "timeout" || o.tls === "direct" && err.condition !== undefined) throw err;
        lastError = err; // refused, unreachable...: try the next address
      } finally {
        aborts.delete(abort);
      }
    }
    if (!current) throw lastError ?? new CamError("unreachable", `Cannot connect to ${where}.`);
    sockets.add(current);
    // Re-check what was actually connected to: --tls none is only for loopback peers.
    plaintextAllowed = o.tls === "none" && isLoopbackAddress(current.remoteAddress ?? "");
    if (o.tls === "none" && !plaintextAllowed) {
      throw new CamError("usage", `--tls none is allowed only to a loopback address; ${where} is not one.`);
    }

    entity._status("connecting");
    entity._attachSocket(current);
    entity._status("connect");
    const online = new Promise<void>((resolve) => entity.once("online", () => resolve()));
    const closed = new Promise<never>((_, reject) => {
      // Deferred a turn, so that an error the server explained first (a <failure/>, a stream error) wins.
      const onClosed = () =>
        setImmediate(() => reject(new CamError("unreachable", `The server at ${where} closed the connection during login.`, "closed")));
      entity.once("disconnect", onClosed);
      entity.once("close", onClosed);
    });
    closed.catch(() => undefined);
    await Promise.race([entity.open({ domain, lang: "en" }), failed, closed]);
    await Promise.race([online, failed, closed]);
    if (scram.pending) {
      throw new CamError("auth", `The server at ${where} never proved that it knows ${displaySafe(o.jid)}'s password (no SCRAM server signature); camctl does not trust this login.`, "scram");
    }
    entity.timeout = remaining(o.deadline);
    return new XmppSession(entity, iqCaller, sockets, where, o.deadline, timeoutSeconds);
  } catch (err) {
    destroyAll();
    throw loginError(err, o.jid, where);
  } finally {
    clearTimeout(deadlineTimer);
    failure = undefined;
  }
}
