// Preparing and opening an XMPP ClientSource. Prepare: the loopback rule, the CA file, the
// password (file, environment or prompt; before a prompt, the server check), where the state is
// kept. Open, under the deadline's signal: the state read, the login, the source. The password
// reaches the login only through the prepared source, so a command that opens twice asks once.
import net from "node:net";
import os from "node:os";
import type { IOStreams } from "../../term/iostreams.js";
import { msg } from "../../text/untrusted.js";
import type { ClientSource } from "../../core/client-source.js";
import { underDeadline, type PreparedSource } from "../lifecycle.js";
import type { ServerSpec, XmppTransport } from "../types.js";
import { VERSION } from "../../core/version.js";
import { hostPort, isLoopbackAddress } from "./connect.js";
import { checkServer as xmppCheckServer, login as xmppLogin } from "./login.js";
import { plaintextNotLoopback } from "./login-errors.js";
import { readPassword, type PromptPassword } from "./password.js";
import { XmppClientSource } from "./xmpp-source.js";
import { CamState } from "./state.js";
import { readCaFile } from "./ca-file.js";

const SOFTWARE = "camctl";

const defaultDevice = () => os.hostname();

/** Refusals that need no network: --tls none to an address that is not loopback. */
function refuseWithoutNetwork(t: XmppTransport): void {
  if (t.tls === "none" && t.server && net.isIP(t.server.host) && !isLoopbackAddress(t.server.host)) {
    throw plaintextNotLoopback(t.server.host);
  }
}

export interface XmppPrepareDeps {
  prompt?: PromptPassword;
  state?: CamState;
  /** For tests: the login itself, and the server check before a prompt. */
  login?: typeof xmppLogin;
  checkServer?: typeof xmppCheckServer;
}

/** Prepares the login `spec` describes; its --timeout bounds the server check before a prompt. */
export async function prepareXmppSource(spec: ServerSpec<XmppTransport>, io: IOStreams, deps: XmppPrepareDeps = {}): Promise<PreparedSource> {
  const t = spec.transport;
  refuseWithoutNetwork(t);
  const ca = t.caFile === undefined ? undefined : await readCaFile(t.caFile);
  const server = { jid: t.loginJid, tls: t.tls, server: t.server, caPem: ca?.join("\n") };
  const domain = t.loginJid.slice(t.loginJid.lastIndexOf("@") + 1);
  const where = String(
    t.server
      ? msg`the XMPP server at ${t.server.port === undefined ? t.server.host : hostPort({ host: t.server.host, port: t.server.port })}`
      : msg`the XMPP server for ${domain}`,
  );
  // Before a prompt, the server is reached and its certificate checked (under --timeout, so a
  // silent server ends the run before anyone is asked): a refusal comes before the question.
  const checkFirst = () => underDeadline(where, spec.timeoutSeconds, (signal) => (deps.checkServer ?? xmppCheckServer)(server, signal));
  const password = await readPassword(t.loginJid, t.password, io, deps.prompt, checkFirst);
  const state = deps.state ?? new CamState();
  const login = deps.login ?? xmppLogin;
  return {
    where,
    async open(signal: AbortSignal): Promise<ClientSource> {
      await state.load(signal);
      const warning = state.takeWarning();
      if (warning) io.stderr.write(`camctl: warning: ${warning}\n`);
      const session = await login(
        {
          ...server,
          password,
          userAgent: { id: state.userAgentId(), software: SOFTWARE, version: VERSION, device: defaultDevice() },
        },
        signal,
      );
      const source = new XmppClientSource(session, state, t.loginJid, { signal });
      return {
        list: (jid) => source.list(jid),
        revoke: (jid, expected) => source.revoke(jid, expected),
        listHost: (host, scan) => source.listHost(host, scan),
        lockout: (jid, request) => source.lockout(jid, request),
        accountFacts: (jid) => source.accountFacts(jid),
        unlock: (jid) => source.unlock(jid),
        history: (query, alive) => source.history(query, alive),
        ownEntry: () => source.ownEntry(),
        watch: (host, w) => source.watch(host, w),
        async close() {
          await source.close();
          await state.flush(signal);
        },
      };
    },
  };
}
