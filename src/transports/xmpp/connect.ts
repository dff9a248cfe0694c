// Reaching the XMPP server: address resolution and the TCP/TLS socket under the stream.
//   RFC 6120 §3.2   https://www.rfc-editor.org/rfc/rfc6120#section-3.2 (_xmpp-client._tcp SRV, fallback port 5222)
//   XEP-0368        https://xmpp.org/extensions/xep-0368.html (direct TLS: _xmpps-client._tcp, ALPN "xmpp-client")
//   RFC 6125/7590   certificates are checked against the JID's domain, never the SRV target or an IP
// Everything here obeys the caller's AbortSignal (the one deadline, see lifecycle.ts); nothing
// reconnects. Nothing here waits inside Node's thread pool either: a call stuck there cannot be
// abandoned, and process.exit() waits for it, so neither --timeout nor Ctrl-C could end camctl.
// SRV records come from c-ares (on the event loop, cancellable); host names are resolved by the
// system's resolver (getaddrinfo, so /etc/hosts and nsswitch apply as everywhere else) in a child
// process that is killed when the signal aborts.
import { StringDecoder } from "node:string_decoder";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import dns from "node:dns";
import net from "node:net";
import tls from "node:tls";
import { domainToASCII } from "node:url";
import { onAbort } from "../../core/abort.js";
import { CamError } from "../../core/errors.js";
import { msg } from "../../text/untrusted.js";
import type { TlsMode } from "../types.js";
import { plaintextNotLoopback } from "./login-errors.js";

export const SRV_STARTTLS = "_xmpp-client._tcp";
export const SRV_DIRECT_TLS = "_xmpps-client._tcp";
export const ALPN_XMPP_CLIENT = "xmpp-client";
export const DEFAULT_PORT = 5222;
export const DEFAULT_DIRECT_TLS_PORT = 5223;

/** A server that sends more than this in one session is not one camctl wants to parse. */
const MAX_INBOUND_BYTES = 64 * 1024 * 1024;

/** The server sent more than camctl reads in one session; camctl stopped reading. */
export class InboundLimitError extends Error {
  override name = "InboundLimitError";
  constructor(readonly limitBytes: number) {
    super(`the server sent more than ${limitBytes / 1024 / 1024} MiB`);
  }
}

export interface Target {
  host: string;
  port: number;
}

