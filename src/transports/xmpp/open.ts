// Preparing and opening an XMPP ClientSource. Prepare: the loopback rule, the CA file, the
// password (file, environment or prompt; before a prompt, the server check), where the state is
// kept. Open, under the deadline's signal: the state read, the login, the source. The password
// reaches the login only through the prepared source, so a command that opens twice asks once.
import { X509Certificate } from "node:crypto";
import net from "node:net";
import os from "node:os";
import { abortable } from "../../core/abort.js";
import { CamError } from "../../core/errors.js";
import { DEFAULT_TIMEOUT_SECONDS } from "../../config/options.js";
import type { IOStreams } from "../../term/iostreams.js";
import { msg } from "../../text/untrusted.js";
import type { ClientSource } from "../../core/client-source.js";
import { startDeadline, type PreparedSource, type XmppTransport } from "../lifecycle.js";
import { VERSION } from "../../core/version.js";
import { hostPort, isLoopbackAddress } from "./connect.js";
import { checkServer as xmppCheckServer, login as xmppLogin } from "./login.js";
import { plaintextNotLoopback } from "./login-errors.js";
import { readPassword, type PromptPassword } from "./password.js";
import { XmppClientSource } from "./xmpp-source.js";
import { CamState } from "./state.js";
import { readUserFile } from "./user-file.js";

const SOFTWARE = "camctl";

/** Larger than this, it is not a CA file (a whole system bundle is a few hundred KiB). */
const MAX_CA_FILE_BYTES = 16 * 1024 * 1024;

const defaultDevice = () => os.hostname();

/** The certificates of a --ca-file, each checked: a damaged one is refused, never silently skipped. */
async function readCaFile(file: string): Promise<string[]> {
  let pem: string;
  try {
    pem = await readUserFile(file, MAX_CA_FILE_BYTES);
  } catch (e) {
    throw new CamError("usage", msg`Cannot read --ca-file ${file}: ${(e as Error).message}.`);
  }
  const begins = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g) ?? [];
  if (begins === 0) {
    throw new CamError("usage", msg`--ca-file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new CamError("usage", msg`--ca-file ${file} is damaged: certificate ${i + 1} of ${begins} cannot be read. Export the CA certificate again.`);
    }
  });
  if (blocks.length !== begins) {
    throw new CamError("usage", msg`--ca-file ${file} is damaged: a certificate has no END line. Export the CA certificate again.`);
  }
  return blocks;
}

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
  /** --timeout, for the server check before a prompt. */
  timeoutSeconds?: number;
}

export async function prepareXmppSource(t: XmppTransport, io: IOStreams, deps: XmppPrepareDeps = {}): Promise<PreparedSource> {
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
  const checkFirst = async () => {
    const deadline = startDeadline(where, deps.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS);
    try {
      await abortable((deps.checkServer ?? xmppCheckServer)(server, deadline.signal), deadline.signal);
    } finally {
      deadline.stop();
    }
  };
  const password = await readPassword({ loginJid: t.loginJid, passwordFile: t.passwordFile, passwordFromEnv: t.passwordFromEnv }, io, deps.prompt, checkFirst);
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
