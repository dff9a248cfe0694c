// A raw c2s connection for the sandbox: STARTTLS (verified against the sandbox CA), then the
// test says every byte itself. For what a library client cannot be made to do: a SASL2 login
// with no <user-agent> or no id, OAUTHBEARER with a grant's token, a FAST login with a token
// from an earlier login, legacy SASL on a host that never answers it, staying silent when the
// server closes the stream.
import crypto from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { SaxesParser } from "saxes";

import type { ConnectTarget } from "./clients.js";

/** A parsed element; `ns` is its resolved default namespace. */
export interface XmlElement {
  name: string;
  ns: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
  /** First child with this name (and namespace, when given). */
  child(name: string, ns?: string): XmlElement | undefined;
  toString(): string;
}

const NS_CLIENT = "jabber:client";
const NS_STREAM = "http://etherx.jabber.org/streams";
const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
export const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
export const NS_SASL2 = "urn:xmpp:sasl:2";
export const NS_BIND2 = "urn:xmpp:bind:0";
export const NS_FAST = "urn:xmpp:fast:0";

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

function makeElement(name: string, ns: string, attrs: Record<string, string>): XmlElement {
  const el: XmlElement = {
    name,
    ns,
    attrs,
    children: [],
    text: "",
    child(n, wantNs) {
      return el.children.find((c) => c.name === n && (wantNs === undefined || c.ns === wantNs));
    },
    toString() {
      const a = Object.entries(el.attrs).map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join("");
      const inner = escapeXml(el.text) + el.children.map(String).join("");
      return inner === "" ? `<${el.name}${a}/>` : `<${el.name}${a}>${inner}</${el.name}>`;
    },
  };
  return el;
}

/** One XML stream's top-level children, as they arrive. */
class StreamReader {
  private parser = new SaxesParser();
  private stack: XmlElement[] = [];
  header: Record<string, string> | null = null;
  ended = false;
  error: Error | null = null;

  constructor(private onElement: (el: XmlElement) => void, private onEnd: () => void) {
    this.parser.on("opentag", (tag) => {
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(tag.attributes)) attrs[k] = String(v);
      if (this.header === null) {
        this.header = attrs;
        return;
      }
      const parent = this.stack.at(-1);
      const ns = attrs.xmlns ?? (parent ? parent.ns : tag.name.startsWith("stream:") ? NS_STREAM : NS_CLIENT);
      const el = makeElement(tag.name, ns, attrs);
      if (parent) parent.children.push(el);
      this.stack.push(el);
    });
    this.parser.on("text", (t) => {
      const top = this.stack.at(-1);
      if (top) top.text += t;
    });
    this.parser.on("closetag", () => {
      const el = this.stack.pop();
      if (!el) {
        this.ended = true;
        this.onEnd();
        return;
      }
      if (this.stack.length === 0) this.onElement(el);
    });
    this.parser.on("error", (e) => {
      this.error = e;
    });
  }

  write(text: string): void {
    if (this.error || this.ended) return;
    this.parser.write(text);
  }
}

function streamHeader(domain: string, from?: string): string {
  return (
    `<?xml version='1.0'?><stream:stream xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAM}' ` +
    `to='${escapeXml(domain)}'${from ? ` from='${escapeXml(from)}'` : ""} version='1.0' xml:lang='en'>`
  );
}

let rawIqCounter = 0;

export class RawXmppConnection {
  /** Everything received after TLS, as text (the tests look for stream errors and closes here). */
  received = "";
  /** Features of the current stream. */
  features: XmlElement | null = null;
  /** Set when the server has ended its stream (</stream:stream>). */
  serverClosed = false;
  /** Set when the TCP connection is gone. */
  socketClosed = false;
  /** Reply to the server's </stream:stream> with our own and end the socket (a well-behaved client). */
  answerServerClose = true;

