// What the login stages share: login.ts (the orchestration) makes one per login, the feature
// handlers in this directory read and update it.
import type { TlsMode } from "../../types.js";
import type { SafeText } from "../../../text/untrusted.js";
import type { Target, TlsSettings, XmppSocket } from "../connect.js";

export interface LoginContext {
  /** Bare JID logging in, and its parts. */
  readonly jid: string;
  readonly local: string;
  readonly domain: string;
  readonly tls: TlsMode;
  readonly tlsSettings: TlsSettings;
  /** The deadline: every wait obeys it. */
  readonly signal: AbortSignal;
  /** Every socket opened for this login (destroyed together when it fails). */
  readonly sockets: Set<XmppSocket>;
  /** The server address for messages. */
  where: SafeText;
  /** The socket the stream runs on now (STARTTLS replaces it), and where it goes. */
  socket: XmppSocket | undefined;
  target: Target | undefined;
  /** --tls none, and the peer really is a loopback address. */
  plaintextAllowed: boolean;
  /** How the login authenticated: SASL2 clients are tracked by user-agent id, legacy ones by resource. */
  authenticatedWith: "sasl2" | "sasl" | null;
  /** Ends the login with this error (the first one reported wins). */
  fail(err: unknown): void;
}
