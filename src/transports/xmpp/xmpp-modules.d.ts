// Types for the parts of xmpp.js 0.14 (the packages @xmpp/client is composed of) that camctl
// uses directly. Only what src/transports/xmpp/ touches is declared. xmpp.js ships no types of its own.
// Why camctl composes these parts instead of calling client(): see src/transports/xmpp/login.ts.

declare module "@xmpp/xml" {
  import { EventEmitter } from "node:events";

  export type Child = Element | string | null | undefined | false;

  export class Element {
    constructor(name: string, attrs?: Record<string, string>);
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<Element | string>;
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getAttr(name: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    append(...nodes: Array<Element | string>): void;
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    toString(): string;
  }

  export class Parser extends EventEmitter {
    write(data: string): void;
  }

  export class XMLError extends Error {}

  export default function xml(
    name: string,
    attrs?: Record<string, string | undefined> | null,
    ...children: Array<Child | Child[]>
  ): Element;
}

declare module "@xmpp/jid" {
  export interface JID {
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    toString(): string;
  }
  export default function jid(...args: string[]): JID;
}

declare module "@xmpp/error" {
  import type { Element } from "@xmpp/xml";
  export default class XMPPError extends Error {
    condition: string;
    text: string;
    application: Element | undefined;
    element: Element | undefined;
  }
}

declare module "@xmpp/connection" {
  import { EventEmitter } from "node:events";
  import type { Element } from "@xmpp/xml";
  import type { JID } from "@xmpp/jid";

  /** What a connection expects from its socket (net.Socket-like; see @xmpp/connection-tcp/Socket.js). */
  export interface ConnectionSocket extends EventEmitter {
    secure: boolean;
    write(data: string, cb: (err?: Error | null) => void): void;
    end(): void;
  }

  export interface ConnectionOptions {
    domain: string;
    lang?: string;
    timeout?: number;
    service?: string;
  }

  export default class Connection extends EventEmitter {
    constructor(options: ConnectionOptions);
    /** Default namespace of the stream (prototype property). */
    NS: string;
    jid: JID | null;
    timeout: number;
    options: ConnectionOptions;
    status: string;
    socket: ConnectionSocket | null;
    root: Element | null;
    isSecure(): boolean;
    send(element: Element): Promise<void>;
    sendReceive(element: Element, timeout?: number): Promise<Element>;
    write(data: string): Promise<void>;
    open(options: { domain: string; lang?: string }): Promise<Element>;
    restart(): Promise<Element>;
    disconnect(): Promise<Element | undefined>;
    stop(): Promise<Element | undefined>;
    _attachSocket(socket: ConnectionSocket): void;
    _detachSocket(): void;
    _status(status: string, ...args: unknown[]): void;
    _jid(id: string): JID;
    _ready(resumed?: boolean): void;
    /** Called with each <stream:error/>; xmpp.js's own follows <see-other-host/>. */
    _onStreamError(element: Element): void;
  }
}

declare module "@xmpp/connection-tcp" {
  import Connection from "@xmpp/connection";
  export default class ConnectionTCP extends Connection {}
}

declare module "@xmpp/client-core" {
  import Connection from "@xmpp/connection";
  import ConnectionTCP from "@xmpp/connection-tcp";
  export class Client extends Connection {
    transports: Array<typeof ConnectionTCP>;
    /** Set by connect(service); camctl sets these itself because it opens the socket itself. */
    Transport: typeof ConnectionTCP;
    Socket: unknown;
    Parser: unknown;
  }
  export { default as xml } from "@xmpp/xml";
  export { default as jid } from "@xmpp/jid";
}

declare module "@xmpp/middleware" {
  import type { Element } from "@xmpp/xml";
  import type { Client } from "@xmpp/client-core";
  export interface IncomingContext {
    stanza: Element;
    entity: Client;
    name: string;
    id: string;
    type: string;
  }
  export type Next = () => Promise<unknown>;
  export type Middleware = (ctx: IncomingContext, next: Next) => unknown;
  export interface MiddlewareApi {
    use(fn: Middleware): Middleware;
    filter(fn: Middleware): Middleware;
  }
  export default function middleware(opts: { entity: Client }): MiddlewareApi;
}

declare module "@xmpp/middleware/lib/StanzaError.js" {
  import XMPPError from "@xmpp/error";
  import type { Element } from "@xmpp/xml";
  export default class StanzaError extends XMPPError {
    type: string | undefined;
    static fromElement(element: Element): StanzaError;
  }
}

declare module "@xmpp/stream-features" {
  import type { Element } from "@xmpp/xml";
  import type { MiddlewareApi, IncomingContext, Next } from "@xmpp/middleware";
  export interface StreamFeatures {
    use(name: string, xmlns: string, handler: (ctx: IncomingContext, next: Next, feature: Element) => unknown): unknown;
  }
  export default function streamFeatures(opts: { middleware: MiddlewareApi }): StreamFeatures;
}

declare module "saslmechanisms" {
  class SASLFactory {
    use(mech: unknown): SASLFactory;
  }
  export default SASLFactory;
}

declare module "@xmpp/sasl" {
  import type SASLFactory from "saslmechanisms";
  import type { StreamFeatures } from "@xmpp/stream-features";
  import type { OnAuthenticate } from "@xmpp/sasl2";
  export default function sasl(opts: { streamFeatures: StreamFeatures; saslFactory: SASLFactory }, onAuthenticate: OnAuthenticate): void;
}

declare module "@xmpp/sasl/lib/SASLError.js" {
  import XMPPError from "@xmpp/error";
  export default class SASLError extends XMPPError {}
}

declare module "@xmpp/sasl2" {
  import type SASLFactory from "saslmechanisms";
  import type { Element } from "@xmpp/xml";
  import type { Client } from "@xmpp/client-core";
  import type { StreamFeatures } from "@xmpp/stream-features";

  export interface Credentials {
    username: string;
    password: string;
  }
  /** `userAgent` is only passed on for SASL2. */
  export type Authenticate = (credentials: Credentials, mechanism: string, userAgent?: Element) => Promise<void>;
  /** `fast` is the FAST helper for SASL2 when the server offers FAST and a FAST helper is set up; else null. */
  export type OnAuthenticate = (authenticate: Authenticate, mechanisms: string[], fast: unknown, entity: Client) => Promise<void>;

  export interface Sasl2 {
    /** Registers an inline feature: `req` gets the server's offer and returns what to add to <authenticate>, `res` sees <success> children. */
    use(ns: string, req: (element: Element) => unknown, res: (element: Element) => unknown): void;
    setup(opts: { fast: { auth(...args: unknown[]): Promise<boolean> } }): void;
  }
  export default function sasl2(opts: { streamFeatures: StreamFeatures; saslFactory: SASLFactory }, onAuthenticate: OnAuthenticate): Sasl2;
}

declare module "@xmpp/client-core/src/bind2/bind2.js" {
  import type { Client } from "@xmpp/client-core";
  import type { Sasl2 } from "@xmpp/sasl2";
  /** Without a `tag`, the server picks the resource. */
  export default function bind2(opts: { sasl2: Sasl2; entity: Client }, tag?: string): unknown;
}

