// A bare SASL2 (XEP-0388) client for tests that need what the sandbox's clients do not expose:
// the FAST token a login obtained (XEP-0484), a login WITH that token, a login with a grant's
// token over OAUTHBEARER, and the stream error a session is closed with. Written on node:net/tls
// and saxes so every byte is under the test's control: STARTTLS verified against the sandbox CA,
// then one <authenticate/> with <user-agent id>, optionally Bind2 (so the server lists the
// client), optionally <request-token/> or <fast/>.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { SaxesParser } from "saxes";
import type { Sandbox } from "../sandbox/sandbox.js";

const NS_SASL2 = "urn:xmpp:sasl:2";
const NS_FAST = "urn:xmpp:fast:0";
const NS_BIND2 = "urn:xmpp:bind:0";
const FAST_MECHANISM = "HT-SHA-256-NONE";
const TIMEOUT_MS = 10_000;

/** An element as received (namespaces as written: `attrs.xmlns` only where it was declared). */
export interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

/** The first child named `name`. */
export const child = (el: Element | undefined, name: string): Element | undefined => el?.children.find((c) => c.name === name);
const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;");

/** How to authenticate: the password, a FAST token (HT-SHA-256-NONE), or a grant's token (OAUTHBEARER). */
export type Credential = { password: string } | { fastToken: string } | { bearerToken: string };

export interface RawLoginOptions {
  jid: string;
  userAgentId: string;
  software?: string;
  device?: string;
  credential: Credential;
  /** Ask for a FAST token along with this login (HT-SHA-256-NONE). */
  requestFast?: boolean;
  /** Stay connected (Bind2) until close(); otherwise the stream is closed right after the login. */
  keepConnected?: boolean;
  /** Connect from this loopback address (127.0.0.2, 127.0.0.3, …), so logins come from different addresses. */
  localAddress?: string;
}

/** How a stream ended. */
export interface StreamEnd {
  /** The stream error's condition and text, when the server sent one. */
  condition?: string;
  text?: string;
}

export type RawLogin =
  | {
      ok: true;
      /** The full JID the server bound (with Bind2) or the bare JID. */
      jid: string;
      /** The FAST token the server handed out, when one was asked for. */
      fastToken?: string;
      /** Resolves when the server ends the stream (or the connection drops). */
      ended: Promise<StreamEnd>;
      /** Sends an <iq/> (XML text with an id) and resolves with the reply; keepConnected only. */
      iq(stanza: string): Promise<Element>;
      close(): Promise<void>;
    }
  | { ok: false; condition: string; text?: string };

/** Reads stanzas (depth-2 elements) off a stream and hands them to whoever waits for the next. */
class StanzaReader {
  private readonly parser = new SaxesParser({ xmlns: false });
  private stack: Element[] = [];
  private depth = 0;
  private queue: Element[] = [];
  private waiting: Array<(el: Element | Error) => void> = [];
  private failure: Error | undefined;
  endedWith: StreamEnd | undefined;
  private endListeners: Array<(end: StreamEnd) => void> = [];

  constructor() {
    this.parser.on("opentag", (tag) => {
      this.depth++;
      if (this.depth < 2) return;
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(tag.attributes)) attrs[k] = String(v);
      const el: Element = { name: tag.name, attrs, children: [], text: "" };
      this.stack.at(-1)?.children.push(el);
      this.stack.push(el);
    });
    this.parser.on("text", (t) => {
      const top = this.stack.at(-1);
      if (top) top.text += t;
    });
    this.parser.on("closetag", () => {
      if (this.depth >= 2) {
        const el = this.stack.pop()!;
        if (this.depth === 2) this.deliver(el);
      }
      this.depth--;
      if (this.depth === 0) this.end({});
    });
    this.parser.on("error", (e) => this.fail(e));
  }

  write(chunk: string): void {
    try {
      this.parser.write(chunk);
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /** A new stream (after STARTTLS): the parser starts from scratch. */
  reset(): StanzaReader {
    const next = new StanzaReader();
    next.endListeners = this.endListeners;
    return next;
  }

  next(): Promise<Element> {
    const el = this.queue.shift();
    if (el) return Promise.resolve(el);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw SASL2: nothing from the server within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      this.waiting.push((x) => {
        clearTimeout(timer);
        if (x instanceof Error) reject(x);
        else resolve(x);
      });
    });
  }

  onEnd(listener: (end: StreamEnd) => void): void {
    if (this.endedWith) listener(this.endedWith);
    else this.endListeners.push(listener);
  }

  end(end: StreamEnd): void {
    if (this.endedWith) return;
    this.endedWith = end;
    for (const l of this.endListeners.splice(0)) l(end);
    this.fail(new Error("raw SASL2: the stream ended"));
  }

  private deliver(el: Element): void {
    if (el.name === "stream:error") {
      const condition = el.children.find((c) => c.name !== "text")?.name;
      this.end({ condition, text: child(el, "text")?.text });
      return;
    }
    const w = this.waiting.shift();
    if (w) w(el);
    else this.queue.push(el);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) w(e);
  }
}

function header(domain: string, from?: string): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' ` +
    `to='${escape(domain)}'${from ? ` from='${escape(from)}'` : ""} version='1.0'>`;
}

function initialResponse(username: string, credential: Credential): { mechanism: string; response: Buffer } {
  if ("password" in credential) return { mechanism: "PLAIN", response: Buffer.from(`\0${username}\0${credential.password}`, "utf8") };
  if ("fastToken" in credential) {
    // HT-SHA-256-NONE: the user name, NUL, HMAC-SHA-256 keyed with the token over "Initiator".
    const hash = createHmac("sha256", credential.fastToken).update("Initiator").digest();
    return { mechanism: FAST_MECHANISM, response: Buffer.concat([Buffer.from(`${username}\0`, "utf8"), hash]) };
  }
  return { mechanism: "OAUTHBEARER", response: Buffer.from(`n,,\x01auth=Bearer ${credential.bearerToken}\x01\x01`, "utf8") };
}