export const hostPort = (t: Target) => (net.isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`);

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  if (net.isIPv4(a)) return a.startsWith("127.");
  return a === "::1" || a === "0:0:0:0:0:0:0:1";
}

export type SrvLookup = (name: string, signal: AbortSignal) => Promise<dns.SrvRecord[]>;

/** SRV records through c-ares, cancelled when the signal aborts. */
export const lookupSrv: SrvLookup = async (name, signal) => {
  const resolver = new dns.promises.Resolver();
  const stop = onAbort(signal, () => resolver.cancel());
  try {
    return await resolver.resolveSrv(name);
  } finally {
    stop();
  }
};

/** Orders SRV records as RFC 2782 says (priority, then weight; the weighted draw is made deterministic). */
export function orderSrv(records: dns.SrvRecord[]): Target[] {
  return [...records]
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
    .map((r) => ({ host: r.name.replace(/\.$/, ""), port: r.port }));
}

/** Where to connect: --server, else the domain's SRV records, else the domain itself. */
export async function resolveTargets(
  domain: string,
  server: { host: string; port: number | undefined } | undefined,
  mode: TlsMode,
  signal: AbortSignal,
  srv: SrvLookup = lookupSrv,
): Promise<Target[]> {
  const defaultPort = mode === "direct" ? DEFAULT_DIRECT_TLS_PORT : DEFAULT_PORT;
  if (server) return [{ host: server.host, port: server.port ?? defaultPort }];
  if (net.isIP(domain.replace(/^\[|\]$/g, ""))) return [{ host: domain.replace(/^\[|\]$/g, ""), port: defaultPort }];
  const name = `${mode === "direct" ? SRV_DIRECT_TLS : SRV_STARTTLS}.${domain}`;
  let records: dns.SrvRecord[] = [];
  try {
    records = await srv(name, signal);
  } catch {
    // No SRV records (or no answer): RFC 6120 §3.2.2 falls back to the domain itself.
  }
  signal.throwIfAborted();
  if (records.length === 1 && records[0]!.name.replace(/\.$/, "") === "") {
    // RFC 2782: a target of "." means the service is decidedly not available at this domain.
    throw new CamError("unreachable", msg`${domain} says in DNS (${name}) that it offers no XMPP client service${mode === "direct" ? " over direct TLS; try --tls starttls" : ""}.`);
  }
  const targets = orderSrv(records.filter((r) => r.name.replace(/\.$/, "") !== ""));
  return targets.length > 0 ? targets : [{ host: domain, port: defaultPort }];
}

export type HostLookup = (host: string, signal: AbortSignal) => Promise<string[]>;

/** Resolves a name in a child Node when getent is missing (getent is part of glibc and musl). */
const NODE_GETADDRINFO = `require("node:dns").lookup(process.argv[1], { all: true }, (e, a) => process.stdout.write(e ? "" : a.map((x) => x.address).join("\\n")))`;

/** Runs a resolver program; its output, or "" when it found nothing. Killed when the signal aborts. */
function runResolver(command: string, args: string[], signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      if (out.length < 65536) out += d;
    });
    const kill = () => child.kill("SIGKILL");
    process.on("exit", kill); // it may be waiting on a resolver that never answers: do not leave it behind
    const stop = onAbort(signal, () => {
      kill();
      reject(signal.reason);
    });
    const done = () => {
      stop();
      process.off("exit", kill);
    };
    child.once("error", (err) => {
      done();
      reject(err);
    });
    child.once("close", () => {
      done();
      resolve(out);
    });
  });
}

/**
 * The addresses of a host name, as the system resolves them (getaddrinfo), in its order; an IP
 * address as it is. Runs in a child process so that a resolver that never answers can be
 * abandoned when the signal aborts.
 */
export const lookupHost: HostLookup = async (host, signal) => {
  if (net.isIP(host)) return [host];
  const ascii = domainToASCII(host);
  if (ascii === "") throw unresolvable(host);
  let out: string;
  try {
    out = await runResolver("getent", ["ahosts", "--", ascii], signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code !== "ENOENT") throw err;
    out = await runResolver(process.execPath, ["-e", NODE_GETADDRINFO, "--", ascii], signal);
  }
  // getent ahosts: "ADDRESS  STREAM name", one line per address and socket type.
  const addresses = [...new Set(out.split("\n").map((line) => line.trim().split(/\s+/)[0] ?? ""))].filter((a) => net.isIP(a) !== 0);
  if (addresses.length === 0) throw unresolvable(host);
  return addresses;
};

/** For --tls none: every address the name has must be loopback. */
export function refuseUnlessLoopback(host: string, addresses: string[]): void {
  const outside = addresses.filter((a) => !isLoopbackAddress(a));
  if (addresses.length === 0 || outside.length > 0) throw plaintextNotLoopback(host, outside);
}

export interface TlsSettings {
  /** The JID's domain: SNI and the name the certificate must carry. */
  domain: string;
  /** Extra trusted CA certificates (PEM), from --ca-file. */
  caPem: string | undefined;
}

export function tlsOptions(s: TlsSettings): tls.ConnectionOptions {
  const bareDomain = s.domain.replace(/^\[|\]$/g, "");
  return {
    // SNI must be a host name; an IP-literal domain is checked against the certificate's IP SANs.
    servername: net.isIP(bareDomain) ? undefined : bareDomain,
    ca: s.caPem === undefined ? undefined : [...tls.rootCertificates, s.caPem],
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(bareDomain, cert),
    minVersion: "TLSv1.2",
  };
}

/**
 * The socket @xmpp/connection reads from and writes to (the interface of
 * @xmpp/connection-tcp's Socket): emits "data" (strings, UTF-8 decoded across chunk
 * boundaries), "close" and "error"; `secure` says whether TLS protects it.
 */
export class XmppSocket extends EventEmitter {
  private decoder = new StringDecoder("utf8");
  private received = 0;
  private detached = false;

  constructor(
    readonly raw: net.Socket,
    readonly secure: boolean,
  ) {
    super();
    raw.on("data", this.onData);
    raw.on("close", this.onClose);
    raw.on("error", this.onError);
  }

  private onData = (chunk: Buffer) => {
    this.received += chunk.length;
    if (this.received > MAX_INBOUND_BYTES) {
      this.raw.destroy(new InboundLimitError(MAX_INBOUND_BYTES));
      return;
    }
    const text = this.decoder.write(chunk);
    if (text.length === 0) return;
    try {
      this.emit("data", text);
    } catch (err) {
      // The XML parser throws from inside this event on input it cannot take (e.g. an illegal
      // character): end the connection with a readable error instead of crashing the process.
      this.raw.destroy(Object.assign(new Error(`the server sent malformed XML (${(err as Error)?.message ?? err})`), { name: "XMLError" }));
    }
  };

  private onClose = () => this.emit("close");

  private onError = (err: Error) => {
    // Never throw from here: an unheard error event would crash the process.
    if (this.listenerCount("error") > 0) this.emit("error", err);
  };

  get remoteAddress(): string | undefined {
    return this.raw.remoteAddress;
  }

  write(data: string, cb: (err?: Error | null) => void): void {
    if (this.raw.destroyed || !this.raw.writable) {
      cb(new Error("the connection is closed"));
      return;
    }
    this.raw.write(data, cb);
  }

  end(): void {
    this.raw.end();
  }

  destroy(): void {
    this.raw.destroy();
  }

  /** Stops listening to the raw socket (its ownership passes to a TLS socket). */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.raw.off("data", this.onData);
    this.raw.off("close", this.onClose);
    this.raw.off("error", this.onError);
    this.raw.on("error", () => undefined);
  }

  /** RFC 6120 §5.4.3.3: after <proceed/>, the TLS handshake on the same TCP connection. */
  startTls(settings: TlsSettings, target: Target): Promise<XmppSocket> {
    this.detach();
    return handshake(tls.connect({ socket: this.raw, ...tlsOptions(settings) }), target, settings.domain);
  }
}

function handshake(sock: tls.TLSSocket, target: Target, domain: string): Promise<XmppSocket> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      sock.destroy();
      reject(tlsError(err, target, domain));
    };
    sock.once("error", onError);
    sock.once("secureConnect", () => {
      sock.off("error", onError);
      resolve(new XmppSocket(sock, true));
    });
  });
}

/** Lets Node connect to addresses resolved beforehand (with its usual happy eyeballs between them). */
function resolvedLookup(addresses: string[]): net.LookupFunction {
  const all = addresses.map((address) => ({ address, family: net.isIP(address) }));
  return (_hostname, options, callback) => {
    if (options.all) callback(null, all);
    else callback(null, all[0]!.address, all[0]!.family);
  };
}

/**
 * Opens one connection to `target` at its resolved `addresses`: plain TCP (STARTTLS follows, or
 * --tls none) or direct TLS. When the signal aborts, the socket is destroyed and this rejects with
 * the signal's reason.
 */
export function openSocket(target: Target, addresses: string[], mode: TlsMode, settings: TlsSettings, signal: AbortSignal): Promise<XmppSocket> {
  const where = { host: target.host, port: target.port, lookup: resolvedLookup(addresses) };
  const sock = mode === "direct" ? tls.connect({ ...where, ALPNProtocols: [ALPN_XMPP_CLIENT], ...tlsOptions(settings) }) : net.connect(where);
  // Requests go out at once, not held back until the server acknowledges the last one (Nagle):
  // the host-wide listing keeps several small requests in flight (host-list.ts).
  sock.setNoDelay(true);
  const connected =
    mode === "direct"
      ? handshake(sock as tls.TLSSocket, target, settings.domain)
      : new Promise<XmppSocket>((resolve, reject) => {
          sock.once("error", (err) => {
            sock.destroy();
            reject(netError(err, target));
          });
          sock.once("connect", () => {
            sock.removeAllListeners("error");
            resolve(new XmppSocket(sock, false));
          });
        });
  return new Promise<XmppSocket>((resolve, reject) => {
    const stop = onAbort(signal, () => {
      sock.destroy();
      reject(signal.reason);
    });
    connected.then(
      (s) => {
        stop();
        resolve(s);
      },
      (err) => {
        stop();
        reject(err);
      },
    );
  });
}

function unresolvable(host: string): CamError {
  return new CamError("unreachable", msg`Cannot resolve ${host}; check the domain, or give the server's address with --server host[:port].`);
}

