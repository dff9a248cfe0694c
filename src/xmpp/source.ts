// ClientSource over XMPP: logs in as --jid and asks with the client-management protocol
// (manage-clients.ts), in whichever namespace the server speaks. Requests for another account go
// to that account's bare JID and need the companion module mod_client_management_admin.
// https://xmpp.org/extensions/xep-0494.html and ../shared/spec/mod_client_management.README.md
import { readFile } from "node:fs/promises";
import net from "node:net";
import type { Element } from "@xmpp/xml";
import { CamError } from "../errors.js";
import type { IOStreams } from "../iostreams.js";
import type { ClientList } from "../model.js";
import type { XmppTransport } from "../options.js";
import { displaySafe } from "../render/sanitize.js";
import type { ClientSource } from "../source.js";
import { VERSION } from "../version.js";
import { isLoopbackAddress } from "./connect.js";
import { defaultDevice, login, type XmppSession } from "./login.js";
import {
  NAMESPACES,
  errorInfo,
  isFallbackError,
  listRequest,
  parseClients,
  replyError,
  revokeRequest,
  unsupportedError,
  type RequestContext,
} from "./manage-clients.js";
import { readPassword, type PromptPassword } from "./password.js";
import { CamState } from "./state.js";

export const SOFTWARE = "camctl";