  private socket: net.Socket | tls.TLSSocket;
  private reader!: StreamReader;
  private queue: XmlElement[] = [];
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket, private target: ConnectTarget, private from?: string) {
    this.socket = socket;
  }

  /** TCP, stream, STARTTLS (verified), stream again; resolves with the post-TLS features read. */
  static async open(target: ConnectTarget, o: { from?: string; localAddress?: string } = {}): Promise<RawXmppConnection> {
    // localAddress: another loopback address (127.0.0.2, …), so the server sees logins from several places.
    const tcp = net.createConnection({ host: "127.0.0.1", port: target.port, localAddress: o.localAddress });
    await new Promise<void>((resolve, reject) => {
      tcp.once("connect", resolve);
      tcp.once("error", reject);
    });
    const conn = new RawXmppConnection(tcp, target, o.from);
    try {
      conn.attach(tcp, false);
      tcp.write(streamHeader(target.domain));
      const features = await conn.next(target.timeoutMs, "stream features");
      if (!features.child("starttls", NS_TLS)) throw new Error("raw client: the server offers no STARTTLS");
      conn.send(`<starttls xmlns='${NS_TLS}'/>`);
      const proceed = await conn.next(target.timeoutMs, "STARTTLS answer");
      if (proceed.name !== "proceed") throw new Error("raw client: STARTTLS refused: " + String(proceed));
      tcp.removeAllListeners("data");
      const secure = tls.connect({ socket: tcp, servername: target.domain, ca: target.ca, rejectUnauthorized: true });
      await new Promise<void>((resolve, reject) => {
        secure.once("secureConnect", resolve);
        secure.once("error", reject);
      });
      conn.socket = secure;
      conn.attach(secure, true);
      conn.restart();
      conn.features = await conn.next(target.timeoutMs, "stream features after TLS");
      return conn;
    } catch (e) {
      conn.destroy();
      throw e;
    }
  }

  private attach(sock: net.Socket | tls.TLSSocket, secure: boolean): void {
    this.newReader();
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      if (secure) this.received += d;
      this.reader.write(d);
    });
    sock.on("error", () => this.markClosed());
    sock.on("close", () => this.markClosed());
  }

  private markClosed(): void {
    this.socketClosed = true;
    this.wake();
  }

  private newReader(): void {
    this.reader = new StreamReader(
      (el) => {
        this.queue.push(el);
        this.wake();
      },
      () => {
        this.serverClosed = true;
        if (this.answerServerClose) {
          try {
            this.socket.end("</stream:stream>");
          } catch {
            /* already gone */
          }
        }
        this.wake();
      },
    );
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** A new stream on the same connection (after TLS, or after legacy SASL success). */
  restart(): void {
    this.newReader();
    this.socket.write(streamHeader(this.target.domain, this.from));
  }

  send(xml: string): void {
    this.socket.write(xml);
  }

  /** Waits until `cond` holds (re-checked on every arrival, close or tick); false after `ms`. */
  async waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!cond()) {
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  /** The next top-level element; rejects when none comes within `ms` or the stream ends first. */
  async next(ms: number, what = "an element"): Promise<XmlElement> {
    await this.waitUntil(() => this.queue.length > 0 || this.serverClosed || this.socketClosed, ms);
    const el = this.queue.shift();
    if (el) return el;
    if (this.serverClosed || this.socketClosed) throw new Error(`raw client: the stream ended while waiting for ${what}`);
    throw new Error(`raw client: no ${what} within ${ms} ms`);
  }

  /** Top-level elements that arrived and were not taken yet. */
  pending(): XmlElement[] {
    return [...this.queue];
  }

  /**
   * Sends an <iq/> (id added when missing) and resolves with the reply, or null when none comes
   * within `ms` (or the stream ends first). Other elements stay queued.
   */
  async iq(xml: string, ms = this.target.timeoutMs): Promise<XmlElement | null> {
    let text = xml;
    let id = /^<iq\b[^>]*\bid=['"]([^'"]*)['"]/.exec(xml)?.[1];
    if (id === undefined) {
      id = `raw-${++rawIqCounter}`;
      text = xml.replace(/^<iq\b/, `<iq id='${id}'`);
    }
    this.send(text);
    const isReply = (el: XmlElement) => el.name === "iq" && el.attrs.id === id && (el.attrs.type === "result" || el.attrs.type === "error");
    await this.waitUntil(() => this.queue.some(isReply) || this.serverClosed || this.socketClosed, ms);
    const i = this.queue.findIndex(isReply);
    if (i === -1) return null;
    return this.queue.splice(i, 1)[0]!;
  }

  /** Ends our stream and waits (briefly) for the server's end. */
  async close(ms = 2000): Promise<void> {
    if (!this.socketClosed) {
      try {
        this.socket.write("</stream:stream>");
      } catch {
        /* gone */
      }
      await this.waitUntil(() => this.serverClosed || this.socketClosed, ms);
    }
    this.destroy();
  }

  destroy(): void {
    this.socket.destroy();
    this.socketClosed = true;
  }
}

// ---------------------------------------------------------------------------------------------
// SASL2 (XEP-0388) with the pieces a test may want to leave out

export interface RawUserAgent {
  /** Omit for a <user-agent/> without id. */
  id?: string;
  software?: string;
  version?: string;
  device?: string;
  uri?: string;
}

