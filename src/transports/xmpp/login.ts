// Logging in, the orchestration: reach the server, secure the stream, authenticate, bind. The
// stages are the feature handlers in features/ (one file each, named after what they handle, the
// way xmpp.js splits its packages), the session is session.ts, and every way a login can fail is
// worded in login-errors.ts.
//   RFC 6120  https://www.rfc-editor.org/rfc/rfc6120 (streams, STARTTLS §5, SASL §6, bind §7)
// Built from xmpp.js 0.14's parts rather than its client() factory, because a one-shot audit tool
// needs what client() cannot give:
//   - the socket is opened here (connect.ts), so TLS always carries servername = the JID's domain
//     and --ca-file, for STARTTLS and direct TLS alike (client() passes neither);
//   - a gate before every authentication handler: no credentials on an unencrypted stream
//     (features/tls.ts);
//   - SASL2 with the installation's stable user agent, and no FAST (features/sasl2.ts);
//   - resources that let simultaneous runs coexist (features/bind.ts);
//   - no reconnect, no redirects, no stream management, no DNS-over-HTTP lookups, and no timers:
//     the caller's AbortSignal (the one deadline, see lifecycle.ts) bounds every wait.
import _middleware, { type MiddlewareApi } from "@xmpp/middleware";
import _streamFeatures from "@xmpp/stream-features";
import { onAbort } from "../../core/abort.js";
import { CamError } from "../../core/errors.js";
import { msg } from "../../text/untrusted.js";
import type { TlsMode } from "../types.js";
import {
  DEFAULT_DIRECT_TLS_PORT,
  DEFAULT_PORT,
  hostPort,
  isLoopbackAddress,
  lookupHost,
  openSocket,
  refuseUnlessLoopback,
  resolveTargets,
  type HostLookup,
  type SrvLookup,
  type XmppSocket,
} from "./connect.js";
import { mechanisms } from "./features/authenticate.js";
import { useBind2, useLegacyBind } from "./features/bind.js";
import type { LoginContext } from "./features/context.js";
import { useLegacySasl } from "./features/sasl.js";
import { useSasl2, type UserAgentInfo } from "./features/sasl2.js";
import { NS_STARTTLS, NS_STREAMS, useStartTls, useTlsGate } from "./features/tls.js";
import { closedDuringLogin, loginFailure, noLoginMethod, plaintextNotLoopback, scramUnproven, tlsRequired } from "./login-errors.js";
import { ScramTracker } from "./sasl-mechanisms.js";
import { IqRequests, OneShotClient, XmppSession } from "./session.js";

export type { XmppSession } from "./session.js";
export type { UserAgentInfo } from "./features/sasl2.js";

/** Which server, and how it is reached and trusted. */
export interface ServerOptions {
  /** Bare JID to log in as. */
  jid: string;
  tls: TlsMode;
  server: { host: string; port: number | undefined } | undefined;
  caPem: string | undefined;
  /** For tests: SRV and host lookups. */
  lookupSrv?: SrvLookup;
  lookupHost?: HostLookup;
}

export interface LoginOptions extends ServerOptions {
  password: string;
  userAgent: UserAgentInfo;
}

/**
 * Connects, secures, authenticates and binds, all under `signal`. Never sends credentials on a
 * stream that is not encrypted (except --tls none to loopback). Rejects with a CamError (the
 * signal's reason when it aborted) and leaves nothing open then.
 */
export function login(o: LoginOptions, signal: AbortSignal): Promise<XmppSession> {
  return negotiate(o, signal, o);
}

/**
 * Checks the server as far as a login goes before it authenticates: connects, secures the stream
 * (the certificate verified against the JID's domain, as for the login) and reads the stream
 * features offered there; then closes. Sends no credentials. Run before a password prompt, so
 * that nobody types a password for a server camctl would then refuse. Rejects like login.
 */
export async function checkServer(o: ServerOptions, signal: AbortSignal): Promise<void> {
  const session = await negotiate(o, signal, undefined);
  await session.close();
}

