// Encryption before credentials: the gate and STARTTLS.
//   RFC 6120 §5  https://www.rfc-editor.org/rfc/rfc6120#section-5
// xmpp.js's client() carries on in plaintext when the server does not offer STARTTLS; camctl
// never sends credentials on a stream that is not encrypted, unless --tls none was given for a
// loopback address.
import xml from "@xmpp/xml";
import type { MiddlewareApi } from "@xmpp/middleware";
import type { StreamFeatures } from "@xmpp/stream-features";
import { abortable } from "../../../core/abort.js";
import { noStarttls, starttlsRefused } from "../login-errors.js";
import type { LoginContext } from "./context.js";

export const NS_STREAMS = "http://etherx.jabber.org/streams";
export const NS_STARTTLS = "urn:ietf:params:xml:ns:xmpp-tls";

/**
 * The gate, registered before every stream-feature handler: on a stream that is not encrypted,
 * only STARTTLS may go ahead (or anything, for --tls none to loopback).
 */
export function useTlsGate(middleware: MiddlewareApi, login: LoginContext): void {
  middleware.use((ctx, next) => {
    if (!ctx.stanza.is("features", NS_STREAMS)) return next();
    if (ctx.entity.isSecure() || login.plaintextAllowed) return next();
    if (login.tls === "starttls" && ctx.stanza.getChild("starttls", NS_STARTTLS)) return next();
    throw noStarttls(login.where);
  });
}

/** STARTTLS (RFC 6120 §5.4): the TLS handshake on the same connection, verified against the JID's domain. */
export function useStartTls(streamFeatures: StreamFeatures, login: LoginContext): void {
  streamFeatures.use("starttls", NS_STARTTLS, async ({ entity }, next) => {
    if (entity.isSecure() || login.tls === "none") return next();
    const answer = await abortable(entity.sendReceive(xml("starttls", { xmlns: NS_STARTTLS })), login.signal);
    if (!answer.is("proceed", NS_STARTTLS)) throw starttlsRefused(login.where);
    const secured = await abortable(login.socket!.startTls(login.tlsSettings, login.target!), login.signal);
    login.sockets.add(secured);
    entity._detachSocket();
    entity._attachSocket(secured);
    login.socket = secured;
    await entity.restart();
  });
}
