// Every way an XMPP login or session can end badly, worded once: the sentence and the exit code
// (through the CamError kind) live here, the stages only say which one happened. `where` is the
// server address as shown to the user (already escaped: a SafeText); everything from the server is
// escaped here, by msg``.
//   RFC 6120 §4.9.3  stream error conditions     https://www.rfc-editor.org/rfc/rfc6120#section-4.9.3
//   RFC 6120 §6.5    SASL failure conditions     https://www.rfc-editor.org/rfc/rfc6120#section-6.5
import type { Element } from "@xmpp/xml";
import { CamError } from "../../core/errors.js";
import { excerpt, msg, type SafeText } from "../../text/untrusted.js";

/** Server-chosen text, quoted, escaped and shortened. */
const quoted = (text: string | null | undefined) => (text ? msg`"${excerpt(text)}"` : "");

// --- Before any credentials: encryption ------------------------------------------------------

export const noStarttls = (where: SafeText) =>
  new CamError(
    "unreachable",
    msg`The server at ${where} did not offer STARTTLS, so the connection would not be encrypted; camctl stopped before sending any credentials. ` +
      `Check that this is the right server and port (for a direct TLS port use --tls direct).`,
    "no-starttls",
  );

export const starttlsRefused = (where: SafeText) =>
  new CamError("unreachable", msg`The server at ${where} refused to start TLS; camctl stopped before sending any credentials.`, "starttls-failure");

export const notEncrypted = (where: SafeText) =>
  new CamError("unreachable", msg`The connection to ${where} is not encrypted; camctl stopped before sending any credentials.`, "insecure");

export const tlsRequired = (where: SafeText) =>
  new CamError("unreachable", msg`The server at ${where} requires TLS before login; drop --tls none.`, "tls-required");

/** --tls none to something that is not loopback; `addresses` are what `host` resolved to, if known. */
export const plaintextNotLoopback = (host: string, addresses: string[] = []) =>
  new CamError(
    "usage",
    `--tls none sends the password without encryption, so camctl allows it only to a loopback address; ` +
      msg`${host} is ${addresses.length > 0 ? addresses : "not one"}. Use --tls starttls or --tls direct.`,
    "plaintext-refused",
  );

// --- Authentication --------------------------------------------------------------------------

export const noLoginMethod = (where: SafeText, offered: string[]) =>
  new CamError("unreachable", msg`The server at ${where} offers no way to log in that camctl supports (it offered: ${offered.join(", ") || "nothing"}).`, "no-login");

export const noMechanism = (jid: string) =>
  new CamError("auth", msg`The server offers no login method camctl supports (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN) for ${jid}.`, "no-mechanism");

/** SASL <failure/> conditions (RFC 6120 §6.5), in words. */
function saslFailure(condition: string, text: string | undefined, jid: string): CamError {
  const said = text ? msg` The server said: ${quoted(text)}.` : "";
  const who = jid;
  switch (condition) {
    case "not-authorized":
    case "invalid-authzid":
      return new CamError("auth", msg`Login as ${who} failed: wrong password or account (${condition}).${said}`, condition);
    case "credentials-expired":
      return new CamError("auth", msg`Login as ${who} failed: the password has expired; change it first.${said}`, condition);
    case "account-disabled":
      return new CamError("auth", msg`Login as ${who} failed: the account is disabled.${said}`, condition);
    case "encryption-required":
      return new CamError("unreachable", msg`The server requires encryption for this login.${said}`, condition);
    case "temporary-auth-failure":
      return new CamError("auth", msg`Login as ${who} failed: the server had a temporary problem; try again later.${said}`, condition);
    case "mechanism-too-weak":
    case "invalid-mechanism":
      return new CamError("auth", msg`Login as ${who} failed: the server refused the login method (${condition}).${said}`, condition);
    default:
      return new CamError("auth", msg`Login as ${who} was refused (${condition}).${said}`, condition);
  }
}

/** The server's side of SCRAM was wrong (a bad signature, nonce or iteration count). */
const scramAborted = (jid: string, why: string) =>
  new CamError("auth", msg`Login as ${jid} was aborted: ${why}. This may not be the real server.`, "scram");

export const scramUnproven = (where: SafeText, jid: string) =>
  new CamError(
    "auth",
    msg`The server at ${where} never proved that it knows ${jid}'s password (no SCRAM server signature); camctl does not trust this login.`,
    "scram",
  );

export const bindRefused = (where: SafeText, condition: string) =>
  new CamError("unreachable", msg`The server at ${where} logged camctl in but refused to bind a session (${condition}).`, condition);

