// Client helpers for the sandbox: log in the way real clients do.
//
// Both helpers are assembled from @xmpp/client's own building blocks, with one
// difference from @xmpp/client's `client()`: STARTTLS verifies the server
// certificate against the sandbox CA (and the XMPP domain as server name) for
// this connection only. Nothing global (tls defaults, NODE_EXTRA_CA_CERTS,
// NODE_TLS_REJECT_UNAUTHORIZED) is touched.
//
// - sasl2: SASL2 (XEP-0388) with <user-agent id>, Bind2, optionally a FAST
//   token request; no legacy SASL fallback.
// - legacy: RFC 6120 SASL + resource binding, no SASL2 at all.

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";

interface XmppParts {
  Client: Any;
  xml: Any;
  jid: Any;
  middleware: Any;
  streamFeatures: Any;
  iqCaller: Any;
  tcp: Any;
  sasl2: Any;
  sasl: Any;
  fast: Any;
  bind2: Any;
  resourceBinding: Any;
  SASLFactory: Any;
  scramsha1: Any;
  plain: Any;
  htsha256none: Any;
  TlsSocket: Any;
  promise: Any;
  parse: Any;
}

let partsPromise: Promise<XmppParts> | undefined;

// Specifiers are kept out of TypeScript's sight on purpose: the packages ship no types.
const load = (specifier: string): Promise<Any> => import(specifier);

function loadParts(): Promise<XmppParts> {
  partsPromise ??= (async () => {
    const [core, middleware, streamFeatures, iqCaller, tcp, sasl2, sasl, fast, bind2, resourceBinding] =
      await Promise.all([
        load("@xmpp/client-core"),
        load("@xmpp/middleware"),
        load("@xmpp/stream-features"),
        load("@xmpp/iq/caller.js"),
        load("@xmpp/tcp"),
        load("@xmpp/sasl2"),
        load("@xmpp/sasl"),
        load("@xmpp/client-core/src/fast/fast.js"),
        load("@xmpp/client-core/src/bind2/bind2.js"),
        load("@xmpp/resource-binding"),
      ]);
    const [SASLFactory, scramsha1, plain, htsha256none, TlsSocket, events, parse] = await Promise.all([
      load("saslmechanisms"),
      load("@xmpp/sasl-scram-sha-1"),
      load("@xmpp/sasl-plain"),
      load("@xmpp/sasl-ht-sha-256-none"),
      load("@xmpp/tls/lib/Socket.js"),
      load("@xmpp/events"),
      load("@xmpp/xml/lib/parse.js"),
    ]);
    return {
      Client: core.Client,
      xml: core.xml,
      jid: core.jid,
      middleware: middleware.default,
      streamFeatures: streamFeatures.default,
      iqCaller: iqCaller.default,
      tcp: tcp.default,
      sasl2: sasl2.default,
      sasl: sasl.default,
      fast: fast.default,
      bind2: bind2.default,
      resourceBinding: resourceBinding.default,
      SASLFactory: SASLFactory.default ?? SASLFactory,
      scramsha1: scramsha1.default,
      plain: plain.default,
      htsha256none: htsha256none.default,
      TlsSocket: TlsSocket.default,
      promise: events.promise,
      parse: parse.default,
    };
  })();
  return partsPromise;
}

export interface ConnectTarget {
  /** Port of the STARTTLS c2s listener on 127.0.0.1. */
  port: number;
  /** XMPP domain (stream 'to', TLS server name). */
  domain: string;
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  timeoutMs: number;
}

export interface OpenClient {
  /** Full JID the server bound. */
  jid: string;
  /**
   * Sends one <iq/> (XML text; an id is added when missing) and resolves with
   * the server's result or error stanza as XML text.
   */
  iq(stanza: string, timeoutMs?: number): Promise<string>;
  /** Graceful stream close; safe to call more than once. */
  close(): Promise<void>;
  /** Immediate socket teardown (used when the sandbox stops). */
  destroy(): void;
}

function useVerifiedStartTls(parts: XmppParts, streamFeatures: Any, target: ConnectTarget): void {
  streamFeatures.use("starttls", NS_TLS, async ({ entity }: Any) => {
    const answer = await entity.sendReceive(parts.xml("starttls", { xmlns: NS_TLS }));
    if (!answer.is("proceed", NS_TLS)) throw new Error("STARTTLS refused by the server");
    const tlsSocket = new parts.TlsSocket();
    tlsSocket.connect({
      socket: entity.socket,
      host: target.domain,
      servername: target.domain,
      ca: target.ca,
      rejectUnauthorized: true,
    });
    await parts.promise(tlsSocket, "connect", "error", target.timeoutMs);
    entity._attachSocket(tlsSocket);
    await entity.restart();
  });
}

function makeEntity(parts: XmppParts, target: ConnectTarget, username: string): { entity: Any; errors: Error[] } {
  const entity = new parts.Client({
    service: `xmpp://127.0.0.1:${target.port}`,
    domain: target.domain,
    timeout: target.timeoutMs,
  });
  // Like @xmpp/client: the stream header carries 'from' once TLS is up (the
  // server offers FAST only when it knows who is connecting).
  entity.jid = parts.jid(username, target.domain);
  parts.tcp({ entity });
  const errors: Error[] = [];
  // An EventEmitter without an 'error' listener would throw.
  entity.on("error", (e: Error) => errors.push(e));
  return { entity, errors };
}