export interface RawSasl2Options {
  username: string;
  mechanism: "PLAIN" | "OAUTHBEARER" | "HT-SHA-256-NONE";
  /** PLAIN: the password. OAUTHBEARER: the bearer token. HT-SHA-256-NONE: the FAST token. */
  secret: string;
  /** null: no <user-agent> at all. */
  userAgent: RawUserAgent | null;
  /** A Bind2 request with this tag; omit for no Bind2. */
  bindTag?: string;
  /** Ask for a FAST token (HT-SHA-256-NONE). */
  requestFastToken?: boolean;
}

export type RawSasl2Result =
  | { ok: true; success: XmlElement; jid: string; fastToken: string | null }
  | { ok: false; failure: XmlElement };

function initialResponse(o: RawSasl2Options, domain: string): Buffer {
  switch (o.mechanism) {
    case "PLAIN":
      return Buffer.from(`\0${o.username}\0${o.secret}`, "utf8");
    case "OAUTHBEARER":
      return Buffer.from(`n,a=${o.username}@${domain},\x01auth=Bearer ${o.secret}\x01\x01`, "utf8");
    case "HT-SHA-256-NONE": {
      const proof = crypto.createHmac("sha256", o.secret).update("Initiator").digest();
      return Buffer.concat([Buffer.from(o.username + "\0", "utf8"), proof]);
    }
  }
}

function userAgentXml(ua: RawUserAgent | null): string {
  if (!ua) return "";
  const kids = (["software", "version", "device", "uri"] as const)
    .filter((k) => ua[k] !== undefined)
    .map((k) => `<${k}>${escapeXml(ua[k]!)}</${k}>`)
    .join("");
  return `<user-agent${ua.id !== undefined ? ` id='${escapeXml(ua.id)}'` : ""}>${kids}</user-agent>`;
}

/**
 * One SASL2 <authenticate/> with an initial response; waits for <success/> or <failure/> (a
 * rejection when neither comes within the target's timeout). After success the server sends new
 * features without a stream restart; they are read here too.
 */
export async function rawSasl2(conn: RawXmppConnection, domain: string, o: RawSasl2Options, ms: number): Promise<RawSasl2Result> {
  const parts = [
    userAgentXml(o.userAgent),
    o.mechanism === "HT-SHA-256-NONE" ? `<fast xmlns='${NS_FAST}'/>` : "",
    o.requestFastToken ? `<request-token xmlns='${NS_FAST}' mechanism='HT-SHA-256-NONE'/>` : "",
    o.bindTag !== undefined ? `<bind xmlns='${NS_BIND2}'><tag>${escapeXml(o.bindTag)}</tag></bind>` : "",
  ].join("");
  conn.send(
    `<authenticate xmlns='${NS_SASL2}' mechanism='${o.mechanism}'>` +
      `<initial-response>${initialResponse(o, domain).toString("base64")}</initial-response>${parts}</authenticate>`,
  );
  const answer = await conn.next(ms, "a SASL2 answer");
  if (answer.ns !== NS_SASL2 || (answer.name !== "success" && answer.name !== "failure")) {
    throw new Error("raw client: unexpected SASL2 answer " + String(answer));
  }
  if (answer.name === "failure") return { ok: false, failure: answer };
  await conn.next(ms, "features after SASL2 success");
  const token = answer.child("token", NS_FAST)?.attrs.token ?? null;
  return { ok: true, success: answer, jid: answer.child("authorization-identifier")?.text ?? "", fastToken: token };
}

/** RFC 6120 SASL PLAIN, stream restart, resource binding: a pre-SASL2 client. Resolves with the bound full JID. */
export async function rawLegacyLogin(
  conn: RawXmppConnection,
  o: { username: string; password: string; resource: string },
  ms: number,
): Promise<string> {
  await rawLegacyAuth(conn, o, ms);
  const jid = await rawBind(conn, o.resource, ms);
  if (jid === null) throw new Error("raw client: resource binding failed: the stream ended");
  return jid;
}

/** The first half of a pre-SASL2 login: SASL PLAIN and the stream restart, stopping before the resource is bound. */
export async function rawLegacyAuth(conn: RawXmppConnection, o: { username: string; password: string }, ms: number): Promise<void> {
  conn.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${o.username}\0${o.password}`, "utf8").toString("base64")}</auth>`);
  const answer = await conn.next(ms, "a SASL answer");
  if (answer.name !== "success") throw new Error("raw client: legacy SASL failed: " + String(answer));
  conn.restart();
  await conn.next(ms, "features after SASL");
}