// --- The stream ends -------------------------------------------------------------------------

const NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams";

/** A <stream:error/> the server sent (RFC 6120 §4.9); built safely from any element, however odd. */
export class ReceivedStreamError extends Error {
  override name = "StreamError";
  constructor(
    readonly condition: string,
    readonly text: string | null,
    /** The host named by <see-other-host/>. */
    readonly redirect: string | null,
  ) {
    super(`stream error ${condition}`);
  }

  static fromElement(element: Element): ReceivedStreamError {
    const children = element.getChildElements().filter((c) => c.getNS() === NS_STREAM_ERRORS || c.getNS() === undefined);
    const condition = children.find((c) => c.getName() !== "text");
    const text = children.find((c) => c.getName() === "text")?.getText() ?? null;
    const name = condition?.getName() ?? "undefined-condition";
    return new ReceivedStreamError(name, text, name === "see-other-host" ? condition!.getText().trim() || null : null);
  }
}

/**
 * A stream error, whenever it comes: before login, during SASL, after it, or in answer to a
 * request. All end the run with exit 3 (the server cannot be used now); nothing is retried and no
 * redirect is followed. `domain` is the JID's domain.
 */
export function streamError(where: SafeText, e: ReceivedStreamError, domain: string): CamError {
  const said = e.text ? msg`: ${quoted(e.text)}` : "";
  switch (e.condition) {
    case "see-other-host":
      return new CamError(
        "unreachable",
        e.redirect
          ? msg`The server at ${where} sent camctl to another server, ${e.redirect} (see-other-host); camctl does not follow redirects. If that server is right, run camctl again with --server ${e.redirect}.`
          : msg`The server at ${where} sent camctl to another server without naming it (see-other-host); camctl does not follow redirects.`,
        e.condition,
      );
    case "host-unknown":
      return new CamError("unreachable", msg`The server at ${where} does not serve ${domain} (host-unknown); check the JID's domain or --server.`, e.condition);
    case "system-shutdown":
      return new CamError("unreachable", msg`The server at ${where} is shutting down (system-shutdown)${said}; try again later.`, e.condition);
    case "conflict":
      return new CamError(
        "unreachable",
        msg`The server at ${where} ended camctl's session because another login took its place (conflict)${said}; run camctl again.`,
        e.condition,
      );
    case "reset":
      return new CamError("unreachable", msg`The server at ${where} reset the session (reset)${said}; run camctl again.`, e.condition);
    default:
      return new CamError("unreachable", msg`The server at ${where} ended the stream with an error (${e.condition})${said}.`, e.condition);
  }
}

export const closedDuringLogin = (where: SafeText) =>
  new CamError("unreachable", msg`The server at ${where} closed the connection during login.`, "closed");

/** The connection ended without a stream error, after login. */
export const closed = (where: SafeText) => new CamError("unreachable", msg`The server at ${where} closed the connection.`, "closed");

export const malformedXml = (where: SafeText) => new CamError("unreachable", msg`The server at ${where} sent malformed XML.`, "bad-format");

export const tooMuchData = (where: SafeText, limitMiB: number) =>
  new CamError(
    "unreachable",
    msg`The server at ${where} sent more than ${limitMiB} MiB in one session, which is more than camctl reads; it stopped there. ` +
      `If the account really has that many clients, list it over the admin socket (--socket).`,
    "too-much-data",
  );

/**
 * Whatever went wrong during login, as a CamError (exit 3 or 4): camctl's own CamErrors as they
 * are, xmpp.js's and the socket's errors by name.
 */
export function loginFailure(err: unknown, jid: string, where: SafeText, domain: string): CamError {
  if (err instanceof CamError) return err;
  if (err instanceof ReceivedStreamError) return streamError(where, err, domain);
  const e = err as Error & { condition?: string; text?: string; limitBytes?: number };
  switch (e?.name) {
    case "SASLError":
      // xmpp.js raises "SASL: No compatible mechanism available." as the condition itself.
      if (!e.condition || /No compatible mechanism/.test(e.condition)) return noMechanism(jid);
      return saslFailure(e.condition, e.text, jid);
    case "ScramServerError":
      return scramAborted(jid, e.message);
    case "StanzaError": // the legacy bind request answered with an error
      return bindRefused(where, e.condition ?? "undefined-condition");
    case "XMLError":
      return malformedXml(where);
    case "InboundLimitError":
      return tooMuchData(where, (e.limitBytes ?? 0) / 1024 / 1024);
    default:
      return new CamError("unreachable", msg`Login to ${where} failed: ${e?.message ?? String(err)}.`);
  }
}
