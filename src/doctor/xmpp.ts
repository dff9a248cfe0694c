// camctl doctor over XMPP: first a probe that logs in with nothing (stream, STARTTLS or direct
// TLS, the certificate as it is, the stream features after TLS), so an expired or wrong
// certificate is described rather than only refused; then camctl's real login (the stable user
// agent, certificate verified) and a <list/> of the login account.
//   RFC 6120 §5 (STARTTLS), XEP-0368 (direct TLS), XEP-0388 (SASL2), XEP-0484 (FAST)
import net from "node:net";
import tls from "node:tls";
import { Parser, type Element } from "@xmpp/xml";
import { onAbort } from "../core/abort.js";
import { CamError } from "../core/errors.js";
import type { IOStreams } from "../term/iostreams.js";
import { displaySafe } from "../text/untrusted.js";
import { underDeadline, withSource, type PreparedSource } from "../transports/lifecycle.js";
import type { ServerSpec, XmppTransport } from "../transports/types.js";
import { readCaFile } from "../transports/xmpp/ca-file.js";
import { ALPN_XMPP_CLIENT, hostPort, lookupHost, netError, resolveTargets, type Target } from "../transports/xmpp/connect.js";
import { NS_STARTTLS, NS_STREAMS } from "../transports/xmpp/features/tls.js";
import { fail, ok, warn, type Check } from "./checks.js";

const NS_SASL2 = "urn:xmpp:sasl:2";
const NS_FAST = "urn:xmpp:fast:0";
const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
/** Fewer days than this before the certificate expires is a warning. */
export const CERT_WARN_DAYS = 14;
const DAY_MS = 86_400_000;

/** What the probe saw. */
export interface ProbeResult {
  target: Target;
  /** undefined with --tls none. */
  certificate?: {
    authorized: boolean;
    authorizationError: string | undefined;
    /** Why the certificate does not name the domain, or undefined when it does. */
    identityError: string | undefined;
    names: string[];
    validFrom: Date;
    validTo: Date;
  };
  features: Element | undefined;
}

/** Reads stream-level elements as they complete. */
class StreamReader {
  private parser = new Parser();
  private waiting: ((e: Element) => void) | undefined;
  private failed: ((e: Error) => void) | undefined;
  private queue: Element[] = [];
  constructor(where: string) {
    this.parser.on("element", (el: Element) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(el);
      } else this.queue.push(el);
    });
    this.parser.on("error", () => this.fail(new CamError("unreachable", `${where} sent malformed XML; is it an XMPP server?`)));
  }
  write(text: string): void {
    this.parser.write(text);
  }
  fail(e: Error): void {
    this.failed?.(e);
  }
  next(): Promise<Element> {
    const el = this.queue.shift();
    if (el) return Promise.resolve(el);
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
    });
  }
}

function streamHeader(domain: string, from: string): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAMS}' to='${domain}' from='${from}' version='1.0' xml:lang='en'>`;
}

/** Opens a stream on `sock` and returns its <stream:features/>. */
async function features(sock: net.Socket, domain: string, from: string, where: string): Promise<{ features: Element; reader: StreamReader }> {
  const reader = new StreamReader(where);
  const onData = (d: Buffer) => reader.write(d.toString("utf8"));
  sock.on("data", onData);
  sock.once("close", () => reader.fail(new CamError("unreachable", `${where} closed the connection during the stream set-up.`)));
  sock.write(streamHeader(domain, from));
  for (;;) {
    const el = await reader.next();
    if (el.is("features", NS_STREAMS)) {
      sock.off("data", onData);
      return { features: el, reader };
    }
    if (el.is("error", NS_STREAMS)) {
      const condition = el.children.find((c): c is Element => typeof c !== "string")?.name ?? "undefined-condition";
      throw new CamError("unreachable", `${where} ended the stream (${displaySafe(condition)}) before offering anything.`);
    }
  }
}

function certificateOf(sock: tls.TLSSocket, domain: string): NonNullable<ProbeResult["certificate"]> {
  const cert = sock.getPeerCertificate();
  const names = (cert.subjectaltname ?? "").split(/,\s*/).filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4));
  const identity = cert.raw ? tls.checkServerIdentity(domain, cert) : new Error("no certificate");
  const err = sock.authorizationError as unknown;
  return {
    authorized: sock.authorized,
    authorizationError: err === null || err === undefined ? undefined : typeof err === "string" ? err : ((err as NodeJS.ErrnoException).code ?? String(err)),
    identityError: identity ? identity.message : undefined,
    names,
    validFrom: new Date(cert.valid_from),
    validTo: new Date(cert.valid_to),
  };
}