/** Logs in to the sandbox's STARTTLS port. A refused login resolves with ok: false and the SASL condition. */
export async function rawSasl2Login(sb: Sandbox, o: RawLoginOptions): Promise<RawLogin> {
  const [username, domain] = o.jid.split("@") as [string, string];
  const plain: Socket = netConnect({ host: "127.0.0.1", port: sb.c2sPort, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
  let reader = new StanzaReader();
  plain.setEncoding("utf8");
  plain.on("data", (d: string) => reader.write(d));
  plain.on("error", () => reader.end({}));
  await new Promise<void>((resolve, reject) => {
    plain.once("connect", resolve);
    plain.once("error", reject);
  });
  try {
    plain.write(header(domain));
    const features = await reader.next();
    if (!child(features, "starttls")) throw new Error("raw SASL2: no STARTTLS offered");
    plain.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    if ((await reader.next()).name !== "proceed") throw new Error("raw SASL2: STARTTLS refused");

    plain.removeAllListeners("data");
    const secure = tlsConnect({ socket: plain, servername: domain, ca: readFileSync(sb.caFile, "utf8") });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    reader = reader.reset();
    secure.setEncoding("utf8");
    secure.on("data", (d: string) => reader.write(d));
    secure.on("close", () => reader.end({}));
    secure.on("error", () => reader.end({}));
    // 'from' lets the server offer FAST (it needs to know whose tokens to look at).
    secure.write(header(domain, `${username}@${domain}`));
    const saslFeatures = await reader.next();
    if (!child(saslFeatures, "authentication")) throw new Error("raw SASL2: no SASL2 offered");

    const { mechanism, response } = initialResponse(username, o.credential);
    const userAgent =
      `<user-agent id='${escape(o.userAgentId)}'>` +
      (o.software !== undefined ? `<software>${escape(o.software)}</software>` : "") +
      (o.device !== undefined ? `<device>${escape(o.device)}</device>` : "") +
      `</user-agent>`;
    secure.write(
      `<authenticate xmlns='${NS_SASL2}' mechanism='${mechanism}'><initial-response>${response.toString("base64")}</initial-response>` +
        userAgent +
        (o.requestFast ? `<request-token xmlns='${NS_FAST}' mechanism='${FAST_MECHANISM}'/>` : "") +
        ("fastToken" in o.credential ? `<fast xmlns='${NS_FAST}'/>` : "") +
        `<bind xmlns='${NS_BIND2}'><tag>raw-sasl2</tag></bind>` +
        `</authenticate>`,
    );
    let answer = await reader.next();
    if (answer.name === "challenge") {
      // OAUTHBEARER's way of saying no (RFC 7628): acknowledge, the failure follows.
      secure.write(`<response xmlns='${NS_SASL2}'>${Buffer.from("\x01").toString("base64")}</response>`);
      answer = await reader.next();
    }
    if (answer.name !== "success") {
      secure.end("</stream:stream>");
      const condition = answer.children.find((c) => c.name !== "text")?.name ?? answer.name;
      return { ok: false, condition, text: child(answer, "text")?.text };
    }
    const ended = new Promise<StreamEnd>((resolve) => reader.onEnd(resolve));
    const close = async () => {
      if (!secure.destroyed) {
        secure.end("</stream:stream>");
        await Promise.race([ended, new Promise((r) => setTimeout(r, 2000))]);
        secure.destroy();
      }
    };
    const iq = async (stanza: string): Promise<Element> => {
      const id = /^<iq\b[^>]*\bid=['"]([^'"]+)['"]/.exec(stanza)?.[1];
      if (!id) throw new Error("raw SASL2: iq() needs an <iq/> with an id");
      secure.write(stanza);
      for (;;) {
        const el = await reader.next();
        if (el.name === "iq" && el.attrs.id === id) return el;
      }
    };
    const login: RawLogin = {
      ok: true,
      iq,
      jid: child(answer, "authorization-identifier")?.text ?? `${username}@${domain}`,
      fastToken: answer.children.find((c) => c.name === "token" && c.attrs.xmlns === NS_FAST)?.attrs.token,
      ended,
      close,
    };
    if (!o.keepConnected) await close();
    return login;
  } catch (e) {
    plain.destroy();
    throw e;
  }
}

/** A grant with a token that logs in over OAUTHBEARER (an OAuth access token, purpose "oauth2"), made through mod_tokenauth's API. */
export async function createBearerGrant(sb: Sandbox, jid: string, o: { software: string; ttlSeconds?: number }): Promise<{ grantId: string; token: string }> {
  const [, domain] = jid.split("@") as [string, string];
  const q = (s: string) => JSON.stringify(s); // test-chosen ASCII only
  const ttl = o.ttlSeconds !== undefined ? String(Math.floor(o.ttlSeconds)) : "nil";
  const out = await sb.lua(`local tokenauth = prosody.hosts[${q(domain)}].modules.tokenauth
local grant = assert(tokenauth.create_grant(${q(jid)}, ${q(jid)}, ${ttl}, { oauth2_client = { name = ${q(o.software)} } }))
local token = assert(tokenauth.create_token(${q(jid)}, grant, nil, ${ttl}, "oauth2"))
return "grant/" .. grant.id .. " " .. token`);
  const [grantId, token] = out.split(" ") as [string, string];
  return { grantId, token };
}