/** The second half: binds `resource`. The full JID, or null when the stream ended instead of an answer. */
export async function rawBind(conn: RawXmppConnection, resource: string, ms: number): Promise<string | null> {
  const reply = await conn.iq(
    `<iq type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${escapeXml(resource)}</resource></bind></iq>`,
    ms,
  );
  if (reply === null && (conn.serverClosed || conn.socketClosed)) return null;
  const jid = reply?.child("bind")?.child("jid")?.text;
  if (!reply || reply.attrs.type !== "result" || !jid) throw new Error("raw client: resource binding failed: " + String(reply));
  return jid;
}

// ---------------------------------------------------------------------------------------------
// SASL2 SCRAM-SHA-1 (RFC 5802) one message at a time, so a test can act between them

export type ScramOutcome =
  | { outcome: "success"; fastToken: string | null }
  | { outcome: "failure"; condition: string }
  /** The server ended the stream (with a stream error, in `conn.received`) instead of answering. */
  | { outcome: "stream-ended" };

export interface ScramExchange {
  /** Sends the client-final message (the proof computed from the password) and reads the answer. */
  finish(): Promise<ScramOutcome>;
}

/**
 * Sends <authenticate mechanism='SCRAM-SHA-1'> with the client-first message and waits for the
 * server-first challenge: the server now holds the account's stored key for this exchange.
 */
export async function rawSasl2ScramStart(
  conn: RawXmppConnection,
  o: { username: string; password: string; userAgentId: string; requestFastToken?: boolean },
  ms: number,
): Promise<ScramExchange> {
  const mechanisms = conn.features?.child("authentication", NS_SASL2)?.children.filter((m) => m.name === "mechanism").map((m) => m.text) ?? [];
  if (!mechanisms.includes("SCRAM-SHA-1")) throw new Error(`raw client: SCRAM-SHA-1 not offered (${mechanisms.join(", ")})`);
  const gs2 = "n,,";
  const clientFirstBare = `n=${o.username.replace(/=/g, "=3D").replace(/,/g, "=2C")},r=${crypto.randomBytes(18).toString("base64")}`;
  conn.send(
    `<authenticate xmlns='${NS_SASL2}' mechanism='SCRAM-SHA-1'>` +
      `<initial-response>${Buffer.from(gs2 + clientFirstBare, "utf8").toString("base64")}</initial-response>` +
      userAgentXml({ id: o.userAgentId, software: "raw SCRAM" }) +
      (o.requestFastToken ? `<request-token xmlns='${NS_FAST}' mechanism='HT-SHA-256-NONE'/>` : "") +
      `</authenticate>`,
  );
  const challenge = await conn.next(ms, "the SCRAM challenge");
  if (challenge.name !== "challenge") throw new Error("raw client: no SCRAM challenge: " + String(challenge));
  const serverFirst = Buffer.from(challenge.text, "base64").toString("utf8");
  const fields = Object.fromEntries(serverFirst.split(",").map((f) => [f.slice(0, 1), f.slice(2)]));
  const [nonce, salt, iterations] = [fields.r!, Buffer.from(fields.s!, "base64"), Number(fields.i)];
  return {
    async finish() {
      const salted = crypto.pbkdf2Sync(o.password, salt, iterations, 20, "sha1");
      const clientKey = crypto.createHmac("sha1", salted).update("Client Key").digest();
      const storedKey = crypto.createHash("sha1").update(clientKey).digest();
      const withoutProof = `c=${Buffer.from(gs2).toString("base64")},r=${nonce}`;
      const signature = crypto.createHmac("sha1", storedKey).update(`${clientFirstBare},${serverFirst},${withoutProof}`).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      if (conn.socketClosed) return { outcome: "stream-ended" };
      conn.send(`<response xmlns='${NS_SASL2}'>${Buffer.from(`${withoutProof},p=${proof.toString("base64")}`).toString("base64")}</response>`);
      let answer: XmlElement;
      try {
        answer = await conn.next(ms, "the SCRAM outcome");
      } catch (e) {
        if (conn.serverClosed || conn.socketClosed) return { outcome: "stream-ended" };
        throw e;
      }
      if (answer.name === "stream:error") return { outcome: "stream-ended" };
      if (answer.name === "success") return { outcome: "success", fastToken: answer.child("token", NS_FAST)?.attrs.token ?? null };
      return { outcome: "failure", condition: answer.children.find((c) => c.name !== "text")?.name ?? answer.name };
    },
  };
}