function secure(socket: net.Socket | undefined, o: tls.ConnectionOptions, signal: AbortSignal, target: Target): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ ...o, ...(socket ? { socket } : { host: target.host, port: target.port }) });
    const stop = onAbort(signal, () => {
      sock.destroy();
      reject(signal.reason);
    });
    sock.once("secureConnect", () => {
      stop();
      resolve(sock);
    });
    sock.once("error", (e) => {
      stop();
      reject(netError(e, target));
    });
  });
}

function connectTcp(target: Target, address: string, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: address, port: target.port });
    const stop = onAbort(signal, () => {
      sock.destroy();
      reject(signal.reason);
    });
    sock.once("connect", () => {
      stop();
      resolve(sock);
    });
    sock.once("error", (e) => {
      stop();
      sock.destroy();
      reject(netError(e, target));
    });
  });
}

/**
 * Connects like camctl's login would (--server, SRV, the domain), secures the stream without
 * judging the certificate, and reads the features after TLS. Sends no credentials.
 */
export async function probe(t: XmppTransport, caPem: string | undefined, signal: AbortSignal): Promise<ProbeResult> {
  const domain = t.loginJid.slice(t.loginJid.lastIndexOf("@") + 1);
  const targets = await resolveTargets(domain, t.server, t.tls, signal);
  let last: unknown;
  for (const target of targets) {
    const sockets: net.Socket[] = [];
    try {
      const [address] = await lookupHost(target.host, signal);
      const where = displaySafe(hostPort(target));
      const tlsOptions: tls.ConnectionOptions = {
        servername: net.isIP(domain) ? undefined : domain,
        ca: caPem === undefined ? undefined : [...tls.rootCertificates, caPem],
        // Judged below, so that an expired or misnamed certificate is described, not just refused.
        rejectUnauthorized: false,
        minVersion: "TLSv1.2",
      };
      if (t.tls === "direct") {
        const sock = await secure(undefined, { ...tlsOptions, host: address, ALPNProtocols: [ALPN_XMPP_CLIENT] }, signal, target);
        sockets.push(sock);
        const certificate = certificateOf(sock, domain);
        const { features: f } = await features(sock, domain, t.loginJid, where);
        return { target, certificate, features: f };
      }
      const plain = await connectTcp(target, address!, signal);
      sockets.push(plain);
      const first = await features(plain, domain, t.loginJid, where);
      if (t.tls === "none") return { target, features: first.features };
      if (!first.features.getChild("starttls", NS_STARTTLS)) {
        throw new CamError("unreachable", `${where} does not offer STARTTLS, so camctl will not log in there.`);
      }
      const answer = new Promise<Element>((resolve, reject) => {
        const onData = (d: Buffer) => first.reader.write(d.toString("utf8"));
        plain.on("data", onData);
        first.reader.next().then((el) => {
          plain.off("data", onData);
          resolve(el);
        }, reject);
      });
      plain.write(`<starttls xmlns='${NS_STARTTLS}'/>`);
      const proceed = await answer;
      if (!proceed.is("proceed", NS_STARTTLS)) throw new CamError("unreachable", `${where} refused STARTTLS.`);
      const sock = await secure(plain, tlsOptions, signal, target);
      sockets.push(sock);
      const certificate = certificateOf(sock, domain);
      const { features: f } = await features(sock, domain, t.loginJid, where);
      return { target, certificate, features: f };
    } catch (e) {
      signal.throwIfAborted();
      last = e;
    } finally {
      for (const s of sockets) {
        if (!s.destroyed) s.end("</stream:stream>");
        setTimeout(() => s.destroy(), 200).unref();
      }
    }
  }
  throw last ?? new CamError("unreachable", `Cannot connect to ${displaySafe(domain)}.`);
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** The certificate check's verdict. */
export function certificateCheck(c: NonNullable<ProbeResult["certificate"]>, domain: string, where: string, now: Date): Check {
  const names = c.names.length > 0 ? c.names.map(displaySafe).join(", ") : "no DNS names";
  const left = (c.validTo.getTime() - now.getTime()) / DAY_MS;
  const days = Math.floor(left);
  if (c.authorizationError === "CERT_HAS_EXPIRED" || left < 0) {
    const ago = Math.floor(-left);
    return fail(null, "tls-certificate", `The certificate of ${where} expired on ${day(c.validTo)} (${ago === 0 ? "today" : `${ago} ${ago === 1 ? "day" : "days"} ago`}): clients, camctl included, refuse it until it is renewed.`, "unreachable");
  }
  if (c.authorizationError === "CERT_NOT_YET_VALID" || c.validFrom.getTime() > now.getTime()) {
    return fail(null, "tls-certificate", `The certificate of ${where} is valid only from ${day(c.validFrom)}: clients refuse it until then (or this machine's clock is wrong).`, "unreachable");
  }
  if (c.authorizationError !== undefined) {
    return fail(null, "tls-certificate", `The certificate of ${where} is not trusted here (${displaySafe(c.authorizationError)}); if the server uses a private CA, pass it with --ca-file (or ca_file in the context).`, "unreachable");
  }
  if (c.identityError !== undefined) {
    return fail(null, "tls-certificate", `The certificate of ${where} is not valid for ${displaySafe(domain)} (it names ${names}): clients refuse it.`, "unreachable");
  }
  if (days < CERT_WARN_DAYS) {
    return warn(null, "tls-certificate", `The certificate of ${where} (${names}) expires on ${day(c.validTo)}, in ${days} ${days === 1 ? "day" : "days"}: renew it soon.`);
  }
  return ok(null, "tls-certificate", `The certificate of ${where} is trusted and valid for ${names} until ${day(c.validTo)} (${days} days left).`);
}

/** SASL2 and FAST as offered after TLS. */
export function featureChecks(f: Element | undefined): Check[] {
  const sasl2 = f?.getChild("authentication", NS_SASL2);
  const mechanisms = (el: Element | undefined) => (el?.getChildren("mechanism") ?? []).map((m) => displaySafe(m.text())).filter((m) => m !== "");
  const checks: Check[] = [];
  if (sasl2) {
    checks.push(ok(null, "sasl2", `SASL2 is offered (${mechanisms(sasl2).join(", ") || "no mechanisms listed"}): clients, camctl included, log in with a stable client id.`));
  } else {
    const legacy = mechanisms(f?.getChild("mechanisms", NS_SASL));
    checks.push(warn(null, "sasl2", `SASL2 is not offered${legacy.length ? ` (only SASL: ${legacy.join(", ")})` : ""}: clients are tracked by resource, not by a stable id, and camctl logs in the same way.`));
  }
  const fast = sasl2?.getChild("inline")?.getChild("fast", NS_FAST);
  checks.push(fast
    ? ok(null, "fast", `FAST is offered (${mechanisms(fast).join(", ") || "no mechanisms listed"}): clients may hold FAST tokens, which camctl revokes with them.`)
    : warn(null, "fast", "FAST is not offered to this account after TLS: clients log in with their password each time (mod_sasl2_fast missing, or SASL2 missing)."));
  return checks;
}

/**
 * The one thing doctor changes on a server: a login is a client of the account, so the account's
 * list gains camctl's entry once (one per installation, docs/xmpp.md) and its last use after.
 */
const LOGIN_SIDE_EFFECT =
  "the login is a client of the account: the first adds camctl's entry to the account's clients, later ones update its last use";

const loginCheck = (jid: string): Check =>
  ok(null, "login", `camctl logged in as ${displaySafe(jid)} with its stable client id; ${LOGIN_SIDE_EFFECT}.`);

/**
 * Every XMPP check: the probe (certificate, features), then camctl's own login and a <list/> of
 * the login account. `prepared` is the source as camctl prepares it (password read, CA checked).
 */
export async function xmppChecks(spec: ServerSpec<XmppTransport>, prepared: PreparedSource, io: IOStreams): Promise<Check[]> {
  const t = spec.transport;
  const domain = t.loginJid.slice(t.loginJid.lastIndexOf("@") + 1);
  const caPem = t.caFile === undefined ? undefined : (await readCaFile(t.caFile)).join("\n");
  const checks: Check[] = [];
  let result: ProbeResult;
  try {
    result = await underDeadline(prepared.where, spec.timeoutSeconds, (signal) => probe(t, caPem, signal));
  } catch (e) {
    if (e instanceof CamError) return [fail(null, "connection", e.message, e.kind)];
    throw e;
  }
  const where = displaySafe(hostPort(result.target));
  if (result.certificate) {
    const cert = certificateCheck(result.certificate, domain, where, io.now());
    checks.push(cert);
    checks.push(...featureChecks(result.features));
    // camctl's login verifies the certificate: with a failed one it would only repeat that.
    if (cert.status === "fail") return checks;
  } else {
    checks.push(warn(null, "tls-certificate", `No TLS (--tls none, allowed only to loopback): ${where} has no certificate to check.`));
    checks.push(...featureChecks(result.features));
  }
  let listed: number | undefined;
  const progress: { stage: "login" | "list" } = { stage: "login" };
  try {
    await withSource(prepared, spec.timeoutSeconds, async (source) => {
      progress.stage = "list";
      listed = (await source.list(t.loginJid)).clients.length;
    });
  } catch (e) {
    if (!(e instanceof CamError)) throw e;
    if (progress.stage === "list") checks.push(loginCheck(t.loginJid));
    checks.push(fail(null, progress.stage, e.message, e.kind));
    return checks;
  }
  checks.push(loginCheck(t.loginJid));
  checks.push(ok(null, "list", `The server answered <list/>: ${listed} ${listed === 1 ? "client has" : "clients have"} access to ${displaySafe(t.loginJid)}.`));
  return checks;
}