/** Same account? Domains are compared case-insensitively (parseBareJid lowercases them already), localparts as the server would (nodeprep folds case). */
export function sameAccount(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

const domainOf = (jid: string) => jid.slice(jid.lastIndexOf("@") + 1);

export class XmppClientSource implements ClientSource {
  constructor(
    private readonly session: XmppSession,
    private readonly state: CamState,
    readonly loginJid: string,
  ) {}

  /** Namespaces in the order to try for this server: the one that answered last time first. */
  private order(host: string): string[] {
    const remembered = this.state.rememberedNamespace(host);
    const all: string[] = [...NAMESPACES];
    return remembered && all.includes(remembered) ? [remembered, ...all.filter((n) => n !== remembered)] : all;
  }

  /** Sends `build(ns)` in each namespace until one is understood; maps error replies. */
  private async ask(ctx: RequestContext, build: (ns: string, to: string | undefined) => Element) {
    const to = ctx.self ? undefined : ctx.target;
    const host = domainOf(ctx.target);
    for (const ns of this.order(host)) {
      let reply;
      try {
        reply = await this.session.request(build(ns, to), ctx.op);
        this.checkSender(reply, ctx);
      } catch (err) {
        if ((err as Error)?.name !== "StanzaError") throw this.ended(err, ctx);
        const errorEl = (err as { element?: Element }).element;
        if (errorEl?.parent) this.checkSender(errorEl.parent, ctx);
        const info = errorInfo(errorEl);
        if (isFallbackError(info)) continue;
        throw replyError(info, ctx);
      }
      this.state.rememberNamespace(host, ns);
      return { ns, reply };
    }
    throw unsupportedError(ctx);
  }

  /**
   * xmpp.js matches replies by id alone; camctl also insists that the reply comes from where the
   * request went (the target's bare JID, or for the account itself: no 'from', its bare JID or its server).
   */
  private checkSender(stanza: Element, ctx: RequestContext): void {
    const from = (stanza.attrs.from ?? "").toLowerCase();
    if (from === "") return;
    const bare = from.replace(/\/.*$/, "");
    const allowed = new Set([ctx.target.toLowerCase(), this.loginJid.toLowerCase(), domainOf(this.loginJid).toLowerCase(), domainOf(ctx.target).toLowerCase()]);
    if (bare !== from || !allowed.has(bare)) {
      throw new CamError("internal", `An answer to the ${ctx.op} request came from ${displaySafe(from)}, not from ${displaySafe(ctx.target)}; camctl ignored it.`, "unexpected-sender");
    }
  }

  /** The stream ended while a request was pending. A revoke of camctl's own login ends like that. */
  private ended(err: unknown, ctx: RequestContext): unknown {
    if (ctx.op === "revoke" && err instanceof CamError && this.session.closedByServer && this.session.streamEnd) {
      return new CamError(
        "passwordResetRequired",
        `The server closed camctl's own session while revoking ${displaySafe(ctx.selector ?? "")}: that selector matches camctl's login, ` +
          `which signed in with the password. The server has already closed that session and revoked its tokens; ` +
          `its access ends only when ${displaySafe(ctx.target)}'s password is changed.`,
        "password-reset-required",
      );
    }
    return err;
  }

  async list(jid: string): Promise<ClientList> {
    const ctx: RequestContext = { op: "list", target: jid, login: this.loginJid, self: sameAccount(jid, this.loginJid) };
    const { ns, reply } = await this.ask(ctx, (n, to) => listRequest(n, to));
    return { jid, transport: "xmpp", clients: parseClients(reply, ns) };
  }

  async revoke(jid: string, selector: string): Promise<void> {
    const ctx: RequestContext = { op: "revoke", target: jid, login: this.loginJid, self: sameAccount(jid, this.loginJid), selector };
    const { reply } = await this.ask(ctx, (n, to) => revokeRequest(n, to, selector));
    if (reply.attrs.type !== "result") throw new CamError("internal", "The server did not confirm the revocation.");
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

async function readCaFile(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, "utf8");
  } catch (e) {
    throw new CamError("usage", `Cannot read --ca-file ${displaySafe(file)} (${(e as NodeJS.ErrnoException).code ?? "unreadable"}).`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new CamError("usage", `--ca-file ${displaySafe(file)} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  }
  return pem;
}

/** Everything that can be refused without the network is refused before asking for a password. */
function refuseWithoutNetwork(t: XmppTransport): void {
  if (t.tls === "none" && t.server && net.isIP(t.server.host) && !isLoopbackAddress(t.server.host)) {
    throw new CamError("usage", `--tls none sends the password without encryption, so camctl allows it only to a loopback address; ${displaySafe(t.server.host)} is not one.`);
  }
}

/**
 * Passwords typed at the prompt, per login JID, for the rest of this process: `revoke_client` on a
 * terminal logs in twice (look, confirm, revoke) and must not ask twice.
 */
const typedPasswords = new Map<string, string>();

async function passwordFor(t: XmppTransport, io: IOStreams, prompt: PromptPassword | undefined): Promise<string> {
  const typed = typedPasswords.get(t.loginJid);
  if (typed !== undefined && t.passwordFile === undefined && !io.env.CAMCTL_PASSWORD) return typed;
  const password = await readPassword({ loginJid: t.loginJid, passwordFile: t.passwordFile }, io, prompt);
  if (t.passwordFile === undefined && !io.env.CAMCTL_PASSWORD) typedPasswords.set(t.loginJid, password);
  return password;
}

/**
 * Asks for the password now, if it will have to be typed, so that the caller can do it before the
 * --timeout clock starts (a person typing is not a slow server). openXmppSource then reuses it.
 */
export async function primePassword(t: XmppTransport, io: IOStreams, prompt?: PromptPassword): Promise<void> {
  refuseWithoutNetwork(t);
  await passwordFor(t, io, prompt);
}

export interface XmppSourceDeps {
  state?: CamState;
  prompt?: PromptPassword;
}

export async function openXmppSource(t: XmppTransport, timeoutSeconds: number, io: IOStreams, deps: XmppSourceDeps = {}): Promise<ClientSource> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  refuseWithoutNetwork(t);
  const caPem = t.caFile === undefined ? undefined : await readCaFile(t.caFile);
  const password = await passwordFor(t, io, deps.prompt);
  const state = deps.state ?? new CamState();
  const id = state.userAgentId();
  for (const w of state.warnings) io.stderr.write(`camctl: warning: ${w}\n`);
  const session = await login({
    jid: t.loginJid,
    password,
    tls: t.tls,
    server: t.server,
    caPem,
    userAgent: { id, software: SOFTWARE, version: VERSION, device: defaultDevice() },
    deadline,
  });
  return new XmppClientSource(session, state, t.loginJid);
}