export function netError(err: Error, target: Target): CamError {
  const code = (err as NodeJS.ErrnoException).code;
  const where = hostPort(target);
  switch (code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return unresolvable(target.host);
    case "ECONNREFUSED":
      return new CamError("unreachable", msg`Nothing accepts connections at ${where} (connection refused); is the XMPP server running, and is that its client port?`);
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new CamError("unreachable", msg`Cannot reach ${where} (${code}); check the address and the network.`);
    case "ECONNRESET":
    case "EPIPE":
      return new CamError("unreachable", msg`The server at ${where} dropped the connection (${code}).`);
    default:
      return new CamError("unreachable", msg`Cannot connect to ${where}: ${err.message}.`);
  }
}

const TRUST_HINT = "If the server uses a private CA or a self-signed certificate, pass that certificate with --ca-file <pem>.";

/** Why the TLS handshake failed, in words, with what to do. Exit code 3. */
export function tlsError(err: Error, target: Target, domain: string): CamError {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const where = hostPort(target);
  const untrusted = (why: string) =>
    new CamError("unreachable", msg`The TLS certificate of ${where} is not trusted: ${why}. camctl stopped before logging in. ${TRUST_HINT}`, code);
  switch (code) {
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
      return untrusted("it is self-signed");
    case "SELF_SIGNED_CERT_IN_CHAIN":
      return untrusted("its chain ends in a self-signed CA that this system does not trust");
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "UNABLE_TO_GET_ISSUER_CERT":
      return untrusted("it was issued by a CA that this system does not trust (or the server does not send its intermediate certificates)");
    case "CERT_HAS_EXPIRED":
      return untrusted("it has expired");
    case "CERT_NOT_YET_VALID":
      return untrusted("it is not valid yet (check this machine's clock)");
    case "CERT_REVOKED":
      return untrusted("it has been revoked");
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return new CamError(
        "unreachable",
        msg`The TLS certificate of ${where} is not valid for ${domain} (${(err as { reason?: string }).reason ?? err.message}). ` +
          `camctl checks it against the JID's domain; the server may be misconfigured, or not the right server.`,
        code,
      );
    default:
      if (/unrecognized name/i.test(err.message)) {
        return new CamError(
          "unreachable",
          msg`The server at ${where} has no certificate for ${domain} (it answered "unrecognized name" to the TLS handshake); check the JID's domain and --server.`,
          code || "tls",
        );
      }
      if (/wrong version number|unknown protocol|packet length too long|http request/i.test(err.message)) {
        return new CamError(
          "unreachable",
          msg`${where} does not speak TLS right away, so it is not a direct TLS port; for the usual client port use --tls starttls (the default).`,
          code || "tls",
        );
      }
      if (code.startsWith("E") && !code.startsWith("ERR_")) return netError(err, target);
      // OpenSSL's message carries a hex prefix and source paths; its `reason` is the readable part.
      return new CamError("unreachable", msg`The TLS handshake with ${where} failed: ${(err as { reason?: string }).reason ?? err.message}.`, code || "tls");
  }
}