async function startWithin(entity: Any, timeoutMs: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      entity.start(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not online within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

let iqCounter = 0;

function openClient(parts: XmppParts, entity: Any, defaultTimeoutMs: number): OpenClient {
  let closing: Promise<void> | undefined;
  return {
    jid: String(entity.jid),
    async iq(stanza: string, timeoutMs = defaultTimeoutMs) {
      const el = parts.parse(stanza);
      if (!el || el.name !== "iq") throw new Error("iq(): not an <iq/> element");
      el.attrs.id ??= `sandbox-iq-${++iqCounter}`;
      const id = el.attrs.id;
      let timer: NodeJS.Timeout | undefined;
      let onStanza: ((st: Any) => void) | undefined;
      const reply = new Promise<string>((resolve, reject) => {
        onStanza = (st: Any) => {
          if (st.name === "iq" && st.attrs.id === id && (st.attrs.type === "result" || st.attrs.type === "error")) {
            resolve(st.toString());
          }
        };
        entity.on("stanza", onStanza);
        timer = setTimeout(() => reject(new Error(`iq(): no reply within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await entity.send(el);
        return await reply;
      } finally {
        clearTimeout(timer);
        entity.off("stanza", onStanza);
      }
    },
    close() {
      closing ??= (async () => {
        try {
          await entity.stop();
        } catch {
          entity.socket?.destroy?.();
        }
      })();
      return closing;
    },
    destroy() {
      try {
        entity.socket?.socket?.destroy?.();
        entity.socket?.destroy?.();
      } catch {
        /* already gone */
      }
    },
  };
}

function abort(entity: Any): void {
  try {
    entity.socket?.socket?.destroy?.();
    entity.socket?.destroy?.();
  } catch {
    /* already gone */
  }
}

export interface Sasl2LoginOptions {
  username: string;
  password: string;
  userAgentId: string;
  software?: string;
  version?: string;
  device?: string;
  requestFast?: boolean;
  mechanism?: "PLAIN" | "SCRAM-SHA-1";
}

export async function sasl2Connect(target: ConnectTarget, o: Sasl2LoginOptions): Promise<OpenClient> {
  const parts = await loadParts();
  const { entity, errors } = makeEntity(parts, target, o.username);
  const middleware = parts.middleware({ entity });
  const streamFeatures = parts.streamFeatures({ middleware });
  // PLAIN over the verified TLS channel by default, as many clients do:
  // @xmpp's SCRAM-SHA-1 computes 10000 PBKDF2 rounds through async WebCrypto
  // calls and takes ~2 s per login.
  const saslFactory = new parts.SASLFactory();
  if (o.mechanism === "SCRAM-SHA-1") parts.scramsha1(saslFactory);
  else parts.plain(saslFactory);

  const { xml } = parts;
  const userAgent = xml(
    "user-agent",
    { id: o.userAgentId },
    o.software !== undefined ? xml("software", {}, o.software) : null,
    o.version !== undefined ? xml("version", {}, o.version) : null,
    o.device !== undefined ? xml("device", {}, o.device) : null,
  );

  useVerifiedStartTls(parts, streamFeatures, target);
  const sasl2 = parts.sasl2(
    { streamFeatures, saslFactory },
    async (authenticate: Any, mechanisms: string[]) => {
      const mechanism = mechanisms[0];
      if (!mechanism) throw new Error("SASL2: no usable mechanism offered");
      await authenticate({ username: o.username, password: o.password }, mechanism, userAgent);
    },
  );
  if (o.requestFast) {
    const fast = parts.fast({ sasl2, entity });
    parts.htsha256none(fast.saslFactory);
    sasl2.setup({ fast });
  } else {
    // No FAST: nothing is requested, so no token is left behind.
    sasl2.setup({ fast: { mechanism: null, auth: async () => false } });
  }
  parts.bind2({ sasl2, entity }, o.software ?? "camctl-sandbox");

  try {
    await startWithin(entity, target.timeoutMs, "SASL2 login");
  } catch (e) {
    abort(entity);
    throw errors[0] ?? e;
  }
  return openClient(parts, entity, target.timeoutMs);
}

export interface LegacyLoginOptions {
  username: string;
  password: string;
  resource: string;
}

export async function legacyConnect(target: ConnectTarget, o: LegacyLoginOptions): Promise<OpenClient> {
  const parts = await loadParts();
  const { entity, errors } = makeEntity(parts, target, o.username);
  const middleware = parts.middleware({ entity });
  const streamFeatures = parts.streamFeatures({ middleware });
  const iqCaller = parts.iqCaller({ middleware, entity });
  const saslFactory = new parts.SASLFactory();
  parts.plain(saslFactory);

  useVerifiedStartTls(parts, streamFeatures, target);
  parts.sasl({ streamFeatures, saslFactory }, async (authenticate: Any, mechanisms: string[]) => {
    if (!mechanisms.includes("PLAIN")) throw new Error("SASL PLAIN not offered");
    await authenticate({ username: o.username, password: o.password }, "PLAIN");
  });
  parts.resourceBinding({ iqCaller, streamFeatures }, o.resource);

  try {
    await startWithin(entity, target.timeoutMs, "legacy login");
  } catch (e) {
    abort(entity);
    throw errors[0] ?? e;
  }
  return openClient(parts, entity, target.timeoutMs);
}