/** A login (with credentials), or with none the server check: both stop where they must, under `signal`. */
async function negotiate(o: ServerOptions, signal: AbortSignal, credentials: Pick<LoginOptions, "password" | "userAgent"> | undefined): Promise<XmppSession> {
  const at = o.jid.lastIndexOf("@");
  const domain = o.jid.slice(at + 1);
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  const defaultPort = o.tls === "direct" ? DEFAULT_DIRECT_TLS_PORT : DEFAULT_PORT;
  const ctx: LoginContext = {
    jid: o.jid,
    local: o.jid.slice(0, at),
    domain,
    tls: o.tls,
    tlsSettings: { domain, caPem: o.caPem },
    signal,
    sockets: new Set(),
    where: msg`${o.server ? hostPort({ host: o.server.host, port: o.server.port ?? defaultPort }) : domain}`,
    socket: undefined,
    target: undefined,
    plaintextAllowed: false,
    authenticatedWith: null,
    fail: (err) => fail(err),
  };
  const stopWaitingForAbort = onAbort(signal, () => fail(signal.reason));

  const entity = new OneShotClient(domain);
  const onError = (err: unknown) => ctx.fail(err);
  entity.on("error", onError);
  const middleware = _middleware({ entity });
  const iq = new IqRequests(middleware, entity);
  const streamFeatures = _streamFeatures({ middleware });
  // Order matters: the gate before every feature; SASL2 before legacy SASL (which the server
  // offers too); whatever nobody took last.
  useTlsGate(middleware, ctx);
  useStartTls(streamFeatures, ctx);
  const scram = new ScramTracker(signal);
  // Online: bound after a login; or, for the server check, the features of a secured stream.
  let reached!: () => void;
  const online = new Promise<void>((resolve) => (reached = resolve));
  entity.once("online", () => reached());
  if (credentials) {
    const factory = mechanisms(scram);
    useBind2(useSasl2(streamFeatures, factory, ctx, credentials.password, credentials.userAgent), entity);
    useLegacySasl(streamFeatures, factory, scram, entity, ctx, credentials.password);
    useLegacyBind(streamFeatures, iq, ctx, credentials.userAgent.id);
  } else {
    useFeaturesReached(middleware, reached);
  }
  useNothingElse(middleware, ctx);

  // Deferred a turn, so that an error the server explained first (a <failure/>, a stream error) wins.
  const onClosed = () => setImmediate(() => ctx.fail(closedDuringLogin(ctx.where)));
  try {
    ctx.socket = await Promise.race([connect(o, ctx), failed]);
    entity._status("connecting");
    entity._attachSocket(ctx.socket);
    entity._status("connect");
    entity.once("disconnect", onClosed);
    entity.once("close", onClosed);
    await Promise.race([entity.open({ domain, lang: "en" }), failed]);
    await Promise.race([online, failed]);
    if (scram.pending) throw scramUnproven(ctx.where, o.jid);
    return new XmppSession(entity, iq, ctx.sockets, ctx.where, domain, signal);
  } catch (err) {
    for (const s of ctx.sockets) s.destroy();
    throw loginFailure(err, o.jid, ctx.where, domain);
  } finally {
    stopWaitingForAbort();
    entity.off("error", onError);
    entity.off("disconnect", onClosed);
    entity.off("close", onClosed);
  }
}

/** The first target (--server, SRV records, or the domain) and address that accepts a connection. */
async function connect(o: ServerOptions, ctx: LoginContext): Promise<XmppSocket> {
  const targets = await resolveTargets(ctx.domain, o.server, o.tls, ctx.signal, o.lookupSrv);
  let lastError: CamError | undefined;
  for (const target of targets) {
    ctx.where = msg`${hostPort(target)}`;
    try {
      const addresses = await (o.lookupHost ?? lookupHost)(target.host, ctx.signal);
      if (o.tls === "none") refuseUnlessLoopback(target.host, addresses);
      const socket = await openSocket(target, addresses, o.tls, ctx.tlsSettings, ctx.signal);
      ctx.target = target;
      ctx.sockets.add(socket);
      // Check what was actually connected to: --tls none is only for loopback peers.
      ctx.plaintextAllowed = o.tls === "none" && isLoopbackAddress(socket.remoteAddress ?? "");
      if (o.tls === "none" && !ctx.plaintextAllowed) throw plaintextNotLoopback(target.host, [socket.remoteAddress ?? "unknown"]);
      return socket;
    } catch (err) {
      ctx.signal.throwIfAborted();
      // A refusal, or a TLS failure (its condition is the TLS error code), ends the search.
      if (!(err instanceof CamError) || err.kind === "usage" || (o.tls === "direct" && err.condition !== undefined)) throw err;
      lastError = err; // unresolvable, refused, unreachable...: try the next target
    }
  }
  throw lastError ?? new CamError("unreachable", msg`Cannot connect to ${ctx.where}.`);
}

/** For the server check: the first features that got past the TLS gate and STARTTLS are where it stops. */
function useFeaturesReached(middleware: MiddlewareApi, reached: () => void): void {
  middleware.use((c, next) => {
    if (!c.stanza.is("features", NS_STREAMS) || c.entity.status === "online") return next();
    reached();
    return undefined;
  });
}

/** Features that none of the handlers took, before camctl is online: nothing it can log in with. */
function useNothingElse(middleware: MiddlewareApi, ctx: LoginContext): void {
  middleware.use((c, next) => {
    if (!c.stanza.is("features", NS_STREAMS) || c.entity.status === "online") return next();
    if (ctx.tls === "none" && c.stanza.getChild("starttls", NS_STARTTLS)) throw tlsRequired(ctx.where);
    throw noLoginMethod(ctx.where, c.stanza.getChildElements().map((f) => f.getName()));
  });
}
