// Opening an XMPP ClientSource: everything that happens before the first request (refusals that
// need no network, the CA file, the password, the installation's state, the login itself).
import { readFile } from "node:fs/promises";
import net from "node:net";
import { CamError } from "../errors.js";
import type { IOStreams } from "../iostreams.js";
import type { XmppTransport } from "../options.js";
import { displaySafe } from "../render/sanitize.js";
import type { ClientSource } from "../source.js";
import { VERSION } from "../version.js";
import { isLoopbackAddress } from "./connect.js";
import { defaultDevice, login } from "./login.js";
import { readPassword, type PromptPassword } from "./password.js";
import { XmppClientSource } from "./source.js";
import { CamState } from "./state.js";

export const SOFTWARE = "camctl";

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
